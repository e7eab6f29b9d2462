"""Measured parameter translators (issue 17), printed as the table of ``docs/translators.md``.

For every translator pair A -> B (default: the analytic ones) and every clip (default: four
clips of the held-out persons of the sem3d basis, :data:`refsw.train.sem3d_basis.HELD_OUT_PERSONS`),
the first ``--frames`` pictures (256x256, :func:`refsw.train.data.load_clip`) are analysed by A
and by B; picture 0 is the key picture. The translated parameters ``T(A, A_key, B_key)`` are
compared with B's own analysis (Pearson correlation per parameter element over the pictures,
averaged over the elements B's analysis moves, ``corr``), and B's generator animates picture 0
with the translated parameters (``translated``), with B's own parameters (``native B``) and not
at all (``frozen``): MS-SSIM and VMAF against the source pictures. The translator's CPU time per
picture (one picture a call, as the decoder calls it) is printed too (issue 17's bar: at most 1 ms).

``--axes`` compares the changes of axes of the sem3d <-> fv2v head pose instead (identity and
:data:`refsw.translate.analytic.FV2V_FROM_SEM3D`).

Usage: python benchmarks/bench_translators.py [--frames 100] [--pair sem3d:kptps ...] [--axes] [clip ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import against_frozen  # noqa: E402

from refsw.models import get_model  # noqa: E402
from refsw.train.data import load_clip  # noqa: E402
from refsw.translate import get_translator  # noqa: E402
from refsw.translate.analytic import FV2V_FROM_SEM3D, HeadPoseTranslator  # noqa: E402

CLIPS = ("st_obama_clip2", "st_happyenglish_clip1", "lp_d19", "mead_w009_front_happy_level3_001")
PAIRS = ("sem3d:kptps", "sem3d:fv2v", "fv2v:sem3d")


def correlation(translated: np.ndarray, native: np.ndarray) -> float:
    """Mean Pearson correlation over the elements of ``native`` ``(N, D)`` that move (std above
    1e-4), against the same elements of ``translated``; NaN when none moves."""
    t, n = translated.reshape(len(translated), -1), native.reshape(len(native), -1)
    keep = (n.std(0) > 1e-4) & (t.std(0) > 1e-12)
    if not keep.any():
        return float("nan")
    return float(np.mean([np.corrcoef(t[:, j], n[:, j])[0, 1] for j in np.flatnonzero(keep)]))


def synthesise(model: str, key: np.ndarray, key_params: np.ndarray, params: np.ndarray) -> np.ndarray:
    """B's generator animating ``key`` ``(H, W, 3)`` with ``params`` ``(N, ...)``."""
    gen = get_model(model).make_generator()
    gen.set_key_picture(key, key_params)
    return np.stack([key] + [gen.generate(p) for p in params[1:]])


def main() -> None:
    """Prints the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", default=list(CLIPS))
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--pair", action="append", help="A:B (repeatable; default: the analytic pairs)")
    ap.add_argument("--axes", action="store_true", help="compare the sem3d <-> fv2v changes of axes")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pairs = [tuple(p.split(":")) for p in (args.pair or PAIRS)]
    scores = "translated / native B / frozen"
    print(f"| pair | clip | corr | ms/picture | MS-SSIM {scores} | VMAF {scores} |")
    print("|---|---|---|---|---|---|")
    analysed: dict[tuple[str, str], np.ndarray] = {}
    for clip_name in args.clips:
        clip = load_clip(clip_name, max_frames=args.frames)
        frames = clip.frames[: args.frames]
        for a, b in pairs:
            for m in (a, b):
                if (m, clip_name) not in analysed:
                    analysed[(m, clip_name)] = np.asarray(get_model(m).make_analyser().analyse(frames)[0])
            pa, pb = analysed[(a, clip_name)], analysed[(b, clip_name)]
            variants = {"": get_translator(a, b, "analytic")}
            if args.axes:
                variants = {
                    "identity axes": HeadPoseTranslator(a, b, np.eye(3)),
                    "diag(-1,-1,1)": HeadPoseTranslator(a, b, FV2V_FROM_SEM3D),
                }
            native = synthesise(b, frames[0], pb[0], pb)
            for label, translator in variants.items():
                t0 = time.process_time()
                out = np.stack([translator.translate(p[None], pa[0], pb[0])[0] for p in pa])
                ms = 1000 * (time.process_time() - t0) / len(pa)
                decoded = synthesise(b, frames[0], pb[0], out)
                s, s0, v, v0 = against_frozen(frames, decoded, clip.fps)
                sn, _, vn, _ = against_frozen(frames, native, clip.fps)
                name = f"{a} -> {b}" + (f" ({label})" if label else "")
                print(
                    f"| {name} | {clip_name} | {correlation(out, pb):.2f} | {ms:.3f} | "
                    f"{s:.4f} / {sn:.4f} / {s0:.4f} | {v:.2f} / {vn:.2f} / {v0:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
