"""Writing a file so that nobody ever sees half of it: a temporary file in the same folder, then
`os.replace` (atomic), so an existing file is either untouched or wholly replaced."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["IMAGE_FORMATS", "write_atomically"]

IMAGE_FORMATS = ("png", "svg", "pdf")  # what the figures can be written as, by file-name suffix


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``.

    On any error (including KeyboardInterrupt) the temporary file is removed and ``path`` is
    left as it was. An OSError (unwritable folder, ``path`` a folder, disk full) says
    "cannot write <path>: <reason>".
    """
    target = Path(path)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
        os.replace(temporary, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise OSError(f"cannot write {target}: {err.strerror or err}") from None
        raise
    return target
