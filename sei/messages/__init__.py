"""One module per SEI message type; importing :func:`load_all` registers them."""

from __future__ import annotations

import importlib

_MODULES = ("gfv", "gfve", "nnpfc", "nnpfa", "spti", "dph")


def load_all() -> None:
    """Imports (and thereby registers) every built-in message module."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")
