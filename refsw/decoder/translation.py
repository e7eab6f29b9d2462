"""Decoding a stream of model A with model B's generator through a parameter translator
(``gfv-decode --translate-to B``; the default fallback when A's generator is missing; issue 17,
JVET-AG0048).

A's layout parses the GFV messages (:func:`refsw.translate.source.source_layout`, available
without A's generator or checkpoint), so the decoder's segment loop is unchanged: it hands A's
parameters to :class:`TranslatingGenerator`, which sets B's generator with B's own analysis of the
decoded key picture (the reference of B's parameters) and translates every picture's parameters
before B's generator animates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refsw.models import MODEL_NAMES, ModelError, UnknownModelError, get_model
from refsw.translate import NoTranslatorError, Translator, get_translator
from refsw.translate.source import key_picture_params, source_layout

from .errors import StreamError
from .generators import ResolvedGenerator


class TranslatingGenerator:
    """A :class:`~refsw.models.Generator` of A's parameters: B's generator after a translator.

    Args:
        translator: A -> B.
        analyser: B's analyser (B's parameters of the decoded key picture).
        generator: B's generator.
        uses_previous: B's generator reads the previous picture's parameters (CTTR).
    """

    def __init__(self, translator: Translator, analyser: object, generator: object, uses_previous: bool) -> None:
        self.translator = translator
        self.analyser = analyser
        self.generator = generator
        self.uses_previous = uses_previous
        self._keys: tuple[np.ndarray, np.ndarray] | None = None

    def set_key_picture(self, key_picture: np.ndarray, key_params: np.ndarray) -> None:
        """``key_picture`` ``(H, W, 3)`` uint8 RGB, ``key_params`` A's parameters of its base
        message; B's key parameters come from B's analyser (the identity keeps A's).

        Raises:
            StreamError: B's analyser finds no face on the key picture.
        """
        source_key = np.asarray(key_params, dtype=np.float64)
        if self.translator.source == self.translator.target:
            target_key = source_key
        else:
            found = key_picture_params(self.analyser, key_picture)
            if found is None:
                raise StreamError(f"{self.translator.target}'s analyser finds no face on a decoded key picture")
            target_key = found
        self._keys = (source_key, target_key)
        self.generator.set_key_picture(key_picture, target_key)  # type: ignore[attr-defined]

    def _translate(self, params: np.ndarray) -> np.ndarray:
        assert self._keys is not None, "set_key_picture() first"
        p = np.asarray(params, dtype=np.float64)[None]
        return self.translator.translate(p, *self._keys)[0]

    def generate(self, params: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """One picture ``(H, W, 3)`` uint8 RGB of B's generator for A's ``params``."""
        q = self._translate(params)
        if self.uses_previous:
            prev = None if previous is None else self._translate(previous)
            return self.generator.generate(q, previous=prev)  # type: ignore[attr-defined]
        return self.generator.generate(q)  # type: ignore[attr-defined]


@dataclass
class Translation:
    """A stream's generator replaced: what the decoder reports.

    Attributes:
        source / target: models A and B.
        translator: the translator's URI.
    """

    source: str
    target: str
    translator: str


def translated_generator(
    uri: str | None, target: str, kind: str | None = None, deterministic: bool = False
) -> tuple[ResolvedGenerator, Translation]:
    """B's generator behind a translator from the model ``uri`` names (A).

    Raises:
        StreamError: no ``gfv_uri``, or one naming no model of this software.
        NoTranslatorError: no translator from A to B (of ``kind``), or a learned one trained for
            another network of A or B than the stream names / this decoder has.
        UnknownModelError: B is not available here.
    """
    if uri is None:
        raise StreamError("the GFV messages name no generator (no gfv_uri in a base message) to translate from")
    try:
        source, layout = source_layout(uri)
    except UnknownModelError as err:
        raise StreamError(str(err)) from err
    translator = get_translator(source, target, kind)
    from refsw.models import Ability

    spec = get_model(target)
    meta = getattr(translator, "meta", {})  # a learned translator: the generators it was trained for
    if meta.get("source_uri", uri) != uri:
        raise NoTranslatorError(
            f"the {source} -> {target} translator was trained for {meta['source_uri']}, the stream names {uri}"
        )
    if meta.get("target_uri", spec.uri) != spec.uri:
        raise NoTranslatorError(
            f"the {source} -> {target} translator was trained for {meta['target_uri']}, this decoder has {spec.uri}"
        )
    uses_previous = Ability.PREVIOUS_PICTURE in spec.abilities
    generator = TranslatingGenerator(
        translator, spec.make_analyser(), spec.make_generator(deterministic=deterministic), uses_previous
    )
    return ResolvedGenerator(spec, layout, generator), Translation(source, target, translator.uri)


def fallback_generator(uri: str | None, deterministic: bool = False) -> tuple[ResolvedGenerator, Translation] | None:
    """For a stream whose generator this decoder lacks: the first model (in
    :data:`refsw.models.MODEL_NAMES` order) available here with a translator from the stream's
    model, or ``None``."""
    if uri is None:
        return None
    try:
        source, _ = source_layout(uri)
    except UnknownModelError:
        return None
    for target in MODEL_NAMES:
        if target == source:
            continue
        try:
            return translated_generator(uri, target, None, deterministic)
        except (NoTranslatorError, ModelError, StreamError):
            continue
    return None
