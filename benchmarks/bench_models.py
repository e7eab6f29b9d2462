"""Benchmark of the learned GFV models (issue 4), printed as a table.

For every model (default: all registered) and clip (default: the held-out validation clip
``lp_d19`` and the test clip ``tpsmm_driving``, which no training run saw), prepared to
256x256 with the CTC face crop (first ``--frames`` pictures): encode with the model's defaults,
decode, and report GFV SEI bits per picture, total kbit/s at 25 pictures/s, MS-SSIM and VMAF
of the decoded video and of the frozen-frame baseline (decoded key picture repeated), decode
frames/s of the whole decoder (VVC decoding, SEI parsing, generation) and of the generator on
the pictures it synthesises, with its speed-ups (``gen_fps``) and without them (``gen_fps_plain``,
``LearnedGenerator(optimise=False)``: the same output bits).

Targets (issue 4): every model beats the frozen frame on MS-SSIM and VMAF; the best model
decodes at least 25 frames/s at 256x256 on 2 cores.

Usage: python benchmarks/bench_models.py [--models fomm,cfte,...] [--frames 125] [--decision ssim+vmaf]
       [--threads 2] [--csv FILE] [clip ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import against_frozen, machine_speed, write_csv

from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.models import available_models
from refsw.models.learned import LEARNED
from refsw.train.data import TEST_CLIPS, VALIDATION_CLIPS, load_clip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(m for m in available_models() if m in LEARNED))
    p.add_argument("--frames", type=int, default=125)
    p.add_argument("--qp", type=int, default=32)
    p.add_argument("--decision", default="ssim+vmaf")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("clips", nargs="*", default=list(VALIDATION_CLIPS + TEST_CLIPS))
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    header = (
        "model",
        "clip",
        "frames",
        "gfv_bits/pic",
        "kbps@25",
        "msssim",
        "msssim_frozen",
        "vmaf",
        "vmaf_frozen",
        "generated",
        "dec_fps",
        "gen_fps",
        "gen_fps_plain",
        "beats_frozen",
    )
    print(f"machine speed at start: {machine_speed():.0f} GFLOP/s (float32 matmul, {args.threads} threads)")
    print(" | ".join(header))
    rows = []
    for model in args.models.split(","):
        for name in args.clips:
            clip = load_clip(name, max_frames=args.frames)
            frames = clip.frames
            stream, summary = encode_video(
                frames, 25.0, model=model, qp=args.qp, decision=args.decision, key_period=0
            )  # one key picture, as measured in docs/models.md
            t0 = time.perf_counter()
            decoded = decode_stream(stream)
            dec_s = time.perf_counter() - t0
            n_gen = sum(
                pic.kind == "generated" and not np.array_equal(f, decoded.frames[0])
                for pic, f in zip(decoded.pictures, decoded.frames)
            )
            t0 = time.perf_counter()
            decode_stream(stream, key_pictures_only=False)  # second run: warm caches, same work
            dec_s = min(dec_s, time.perf_counter() - t0)
            ms, ms_f, vm, vm_f = against_frozen(frames, decoded.frames, 25.0)
            gen_fps = _generator_fps(model, decoded)
            plain_fps = _generator_fps(model, decoded, optimise=False)
            row = (
                model,
                name,
                len(frames),
                round(summary.bits_gfv / summary.frames, 1),
                round(summary.total_bits * 25 / summary.frames / 1000, 3),
                round(float(ms), 4),
                round(float(ms_f), 4),
                round(float(vm), 2),
                round(float(vm_f), 2),
                n_gen,
                round(len(frames) / dec_s, 1),
                round(gen_fps, 1),
                round(plain_fps, 1),
                bool(ms > ms_f and vm > vm_f),
            )
            rows.append(row)
            print(" | ".join(str(x) for x in row), flush=True)
    print(f"machine speed at end: {machine_speed():.0f} GFLOP/s")
    if args.csv:
        write_csv(args.csv, header, rows)
    return 0 if all(r[-1] for r in rows) else 1


def _generator_fps(model: str, decoded, optimise: bool = True) -> float:
    """Pictures/s of the generator alone on 20 distinct synthetic parameter vectors
    (``optimise=False``: without the speed-ups that change no output bit)."""
    from refsw.models import get_model
    from refsw.models.learned import LearnedGenerator, LearnedModel

    spec = get_model(model)
    base = next(m for _, m in decoded.sei.messages if m.payload_type == 223 and m.values and m.values["BasePic"])
    mapping = spec.make_layout()
    gen = LearnedGenerator(LearnedModel.committed(model), optimise=optimise)
    key = mapping.params(base.recon)
    gen.set_key_picture(decoded.frames[0], key)
    rng = np.random.default_rng(0)
    cands = [mapping.snap(key + rng.normal(0, 0.01, key.shape)) for _ in range(21)]
    gen.generate(cands[0])
    t0 = time.perf_counter()
    for c in cands[1:]:
        gen.generate(c)
    return 20 / (time.perf_counter() - t0)


if __name__ == "__main__":
    sys.exit(main())
