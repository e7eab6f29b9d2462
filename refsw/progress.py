"""Progress bars for the long loops of the libraries (analysis, encoder decision, synthesis).

A bar is shown on standard error when it is a terminal and the app was not told ``--quiet``
(:func:`set_quiet`); otherwise nothing is printed. tqdm draws them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Turns every progress bar of this process off (``--quiet``) or back to automatic."""
    global _quiet
    _quiet = quiet


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "picture") -> Iterator[T]:
    """``iterable``, with a progress bar named ``desc`` counting ``unit`` s (``total``: the
    number of items when ``iterable`` has no length)."""
    return iter(bar(desc, total=total, unit=unit, iterable=iterable))


def bar(desc: str, total: int | None = None, unit: str = "picture", iterable: Iterable[Any] | None = None) -> Any:
    """A tqdm bar to update by hand (``.update(n)``, ``.close()``), or over ``iterable``."""
    from tqdm import tqdm

    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        leave=False,
        dynamic_ncols=True,
        file=sys.stderr,
        disable=True if _quiet else None,  # None: off when stderr is not a terminal
    )
