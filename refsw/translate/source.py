"""What a stream says about its model and its translation, without the model's generator.

A decoder that lacks model A's generator (or checkpoint) still parses A's GFV messages with A's
layout (:func:`source_layout`: the layouts of the learned models are fixed tables, not part of
their checkpoints). A stream rewritten by ``gfv-translate`` names its translator in a second
NNPFC message (:data:`TRANSLATOR_NNPFC_ID`, ``nnpfc_uri`` a translator URI;
``docs/translators.md#signalling``), read back by :func:`signalled_translator`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refsw.models import MODEL_NAMES, UnknownModelError, get_model, parse_generator_uri
from sei.registry import PayloadType
from sei.stream import StreamSEI

from .interface import parse_translator_uri

#: ``nnpfc_id`` of the NNPFC message naming the translator a rewritten stream went through (the
#: generator's NNPFC message is :data:`refsw.encoder.sei_encoder.NNPFC_ID`, 1; 0..255 are not
#: reserved).
TRANSLATOR_NNPFC_ID = 2

#: ``nnpfc_uri_tag`` of a translator URI.
TRANSLATOR_URI_TAG = "tag:gfv-refsw.jvet,2026:translator"


def stream_generator_uri(sei: StreamSEI) -> str | None:
    """The ``gfv_uri`` of the stream's first base GFV message that names one, else ``None``."""
    for m in sei.of_type(PayloadType.GENERATIVE_FACE_VIDEO):
        v = m.values or {}
        if v.get("BasePic") and v.get("gfv_uri"):
            return str(v["gfv_uri"])
    return None


def source_layout(uri: str) -> tuple[str, Any]:
    """``(model name, its ParameterLayout)`` of the model a ``gfv_uri`` names, built without the
    model's generator or checkpoint (a learned model's layout comes from its fixed table,
    :data:`refsw.models.learned.LEARNED`).

    Raises:
        UnknownModelError: the URI is not one of this software's model URIs.
    """
    named = parse_generator_uri(uri)
    if named is None or named[0] not in MODEL_NAMES:
        raise UnknownModelError(f"gfv_uri {uri!r} names no model of this software ({', '.join(MODEL_NAMES)})")
    name = named[0]
    if name in ("sem3d", "kptps"):
        return name, get_model(name).make_layout()
    from refsw.models.gfv_mapping import LayoutMapping
    from refsw.models.learned import LEARNED

    return name, LayoutMapping(LEARNED[name].layout, uri)


def key_picture_params(analyser: Any, picture: np.ndarray) -> np.ndarray | None:
    """Model B's reference parameters: its ``analyser``'s parameters (float64, B's shape) of one
    decoded key picture ``(H, W, 3)`` uint8 RGB, or ``None`` when it finds no face there."""
    params, found = analyser.analyse(picture[None])
    return np.asarray(params[0], dtype=np.float64) if bool(np.asarray(found)[0]) else None


def signalled_translator(sei: StreamSEI) -> tuple[str, str, str, str] | None:
    """``(source model, target model, version, translator URI)`` of the translator an NNPFC
    message (:data:`TRANSLATOR_NNPFC_ID`) says the stream went through, else ``None``."""
    for m in sei.of_type(PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS):
        v = m.values or {}
        named = parse_translator_uri(v.get("nnpfc_uri"))
        if v.get("nnpfc_id") == TRANSLATOR_NNPFC_ID and named is not None:
            return (*named, str(v["nnpfc_uri"]))
    return None
