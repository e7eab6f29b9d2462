"""Rate/quality sweep of the GFV precision factors of each learned model (issue 4, item 2).

For each model, on the held-out clip (and the test clip), the decoded key picture is animated
with every picture's parameters sent at several precision factors: the coordinate precision
``Q`` (``gfv_coordinate_precision_factor_minus1`` + 1) with the matrices at a fine precision,
then the matrix element precision ``P`` with the coordinates at the chosen ``Q``. Reported per
setting: GFV SEI payload bits per non-base picture (closed-loop prediction from the previous
picture, as the encoder writes them) and the PSNR (dB, RGB) of the synthesised pictures against
the pictures synthesised from unquantised parameters, and against the source pictures. The
chosen setting is the cheapest whose pictures stay within ``--min-psnr`` dB (default 40) of
the unquantised synthesis, i.e. the quantisation loss is negligible; for models with
coordinates the 3x3 pairs (Q, P) around the two sweeps' choice are measured too and the
cheapest of them is chosen.

Usage: python benchmarks/sweep_precision.py [--models fomm,cfte,cttr,fv2v] [--frames 50] [--min-psnr 40]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refsw.encoder.gfv_sei import gfv_messages
from refsw.models import get_model
from refsw.models.learned import LEARNED
from refsw.train.data import TEST_CLIPS, VALIDATION_CLIPS, load_clip
from sei.context import DecodingContext
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, parse_payload, reconstruct


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def _run(model: str, frames: np.ndarray, params: np.ndarray, q: int | None, p: int) -> tuple[float, np.ndarray]:
    spec = get_model(model)
    mapping = spec.make_layout(coordinate_precision_factor=q, matrix_element_precision_factor=p)
    payloads = [b for b, _ in gfv_messages(mapping, params, np.zeros(len(params), bool), DecodingContext())]
    ctx = DecodingContext()
    recon = []
    for b in payloads:
        msg = SEIMessage(PayloadType.GENERATIVE_FACE_VIDEO, len(b), b)
        parse_payload(msg, ctx, want_trace=False)
        recon.append(mapping.params(reconstruct(msg, ctx)))
    gen = spec.make_generator()
    gen.set_key_picture(frames[0], recon[0])
    out = [frames[0]]
    for i in range(1, len(recon)):
        out.append(gen.generate(recon[i], previous=recon[i - 1]) if gen.uses_previous else gen.generate(recon[i]))
    bits = 8 * np.mean([len(b) for b in payloads[1:]])
    return float(bits), np.stack(out)


def _cheapest(rows: dict[int, tuple[float, float, float]], min_psnr: float) -> int:
    """The setting with the fewest bits among those within ``min_psnr`` of the unquantised
    synthesis (the finest one if none is)."""
    ok = [k for k, r in rows.items() if r[1] >= min_psnr] or [max(rows)]
    return min(ok, key=lambda k: (rows[k][0], -k))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="fomm,cfte,cttr,fv2v")
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--min-psnr", type=float, default=40.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clips = [load_clip(c, max_frames=args.frames).frames for c in VALIDATION_CLIPS + TEST_CLIPS]
    print("model | sweep | Q | P | payload bits/picture | PSNR vs unquantised (dB) | PSNR vs source (dB)")
    for model in args.models.split(","):
        lay = LEARNED[model].layout
        spec = get_model(model)
        analysed = [spec.make_analyser().analyse(f)[0] for f in clips]
        exact = []
        for f, prm in zip(clips, analysed):
            gen = spec.make_generator()
            gen.set_key_picture(f[0], prm[0])
            exact.append(
                np.stack(
                    [f[0]]
                    + [
                        gen.generate(prm[i], previous=prm[i - 1]) if gen.uses_previous else gen.generate(prm[i])
                        for i in range(1, len(prm))
                    ]
                )
            )

        def measure(q: int | None, p: int, model=model, analysed=analysed, exact=exact) -> tuple[float, float, float]:
            bits, vs_exact, vs_src = [], [], []
            for f, prm, ex in zip(clips, analysed, exact):
                b, out = _run(model, f, prm, q, p)
                bits.append(b)
                vs_exact.append(_psnr(out[1:], ex[1:]))
                vs_src.append(_psnr(out[1:], f[1:]))
            return float(np.mean(bits)), float(np.mean(vs_exact)), float(np.mean(vs_src))

        chosen_q = None
        if lay.num_kps:
            rows = {q: measure(q, 10) for q in (4, 5, 6, 7, 8, 9)}
            for q, (b, e, s) in rows.items():
                print(f"{model} | coordinates | {q} | 10 | {b:.1f} | {e:.2f} | {s:.3f}")
            chosen_q = _cheapest(rows, args.min_psnr)
        rows = {p: measure(chosen_q, p) for p in (2, 3, 4, 5, 6, 7, 8, 9)}
        for p, (b, e, s) in rows.items():
            print(f"{model} | matrices | {chosen_q or '-'} | {p} | {b:.1f} | {e:.2f} | {s:.3f}")
        chosen_p = _cheapest(rows, args.min_psnr)
        best = rows[chosen_p]
        if lay.num_kps:  # the two one-dimensional sweeps can miss a cheaper pair next to their choice
            pairs = {(chosen_q, chosen_p): best}
            for q in (chosen_q - 1, chosen_q, chosen_q + 1):
                for p in (chosen_p - 1, chosen_p, chosen_p + 1):
                    if (q, p) not in pairs:
                        pairs[(q, p)] = measure(q, p)
                        b, e, s = pairs[(q, p)]
                        print(f"{model} | joint | {q} | {p} | {b:.1f} | {e:.2f} | {s:.3f}")
            ok = [k for k, r in pairs.items() if r[1] >= args.min_psnr] or [(chosen_q, chosen_p)]
            chosen_q, chosen_p = min(ok, key=lambda k: (pairs[k][0], -k[0], -k[1]))
            best = pairs[(chosen_q, chosen_p)]
        print(
            f"{model} | chosen | {chosen_q or '-'} | {chosen_p} | {best[0]:.1f} | {best[1]:.2f} | "
            f"{best[2]:.3f}   (current default Q={lay.coordinate_precision_factor if lay.num_kps else '-'}, "
            f"P={lay.matrix_element_precision_factor})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
