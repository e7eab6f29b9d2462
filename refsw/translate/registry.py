"""The translator registry: factories per (source model, target model) pair and kind.

Translator modules register their pairs with :func:`register_translator` when imported, each
with a *kind*: ``"analytic"`` (geometry: e.g. sem3d's mesh to kptps's landmarks) or
``"learned"`` (trained networks, JVET-AG0048); a pair may have both. The identity of every model
(A to A) is always there. :func:`get_translator` imports the modules of
:data:`TRANSLATOR_MODULES` on first use and, without a kind, takes the pair's preferred kind
(:data:`PREFERRED_KIND`, set from measurements) or else the first of :data:`KINDS` it has
(analytic before learned, whatever order the modules were imported in).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import numpy as np

from refsw.models import MODEL_NAMES

from .interface import NoTranslatorError, Translator, translator_uri

#: Modules (in this package) that register translators when imported.
TRANSLATOR_MODULES: tuple[str, ...] = ("analytic", "learned")

#: Translator kinds.
KINDS = ("analytic", "learned")

#: ``(source, target) -> {kind: factory}``; a factory builds the translator (it may load a
#: checkpoint). Kinds in registration order.
TRANSLATORS: dict[tuple[str, str], dict[str, Callable[[], Translator]]] = {}

#: ``(source, target) -> kind`` used when the caller names none, where measured (docs); other
#: pairs take the first of :data:`KINDS` they have.
PREFERRED_KIND: dict[tuple[str, str], str] = {}


class IdentityTranslator:
    """Model A to model A: the parameters unchanged (a stream rewritten through it keeps every
    GFV payload bit for bit)."""

    def __init__(self, model: str) -> None:
        self.source = self.target = model
        self.uri = translator_uri(model, model, "v1")

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """``params`` as they are (``(N, *A)`` float64); the keys are not read."""
        return np.asarray(params, dtype=np.float64)


def register_translator(source: str, target: str, factory: Callable[[], Translator], kind: str = "learned") -> None:
    """Adds a translator of ``kind`` (:data:`KINDS`) from model ``source`` to ``target``.

    Raises:
        ValueError: that pair has a translator of that kind already, ``source == target`` (the
            identity is built in), or an unknown kind.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown translator kind {kind!r} (kinds: {', '.join(KINDS)})")
    kinds = TRANSLATORS.setdefault((source, target), {})
    if source == target or kind in kinds:
        raise ValueError(f"{kind} translator {source} -> {target} registered twice")
    kinds[kind] = factory


def _load() -> None:
    for name in TRANSLATOR_MODULES:
        import_module(f"{__package__}.{name}")


def get_translator(source: str, target: str, kind: str | None = None) -> Translator:
    """The translator from model ``source`` to model ``target`` (the identity when equal), of
    ``kind``, or of the pair's preferred kind when ``None`` (the first of :data:`KINDS` the pair
    has when the preferred kind is not registered here).

    Raises:
        NoTranslatorError: no translator (of that kind) for the pair; the message lists the
            targets that have one from ``source``.
    """
    if source == target:
        return IdentityTranslator(source)
    _load()
    kinds = TRANSLATORS.get((source, target), {})
    preferred = PREFERRED_KIND.get((source, target))
    # else the first kind in KINDS order, not in registration order (which depends on which
    # translator module some other code imported first)
    chosen = kind or (preferred if preferred in kinds else None) or next((k for k in KINDS if k in kinds), None)
    if chosen not in kinds:
        have = sorted(t for (s, t), k in TRANSLATORS.items() if s == source and k)
        what = f"{kind} translator" if kind else "translator"
        raise NoTranslatorError(f"no {what} from {source} to {target}; from {source}: {', '.join(have) or 'none'}")
    return kinds[chosen]()


def available_translators() -> list[tuple[str, str]]:
    """Every ``(source, target)`` pair with a translator, identities included, in
    :data:`refsw.models.MODEL_NAMES` order."""
    _load()
    pairs = {p for p, kinds in TRANSLATORS.items() if kinds} | {(m, m) for m in MODEL_NAMES}
    order = {m: i for i, m in enumerate(MODEL_NAMES)}
    return sorted(pairs, key=lambda p: (order.get(p[0], 99), order.get(p[1], 99), p))
