"""Which generator animates a stream: resolved through the model registry from the stream alone.

The base GFV message's ``gfv_uri`` names the generator; a network the stream carries in an
NNPFC message (``nnpfc_mode_idc`` 0) whose SHA-256 that URI names is used first, then the
registered model with exactly that URI (:func:`refsw.models.resolve_uri`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from refsw.models import MODEL_NAMES, CheckpointError, ModelSpec, resolve_uri
from sei.registry import PayloadType
from sei.stream import StreamSEI

from .errors import StreamError, UnknownGeneratorError


def carried_networks(sei: StreamSEI) -> dict[str, bytes]:
    """Networks carried in NNPFC messages (``nnpfc_mode_idc`` 0), keyed by the SHA-256 (64
    lowercase hex digits) of their bytes, which is what a generator URI names; nothing is
    loaded here."""
    out: dict[str, bytes] = {}
    for m in sei.of_type(PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS):
        v = m.values or {}
        data = v.get("nnpfc_payload_byte")
        if v.get("nnpfc_mode_idc") == 0 and data:
            out[hashlib.sha256(bytes(data)).hexdigest()] = bytes(data)
    return out


@dataclass
class ResolvedGenerator:
    """The model a stream names, with its parameter layout and a generator ready to animate.

    Attributes:
        spec: the model.
        layout: its :class:`~refsw.models.ParameterLayout` at the default precision factors
            (the decoder reads the precision factors from the stream; the layout only maps the
            reconstructed values to parameters).
        generator: its :class:`~refsw.models.Generator`.
        synthesise_key_pictures: the generator also synthesises the key pictures' places (it
            animates another face, :mod:`refsw.decoder.base_picture`) instead of the decoder
            outputting the decoded key pictures.
    """

    spec: ModelSpec
    layout: Any
    generator: Any
    synthesise_key_pictures: bool = False


class GeneratorResolver:
    """Resolves each ``gfv_uri`` of a stream once (a generator is built once, not per key picture).

    Args:
        sei: the stream's SEI messages (for the networks it carries).
        deterministic: build generators on their portable fp32 path.
        wrap: applied once to each resolved generator (``decode_stream(base_picture=...)``).
        translate: ``(uri) -> ResolvedGenerator``, used instead of the registry for every URI
            (``decode_stream(translate_to=...)``, :mod:`refsw.decoder.translation`).
        fallback: ``(uri) -> ResolvedGenerator | None``, asked for a URI this decoder has no
            generator for (a translator to a model it has).
    """

    def __init__(
        self,
        sei: StreamSEI,
        deterministic: bool = False,
        wrap: Callable[[ResolvedGenerator], ResolvedGenerator] | None = None,
        translate: Callable[[str | None], ResolvedGenerator] | None = None,
        fallback: Callable[[str | None], ResolvedGenerator | None] | None = None,
    ) -> None:
        self.networks = carried_networks(sei)
        self.deterministic = deterministic
        self.wrap = wrap
        self.translate = translate
        self.fallback = fallback
        self._resolved: dict[str | None, ResolvedGenerator | None] = {}

    def get(self, uri: str | None) -> ResolvedGenerator | None:
        """The generator ``uri`` names, or ``None`` when this decoder does not have it.

        Raises:
            StreamError: the stream carries the named network but it cannot be loaded.
        """
        if uri not in self._resolved and self.translate is not None:
            self._resolved[uri] = self.translate(uri)
        if uri not in self._resolved:
            try:
                spec = resolve_uri(uri, self.networks)
            except CheckpointError as err:
                raise StreamError(f"the NNPFC message carries a network this decoder cannot load: {err}") from None
            resolved = (
                None
                if spec is None
                else ResolvedGenerator(spec, spec.make_layout(), spec.make_generator(deterministic=self.deterministic))
            )
            if resolved is None and self.fallback is not None:
                resolved = self.fallback(uri)
            self._resolved[uri] = resolved if resolved is None or self.wrap is None else self.wrap(resolved)
        return self._resolved[uri]


def unknown_generator(uri: str | None) -> UnknownGeneratorError:
    """The error for a stream whose generator this decoder does not have."""
    have = ", ".join(MODEL_NAMES)  # not available_models(): it would import every model (PyTorch)
    if uri:
        why = f"the stream needs generator {uri!r}, which is not in the stream and not available here"
    else:
        why = "the GFV messages name no generator (no gfv_uri in a base message)"
    return UnknownGeneratorError(f"{why} (available: {have}); use --key-pictures-only to output the key pictures")
