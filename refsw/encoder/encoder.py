"""Encoder library: a face video -> one VVC byte stream with GFV SEI messages.

The key pictures (every ``key_period``-th picture, or picture 0) are coded with a VVC backend as
one low-delay sequence, every one at the key-picture QP (``equal_qp``: each is animated for a
whole segment, so none gets the QP offset a low-delay GOP gives its inter pictures); the
model's analysis extracts face parameters from the decoded key picture (or its source) and from
every other picture; the encoder decision
(:mod:`refsw.encoder.decision`) chooses what each picture sends; the SEI encoders
(:mod:`refsw.encoder.sei_encoder`) turn the parameters into GFV, SPTI, NNPFC and NNPFA syntax
values; :func:`sei.carriage.insert_sei` places them as VTM EncoderApp does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from refsw.codecs import CodecBackend, create_backend, get_backend_class
from refsw.config import ConfigError, EncoderConfig
from refsw.media.chroma_key import ChromaKey
from refsw.models import Ability, Analyser, Generator, get_model
from refsw.models.gfv_mapping import LayoutMapping
from sei.carriage import AccessUnitSEI, BitBudget, bit_budget, insert_sei
from sei.context import DecodingContext
from sei.registry import PayloadType
from sei.sei_message import write_payload

from .decision import choose_keypoints, choose_pose_share
from .gfv_sei import gfv_messages, gfve_messages
from .keys import KeyChoice, choose_key_pictures
from .sei_encoder import nnpfa_values, nnpfc_values, spti_values
from .subsample import choose_sent

if TYPE_CHECKING:  # the metrics pull in torch; an encoder summary only refers to them
    from refsw.metrics.summary import QualitySummary


@dataclass
class EncodeSummary:
    """What the encoder produced.

    Attributes:
        frames: output pictures described by the stream.
        fps: picture rate (pictures/s).
        width / height: picture size in luma samples.
        qp: key-picture QP (after the rate cap).
        model: GFV model name.
        budget: where the bits go (:class:`sei.carriage.BitBudget`).
        encode_seconds: wall time of the whole encode.
        key_choice: where the key pictures are and why (:mod:`refsw.encoder.keys`).
        pose_reduced: with the ``pose`` decision, how many pictures take less than their analysed
            head-pose change (:func:`refsw.encoder.decision.choose_pose_share`); ``None``: the
            decision did not run.
        quality: the quality of the stream's decoded pictures against the input, when measured
            (:func:`refsw.metrics.summary.quality_summary`; ``gfv-encode --ref-metrics``).
        qp_requested: the configured key-picture QP (``EncoderConfig.qp``); ``None``: as ``qp``.
        max_kbps: the rate cap in kbit/s (``EncoderConfig.max_kbps``; 0: none).
        interpolation_tolerance: the parameter subsampling's interpolation tolerance used, in
            grid steps, after the payload cap; ``None``: the model sends a message every picture.
        tolerance_requested: the configured tolerance (``EncoderConfig.gfv_interpolation_tolerance``).
        max_payload_bits: the payload cap in GFV + GFVE payload bits per picture
            (``EncoderConfig.max_payload_bits``; 0: none).
    """

    frames: int
    fps: float
    width: int
    height: int
    qp: int
    model: str
    budget: BitBudget
    encode_seconds: float
    quality: QualitySummary | None = None
    key_choice: KeyChoice | None = None
    pose_reduced: int | None = None
    qp_requested: int | None = None
    max_kbps: float = 0.0
    interpolation_tolerance: float | None = None
    tolerance_requested: float | None = None
    max_payload_bits: float = 0.0

    @property
    def key_pictures(self) -> int:
        """Number of VVC-coded key pictures."""
        return self.budget.pictures

    @property
    def bits_key(self) -> int:
        """Bits of the coded-slice NAL units (the key pictures), start codes included."""
        return self.budget.key_pictures

    @property
    def bits_gfv(self) -> int:
        """Bits of the SEI NAL units carrying GFV / GFVE messages (payloads and framing)."""
        return self.budget.gfv_payload + self.budget.sei_framing

    @property
    def bits_other(self) -> int:
        """Bits of every other NAL unit (parameter sets, SPTI, NNPFC, NNPFA)."""
        return self.budget.parameter_sets + self.budget.other_sei

    @property
    def total_bits(self) -> int:
        """All bits of the stream."""
        return self.budget.total

    @property
    def kbps(self) -> float:
        """Total rate in kbit/s (1000 bit/s) at the clip's picture rate."""
        return self.total_bits * self.fps / self.frames / 1000.0

    @property
    def encode_fps(self) -> float:
        """Pictures encoded per second of wall time."""
        return self.frames / self.encode_seconds if self.encode_seconds > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        """Every figure, for ``--summary-json`` (bits in bits, rates in kbit/s)."""
        b = self.budget
        return {
            "frames": self.frames, "key_pictures": self.key_pictures, "fps": self.fps, "width": self.width,
            "height": self.height, "qp": self.qp, "model": self.model,
            "bits_key": self.bits_key, "bits_gfv": self.bits_gfv, "bits_other": self.bits_other,
            "bits_gfv_payload": b.gfv_payload, "bits_sei_framing": b.sei_framing,
            "bits_parameter_sets": b.parameter_sets, "bits_other_sei": b.other_sei,
            "total_bits": self.total_bits, "kbps": self.kbps, "encode_fps": self.encode_fps,
            "key_pictures_at": self.key_choice.starts if self.key_choice else None,
            "key_picture_reasons": self.key_choice.reasons if self.key_choice else None,
            "pose_reduced_pictures": self.pose_reduced,
            "qp_requested": self.qp if self.qp_requested is None else self.qp_requested,
            "max_kbps": self.max_kbps,
            "interpolation_tolerance": self.interpolation_tolerance,
            "max_payload_bits": self.max_payload_bits,
            "quality": self.quality.as_dict() if self.quality else None,
        }  # fmt: skip

    def _cap_note(self) -> str:
        """What the rate cap did, for the summary's first line ("" when it did nothing)."""
        over = self.max_kbps > 0 and self.kbps > self.max_kbps
        if self.qp_requested is not None and self.qp != self.qp_requested:
            note = f" (raised from {self.qp_requested} by the {self.max_kbps:g} kbit/s cap"
            return note + (", still above it at the highest QP)" if over else ")")
        return f" (above the {self.max_kbps:g} kbit/s cap: max_qp allows no higher QP)" if over else ""

    def text(self) -> str:
        """Human-readable summary (several lines, the bits per category as vvenc/VTM users expect)."""
        per = self.fps / self.frames / 1000.0
        b = self.budget

        def line(label: str, bits: int) -> str:
            return f"  {label:<22}{bits:9d} bits {bits * per:8.3f} kbit/s {bits / self.frames:8.1f} bits/picture"

        lines = [
            f"{self.frames} pictures ({self.key_pictures} key pictures), {self.width}x{self.height}, {self.fps:g} fps, "
            f"model {self.model}, key QP {self.qp}{self._cap_note()}",
            line("key pictures", b.key_pictures),
            line("GFV/GFVE payloads", b.gfv_payload),
            line("SEI framing", b.sei_framing),
            line("parameter sets", b.parameter_sets),
            line("other SEI", b.other_sei),
            line("total", b.total),
            f"encode speed {self.encode_fps:.1f} frames/s",
        ]
        details = []  # after the first line: where the key pictures are, what the caps and decisions did
        if self.key_choice is not None and len(self.key_choice.starts) > 1:
            at = ", ".join(f"{s} ({r})" for s, r in zip(self.key_choice.starts, self.key_choice.reasons, strict=True))
            details.append(f"  key pictures at {at}")
        t, t0 = self.interpolation_tolerance, self.tolerance_requested
        if t is not None and t0 is not None and t != t0:
            over = " (still above it)" if b.gfv_payload > self.max_payload_bits * self.frames else ""
            details.append(
                f"  interpolation tolerance {t:.3g} grid steps (raised from {t0:g} by the "
                f"{self.max_payload_bits:g} payload bits/picture cap{over})"
            )
        if self.pose_reduced is not None:
            details.append(
                f"  head pose: {self.pose_reduced} of {self.frames} pictures take less than their analysed change "
                "(decision pose)"
            )
        lines[1:1] = details
        if self.quality is not None:
            lines.append(self.quality.text())
        return "\n".join(lines)


def encode_video(
    frames: np.ndarray,
    fps: float,
    config: EncoderConfig | None = None,
    *,
    analyse_decoded_key: bool | None = None,
    **options: Any,
) -> tuple[bytes, EncodeSummary]:
    """Encodes a face video into one VVC byte stream with GFV SEI messages.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB, N >= 1, already in the CTC format (``config.size``
            and ``config.frames`` are the app's business: they are not applied here).
        fps: picture rate in pictures/s.
        config: the encoder options (:class:`refsw.config.EncoderConfig`; default: its
            defaults), e.g. ``model``, ``qp``, ``key_period``, ``coordinate_precision_factor``,
            ``matrix_element_precision_factor``, ``nnpfc_mode`` (0 carries a learned model's
            checkpoint in the NNPFC payload), ``backend``, ``decision`` (:mod:`refsw.encoder.decision`),
            ``deterministic`` (the encoder's own synthesis on the generator's portable fp32 path,
            ``gfv-decode --deterministic``), ``decoded_picture_hash`` (the VVC encoder's decoded
            picture hash SEI message after every key picture).
        options: single options replacing those of ``config`` (same names).
        analyse_decoded_key: take the key picture's parameters from the decoded key picture
            (True) or from its source picture (False; every picture's parameters then come from
            the source pictures and the motion between them is applied to the decoded key
            picture). ``None``: the model's default (``ModelSpec.analyse_decoded_key``, measured:
            the analysis networks read coding loss as motion, which helps some models and
            hurts others, ``docs/models.md``).

    Returns:
        ``(stream, summary)``: the Annex B byte stream and what it contains.

    Raises:
        refsw.codecs.CodecError: the VVC encoder failed or refused the input.
        refsw.models.ModelError: unknown model (:class:`~refsw.models.UnknownModelError`), no
            face found (:class:`~refsw.models.NoFaceInClipError`), a precision factor outside
            1..31.
        refsw.config.ConfigError: an unknown option or an invalid value.
    """
    t0 = time.perf_counter()
    cfg = (config or EncoderConfig()).replace(**options)
    spec = get_model(cfg.model)
    layout = spec.make_layout(cfg.coordinate_precision_factor, cfg.matrix_element_precision_factor)
    analyser = spec.make_analyser()
    if cfg.nnpfc_mode == 0 and spec.network is None:
        raise ConfigError(f"model {cfg.model} has no network to carry in the NNPFC payload (nnpfc_mode 0)")
    key_period = spec.default_key_period if cfg.key_period is None else cfg.key_period
    qp = cfg.qp
    decision = spec.default_decision if cfg.decision == "auto" else cfg.decision
    if decision == "pose" and spec.pose_share is None:
        raise ConfigError(f"decision pose needs a model with a separate head pose (sem3d); {cfg.model} has none")
    if analyse_decoded_key is None:
        analyse_decoded_key = spec.analyse_decoded_key
    analysed: tuple[np.ndarray, np.ndarray] | None = None
    if spec.key_semantics is not None and not analyse_decoded_key:
        analysed = analyser.analyse(frames)  # every picture from its source: once, before the choice
        choice = choose_key_pictures(spec.key_semantics(analysed[0]), key_period)
    else:
        starts = list(range(0, len(frames), key_period)) if key_period else [0]
        choice = KeyChoice(starts, ["first"] + ["periodic"] * (len(starts) - 1))
    starts = choice.starts
    codec = _key_picture_codec(cfg)
    generator = spec.make_generator(deterministic=cfg.deterministic) if decision != "none" else None  # per segment

    max_interval = spec.default_max_interval if cfg.gfv_max_interval is None else cfg.gfv_max_interval
    chroma_key = None if cfg.chroma_key is None else ChromaKey.parse(cfg.chroma_key)
    prefix = [
        (PayloadType.SOURCE_PICTURE_TIMING_INFO, spti_values(fps)),
        (
            PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS,
            nnpfc_values(spec.uri_tag, spec.uri, cfg.nnpfc_mode, spec.network if cfg.nnpfc_mode == 0 else None),
        ),
    ]
    if cfg.nnpfa:
        prefix.append((PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION, nnpfa_values()))

    @functools.cache
    def key_pictures_at(qp: int) -> bytes:
        """The key pictures' VVC stream at ``qp`` (each QP coded once: the rate cap's search and
        the stream share it)."""
        return codec.encode(frames[starts], qp=qp, fps=fps, equal_qp=True).bitstream

    def code(qp: int, tolerance: float) -> tuple[bytes, list[int]]:
        """The whole stream with its key pictures at ``qp`` and the parameter subsampling's
        interpolation ``tolerance``, and the pose decision's counts."""
        key_stream = key_pictures_at(qp)
        decoded_keys = codec.decode(key_stream).frames
        ctx = DecodingContext()
        per_au: dict[int, AccessUnitSEI] = {}
        reduced: list[int] = []
        ends = starts[1:] + [len(frames)]
        for k, (start, end, decoded_key) in enumerate(zip(starts, ends, decoded_keys)):
            payloads, segment_reduced = _segment_payloads(
                frames[start:end],
                decoded_key,
                analyser,
                generator,
                layout,
                decision,
                spec.pose_share,
                analyse_decoded_key,
                Ability.PREVIOUS_PICTURE in spec.abilities,
                fps,
                ctx,
                None if analysed is None else (analysed[0][start:end], analysed[1][start:end]),
                max_interval,
                tolerance,
                chroma_key,
            )
            if segment_reduced is not None:
                reduced.append(segment_reduced)
            per_au[k] = AccessUnitSEI(
                prefix=[(t, write_payload(t, v, ctx)[0]) for t, v in prefix] if k == 0 else [],
                suffix=[(t, p) for message in payloads for t, p in message],
            )
        return insert_sei(key_stream, per_au, cfg.sei_packing), reduced

    qp, tolerance = cfg.qp, cfg.gfv_interpolation_tolerance
    stream, reduced = code(qp, tolerance)
    if cfg.max_payload_bits > 0 and max_interval > 1:  # the payload cap acts through the subsampling
        for _ in range(_PAYLOAD_PASSES):
            if bit_budget(stream).gfv_payload <= cfg.max_payload_bits * len(frames) or tolerance <= 0:
                break
            tolerance *= _TOLERANCE_STEP
            stream, reduced = code(qp, tolerance)
    cap_bits = cfg.max_kbps * 1000.0 * len(frames) / fps  # the cap over the clip's duration
    if cfg.max_kbps > 0:
        for _ in range(_CAP_PASSES):
            budget = bit_budget(stream)
            if budget.total <= cap_bits or qp >= cfg.max_qp:
                break
            # what the key pictures may take, the rest of the stream as coded at the current QP
            allowed = cap_bits - (budget.total - budget.key_pictures)
            qp = _capped_key_qp(key_pictures_at, qp + 1, cfg.max_qp, allowed)
            stream, reduced = code(qp, tolerance)
    h, w = frames.shape[1:3]
    return stream, EncodeSummary(
        len(frames),
        fps,
        w,
        h,
        qp,
        cfg.model,
        bit_budget(stream),
        time.perf_counter() - t0,
        key_choice=choice,
        pose_reduced=sum(reduced) if reduced else None,
        qp_requested=cfg.qp,
        max_kbps=cfg.max_kbps,
        interpolation_tolerance=tolerance if max_interval > 1 else None,
        tolerance_requested=cfg.gfv_interpolation_tolerance,
        max_payload_bits=cfg.max_payload_bits,
    )


#: Full encodes the rate cap may add: the rest of the stream changes a little with the key
#: pictures' QP (the analysis and the encoder decision see other decoded key pictures), so a
#: second pass at a QP one higher is allowed for.
_CAP_PASSES = 3
#: The payload cap's steps: the interpolation tolerance times 1.25 per pass, at most 4 passes
#: (up to 2.44 times the configured tolerance: 9.8 grid steps from the default 4).
_TOLERANCE_STEP = 1.25
_PAYLOAD_PASSES = 4


def _capped_key_qp(key_pictures_at: Callable[[int], bytes], low: int, high: int, allowed: float) -> int:
    """The lowest QP in ``low..high`` (``low <= high``) at which the key pictures' VVC stream
    ``key_pictures_at(qp)`` takes at most ``allowed`` bits in its coded-slice NAL units (start codes
    included); ``high`` when none does. Binary search (the bits fall with the QP).

    Raises:
        refsw.codecs.CodecError: the VVC encoder failed.
    """
    while low < high:
        mid = (low + high) // 2
        if bit_budget(key_pictures_at(mid)).key_pictures <= allowed:
            high = mid
        else:
            low = mid + 1
    return low


def _key_picture_codec(cfg: EncoderConfig) -> CodecBackend:
    """The VVC backend of the key pictures, writing the decoded picture hash SEI message of the
    type ``cfg.decoded_picture_hash`` names (1 MD5, 2 CRC, 3 checksum; 0 none).

    Raises:
        ConfigError: the backend cannot write the hash (``decoded_picture_hash`` must be 0).
        refsw.codecs.CodecError: the backend is not available.
    """
    if not cfg.decoded_picture_hash:
        return create_backend(cfg.backend)
    if not get_backend_class(cfg.backend).writes_picture_hash:
        raise ConfigError(f"backend {cfg.backend} cannot write the decoded picture hash; set decoded_picture_hash 0")
    return create_backend(cfg.backend, decoded_picture_hash=cfg.decoded_picture_hash)


def _segment_payloads(
    frames: np.ndarray,
    decoded_key: np.ndarray,
    analyser: Analyser,
    generator: Generator | None,
    layout: LayoutMapping,
    decision: str,
    pose_share: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None,
    analyse_decoded_key: bool,
    uses_previous: bool,
    fps: float,
    ctx: DecodingContext,
    analysed: tuple[np.ndarray, np.ndarray] | None = None,
    max_interval: int = 1,
    interpolation_tolerance: float = 1.0,
    chroma_key: ChromaKey | None = None,
) -> tuple[list[list[tuple[PayloadType, bytes]]], int | None]:
    """The SEI payloads of one key-picture segment, per picture in ``gfv_cnt`` order: the GFV
    message, then its GFVE message when the layout carries pupils; and, with the ``pose``
    decision, how many of its pictures take less than their analysed head pose (else ``None``).
    ``frames`` ``(N, H, W, 3)`` uint8, picture 0 the key picture's source, animated from
    ``decoded_key`` ``(H, W, 3)`` by ``generator`` (``None`` with ``decision`` ``"none"``;
    ``pose_share`` is the model's, needed by the ``"pose"`` decision); ``analysed``: the
    segment's ``(params, found)`` when the analysis ran already; ``max_interval`` and
    ``interpolation_tolerance`` (in grid steps): the parameter subsampling
    (:mod:`refsw.encoder.subsample`); ``chroma_key``: the base message's chroma key information."""
    if analysed is None:
        pictures = np.concatenate([decoded_key[None], frames[1:]]) if analyse_decoded_key else frames
        analysed = analyser.analyse(pictures)
    params, found = analysed
    params = layout.snap(params)  # on the GFV grids: no drift, exact identity
    if generator is not None and len(frames) > 1:
        generator.set_key_picture(decoded_key, params[0])
    reduced = None
    if generator is not None and len(frames) > 1 and decision == "pose":
        assert pose_share is not None  # encode_video refuses the pose decision without it
        params, shares = choose_pose_share(frames, params, generator, pose_share, snap=layout.snap)
        reduced = int((shares[1:] < shares[0]).sum())
    elif generator is not None and len(frames) > 1:
        params = choose_keypoints(
            frames,
            params,
            generator,
            fps=fps,
            snap=layout.snap,
            use_vmaf=decision == "ssim+vmaf",
            uses_previous=uses_previous,
        )
    tolerance_of = getattr(layout, "interpolation_tolerance", None)  # a layout's own weighting (sem3d)
    sent = choose_sent(
        np.asarray(params, dtype=np.float64).reshape(len(params), -1),
        tolerance_of(interpolation_tolerance) if tolerance_of else interpolation_tolerance * layout.grid_steps(),
        max_interval,
    )
    params, found = params[sent], found[sent]
    messages = gfv_messages(layout, params, ~found, ctx, cnts=sent, chroma_key=chroma_key)
    gfv = [[(PayloadType.GENERATIVE_FACE_VIDEO, p)] for p, _ in messages]
    pupils = getattr(layout, "pupils", None)
    if pupils is not None:
        gfve = gfve_messages(pupils(params), layout.pupil_precision_factor, ctx, cnts=sent)  # type: ignore[attr-defined]
        for message, enhancement in zip(gfv, gfve, strict=True):
            if enhancement is not None:
                message.append((PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, enhancement[0]))
    return gfv, reduced
