"""Benchmark of ``gfv-decode --base-picture`` (issue 16 item 3): how well another face follows a
stream's motion, printed as a table.

For every clip (default: three of ``../shared/data``), prepared to 256x256 (first ``--frames``
pictures), encode with the default model (``sem3d``) and decode it three ways: as it is, with each
portrait of ``tests/portraits.py`` as base picture (photos, a painting-like and a cartoon-like
picture made from images that installed packages ship), and, with ``--models``, with other models
too. Reported per decoding: the motion AKD against the input (:func:`refsw.metrics.motion.
motion_akd_per_picture`: the two faces aligned by a similarity at the first picture, then each
landmark's movement compared; normalised by the input's inter-ocular distance, times about 87 for
pixels at 256x256), the same for the base picture held still (no motion: what the animation must
beat), the share of pictures where dlib finds no face in the output (MKR) and the correlation of
the mouth opening of input and output as MediaPipe's face mesh measures it (sem3d's analysis; on
the painting-like pictures dlib's landmarks are unsteady). ``--grid FILE``
writes a frame grid (input, decoded, every portrait animated) as JPEG.

Usage: python benchmarks/bench_base_picture.py [--frames 50] [--models sem3d,kptps,fomm,fv2v]
       [--decision none] [--csv FILE] [--grid FILE] [clip ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np
from _common import write_csv
from portraits import NAMES, portrait

from refsw.decoder import decode_stream
from refsw.decoder.base_picture import prepare_base
from refsw.encoder import encode_video
from refsw.metrics.motion import cached_landmarks68, motion_akd_per_picture
from refsw.models import get_model
from refsw.models.sem3d import MOUTH
from refsw.train.data import load_clip

#: sem3d's analysis (MediaPipe Face Mesh), for the mouth opening of the outputs: dlib's landmarks
#: are unsteady on the painting-like pictures.
ANALYSER = get_model("sem3d").make_analyser()
CLIPS = ("lp_d0", "mead_w009_front_happy_level3_001", "st_happyenglish_clip2")
HEADER = ["clip", "model", "base picture", "motion AKD", "still AKD", "MKR", "mouth r (mesh)"]


def _scores(reference: np.ndarray, decoded: np.ndarray, still: np.ndarray) -> tuple[float, float, float, float]:
    """Motion AKD, the still base picture's, MKR and the mouth-opening correlation (face mesh)."""
    mesh = ANALYSER.analyse(reference)[0][:, MOUTH.start], ANALYSER.analyse(decoded)[0][:, MOUTH.start]
    ref = cached_landmarks68(reference)
    out = cached_landmarks68(decoded)
    akd = motion_akd_per_picture(ref, out)
    still_akd = motion_akd_per_picture(ref, cached_landmarks68(still))
    has = ~np.isnan(ref[:, 0, 0])
    mkr = float(np.mean(np.isnan(out[has, 0, 0]))) if has.any() else float("nan")
    return float(np.nanmean(akd)), float(np.nanmean(still_akd)), mkr, float(np.corrcoef(*mesh)[0, 1])


def main() -> int:
    """Runs the benchmark; returns 0."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*", default=list(CLIPS))
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--models", default="sem3d")
    p.add_argument("--decision", help="encoder decision (default: the model's)")
    p.add_argument("--csv")
    p.add_argument("--grid", help="write a frame grid of the first clip (JPEG)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    portraits = {name: portrait(name) for name in NAMES}
    rows: list[list[object]] = []
    grid: list[np.ndarray] = []
    print("  ".join(f"{h:>16}" for h in HEADER))
    for clip in args.clips:
        frames = load_clip(clip, max_frames=args.frames).frames[: args.frames]
        for model in args.models.split(","):
            stream, _ = encode_video(
                frames, 25.0, model=model, **({"decision": args.decision} if args.decision else {})
            )
            decoded = decode_stream(stream).frames
            results = [
                (clip, model, "(own key picture)", *_scores(frames, decoded, decoded[:1].repeat(len(frames), 0)))
            ]
            outputs = [frames, decoded]
            for name in NAMES if model == "sem3d" else NAMES[:1]:
                base = prepare_base(portraits[name], frames.shape[1:3])
                animated = decode_stream(stream, base_picture=portraits[name]).frames
                results.append((clip, model, name, *_scores(frames, animated, base.repeat(len(frames), 0))))
                outputs.append(animated)
            for row in results:
                print("  ".join(f"{v:>16.3f}" if isinstance(v, float) else f"{v!s:>16}" for v in row))
            rows += [list(r) for r in results]
            if args.grid and not grid and model == "sem3d":
                grid = outputs
    if args.csv:
        write_csv(args.csv, HEADER, rows)
    if args.grid and grid:
        import cv2
        import imageio.v3 as iio

        columns = np.linspace(0, len(grid[0]) - 1, 5).round().astype(int)
        tiles = [[cv2.resize(v[c], (128, 128), interpolation=cv2.INTER_AREA) for c in columns] for v in grid]
        iio.imwrite(args.grid, np.concatenate([np.concatenate(r, 1) for r in tiles], 0), quality=85)
    return 0


if __name__ == "__main__":
    sys.exit(main())
