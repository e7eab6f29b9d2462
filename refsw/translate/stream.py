"""Rewrites a GFV stream for another model: ``gfv-translate`` (issue 17; JVET-AG0048).

A stream made for model A becomes a stream for model B. Per key-picture segment, A's layout
reconstructs A's parameters from the GFV (and GFVE) messages (as :mod:`refsw.decoder.decoder`
does), the translator (:mod:`refsw.translate.registry`) maps them to B's, with B's parameters of
the decoded key picture from B's own analyser as the reference, and B's layout and the GFV SEI
encoder (:mod:`refsw.encoder.gfv_sei`) write B's messages with the same ``gfv_id``,
``gfv_cnt`` and picture timing: a picture without a message stays without one. The NNPFC
message that names the generator is rewritten to name B, and a second NNPFC message
(:data:`TRANSLATOR_NNPFC_ID`) names the translator (``docs/translators.md#signalling``). Every
other NAL unit (key pictures, parameter sets, SPTI, NNPFA, decoded picture hash) and every start
code stays byte for byte. The identity (A to A) rewrites every GFV payload bit for bit and
signals no translator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from refsw.codecs import create_backend
from refsw.decoder.decoder import _gfv_messages_per_key_picture
from refsw.decoder.segment import SegmentSteps
from refsw.decoder.verdict import DecodeStopped, key_pictures_rgb
from refsw.encoder.gfv_sei import gfv_messages, gfve_messages
from refsw.encoder.sei_encoder import nnpfc_values
from refsw.media.chroma_key import ChromaKey
from refsw.models import ModelError, get_model
from sei.context import DecodingContext
from sei.errors import BitstreamError
from sei.nal import NalUnitType, make_nal_unit, parse_nal_unit, split_annexb
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, sei_rbsp, write_payload
from sei.stream import StreamSEI, read_stream_sei

from .interface import Translator
from .registry import get_translator
from .source import (
    TRANSLATOR_NNPFC_ID,
    TRANSLATOR_URI_TAG,
    key_picture_params,
    source_layout,
    stream_generator_uri,
)

__all__ = ["TRANSLATOR_NNPFC_ID", "TranslateError", "TranslatedStream", "translate_stream"]


class TranslateError(ValueError):
    """The stream cannot be rewritten (not a GFV stream, damaged SEI messages, a form the
    rewriter does not handle); the message says why in one line."""


@dataclass
class TranslatedStream:
    """The result of :func:`translate_stream`.

    Attributes:
        stream: the rewritten Annex B byte stream.
        source / target: model names A and B.
        translator: the URI of the translator used.
        messages: GFV messages rewritten.
        segments: key-picture segments.
        notes: one-line remarks.
    """

    stream: bytes
    source: str
    target: str
    translator: str
    messages: int
    segments: int
    notes: list[str] = field(default_factory=list)


def _key_pictures(stream: bytes, sei: StreamSEI, backend: str) -> np.ndarray:
    """``(K, H, W, 3)`` uint8 RGB decoded key pictures (the decoder's VVC decode path).

    Raises:
        TranslateError: a key picture does not decode.
    """
    try:
        return key_pictures_rgb(create_backend(backend), stream, sei.nal_units)[0]
    except DecodeStopped as err:
        raise TranslateError(f"a key picture does not decode: {err}") from err


def _chroma_key(v: dict) -> ChromaKey | None:
    """The base message's chroma key information, to write it again.

    Raises:
        TranslateError: a chroma key colour component is absent (not written by this software).
    """
    if not v.get("gfv_chroma_key_info_present_flag"):
        return None
    present = v.get("gfv_chroma_key_value_present_flag", {})
    if not all(present.get(c) for c in range(3)):
        raise TranslateError("a chroma key without all three colour components is not rewritten")
    lower = upper = None
    if v.get("gfv_chroma_key_thr_present_flag"):
        lower = v["gfv_chroma_key_thr_lower"]
        upper = lower + v["gfv_chroma_key_thr_upper_delta_minus1"] + 1
    value = cast(tuple[int, int, int], tuple(v["gfv_chroma_key_value"][c] for c in range(3)))
    return ChromaKey(value, lower, upper, v["gfv_chroma_key_purpose_idc"])


def _target_layout(target: str, same: bool, base: dict, gfve_base: dict | None) -> Any:
    """B's layout: for the identity at the stream's own precision factors (so that the payloads
    come out bit for bit), else at B's defaults."""
    spec = get_model(target)
    if not same:
        return spec.make_layout()
    coord = base.get("gfv_coordinate_precision_factor_minus1")
    matrix = base.get("gfv_matrix_element_precision_factor_minus1")
    layout = spec.make_layout(None if coord is None else coord + 1, None if matrix is None else matrix + 1)
    pupil = (gfve_base or {}).get("gfve_pupil_coordinate_precision_factor_minus1")
    if pupil is not None and hasattr(layout, "pupil_precision_factor"):
        layout = copy.copy(layout)
        layout.pupil_precision_factor = pupil + 1
    return layout


def _translator_nnpfc(translator: Translator) -> dict[str, Any]:
    """NNPFC syntax values naming the translator (``docs/translators.md#signalling``)."""
    values = nnpfc_values(TRANSLATOR_URI_TAG, translator.uri)
    values["nnpfc_id"] = TRANSLATOR_NNPFC_ID
    return values


def translate_stream(
    stream: bytes,
    target: str,
    kind: str | None = None,
    *,
    mode: str = "vtm",
    variant: str = "C",
    backend: str = "vvenc",
    translator: Translator | None = None,
    key_params: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TranslatedStream:
    """Rewrites the GFV / GFVE / NNPFC messages of ``stream`` for model ``target``.

    Args:
        stream: Annex B VVC byte stream with GFV SEI messages (model A, named by ``gfv_uri``).
        target: model B's name (:func:`refsw.models.get_model`).
        kind: translator kind (``"analytic"`` / ``"learned"``), ``None``: the pair's preferred.
        mode / variant: reconstruction mode and GFV syntax variant.
        backend: VVC decoder backend of the key pictures.
        translator: use this translator instead of the registry's (tests).
        key_params: ``(key picture (H, W, 3) uint8) -> B's parameters``; default B's analyser.

    Returns:
        The rewritten stream and what was done.

    Raises:
        TranslateError: not a GFV stream, damaged or unparsed SEI messages, no face parameters
            in a segment's base message, a key picture that does not decode.
        refsw.models.UnknownModelError: ``target`` is not a model here.
        NoTranslatorError: no translator from A to B (of ``kind``).
    """
    spec_b = get_model(target)
    ctx = DecodingContext(mode, variant)
    try:
        sei = read_stream_sei(stream, ctx, want_trace=False)
    except BitstreamError as err:
        raise TranslateError(f"not a VVC byte stream: {err}") from err
    gfv = [m for _, m in sei.messages if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO]
    if not gfv:
        raise TranslateError("not a GFV stream: it has no GFV SEI message")
    if sei.errors or any(m.values is None or m.recon is None for _, m in sei.messages if _rewritten(m)):
        raise TranslateError("the stream has damaged GFV / GFVE / NNPFC SEI messages; repair it first (gfv-check)")
    uri = stream_generator_uri(sei)
    if uri is None:
        raise TranslateError("not a GFV stream this software can translate: no base GFV message names a generator")
    source, layout_a = source_layout(uri)
    translator = translator or get_translator(source, target, kind)
    same = source == target
    vcl = [n for n in sei.nal_units if n.is_vcl]
    per_key, gfve = _gfv_messages_per_key_picture(sei, len(vcl))
    keys = None if same else _key_pictures(stream, sei, backend)
    analyse = key_params or (None if same else _analyser_of(target))
    gfve_base = next(
        (m.values for _, m in sei.messages if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT),
        None,
    )
    wctx = DecodingContext(mode, variant)
    new_payloads: dict[int, list[tuple[int, bytes]]] = {}  # id(original GFV message) -> its messages
    state: tuple[np.ndarray, np.ndarray] | None = None  # (A key, B key) of the current segment
    layout_b = None
    segments = 0
    for k in range(len(vcl)):
        msgs = sorted(per_key[k], key=lambda m: cast(dict, m.values)["gfv_cnt"])
        if not msgs:
            continue
        segments += 1
        values = [cast(dict, m.values) for m in msgs]
        enh = {(i, c): r for (kk, i, c), r in gfve.items() if kk == k}
        steps = SegmentSteps(layout_a, lambda gfv_id, gfv_cnt: enh.get((gfv_id, gfv_cnt)))
        try:
            pa = np.stack([np.asarray(steps.params(m), dtype=np.float64) for m in msgs])
        except ModelError as err:
            raise TranslateError(f"GFV messages of key picture {k} do not carry {source}'s layout: {err}") from err
        base = next((i for i, v in enumerate(values) if v["BasePic"]), None)
        if base is not None:
            key_b = pa[base] if same else np.asarray(cast(Callable, analyse)(cast(np.ndarray, keys)[k]))
            state = (pa[base], key_b)
            if layout_b is None:
                layout_b = _target_layout(target, same, values[base], gfve_base)
        if state is None or layout_b is None:
            raise TranslateError(f"key picture {k}: GFV messages before any base GFV message")
        pb = translator.translate(pa, state[0], state[1]).reshape(len(pa), *np.shape(state[1]))
        pb = layout_b.snap(pb)
        driving = base is None and values[0]["gfv_cnt"] == 0
        written = gfv_messages(
            layout_b,
            pb,
            np.array([v["gfv_low_confidence_face_parameter_flag"] for v in values], dtype=bool),
            wctx,
            gfv_id=values[0]["gfv_id"],
            cnts=np.array([v["gfv_cnt"] for v in values]),
            chroma_key=_chroma_key(values[base]) if base is not None else None,
            fusion_pic_flag=values[0].get("gfv_fusion_pic_flag", 0) if driving else None,
        )
        enhancement: list[tuple[bytes, dict] | None] = [None] * len(msgs)
        pupils = getattr(layout_b, "pupils", None)
        if pupils is not None:
            gfve_id = (gfve_base or {}).get("gfve_id", 0)
            enhancement = gfve_messages(
                pupils(pb),
                layout_b.pupil_precision_factor,
                wctx,
                gfv_id=values[0]["gfv_id"],
                gfve_id=gfve_id,
                cnts=np.array([v["gfv_cnt"] for v in values]),
            )
        for m, (payload, _), e in zip(msgs, written, enhancement, strict=True):
            new_payloads[id(m)] = [(PayloadType.GENERATIVE_FACE_VIDEO, payload)]
            if e is not None:
                new_payloads[id(m)].append((PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, e[0]))
    nnpfc: list[tuple[int, bytes]] = []
    if not same:
        nnpfc = [
            (PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS, write_payload(t, v, wctx)[0])
            for t, v in (
                (PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS, nnpfc_values(spec_b.uri_tag, spec_b.uri)),
                (PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS, _translator_nnpfc(translator)),
            )
        ]
    out = _splice(stream, sei, new_payloads, nnpfc, uri)
    notes = [] if same else [f"translated {source} -> {target} with {translator.uri}"]
    return TranslatedStream(out, source, target, translator.uri, len(new_payloads), segments, notes)


def _rewritten(m: SEIMessage) -> bool:
    """The message is one :func:`translate_stream` rewrites (GFV, GFVE)."""
    return m.payload_type in (PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT)


def _analyser_of(target: str) -> Callable[[np.ndarray], np.ndarray]:
    """B's parameters of one decoded key picture ``(H, W, 3)`` uint8, from B's analyser.

    Raises:
        TranslateError: B's analyser finds no face on the key picture.
    """
    analyser = get_model(target).make_analyser()

    def analyse(picture: np.ndarray) -> np.ndarray:
        params = key_picture_params(analyser, picture)
        if params is None:
            raise TranslateError(f"{target}'s analyser finds no face on a decoded key picture")
        return params

    return analyse


def _names_generator(m: SEIMessage, uri: str) -> bool:
    """An NNPFC message that names the stream's generator (by URI, or by carrying it)."""
    v = m.values or {}
    if m.payload_type != PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS:
        return False
    return v.get("nnpfc_uri") == uri or (v.get("nnpfc_mode_idc") == 0 and bool(v.get("nnpfc_payload_byte")))


def _splice(
    stream: bytes,
    sei: StreamSEI,
    gfv: dict[int, list[tuple[int, bytes]]],
    nnpfc: list[tuple[int, bytes]],
    uri: str,
) -> bytes:
    """``stream`` with the SEI NAL units holding GFV / GFVE / generator NNPFC messages rebuilt
    (each GFV message replaced by its new GFV message and GFVE message, the old GFVE messages
    dropped, the generator's NNPFC message replaced by ``nnpfc``) and every other byte kept. A
    NAL unit that held one message becomes one NAL unit per message (VTM's packing)."""
    by_nal: dict[int, list[SEIMessage]] = {}
    for idx, m in sei.messages:
        by_nal.setdefault(idx, []).append(m)
    out = bytearray()
    pos = 0
    for idx, (offset, sc, data) in enumerate(split_annexb(stream)):
        msgs = by_nal.get(idx)
        if msgs is None or not any(id(m) in gfv or _rewritten(m) or (nnpfc and _names_generator(m, uri)) for m in msgs):
            continue
        new: list[tuple[int, bytes]] = []
        for m in msgs:
            if id(m) in gfv:
                new += gfv[id(m)]
            elif nnpfc and _names_generator(m, uri):
                new += nnpfc
            elif not _rewritten(m):
                new.append((m.payload_type, m.payload))
        nal = sei.nal_units[idx]
        groups = [[m] for m in new] if len(msgs) == 1 else [new] if new else []
        units = [
            make_nal_unit(nal.nal_unit_type, sei_rbsp(g), nal.nuh_layer_id, nal.nuh_temporal_id_plus1) for g in groups
        ]
        out += stream[pos : offset - sc]
        if units:  # the first keeps the NAL unit's start code, the others get short ones
            out += stream[offset - sc : offset] + b"\x00\x00\x01".join(units)
        pos = offset + len(data)
    out += stream[pos:]
    if nnpfc and not any(_names_generator(m, uri) for _, m in sei.messages):
        return _insert_prefix(bytes(out), nnpfc)
    return bytes(out)


def _insert_prefix(stream: bytes, messages: list[tuple[int, bytes]]) -> bytes:
    """``stream`` with a prefix SEI NAL unit of ``messages`` before its first coded slice or
    picture header."""
    for offset, sc, data in split_annexb(stream):
        nal = parse_nal_unit(data)
        if nal.is_vcl or nal.nal_unit_type == NalUnitType.PH_NUT:
            unit = make_nal_unit(NalUnitType.PREFIX_SEI_NUT, sei_rbsp(messages), nal.nuh_layer_id)
            return stream[: offset - sc] + b"\x00\x00\x01" + unit + stream[offset - sc :]
    return stream
