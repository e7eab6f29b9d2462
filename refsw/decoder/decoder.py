"""Decoder library: a VVC byte stream with GFV SEI messages -> output pictures.

Checks the stream with ``gfv-check``'s rules (:mod:`refsw.decoder.verdict`), parses every SEI
message, decodes the key pictures with FFmpeg's VVC decoder, reconstructs the GFV parameters,
resolves the generator the stream names (:mod:`refsw.decoder.generators`) and synthesises every
output picture; with ``conceal`` it decodes around damage, repeating the last good picture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from refsw.codecs import create_backend
from refsw.models import RepresentationMismatch
from refsw.progress import bar
from refsw.translate.source import signalled_translator
from sei.carriage import access_units
from sei.checker import check_stream
from sei.context import DecodingContext
from sei.errors import BitstreamError
from sei.registry import PayloadType
from sei.sei_message import SEIMessage
from sei.stream import StreamSEI, read_stream_sei

from .base_picture import BasePictureError, other_face
from .chroma_key import replace_background
from .edits import EditError, EditPlan, check_supported, edited_params
from .errors import StreamError
from .fusion import fuse
from .generators import GeneratorResolver, ResolvedGenerator, unknown_generator
from .picture_hash import HashVerification, verify_with_policy
from .picture_log import PictureLog
from .segment import SegmentSteps, generate
from .translation import fallback_generator, translated_generator
from .verdict import Concealment, Damage, DecodeStopped, key_pictures_rgb, locate, signalled_pictures


def segment_key_indices(is_key: Sequence[bool]) -> np.ndarray:
    """``(N,)`` int: for every output picture (``is_key[i]``: picture ``i`` is a key picture),
    the index of the key picture of its segment; the frozen-frame baseline repeats it."""
    index = np.arange(len(is_key))
    return np.maximum.accumulate(np.where(np.asarray(is_key, dtype=bool), index, 0))


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
        concealed: ``conceal``: output picture index -> why it is concealed (the damage, in
            words: access unit, byte offset, element, rule, source).
        params: for each output picture, the generator parameters it was synthesised from,
            after the edits, as the model's layout gives them (float64; sem3d ``(16 + K + 4,)``,
            kptps ``(K, 2)``): an unedited key picture's are its base GFV message's, an
            interpolated picture's the interpolated values; ``None`` for a picture output
            without a generator.
        picture_hash: the verification of the key pictures' decoded picture hash SEI messages
            (:mod:`refsw.decoder.picture_hash`), or ``None`` when not verified.
    """

    frames: np.ndarray
    fps: float
    pictures: list[PictureLog]
    sei: StreamSEI
    generator: str | None
    notes: list[str] = field(default_factory=list)
    key_planes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    concealed: dict[int, str] = field(default_factory=dict)
    params: list[np.ndarray | None] = field(default_factory=list)
    picture_hash: HashVerification | None = None


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
    conceal: bool = False,
    edits: EditPlan | None = None,
    base_picture: np.ndarray | None = None,
    background: np.ndarray | tuple[int, int, int] | None = None,
    hash_mismatch: str = "error",
    want_trace: bool = True,
    translate_to: str | None = None,
    translator_kind: str | None = None,
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
        deterministic: the generator's portable path (one thread, no oneDNN):
            synthesised pictures that are the same on any x86 CPU, for regression hashes.
        conceal: decode around errors instead of stopping: pictures that cannot be synthesised
            repeat the last good picture (kind ``"concealed"``, with their cause in
            ``concealed``); decoding recovers at the next key picture; the damage is in ``notes``.
        edits: changes of the decoded semantics applied to each output picture's parameters
            before generation (:mod:`refsw.decoder.edits`); a key picture with an edit is
            re-synthesised from its own edited parameters.
        base_picture: ``(H, W, 3)`` uint8 RGB (or ``(N, H, W, 3)``, a video) of another face to
            animate with the stream's motion instead of its key pictures
            (:mod:`refsw.decoder.base_picture`); needs the stream's generator.
        background: replaces the background the stream's chroma key marks (an ``(R, G, B)``
            colour or an ``(H, W, 3)`` uint8 RGB picture; :mod:`refsw.decoder.chroma_key`).
        hash_mismatch: what a key picture whose samples do not match its decoded picture hash
            SEI message (H.266 D.2, MD5) does: ``"error"`` (default) raises
            :class:`PictureHashError`; ``"warn"`` adds one note per mismatching component and
            goes on; ``"ignore"`` skips the verification.
        want_trace: keep the SEI trace records (``result.sei.trace_text()``); without them
            parsing needs less memory (20 bytes per syntax element).
        translate_to: animate with this model's generator through a parameter translator from
            the stream's model (:mod:`refsw.decoder.translation`); without it, a stream whose
            generator is not available here is decoded through a translator to a model that is
            (a note names both and the translator), unless ``key_pictures_only``.
        translator_kind: ``"analytic"`` / ``"learned"`` with ``translate_to`` (default: the
            pair's preferred kind).

    Raises:
        DecodeStopped: (a :class:`StreamError`) without ``conceal``, the stream has a finding of
            severity ``error`` or ``limit`` under ``gfv-check``'s rules, or a coded picture the
            VVC decoder refuses; the message names the element, access unit and byte offset.
        UnknownGeneratorError: the stream names a generator that is neither carried in the
            stream nor available here (the message names it), unless ``key_pictures_only``.
        StreamError: the stream cannot be split into NAL units, it has no coded picture, or
            (also with ``conceal``) not even its first key picture decodes.
        refsw.codecs.CodecError: the VVC decoder is not available (or, for a backend without
            ``decode_yuv``, failed).
        EditError: ``edits`` has a key the stream's generator does not support, or the stream's
            generator is not available (``key_pictures_only``).
        BasePictureError: ``base_picture`` has no face, or the model cannot animate another face.
        ChromaKeyError: ``background`` with a stream that carries no background chroma key.
        PictureHashError: a key picture does not match its hash (``hash_mismatch`` ``"error"``);
            the message names the first mismatch and counts the others.
        refsw.models.ModelError: ``translate_to`` is not available here, or there is no
            translator to it (:class:`~refsw.translate.NoTranslatorError`).
    """
    edits = None if edits is None or edits.is_empty else edits
    if translate_to is not None and (edits is not None or base_picture is not None):
        raise EditError("edits and another base picture need the stream's own generator, not --translate-to")
    if base_picture is not None and key_pictures_only:
        raise BasePictureError("a base picture needs the stream's generator (not key_pictures_only)")
    # gfv-check's rules, same code; first, so that its parse is freed before the decoder's own
    try:
        report = check_stream(stream, variant=variant, mode=mode)
    except BitstreamError as err:
        raise StreamError(f"not a VVC byte stream: {err}") from err
    sei = _read_sei(stream, DecodingContext(mode, variant), want_trace)
    damage = locate(report, sei.nal_units)
    if damage and not conceal:
        raise DecodeStopped(damage)
    keys, decoded = key_pictures_rgb(create_backend(backend), stream, sei.nal_units, conceal)
    if decoded is not None and decoded.failure is not None:
        damage.append(decoded.failure)
    yuv = None if decoded is None else decoded.planes  # the FFmpeg backends
    checked = verify_with_policy(sei, yuv, "warn" if conceal and hash_mismatch == "error" else hash_mismatch)
    coded = len(keys) if decoded is None else decoded.coded
    concealment = Concealment(damage, signalled_pictures(report, sei.nal_units)) if conceal else None
    per_key, gfve = _gfv_messages_per_key_picture(sei, coded)
    wrap = None if base_picture is None else other_face(base_picture, (keys.shape[1], keys.shape[2]))
    notes: list[str] = []
    resolver = GeneratorResolver(
        sei,
        deterministic,
        wrap,
        *_translation_hooks(
            translate_to, translator_kind, deterministic, notes, fallback=not (key_pictures_only or edits or wrap)
        ),
    )
    pictures = {k: 1 + max((cast(dict, m.values)["gfv_cnt"] for m in msgs), default=-1) for k, msgs in per_key.items()}
    synthesis = bar("synthesis", total=sum(pictures.values()))
    out: list[np.ndarray] = []
    pics: list[PictureLog] = []
    params: dict[int, np.ndarray] = {}  # by output picture index
    signalled = signalled_translator(sei)
    if signalled is not None:
        notes.append(
            f"the stream says its GFV messages were translated from {signalled[0]} to {signalled[1]} by {signalled[3]}"
        )
    used: str | None = None
    current: ResolvedGenerator | None = None
    for k in range(coded):
        msgs = per_key[k]
        hit = None if concealment is None else concealment.first(k)
        if hit is not None:
            assert concealment is not None
            msgs = _conceal_segment(concealment, hit, k, keys, msgs, out, pics)
            if not msgs:
                continue
        key_picture = keys[k]
        base = next((m for m in msgs if cast(dict, m.values)["BasePic"]), None)  # per_key: parsed only
        uri = cast(dict, base.values).get("gfv_uri") if base is not None else None
        driving = base is None and current is not None and bool(msgs)  # a driving picture (refsw.decoder.fusion)
        resolved = current if driving else resolver.get(uri) if msgs else None
        if resolved is None:
            if msgs and not key_pictures_only:
                raise unknown_generator(uri)
            if edits is not None:
                raise EditError(f"edits need the stream's generator (gfv_uri {uri!r}), which is not available")
            if msgs:
                note = (
                    f"no available generator matches the stream's representation (gfv_uri {uri!r}, "
                    f"{len(msgs)} GFV messages); writing the key picture only"
                )
                notes += [note] if note not in notes else []
            pics.append(PictureLog(len(out), "key", k))
            out.append(key_picture)
            continue
        used, current = resolved.spec.name, resolved
        if edits is not None:
            check_supported(edits, resolved.spec)
        enhancements = {(i, c): r for (kk, i, c), r in gfve.items() if kk == k}
        _synthesise_segment(resolved, key_picture, k, base, msgs, enhancements, out, pics, params, edits)
        synthesis.update(pictures[k])
        if hit is not None:
            assert concealment is not None
            done = 1 + max(cast(dict, m.values)["gfv_cnt"] for m in msgs)
            concealment.repeat(out, pics, k, range(done, concealment.signalled.get(k, 1)), hit, keys.shape[1:])
    synthesis.close()
    frames = np.stack(out) if background is None else replace_background(np.stack(out), sei, background)
    planes = {}
    if yuv is not None and base_picture is None and background is None:  # else not the decoded samples
        planes = {p.index: tuple(c[p.key_picture] for c in yuv) for p in pics if p.kind == "key" and not p.edited}
    if concealment is not None:
        notes = concealment.notes + notes
    concealed = {} if concealment is None else concealment.causes
    notes += checked.notes if checked else []
    used_params = [params.get(i) for i in range(len(out))]
    return DecodedVideo(frames, stream_fps(sei), pics, sei, used, notes, planes, concealed, used_params, checked)


def _translation_hooks(
    translate_to: str | None, kind: str | None, deterministic: bool, notes: list[str], fallback: bool
) -> tuple[Callable[[str | None], ResolvedGenerator] | None, Callable[[str | None], ResolvedGenerator | None] | None]:
    """The ``translate`` and ``fallback`` hooks of :class:`GeneratorResolver`; each translation
    adds one note naming A, B and the translator."""

    def translate(uri: str | None) -> ResolvedGenerator:
        resolved, t = translated_generator(uri, cast(str, translate_to), kind, deterministic)
        notes.append(f"decoding the {t.source} stream with {t.target}'s generator through translator {t.translator}")
        return resolved

    def fall_back(uri: str | None) -> ResolvedGenerator | None:
        found = fallback_generator(uri, deterministic)
        if found is not None:
            t = found[1]
            notes.append(
                f"generator {uri} is not available here: decoding the {t.source} stream with {t.target}'s "
                f"generator through translator {t.translator}"
            )
        return None if found is None else found[0]

    return (translate if translate_to is not None else None), (fall_back if fallback else None)


def _conceal_segment(
    concealment: Concealment,
    hit: Damage,
    k: int,
    keys: np.ndarray,
    msgs: list[SEIMessage],
    out: list[np.ndarray],
    pics: list[PictureLog],
) -> list[SEIMessage]:
    """Segment ``k`` is damaged (``hit``): the GFV messages before the damage, which the caller
    synthesises as usual; when none can be (a lost key picture, a damaged base message), the
    key picture (if decoded) and concealed pictures are appended here and ``[]`` returned."""
    good = [m for m in msgs if cast(dict, m.values)["gfv_cnt"] < hit.from_cnt]
    if k < len(keys) and not hit.key_lost and any(cast(dict, m.values)["BasePic"] for m in good):
        return good
    start = 0
    if k < len(keys) and not (hit.key_lost and hit.key_picture <= k):
        pics.append(PictureLog(len(out), "key", k))
        out.append(keys[k])
        start = 1
    concealment.repeat(out, pics, k, range(start, concealment.signalled.get(k, 1)), hit, keys.shape[1:])
    return []


def _read_sei(stream: bytes, ctx: DecodingContext, want_trace: bool = True) -> StreamSEI:
    """Every SEI message of ``stream``, parsed and reconstructed; corrupted SEI NAL units and
    messages are left out unparsed (the checker's findings, :func:`decode_stream`, name them).

    Raises:
        StreamError: not a byte stream, no coded picture.
    """
    try:
        sei = read_stream_sei(stream, ctx, want_trace=want_trace)
    except BitstreamError as err:
        raise StreamError(f"not a VVC byte stream: {err}") from err
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
    base: SEIMessage | None,
    msgs: list[SEIMessage],
    enhancements: dict[tuple[int, int], dict],
    out: list[np.ndarray],
    pics: list[PictureLog],
    used_params: dict[int, np.ndarray],
    edits: EditPlan | None = None,
) -> None:
    """Appends the output pictures of key picture ``k``'s segment (one per GFV message, in
    ``gfv_cnt`` order) to ``out`` and their log lines to ``pics``, the parameters of each to
    ``used_params`` (by output picture index); ``enhancements``: the GFVE
    reconstructions by ``(gfv_id, gfv_cnt)``, handed to the layout as ``recon["gfve"]``; a GFV
    message without a GFVE message takes the segment's latest one (the encoder sends a GFVE
    message only where its values change). ``edits`` change each picture's parameters before
    generation (a key picture with an edit is synthesised too). Without ``base`` the segment
    starts at a driving picture (``key_picture``, described by a non-base message with
    ``gfv_cnt`` 0): the generator keeps its key picture and fuses its output with the driving
    picture where the message's fusion flag is 1 (:mod:`refsw.decoder.fusion`).

    Raises:
        StreamError: the messages do not carry the generator's representation.
    """
    generator = resolved.generator
    stepper = SegmentSteps(resolved.layout, lambda gfv_id, gfv_cnt: enhancements.get((gfv_id, gfv_cnt)))
    try:
        if base is not None:
            generator.set_key_picture(key_picture, stepper.params(base))

        def synthesise(q: np.ndarray, previous: np.ndarray | None) -> np.ndarray | None:
            """The picture of ``pics[-1]`` from parameters ``q`` (edited first); ``None`` for an
            unedited key picture of the stream's own face (the decoded picture is output)."""
            edited = None if edits is None else edited_params(edits, resolved.spec, pics[-1].index, q)
            pics[-1].edited = int(edited is not None)
            used_params[pics[-1].index] = q if edited is None else edited
            if edited is None and pics[-1].kind == "key" and not resolved.synthesise_key_pictures:
                return None
            return generate(resolved.spec, generator, q if edited is None else edited, previous)

        for m in sorted(msgs, key=lambda m: cast(dict, m.values)["gfv_cnt"]):  # parsed messages only
            for step in stepper.steps(m):
                if step.message is None:  # a picture without a message
                    pics.append(PictureLog(len(out), step.kind, k, step.gfv_id, step.gfv_cnt))
                    out.append(cast(np.ndarray, synthesise(step.params, step.previous)))
                    continue
                v = cast(dict, m.values)
                fusing = base is None and v["gfv_cnt"] == 0 and not resolved.synthesise_key_pictures
                fusing = fusing and bool(v.get("gfv_fusion_pic_flag", v.get("gfv_drive_picture_fusion_flag")))
                kind = "fused" if fusing else step.kind
                pics.append(
                    PictureLog(
                        len(out),
                        kind,
                        k,
                        v["gfv_id"],
                        v["gfv_cnt"],
                        8 * m.payload_size,
                        v["gfv_low_confidence_face_parameter_flag"],
                    )
                )
                picture = synthesise(step.params, step.previous)
                if step.kind == "key":
                    out.append(key_picture if picture is None else picture)
                else:
                    out.append(fuse(cast(np.ndarray, picture), key_picture) if fusing else cast(np.ndarray, picture))
    except RepresentationMismatch as err:
        raise StreamError(f"GFV messages do not match generator {resolved.spec.name}: {err}") from err
