"""The translator registry: one factory per (source model, target model) pair.

Translator modules register their pairs with :func:`register_translator` when imported; the
identity of every model (A to A) is always there. :func:`get_translator` imports the modules of
:data:`TRANSLATOR_MODULES` on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import numpy as np

from refsw.models import MODEL_NAMES

from .interface import NoTranslatorError, Translator, translator_uri

#: Modules (in this package) that register translators when imported.
TRANSLATOR_MODULES: tuple[str, ...] = ()

#: ``(source, target) -> factory``; the factory builds the translator (it may load a checkpoint).
TRANSLATORS: dict[tuple[str, str], Callable[[], Translator]] = {}


class IdentityTranslator:
    """Model A to model A: the parameters unchanged (a stream rewritten through it keeps every
    GFV payload bit for bit)."""

    def __init__(self, model: str) -> None:
        self.source = self.target = model
        self.uri = translator_uri(model, model, "v1")

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """``params`` as they are (``(N, *A)`` float64); the keys are not read."""
        return np.asarray(params, dtype=np.float64)


def register_translator(source: str, target: str, factory: Callable[[], Translator]) -> None:
    """Adds the translator from model ``source`` to ``target``.

    Raises:
        ValueError: that pair has a translator already, or ``source == target`` (the identity).
    """
    if source == target or (source, target) in TRANSLATORS:
        raise ValueError(f"translator {source} -> {target} registered twice")
    TRANSLATORS[(source, target)] = factory


def _load() -> None:
    for name in TRANSLATOR_MODULES:
        import_module(f"{__package__}.{name}")


def get_translator(source: str, target: str) -> Translator:
    """The translator from model ``source`` to model ``target`` (the identity when equal).

    Raises:
        NoTranslatorError: no translator for that pair, with the pairs that exist from ``source``.
    """
    if source == target:
        return IdentityTranslator(source)
    _load()
    if (source, target) not in TRANSLATORS:
        have = sorted(t for s, t in TRANSLATORS if s == source)
        raise NoTranslatorError(f"no translator from {source} to {target}; from {source}: {', '.join(have) or 'none'}")
    return TRANSLATORS[(source, target)]()


def available_translators() -> list[tuple[str, str]]:
    """Every ``(source, target)`` pair with a translator, identities included, in
    :data:`refsw.models.MODEL_NAMES` order."""
    _load()
    pairs = set(TRANSLATORS) | {(m, m) for m in MODEL_NAMES}
    order = {m: i for i, m in enumerate(MODEL_NAMES)}
    return sorted(pairs, key=lambda p: (order.get(p[0], 99), order.get(p[1], 99), p))
