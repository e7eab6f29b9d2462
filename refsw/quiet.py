"""Silences the native (C++) log lines that MediaPipe / TensorFlow Lite write to file
descriptor 2 ("W0000 ... Feedback manager requires ..."): they are not messages for our users."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Points file descriptor 2 at /dev/null for the duration (Python's ``sys.stderr`` is flushed
    first and restored after; Python-level logging still works once the block ends)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
