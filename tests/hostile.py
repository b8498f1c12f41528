"""Helpers shared by the hostile-input tests (files, CSV, CLI)."""

import contextlib
import signal


class Blocked(Exception):
    """Raised by `deadline`; not an OSError, so it cannot pass for the errors under test."""


@contextlib.contextmanager
def deadline(seconds):
    """Fail (instead of hanging the suite) if the block blocks, e.g. on a pipe with no writer."""

    def too_slow(signum, frame):
        raise Blocked(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
