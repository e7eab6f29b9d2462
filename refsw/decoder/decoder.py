"""Decoder library: a VVC byte stream with GFV SEI messages -> output pictures.

Parses every SEI message, decodes the key pictures with FFmpeg's VVC decoder, reconstructs the
GFV parameters, resolves the generator the stream names (:mod:`refsw.decoder.generators`) and
synthesises every output picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from refsw.codecs import create_backend
from refsw.media.colour import i420_to_rgb
from refsw.models import Ability, RepresentationMismatch
from refsw.models.gfv_mapping import interpolate
from refsw.progress import bar
from sei.carriage import access_units
from sei.context import DecodingContext
from sei.errors import BitstreamError, SizeLimitError
from sei.registry import PayloadType
from sei.sei_message import SEIMessage
from sei.stream import StreamSEI, read_stream_sei

from .errors import StreamError
from .generators import GeneratorResolver, ResolvedGenerator, unknown_generator


def segment_key_indices(is_key: Sequence[bool]) -> np.ndarray:
    """``(N,)`` int: for every output picture (``is_key[i]``: picture ``i`` is a key picture),
    the index of the key picture of its segment; the frozen-frame baseline repeats it."""
    index = np.arange(len(is_key))
    return np.maximum.accumulate(np.where(np.asarray(is_key, dtype=bool), index, 0))


@dataclass
class PictureLog:
    """One line of the decoder's per-picture log.

    Attributes:
        index: output picture index.
        kind: ``"key"`` (decoded VVC picture), ``"generated"`` (from its GFV message) or
            ``"interpolated"`` (no GFV message: parameters interpolated between the messages
            before and after it, :func:`refsw.models.gfv_mapping.interpolate`).
        key_picture: index of the key picture it comes from.
        gfv_id / gfv_cnt: of the GFV message describing it (-1 if none).
        sei_bits: bits of that GFV message's SEI NAL unit payload (payloadSize * 8).
        low_confidence: ``gfv_low_confidence_face_parameter_flag``.
    """

    index: int
    kind: str
    key_picture: int
    gfv_id: int = -1
    gfv_cnt: int = -1
    sei_bits: int = 0
    low_confidence: int = 0


@dataclass
class DecodedVideo:
    """Decoder output.

    Attributes:
        frames: ``(N, H, W, 3)`` uint8 RGB output pictures.
        fps: picture rate from the SPTI SEI message (25 when the stream has none).
        pictures: per-picture log.
        sei: every parsed SEI message.
        generator: model name used, or ``None`` when no available generator matches.
        notes: one-line remarks for the user (e.g. the generator mismatch).
        key_planes: the VVC decoder's own 8-bit 4:2:0 samples of each key picture, by output
            picture index: ``(Y (H, W), U (H/2, W/2), V (H/2, W/2))`` uint8. YUV outputs write
            these, sample for sample, instead of converting ``frames`` back from RGB.
    """

    frames: np.ndarray
    fps: float
    pictures: list[PictureLog]
    sei: StreamSEI
    generator: str | None
    notes: list[str] = field(default_factory=list)
    key_planes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


def stream_fps(sei: StreamSEI) -> float:
    """Output picture rate in pictures/s from the stream's SPTI SEI message (25 without one)."""
    for m in sei.of_type(PayloadType.SOURCE_PICTURE_TIMING_INFO):
        v = m.values
        assert v is not None  # of_type() returns parsed messages only
        if (
            not v.get("spti_cancel_flag")
            and not v.get("spti_source_timing_equals_output_timing_flag")
            and v.get("spti_num_units_in_elemental_interval")
        ):
            return v["spti_time_scale"] / v["spti_num_units_in_elemental_interval"]
    return 25.0


def decode_stream(
    stream: bytes,
    *,
    mode: str = "vtm",
    variant: str = "C",
    backend: str = "vvenc",
    key_pictures_only: bool = False,
    deterministic: bool = False,
    want_trace: bool = True,
) -> DecodedVideo:
    """Decodes a GFV stream: key pictures, GFV parameters, generated pictures.

    The generator is chosen from the stream alone: the base GFV message's ``gfv_uri`` names it;
    a network carried in an NNPFC message (``nnpfc_mode_idc`` 0) with that URI is used first,
    then the registered model with that URI (:func:`refsw.models.resolve_uri`; a learned
    model's URI includes its checkpoint's hash).

    Args:
        stream: Annex B VVC byte stream.
        mode: reconstruction mode of the decoding context (``"vtm"`` or ``"spec"``).
        variant: GFV syntax variant (``"C"`` or ``"B"``).
        backend: VVC decoder backend.
        key_pictures_only: when the named generator is not available, output the key pictures
            (with a note) instead of failing; for analysing foreign streams.
        deterministic: the generator's portable fp32 path (one thread, no oneDNN, no bfloat16):
            synthesised pictures that are the same on any x86 CPU, for regression hashes.
        want_trace: keep the SEI trace records (``result.sei.trace_text()``); without them
            parsing needs less memory (20 bytes per syntax element).

    Raises:
        UnknownGeneratorError: the stream names a generator that is neither carried in the
            stream nor available here (the message names it), unless ``key_pictures_only``.
        StreamError: the stream cannot be split into NAL units, an SEI NAL unit or a GFV
            message is corrupted, or it has no decodable picture.
        refsw.codecs.CodecError: the VVC decoder failed.
    """
    sei = _read_sei(stream, DecodingContext(mode, variant), want_trace)
    codec = create_backend(backend)
    yuv = codec.decode_yuv(stream) if hasattr(codec, "decode_yuv") else None  # the FFmpeg backends
    keys = i420_to_rgb(*yuv) if yuv is not None else codec.decode(stream).frames
    per_key, gfve = _gfv_messages_per_key_picture(sei, len(keys))
    resolver = GeneratorResolver(sei, deterministic)
    pictures = {k: 1 + max((cast(dict, m.values)["gfv_cnt"] for m in msgs), default=-1) for k, msgs in per_key.items()}
    synthesis = bar("synthesis", total=sum(pictures.values()))
    out: list[np.ndarray] = []
    pics: list[PictureLog] = []
    notes: list[str] = []
    used: str | None = None
    for k, key_picture in enumerate(keys):
        msgs = per_key[k]
        base = next((m for m in msgs if cast(dict, m.values)["BasePic"]), None)  # per_key: parsed only
        uri = cast(dict, base.values).get("gfv_uri") if base is not None else None
        resolved = resolver.get(uri) if msgs else None
        if resolved is None:
            if msgs and not key_pictures_only:
                raise unknown_generator(uri)
            if msgs:
                note = (
                    f"no available generator matches the stream's representation (gfv_uri {uri!r}, "
                    f"{len(msgs)} GFV messages); writing the key picture only"
                )
                notes += [note] if note not in notes else []
            pics.append(PictureLog(len(out), "key", k))
            out.append(key_picture)
            continue
        used = resolved.spec.name
        assert base is not None  # a generator was resolved: base's gfv_uri named it
        enhancements = {(i, c): r for (kk, i, c), r in gfve.items() if kk == k}
        _synthesise_segment(resolved, key_picture, k, base, msgs, enhancements, out, pics)
        synthesis.update(pictures[k])
    synthesis.close()
    planes = {} if yuv is None else {p.index: tuple(c[p.key_picture] for c in yuv) for p in pics if p.kind == "key"}
    return DecodedVideo(np.stack(out), stream_fps(sei), pics, sei, used, notes, planes)


def _read_sei(stream: bytes, ctx: DecodingContext, want_trace: bool = True) -> StreamSEI:
    """Every SEI message of ``stream``, parsed and reconstructed.

    Raises:
        StreamError: not a byte stream, a corrupted SEI NAL unit or message, a message beyond
            this software's size limit (:class:`sei.errors.SizeLimitError`), no coded picture.
    """
    try:
        sei = read_stream_sei(stream, ctx, want_trace=want_trace)
    except BitstreamError as err:
        raise StreamError(f"not a VVC byte stream: {err}") from err
    for idx, framing in sei.errors.items():
        raise StreamError(f"corrupted SEI NAL unit {idx} at byte {sei.nal_units[idx].offset}: {framing}")
    for idx, m in sei.messages:
        if isinstance(m.error, SizeLimitError):
            raise StreamError(f"SEI message (payloadType {m.payload_type}) in NAL unit {idx}: {m.error}")
        if m.error is not None:
            raise StreamError(f"corrupted SEI message (payloadType {m.payload_type}) in NAL unit {idx}: {m.error}")
    if not any(n.is_vcl for n in sei.nal_units):
        raise StreamError("the stream contains no coded picture")
    return sei


def _gfv_messages_per_key_picture(
    sei: StreamSEI, num_keys: int
) -> tuple[dict[int, list[SEIMessage]], dict[tuple[int, int, int], dict]]:
    """The GFV messages of each key picture's access unit (key pictures in decoding order), and
    the GFVE reconstructions (:func:`sei.messages.gfve.reconstruct`) of those access units keyed
    by ``(key picture, gfve_gfv_id, gfve_gfv_cnt)``: the GFV message each enhances.

    Raises:
        StreamError: the VVC decoder returned another number of pictures than the stream codes.
    """
    aus = access_units(sei.nal_units)
    vcl_aus = sorted({aus[i] for i, n in enumerate(sei.nal_units) if n.is_vcl})
    if num_keys != len(vcl_aus):
        raise StreamError(f"the VVC decoder returned {num_keys} pictures for {len(vcl_aus)} coded pictures")
    key_of_au = {au: k for k, au in enumerate(vcl_aus)}
    per_key: dict[int, list[SEIMessage]] = {k: [] for k in range(num_keys)}
    gfve: dict[tuple[int, int, int], dict] = {}
    for idx, m in sei.messages:
        if m.values is None:
            continue
        k = key_of_au.get(aus[idx], 0)
        if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO:
            per_key[k].append(m)
        elif m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT:
            gfve[(k, m.values["gfve_gfv_id"], m.values["gfve_gfv_cnt"])] = m.recon or {}
    return per_key, gfve


def _synthesise_segment(
    resolved: ResolvedGenerator,
    key_picture: np.ndarray,
    k: int,
    base: SEIMessage,
    msgs: list[SEIMessage],
    enhancements: dict[tuple[int, int], dict],
    out: list[np.ndarray],
    pics: list[PictureLog],
) -> None:
    """Appends the output pictures of key picture ``k``'s segment (one per GFV message, in
    ``gfv_cnt`` order) to ``out`` and their log lines to ``pics``; ``enhancements``: the GFVE
    reconstructions by ``(gfv_id, gfv_cnt)``, handed to the layout as ``recon["gfve"]``; a GFV
    message without a GFVE message takes the segment's latest one (the encoder sends a GFVE
    message only where its values change).

    Raises:
        StreamError: the messages do not carry the generator's representation.
    """
    layout, generator = resolved.layout, resolved.generator
    uses_previous = Ability.PREVIOUS_PICTURE in resolved.spec.abilities
    try:
        latest: dict = {}  # the latest GFVE of the segment: a picture without one keeps its values

        def params(m: SEIMessage) -> np.ndarray:
            v = cast(dict, m.values)
            latest["gfve"] = enhancements.get((v["gfv_id"], v["gfv_cnt"]), latest.get("gfve"))
            return layout.params({**(m.recon or {}), "gfve": latest["gfve"]})

        generator.set_key_picture(key_picture, params(base))
        previous = None
        last: tuple[int, np.ndarray] | None = None  # (gfv_cnt, parameters) of the previous message
        for m in sorted(msgs, key=lambda m: cast(dict, m.values)["gfv_cnt"]):  # parsed messages only
            v = cast(dict, m.values)
            p = params(m)
            if last is not None and v["gfv_cnt"] > last[0] + 1:  # pictures without a message
                for cnt in range(last[0] + 1, v["gfv_cnt"]):
                    q = interpolate(last[1], p, (cnt - last[0]) / (v["gfv_cnt"] - last[0]))
                    pics.append(PictureLog(len(out), "interpolated", k, v["gfv_id"], cnt))
                    out.append(generator.generate(q, previous=previous) if uses_previous else generator.generate(q))
                    previous = q
            last = (v["gfv_cnt"], p)
            pics.append(
                PictureLog(
                    len(out),
                    "key" if v["BasePic"] else "generated",
                    k,
                    v["gfv_id"],
                    v["gfv_cnt"],
                    8 * m.payload_size,
                    v["gfv_low_confidence_face_parameter_flag"],
                )
            )
            if v["BasePic"]:
                out.append(key_picture)
                continue
            out.append(generator.generate(p, previous=previous) if uses_previous else generator.generate(p))
            previous = p
    except RepresentationMismatch as err:
        raise StreamError(f"GFV messages do not match generator {resolved.spec.name}: {err}") from err
