"""Rate sweep of the default model ``sem3d`` (issue 14 item 3): GFV + GFVE payload bits per output
picture for encoder settings, on the shared clips, without coding a key picture.

The payload depends only on the analysed parameters, the layout and the encoder decisions, so
this sweep replays the encoder's own steps on the cached MediaPipe tracks of each clip
(:func:`refsw.train.data.load_clip`): :func:`refsw.models.sem3d.analyse_meshes` with the full basis,
the first K expression coefficients, :func:`refsw.models.sem3d.denoise` (``sigma``, dead band),
the key-picture choice (:func:`refsw.encoder.keys.choose_key_pictures`), the parameter subsampling
(:func:`refsw.encoder.subsample.choose_sent`, ``gfv_max_interval`` and the tolerance) and the
GFV / GFVE payload writers (:mod:`refsw.encoder.gfv_sei`). Pictures without a message count as
0 bits; the base messages count too. The quality side of each setting is measured by
``bench_sem3d.py`` (full encode and decode; ``docs/models.md#sem3d-rate``).

Usage: python benchmarks/sweep_sem3d_rate.py [--frames 250] [--grid NAME] [--quality] [--csv FILE] [clip ...]
(``--grid default``: the settings before and the chosen ones; ``--quality`` with ``--grid quality``
on a few clips: the quality table of ``docs/models.md#sem3d-rate``.)
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import MOTION_HEADER, frozen_of, print_row, write_csv

from refsw.encoder.gfv_sei import gfv_messages, gfve_messages
from refsw.encoder.keys import choose_key_pictures
from refsw.encoder.subsample import choose_sent
from refsw.models import sem3d
from refsw.train.data import default_data_dir, load_clip
from sei.context import DecodingContext


@dataclass(frozen=True)
class Setting:
    """One point of the sweep (the field defaults are the settings before the sweep, :data:`PREVIOUS`).

    Attributes:
        k: expression coefficients carried.
        precision: ``gfv_matrix_element_precision_factor_minus1`` + 1.
        pupil_precision: ``gfve_pupil_coordinate_precision_factor_minus1`` + 1.
        sigma: temporal Gaussian of :func:`refsw.models.sem3d.denoise` (pictures).
        deadband: dead band of :func:`refsw.models.sem3d.denoise` (noise steps).
        tolerance: interpolation tolerance of the subsampling (grid steps, or per parameter).
        max_interval: ``gfv_max_interval``.
        eye_mouth: :data:`refsw.models.sem3d.EYE_MOUTH_TOLERANCE`.
        pupil_deadband: dead band of the pupils (noise steps; ``None``: ``deadband``).
    """

    k: int = 4
    precision: int = 7
    pupil_precision: int = 7
    sigma: float = 1.0
    deadband: float = 0.5
    tolerance: float = 3.0
    max_interval: int = 6
    eye_mouth: float = 1.0
    pupil_deadband: float | None = None

    @property
    def pupil_deadband_steps(self) -> float:
        """The pupils' dead band in noise steps."""
        return self.deadband if self.pupil_deadband is None else self.pupil_deadband


def clip_params(name: str, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """``(params (N, 16 + 8 + 4) with the full basis, found (N,))`` of the cached tracks of ``name``."""
    clip = load_clip(name, max_frames=frames)
    meshes = clip.landmarks.astype(np.float64)
    found = clip.found.copy()
    if found.any():
        first = int(np.argmax(found))
        meshes[:first] = meshes[first]
    return sem3d.analyse_meshes(meshes, sem3d.load_basis()), found


def payload_bits(params: np.ndarray, found: np.ndarray, s: Setting) -> tuple[int, int, int]:
    """``(payload bits, GFV messages, GFVE messages)`` of one clip coded with setting ``s``;
    ``params`` from :func:`clip_params`."""
    full_k = params.shape[1] - sem3d.EXPR - 4
    keep = list(range(sem3d.EXPR + s.k)) + list(range(sem3d.EXPR + full_k, params.shape[1]))
    p = sem3d.denoise(params[:, keep], s.sigma, s.deadband, s.pupil_deadband_steps)
    layout = sem3d.Sem3DMapping(s.k, s.precision, s.pupil_precision)
    starts = choose_key_pictures(sem3d.key_semantics(p), 0).starts
    ctx = DecodingContext()
    bits = n_gfv = n_gfve = 0
    saved, sem3d.EYE_MOUTH_TOLERANCE = sem3d.EYE_MOUTH_TOLERANCE, s.eye_mouth
    for start, end in zip(starts, starts[1:] + [len(p)], strict=True):
        seg = layout.snap(p[start:end])
        sent = choose_sent(seg.reshape(len(seg), -1), layout.interpolation_tolerance(s.tolerance), s.max_interval)
        gfv = gfv_messages(layout, seg[sent], ~found[start:end][sent], ctx, cnts=sent)
        gfve = gfve_messages(layout.pupils(seg[sent]), s.pupil_precision, ctx, cnts=sent)
        bits += 8 * sum(len(b) for b, _ in gfv) + 8 * sum(len(m[0]) for m in gfve if m is not None)
        n_gfv += len(gfv)
        n_gfve += sum(m is not None for m in gfve)
    sem3d.EYE_MOUTH_TOLERANCE = saved
    return bits, n_gfv, n_gfve


#: The settings before this sweep (issue 14 item 3) and the chosen ones (the defaults now).
PREVIOUS = Setting()
CHOSEN = Setting(pupil_deadband=2.0, tolerance=4.0, max_interval=12, eye_mouth=3.0)

GRIDS = {
    "default": [PREVIOUS, CHOSEN],
    "k": [Setting(k=k) for k in (1, 2, 4, 8)],
    "precision": [Setting(precision=q, pupil_precision=q) for q in (5, 6, 7)],
    "denoise": [Setting(sigma=a, deadband=b) for a, b in itertools.product((1.0, 2.0), (0.5, 1.0, 2.0))],
    "subsample": [Setting(tolerance=t, max_interval=m) for t, m in itertools.product((3.0, 4.0, 6.0), (6, 12, 25))],
    "combined": [
        Setting(precision=q, pupil_precision=q, sigma=2.0, deadband=b, tolerance=t, max_interval=12)
        for q, b, t in itertools.product((6, 7), (0.5, 1.0), (2.0, 3.0, 4.0, 6.0))
    ],
    "eye_mouth": [
        Setting(precision=q, pupil_precision=q, sigma=a, deadband=b, tolerance=t, max_interval=12, eye_mouth=m)
        for q, a, b, t, m in [
            (7, 1.0, 0.5, 3.0, 2.0),
            (7, 2.0, 1.0, 3.0, 2.0),
            (7, 2.0, 1.0, 3.0, 3.0),
            (7, 2.0, 1.0, 2.0, 3.0),
            (7, 2.0, 1.0, 4.0, 2.0),
            (6, 2.0, 1.0, 2.0, 2.0),
            (6, 2.0, 1.0, 3.0, 1.5),
            (6, 1.0, 0.5, 2.0, 2.0),
        ]
    ],
    "sigma1": [
        Setting(deadband=b, tolerance=t, max_interval=m, eye_mouth=e)
        for b, t, e, m in [
            (1.0, 3.0, 3.0, 12),
            (1.0, 3.0, 4.0, 12),
            (1.0, 4.0, 3.0, 12),
            (1.0, 4.0, 4.0, 12),
            (1.5, 3.0, 3.0, 12),
            (1.0, 3.0, 3.0, 25),
            (1.0, 5.0, 4.0, 12),
            (1.5, 4.0, 4.0, 12),
        ]
    ],
    # the settings measured with --quality (docs/models.md#sem3d-rate)
    "quality": [
        PREVIOUS,
        Setting(precision=6, pupil_precision=6, sigma=2.0, deadband=1.0, tolerance=3.0, max_interval=12),
        Setting(precision=6, pupil_precision=6, sigma=2.0, deadband=1.0, tolerance=4.0, max_interval=12),
        Setting(sigma=2.0, deadband=1.0, tolerance=6.0, max_interval=12),
        Setting(sigma=2.0, deadband=1.0, tolerance=3.0, max_interval=12, eye_mouth=2.0),
        Setting(sigma=2.0, deadband=1.0, tolerance=3.0, max_interval=12, eye_mouth=3.0),
        Setting(sigma=2.0, tolerance=3.0, max_interval=12, eye_mouth=3.0),
        Setting(deadband=1.0, tolerance=3.0, max_interval=12, eye_mouth=3.0),
        Setting(tolerance=3.0, max_interval=12, eye_mouth=3.0),
        CHOSEN,
    ],
    "pupil_deadband": [
        Setting(deadband=0.5, pupil_deadband=p, tolerance=t, max_interval=12, eye_mouth=e)
        for p, t, e in [
            (1.0, 4.0, 3.0),
            (2.0, 4.0, 3.0),
            (1.0, 4.0, 4.0),
            (2.0, 4.0, 4.0),
            (2.0, 5.0, 4.0),
            (2.0, 4.5, 3.0),
        ]
    ],
    "chosen": [CHOSEN],
}


def quality(name: str, frames: int, settings: list[Setting]) -> list[list[str]]:
    """Rows of a full encode and decode (key-picture QP 32, the encoder's other defaults) of clip
    ``name`` with each setting: clip, setting columns, payload bits/picture, kbit/s, MS-SSIM,
    VMAF and the motion-fidelity columns (``_common.MOTION_HEADER``); the frozen baseline is that
    of the first setting's stream (the key pictures do not depend on the settings swept)."""
    from _common import motion_columns

    from refsw.decoder import decode_stream
    from refsw.encoder import encode_video
    from refsw.metrics.msssim import msssim_per_frame
    from refsw.metrics.vmaf import vmaf_per_frame

    video = load_clip(name, max_frames=frames).frames
    rows = []
    frozen = None
    names = ("SIGMA", "DEADBAND", "PUPIL_DEADBAND", "PUPIL_PRECISION_FACTOR", "EYE_MOUTH_TOLERANCE")
    saved = [getattr(sem3d, n) for n in names]
    try:
        for s in settings:
            sem3d.SIGMA, sem3d.DEADBAND, sem3d.PUPIL_DEADBAND = s.sigma, s.deadband, s.pupil_deadband_steps
            sem3d.PUPIL_PRECISION_FACTOR, sem3d.EYE_MOUTH_TOLERANCE = s.pupil_precision, s.eye_mouth
            stream, summary = encode_video(
                video, 25.0, model="sem3d", matrix_element_precision_factor=s.precision,
                gfv_max_interval=s.max_interval, gfv_interpolation_tolerance=s.tolerance,
            )  # fmt: skip
            decoded = decode_stream(stream)
            if frozen is None:
                frozen = frozen_of(decoded)
            rows.append([
                name, *setting_columns(s), f"{summary.budget.gfv_payload / len(video):.1f}", f"{summary.kbps:.2f}",
                f"{msssim_per_frame(video, decoded.frames).mean():.4f}",
                f"{vmaf_per_frame(video, decoded.frames, 25.0).mean():.2f}",
                *motion_columns(video, decoded.frames, frozen, 25.0),
            ])  # fmt: skip
            print_row(rows[-1], 12)
    finally:
        for n, v in zip(names, saved, strict=True):
            setattr(sem3d, n, v)
    return rows


def setting_columns(s: Setting) -> list[str]:
    """The columns of :data:`SETTING_HEADER`."""
    return [
        str(s.k), str(s.precision), str(s.pupil_precision), f"{s.sigma:g}", f"{s.deadband:g}", f"{s.tolerance:g}",
        str(s.max_interval), f"{s.eye_mouth:g}", f"{s.pupil_deadband_steps:g}",
    ]  # fmt: skip


SETTING_HEADER = ("k", "P", "Pp", "sigma", "deadband", "tolerance", "max_interval", "eye_mouth", "pupil_db")


def payload_row(s: Setting, data: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """The printed row of setting ``s`` over the clips' ``data`` (:func:`clip_params` per clip):
    the setting, the mean, median and largest payload bits per picture of a clip, the GFV and
    GFVE messages per picture of all clips."""
    per_clip = []
    msgs = gfve = pics = 0
    for params, found in data.values():
        bits, n, e = payload_bits(params, found, s)
        per_clip.append(bits / len(params))
        msgs, gfve, pics = msgs + n, gfve + e, pics + len(params)
    row = [
        *setting_columns(s), f"{np.mean(per_clip):.1f}", f"{np.median(per_clip):.1f}", f"{np.max(per_clip):.1f}",
        f"{msgs / pics:.3f}", f"{gfve / pics:.3f}",
    ]  # fmt: skip
    print_row(row, 12)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=250)
    p.add_argument("--grid", default="default", help=f"one of {', '.join(GRIDS)}, or 'all'")
    p.add_argument("--quality", action="store_true", help="full encode, decode and metrics of each setting")
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("clips", nargs="*")
    args = p.parse_args()
    if args.grid != "all" and args.grid not in GRIDS:
        p.error(f"unknown grid {args.grid}; choose from {', '.join(GRIDS)}, all")
    settings = list(dict.fromkeys(s for g, ss in GRIDS.items() if args.grid in ("all", g) for s in ss))
    clips = args.clips or sorted(f.stem for f in default_data_dir().glob("*.mp4"))
    if args.quality:
        header = ("clip", *SETTING_HEADER, "bits/pic", "kbps@25", "msssim", "vmaf", *MOTION_HEADER)
        print_row(header, 12)
        rows = [row for name in clips for row in quality(name, args.frames, settings)]
        if args.csv:
            write_csv(args.csv, header, rows)
        return 0
    data = {name: clip_params(name, args.frames) for name in clips}
    header = (*SETTING_HEADER, "mean_bits/pic", "median", "max", "msgs/pic", "gfve/pic")
    print_row(header, 12)
    rows = [payload_row(s, data) for s in settings]
    if args.csv:
        write_csv(args.csv, header, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
