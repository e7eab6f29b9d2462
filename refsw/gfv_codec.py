"""Generative face video codec: VVC key picture + GFV SEI messages + decoder-side generator.

Encoder: the key picture (picture 0) is coded with a VVC backend; the analysis model of the
selected GFV model extracts face parameters from the decoded key picture and from every
other picture; they become one GFV SEI message per output picture (``gfv_cnt`` = picture
index), carried as VTM does (:mod:`refsw.carriage`). An SPTI SEI message gives the picture rate;
an NNPFC SEI message, activated by an NNPFA, names the generator by the same URI as ``gfv_uri``.

Decoder: parses every SEI message, decodes the key picture with FFmpeg's VVC decoder,
reconstructs the GFV parameters, finds the generator named by ``gfv_uri`` and synthesises every
output picture.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from sei.context import DecodingContext
from sei.errors import BitstreamError
from sei.nal import NalUnitType
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, split_sei_rbsp, write_payload
from sei.stream import StreamSEI, read_stream_sei

from .carriage import AccessUnitSEI, access_units, insert_sei
from .codecs import create_backend
from .models import find_by_uri, get_model
from .models.mapping import RepresentationMismatch
from .models.search import choose_keypoints

log = logging.getLogger(__name__)


#: Encoder keypoint decisions (see :func:`encode_video`).
DECISIONS = ("ssim+vmaf", "ssim", "none")


class StreamError(ValueError):
    """The ``.266`` stream is truncated, corrupted or not a GFV stream this decoder can read."""


@dataclass
class EncodeSummary:
    """What the encoder produced.

    Attributes:
        frames: output pictures described by the stream.
        fps: picture rate (pictures/s).
        width / height: picture size in luma samples.
        qp: key-picture QP.
        model: GFV model name.
        bits_key: bits (incl. start codes) of coded-slice NAL units (the key picture).
        bits_gfv: bits of SEI NAL units carrying GFV messages.
        bits_other: bits of every other NAL unit (parameter sets, SPTI...).
        encode_seconds: wall time of the whole encode.
    """

    frames: int
    fps: float
    width: int
    height: int
    qp: int
    model: str
    bits_key: int
    bits_gfv: int
    bits_other: int
    encode_seconds: float

    @property
    def total_bits(self) -> int:
        """All bits of the stream."""
        return self.bits_key + self.bits_gfv + self.bits_other

    @property
    def kbps(self) -> float:
        """Total rate in kbit/s (1000 bit/s) at the clip's picture rate."""
        return self.total_bits * self.fps / self.frames / 1000.0

    @property
    def encode_fps(self) -> float:
        """Pictures encoded per second of wall time."""
        return self.frames / self.encode_seconds if self.encode_seconds > 0 else float("inf")

    def text(self) -> str:
        """Human-readable summary (several lines)."""
        per = self.fps / self.frames / 1000.0
        return (f"frames: {self.frames} ({self.width}x{self.height}, {self.fps:g} fps), model {self.model}, key QP {self.qp}\n"
                f"key picture NAL units: {self.bits_key:8d} bits ({self.bits_key * per:7.3f} kbit/s)\n"
                f"GFV SEI NAL units:     {self.bits_gfv:8d} bits ({self.bits_gfv * per:7.3f} kbit/s, "
                f"{self.bits_gfv / self.frames:.1f} bits/picture)\n"
                f"other NAL units:       {self.bits_other:8d} bits ({self.bits_other * per:7.3f} kbit/s)\n"
                f"total:                 {self.total_bits:8d} bits ({self.kbps:7.3f} kbit/s)\n"
                f"encode speed: {self.encode_fps:.1f} frames/s")


def spti_values(fps: float) -> dict[str, Any]:
    """SPTI syntax values giving the picture rate: one elemental interval = one picture."""
    rate = Fraction(fps).limit_denominator(1001)
    return {"spti_cancel_flag": 0, "spti_persistence_flag": 1, "spti_source_timing_equals_output_timing_flag": 0,
            "spti_source_type_present_flag": 0, "spti_time_scale": rate.numerator * 1000,
            "spti_num_units_in_elemental_interval": rate.denominator * 1000, "spti_direction_flag": 0,
            "spti_max_sublayers_minus1": 0, "spti_sublayer_interval_scale_factor": [1],
            "spti_sublayer_synthesized_picture_flag": [0]}


#: ``nnpfc_id`` of the NNPFC message that identifies the generator (0..255: not reserved).
NNPFC_ID = 1


#: ``nnpfc_mode_idc`` values the encoder can write: 1 = URI (default), 0 = the network in the payload.
NNPFC_MODES = (1, 0)


def nnpfc_values(uri_tag: str, uri: str, mode_idc: int = 1, network: bytes | None = None) -> dict[str, Any]:
    """NNPFC syntax values that identify the generator (no property information).

    ``mode_idc`` 1: by URI, the same as the base GFV message's ``gfv_uri``; ``mode_idc`` 0: the
    network itself as ``nnpfc_payload_byte`` (``network``: the checkpoint bytes, whose SHA-256 the
    GFV URI names). Raises ValueError for another mode or a missing network.
    """
    v: dict[str, Any] = {"nnpfc_purpose": 0, "nnpfc_id": NNPFC_ID, "nnpfc_base_flag": 1, "nnpfc_mode_idc": mode_idc}
    if mode_idc == 1:
        v.update(nnpfc_uri_tag=uri_tag, nnpfc_uri=uri)
    elif mode_idc == 0:
        if not network:
            raise ValueError(f"nnpfc_mode_idc 0 needs the network bytes; generator {uri} has none")
        v["nnpfc_payload_byte"] = network
    else:
        raise ValueError(f"nnpfc_mode_idc {mode_idc} not supported (use 1 or 0)")
    v["nnpfc_property_present_flag"] = 0
    return v


def nnpfa_values() -> dict[str, Any]:
    """NNPFA syntax values activating :data:`NNPFC_ID` for the whole coded layer video sequence."""
    return {"nnpfa_target_id": NNPFC_ID, "nnpfa_cancel_flag": 0, "nnpfa_persistence_flag": 1,
            "nnpfa_target_base_flag": 1, "nnpfa_no_prev_clvs_flag": 0, "nnpfa_no_foll_clvs_flag": 0,
            "nnpfa_num_output_entries": 0, "nnpfa_prompt_update_flag": 0, "nnpfa_seed_update_flag": 0,
            "nnpfa_selected_input_flag": 0}


def count_bits(stream: bytes) -> tuple[int, int, int]:
    """``(bits_key, bits_gfv, bits_other)`` of a stream; each NAL unit counts with its start code."""
    from sei.nal import parse_nal_unit, split_annexb

    key = gfv = other = 0
    for off, sc, data in split_annexb(stream):
        bits = 8 * (len(data) + sc)
        nal = parse_nal_unit(data, off, sc)
        if nal.is_vcl:
            key += bits
        elif nal.nal_unit_type in (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT) and any(
                t in (PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT)
                for t, _, _ in split_sei_rbsp(nal.rbsp)):
            gfv += bits
        else:
            other += bits
    return key, gfv, other


def encode_video(frames: np.ndarray, fps: float, *, model: str = "kptps", qp: int = 32, precision: int | None = None,
                 backend: str = "vvenc", decision: str = "ssim+vmaf", matrix_precision: int | None = None,
                 nnpfc_mode: int = 1, analyse_decoded_key: bool | None = None,
                 key_period: int = 0, deterministic: bool = False) -> tuple[bytes, EncodeSummary]:
    """Encodes a face video into one VVC byte stream with GFV SEI messages.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB, N >= 1, already in the CTC format.
        fps: picture rate in pictures/s.
        model: GFV model name (:func:`refsw.models.get_model`).
        qp: key-picture QP (0..63).
        precision: coordinate precision factor (``gfv_coordinate_precision_factor_minus1`` + 1);
            ``None``: the model's default (``docs/models.md``).
        matrix_precision: matrix element precision factor
            (``gfv_matrix_element_precision_factor_minus1`` + 1); ``None``: the model's default.
        nnpfc_mode: ``nnpfc_mode_idc`` of the NNPFC message naming the generator: 1 its URI,
            0 the checkpoint bytes in the payload (learned models only).
        backend: VVC codec backend name.
        analyse_decoded_key: take the key picture's parameters from the decoded key picture
            (True) or from its source picture (False; every picture's parameters then come from
            the source pictures and the motion between them is applied to the decoded key
            picture). ``None``: the model's default (``ModelSpec.analyse_decoded_key``, measured:
            the analysis networks read coding loss as motion, which helps some models and
            hurts others, ``docs/models.md``).
        decision: how the transmitted keypoints are chosen (:mod:`refsw.models.search`):
            ``"ssim+vmaf"`` (default) a picture moves only where both its SSIM and its VMAF beat
            the key picture; ``"ssim"`` SSIM only (follows more motion, VMAF may drop);
            ``"none"`` the tracked keypoints as they are.
        key_period: a key picture every ``key_period`` output pictures (pictures 0, P, 2P, ...;
            the JVET GFVC common software's ``gop_size``); 0 (default): picture 0 only. The key
            pictures are coded as one VVC sequence (low delay: each after the first predicted
            from the one before); each starts a segment with its own base GFV message in its
            access unit, animated from that key picture.
        deterministic: the encoder's own synthesis (its decision) runs the generator's portable
            fp32 path (``gfv-decode --deterministic``), so the stream does not depend on the CPU.

    Returns:
        ``(stream, summary)``: the Annex B byte stream and what it contains.

    Raises:
        refsw.codecs.CodecError: the VVC encoder failed or refused the input.
        refsw.models.landmarks.NoFaceInClipError: the analysis found no face.
        KeyError: unknown model.
    """
    t0 = time.perf_counter()
    spec = get_model(model)
    if decision not in DECISIONS:
        raise ValueError(f"unknown keypoint decision {decision!r} (expected one of {', '.join(DECISIONS)})")
    if nnpfc_mode not in NNPFC_MODES:
        raise ValueError(f"nnpfc_mode_idc {nnpfc_mode} not supported (use 1 or 0)")
    mapping = spec.make_mapping(precision=precision) if matrix_precision is None else \
        spec.make_mapping(precision=precision, matrix_precision=matrix_precision)
    analyzer = spec.make_analyzer()
    network = None
    if nnpfc_mode == 0:
        network = getattr(analyzer, "checkpoint", None)
        if network is None:
            raise ValueError(f"model {model} has no network to carry in the NNPFC payload (nnpfc_mode_idc 0)")
    if key_period < 0:
        raise ValueError(f"key_period must be >= 0 (0: one key picture), not {key_period}")
    starts = list(range(0, len(frames), key_period)) if key_period else [0]
    codec = create_backend(backend)
    key = codec.encode(frames[starts], qp=qp, fps=fps)
    decoded_keys = codec.decode(key.bitstream).frames
    if analyse_decoded_key is None:
        analyse_decoded_key = spec.analyse_decoded_key
    ctx = DecodingContext()
    prefix = [(PayloadType.SOURCE_PICTURE_TIMING_INFO, spti_values(fps)),
              (PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS,
               nnpfc_values(spec.uri_tag, spec.uri, nnpfc_mode, network)),
              (PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION, nnpfa_values())]
    generator = spec.make_generator(deterministic=deterministic) if decision != "none" else None  # re-keyed per segment
    per_au: dict[int, AccessUnitSEI] = {}
    for k, (start, decoded_key) in enumerate(zip(starts, decoded_keys)):
        segment = frames[start:start + key_period] if key_period else frames
        payloads = _segment_payloads(segment, decoded_key, analyzer, generator, mapping, decision,
                                     analyse_decoded_key, fps, ctx)
        per_au[k] = AccessUnitSEI(prefix=[(t, write_payload(t, v, ctx)[0]) for t, v in prefix] if k == 0 else [],
                                  suffix=[(PayloadType.GENERATIVE_FACE_VIDEO, p) for p, _ in payloads])
    stream = insert_sei(key.bitstream, per_au)
    bits = count_bits(stream)
    h, w = frames.shape[1:3]
    return stream, EncodeSummary(len(frames), fps, w, h, qp, model, *bits, time.perf_counter() - t0)


def _segment_payloads(frames: np.ndarray, decoded_key: np.ndarray, analyzer: Any, generator: Any, mapping: Any,
                      decision: str, analyse_decoded_key: bool, fps: float, ctx: DecodingContext
                      ) -> list[tuple[bytes, dict]]:
    """GFV payloads (base message first) of one key-picture segment: ``frames`` ``(N, H, W, 3)``
    uint8, picture 0 the key picture's source, animated from ``decoded_key`` ``(H, W, 3)`` by
    ``generator`` (``None`` with ``decision`` ``"none"``)."""
    analysed = np.concatenate([decoded_key[None], frames[1:]]) if analyse_decoded_key else frames
    params, found = analyzer.analyze(analysed)
    params = mapping.snap(params)  # on the GFV grids: no drift, exact identity
    if decision != "none" and len(frames) > 1:
        generator.set_key_picture(decoded_key, params[0])
        params = choose_keypoints(frames, params, generator, fps=fps, snap=mapping.snap,
                                  use_vmaf=decision == "ssim+vmaf",
                                  groups=getattr(analyzer, "candidate_groups", ()))
    return mapping.messages(params, ~found, ctx)


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
        kind: ``"key"`` (decoded VVC picture) or ``"generated"``.
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
    """

    frames: np.ndarray
    fps: float
    pictures: list[PictureLog]
    sei: StreamSEI
    generator: str | None
    notes: list[str] = field(default_factory=list)


def _stream_fps(sei: StreamSEI) -> float:
    for m in sei.of_type(PayloadType.SOURCE_PICTURE_TIMING_INFO):
        v = m.values
        if not v.get("spti_cancel_flag") and not v.get("spti_source_timing_equals_output_timing_flag") and \
                v.get("spti_num_units_in_elemental_interval"):
            return v["spti_time_scale"] / v["spti_num_units_in_elemental_interval"]
    return 25.0


class UnknownGeneratorError(StreamError):
    """The stream names a generator this decoder does not have (and does not carry it)."""


@dataclass
class _StreamGenerator:
    name: str
    make_mapping: Any
    make_generator: Any


def _carried_networks(sei: StreamSEI) -> dict[str, bytes]:
    """Networks carried in NNPFC messages (``nnpfc_mode_idc`` 0), keyed by the SHA-256 of their
    bytes (what a generator URI names); nothing is loaded here."""
    from .models.learned import sha256_hex

    out: dict[str, bytes] = {}
    for m in sei.of_type(PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS):
        v = m.values or {}
        data = v.get("nnpfc_payload_byte")
        if v.get("nnpfc_mode_idc") == 0 and data:
            out[sha256_hex(bytes(data))] = bytes(data)
    return out


def _carried_generator(uri: str | None, networks: dict[str, bytes]) -> _StreamGenerator | None:
    """The generator ``uri`` names when the stream carries its network, else ``None``.

    Raises:
        StreamError: the carried network with that hash cannot be loaded.
    """
    from .models.learned import CheckpointError, LearnedModel, make_mapping, parse_uri

    named = parse_uri(uri)
    if named is None or named[1] not in networks:
        return None
    try:
        model = LearnedModel.from_bytes(networks[named[1]])
    except CheckpointError as err:
        raise StreamError(f"the NNPFC message carries a network this decoder cannot load: {err}") from None
    if model.name != named[0]:
        raise StreamError(f"gfv_uri names a {named[0]} network, the NNPFC message carries a {model.name} network")
    return _StreamGenerator(model.name, lambda: make_mapping(model.name, model.uri), model.make_generator)


def decode_stream(stream: bytes, *, mode: str = "vtm", variant: str = "C", backend: str = "vvenc",
                  key_pictures_only: bool = False, deterministic: bool = False) -> DecodedVideo:
    """Decodes a GFV stream: key pictures, GFV parameters, generated pictures.

    The generator is chosen from the stream alone: the base GFV message's ``gfv_uri`` names it;
    a network carried in an NNPFC message (``nnpfc_mode_idc`` 0) with that URI is used first,
    then the registry (:func:`refsw.models.find_by_uri`; the URI includes the checkpoint hash).

    Args:
        stream: Annex B VVC byte stream.
        mode: reconstruction mode of the decoding context (``"vtm"`` or ``"spec"``).
        variant: GFV syntax variant (``"C"`` or ``"B"``).
        backend: VVC decoder backend.
        key_pictures_only: when the named generator is not available, output the key pictures
            (with a note) instead of failing; for analysing foreign streams.
        deterministic: the generator's portable fp32 path (one thread, no oneDNN, no bfloat16):
            synthesised pictures that are the same on any x86 CPU, for regression hashes.

    Raises:
        UnknownGeneratorError: the stream names a generator that is neither carried in the
            stream nor available here (the message names it), unless ``key_pictures_only``.
        StreamError: the stream cannot be split into NAL units, an SEI NAL unit or a GFV
            message is corrupted, or it has no decodable picture.
        refsw.codecs.CodecError: the VVC decoder failed.
    """
    ctx = DecodingContext(mode, variant)
    try:
        sei = read_stream_sei(stream, ctx)
    except BitstreamError as err:
        raise StreamError(f"not a VVC byte stream: {err}") from err
    for idx, err in sei.errors.items():
        raise StreamError(f"corrupted SEI NAL unit {idx} at byte {sei.nal_units[idx].offset}: {err}")
    for idx, m in sei.messages:
        if m.error is not None:
            raise StreamError(f"corrupted SEI message (payloadType {m.payload_type}) in NAL unit {idx}: {m.error}")
    if not any(n.is_vcl for n in sei.nal_units):
        raise StreamError("the stream contains no coded picture")
    codec = create_backend(backend)
    keys = codec.decode(stream).frames
    aus = access_units(sei.nal_units)
    vcl_aus = sorted({aus[i] for i, n in enumerate(sei.nal_units) if n.is_vcl})
    key_of_au = {au: k for k, au in enumerate(vcl_aus)}
    if len(keys) != len(vcl_aus):
        raise StreamError(f"the VVC decoder returned {len(keys)} pictures for {len(vcl_aus)} coded pictures")
    networks = _carried_networks(sei)
    per_key: dict[int, list[SEIMessage]] = {k: [] for k in range(len(keys))}
    for idx, m in sei.messages:
        if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO and m.values is not None:
            per_key[key_of_au.get(aus[idx], 0)].append(m)
    out: list[np.ndarray] = []
    pics: list[PictureLog] = []
    notes: list[str] = []
    used: str | None = None
    resolved: dict[str | None, tuple[Any, Any, Any] | None] = {}  # gfv_uri -> (spec, mapping, generator)
    for k, key_picture in enumerate(keys):
        msgs = per_key[k]
        if not msgs:
            pics.append(PictureLog(len(out), "key", k))
            out.append(key_picture)
            continue
        base = next((m for m in msgs if m.values["BasePic"]), None)
        uri = base.values.get("gfv_uri") if base is not None else None
        if uri not in resolved:  # once per generator, not per key picture
            spec: Any = _carried_generator(uri, networks) or find_by_uri(uri)
            resolved[uri] = None if spec is None else (spec, spec.make_mapping(),
                                                         spec.make_generator(deterministic=deterministic))
        if resolved[uri] is None:
            if not key_pictures_only:
                from .models import available_models

                have = ", ".join(available_models())
                if uri:
                    why = f"the stream needs generator {uri!r}, which is not in the stream and not available here"
                else:
                    why = "the GFV messages name no generator (no gfv_uri in a base message)"
                raise UnknownGeneratorError(f"{why} (available: {have}); use --key-pictures-only to output the "
                                            f"key pictures")
            note = (f"no available generator matches the stream's representation (gfv_uri {uri!r}, "
                    f"{len(msgs)} GFV messages); writing the key picture only")
            if note not in notes:
                notes.append(note)
            pics.append(PictureLog(len(out), "key", k))
            out.append(key_picture)
            continue
        spec, mapping, generator = resolved[uri]
        used = spec.name
        try:
            generator.set_key_picture(key_picture, mapping.params(base.recon))
            previous = None
            uses_previous = getattr(generator, "uses_previous", False)
            for m in sorted(msgs, key=lambda m: m.values["gfv_cnt"]):
                v = m.values
                entry = PictureLog(len(out), "key" if v["BasePic"] else "generated", k, v["gfv_id"], v["gfv_cnt"],
                                   8 * m.payload_size, v["gfv_low_confidence_face_parameter_flag"])
                if v["BasePic"]:
                    out.append(key_picture)
                else:
                    params = mapping.params(m.recon)
                    out.append(generator.generate(params, previous=previous) if uses_previous
                               else generator.generate(params))
                    previous = params
                pics.append(entry)
        except RepresentationMismatch as err:
            raise StreamError(f"GFV messages do not match generator {spec.name}: {err}") from err
    return DecodedVideo(np.stack(out), _stream_fps(sei), pics, sei, used, notes)
