"""``python -m tinygrad_iris``: the same as the ``tinygrad-iris`` command."""

import sys

from .cli import main

sys.exit(main())
