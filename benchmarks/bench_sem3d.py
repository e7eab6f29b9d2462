"""Benchmark of the facial-semantics model ``sem3d`` (issue 15) on the shared clips, printed as a table.

For every clip (default: all of ``../shared/data``), prepared to 256x256 with the CTC face crop
(first ``--frames`` pictures, taken as 25 Hz pictures), and every model (default: ``sem3d``):
encode with the encoder's defaults (or ``--key-period`` / ``--qp``), decode, and report the GFV +
GFVE payload bits per picture, the total rate in kbit/s at 25 Hz, MS-SSIM and VMAF of the decoded
video and of the frozen baseline (each key picture repeated over its segment), the motion-fidelity
metrics (:mod:`refsw.metrics.motion`: AKD normalised by the inter-ocular distance, eye-openness
and mouth-opening correlation, mean head-pose error in degrees; measured with dlib's 68-point
detector, not with the analysis' MediaPipe), and the encode and decode frames/s.

Bars (issue 15, default settings): AKD at most half the frozen baseline's; eye and mouth
correlation >= 0.7 where the input blinks / talks; beats the frozen baseline on VMAF and MS-SSIM;
at most 5 kbit/s in total and 60 payload bits per picture. ``beats_frozen``: higher MS-SSIM and
VMAF than the frozen baseline (unrounded).

The learned models' validation (issue 19) uses the same table: ``--validation`` takes the
validation persons' clips (:func:`refsw.train.split.split_clips`), ``--checkpoint fomm=FILE``
measures a candidate checkpoint in place of the committed one, ``--grid DIR`` writes a frame grid
(input | decoded | frozen key picture) per model and clip.

Usage: python benchmarks/bench_sem3d.py [--models sem3d,kptps] [--frames 250] [--key-period N] [--qp N] [--max-kbps R]
       [--validation] [--checkpoint MODEL=FILE ...] [--grid DIR] [--csv FILE] [clip ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import MOTION_HEADER, against_frozen, frozen_of, motion_columns, print_row, write_csv

from refsw.config import EncoderConfig
from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.train.data import default_data_dir, load_clip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="sem3d")
    p.add_argument("--frames", type=int, default=250)
    p.add_argument("--key-period", type=int, default=None)
    p.add_argument("--qp", type=int, default=None)
    p.add_argument("--max-kbps", type=float, default=None, help="the encoder's rate cap (0: fixed QP)")
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("--validation", action="store_true", help="the validation persons' clips (refsw/train/split.py)")
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="MODEL=FILE",
        help="a learned model's candidate checkpoint, measured instead of the committed one",
    )
    p.add_argument("--grid", type=Path, help="write a frame grid (input | decoded | frozen) per model and clip here")
    p.add_argument("clips", nargs="*")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    _use_checkpoints(p, args.checkpoint)
    if args.validation:
        from refsw.train.split import split_clips

        args.clips = args.clips or split_clips()["validation"]
    clips = args.clips or sorted(f.stem for f in default_data_dir().glob("*.mp4"))
    if args.grid:
        args.grid.mkdir(parents=True, exist_ok=True)
    given = (("key_period", args.key_period), ("qp", args.qp), ("max_kbps", args.max_kbps))
    options = {k: v for k, v in given if v is not None}
    cfg = EncoderConfig().replace(**options)
    header = (
        "model", "clip", "frames", "key_pics", "payload_bits/pic", "kbps@25", "msssim", "msssim_frozen", "vmaf",
        "vmaf_frozen", *MOTION_HEADER, "enc_fps", "dec_fps", "beats_frozen", "key_qp",
    )  # fmt: skip
    rows = []
    print(f"key_period {cfg.key_period}, key QP {cfg.qp}, rate cap {cfg.max_kbps:g} kbit/s", flush=True)
    print_row(header)
    for name in clips:
        frames = load_clip(name, max_frames=args.frames).frames
        for model in args.models.split(","):
            t0 = time.perf_counter()
            stream, summary = encode_video(frames, 25.0, cfg, model=model)
            t1 = time.perf_counter()
            decoded = decode_stream(stream)
            t2 = time.perf_counter()
            frozen = frozen_of(decoded)
            ms, ms_f, vm, vm_f = against_frozen(frames, decoded.frames, 25.0, frozen)
            row = [
                model, name, str(len(frames)), str(summary.key_pictures),
                f"{summary.budget.gfv_payload / len(frames):.1f}", f"{summary.kbps:.2f}",
                f"{ms:.4f}", f"{ms_f:.4f}", f"{vm:.2f}", f"{vm_f:.2f}",
                *motion_columns(frames, decoded.frames, frozen, 25.0),
                f"{len(frames) / (t1 - t0):.1f}", f"{len(frames) / (t2 - t1):.1f}",
                "y" if ms > ms_f and vm > vm_f else "n",  # unrounded: lp_d19 ties in 4 decimals
                str(summary.qp),  # after the rate cap
            ]  # fmt: skip
            rows.append(row)
            print_row(row)
            if args.grid:
                from refsw.apps.demo_app import labelled, write_grid

                columns = [("input", frames), (f"{model} decoded", decoded.frames), ("frozen key picture", frozen)]
                side = np.concatenate([labelled(f, label) for label, f in columns], axis=2)
                write_grid(args.grid / f"{model}_{name}_grid.png", side)
    if args.csv:
        write_csv(args.csv, header, rows)
    return 0


def _use_checkpoints(p: argparse.ArgumentParser, pairs: list[str]) -> None:
    """Points the learned models named in ``MODEL=FILE`` pairs at those checkpoint files (before
    any model is loaded; the streams then name the candidate's URI)."""
    from refsw.models import learned

    chosen = {}
    for pair in pairs:
        model, _, file = pair.partition("=")
        if model not in learned.LEARNED or not Path(file).is_file():
            p.error(
                f"--checkpoint {pair}: expected MODEL=FILE with MODEL in {sorted(learned.LEARNED)} and an existing FILE"
            )
        chosen[model] = Path(file)
    if chosen:
        default = learned.weights_path
        learned.weights_path = lambda name: chosen.get(name) or default(name)  # type: ignore[assignment]


if __name__ == "__main__":
    sys.exit(main())
