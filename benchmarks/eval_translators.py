"""Quality of the learned parameter translators at the parameter level (issue 17), as a table.

For each validation clip (persons of :func:`refsw.train.split.split_clips`; default 3 clips) and
every ordered pair A != B of :data:`refsw.models.MODEL_NAMES`: the clip's picture 0 is the key
picture (not coded: no VVC layer), A's analysis of pictures 1..N-1 (the parameter dataset,
:mod:`refsw.translate.dataset`, snapped to A's GFV grid) is translated to B
(:func:`refsw.translate.get_translator` of ``--kind``, default learned) with B's own analysis of
the key picture as ``target_key``, snapped to B's grid as a rewritten stream carries it, and B's
generator animates the key picture. Reported per pair (means over the clips): MS-SSIM and VMAF of
the translated decode, of native B (B's own analysis of every picture) and of the frozen key
picture, and the number of clips where the translation beats the frozen picture on both.

The learned generators take about a second per picture on this shared 2-core machine, so by
default every 4th of the first 100 pictures is synthesised (24 per clip and decode).

Usage: python benchmarks/eval_translators.py [--frames 100] [--every 4] [--kind learned] [--json FILE] [clip ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refsw.metrics.msssim import msssim_per_frame
from refsw.metrics.vmaf import vmaf_per_frame
from refsw.models import MODEL_NAMES, Ability, get_model
from refsw.train.data import load_clip
from refsw.translate import NoTranslatorError, get_translator
from refsw.translate.dataset import as_params, load_dataset

DEFAULT_CLIPS = ("dpe_d", "st_happyenglish_clip2", "dagan_driving")


def animate(model: str, key_picture: np.ndarray, key: np.ndarray, params: np.ndarray) -> np.ndarray:
    """B's generator on ``key_picture`` driven by ``params`` ``(N, *B)`` -> ``(N, H, W, 3)``
    uint8 (CTTR: each picture's previous is the one before, the key picture's for the first)."""
    spec = get_model(model)
    gen = spec.make_generator()
    gen.set_key_picture(key_picture, key)
    out, previous = [], None
    for p in params:
        out.append(gen.generate(p, previous) if Ability.PREVIOUS_PICTURE in spec.abilities else gen.generate(p))
        previous = p
    return np.stack(out)


def score(frames: np.ndarray, decoded: np.ndarray, fps: float) -> tuple[float, float]:
    """``(MS-SSIM, VMAF)`` means against the source ``frames``."""
    return float(msssim_per_frame(frames, decoded).mean()), float(vmaf_per_frame(frames, decoded, fps).mean())


def evaluate_clip(name: str, frames_n: int, every: int, kind: str, done: dict, save: Callable[[], None]) -> None:
    """Fills ``done`` with ``{"frozen": [ms, vmaf], "native:B": [...], "A>B": [...]}`` of clip
    ``name`` (pictures ``every``, ``2 every``, ... below ``frames_n``; picture 0 the key picture),
    skipping what it holds already and pairs without a translator yet; ``save`` after each."""
    clip = load_clip(name, max_frames=frames_n)
    # per-picture arrays only (the cache also names each model's analyser URI)
    data = {k: v[:frames_n][::every] for k, v in load_dataset([name])[0].items() if np.ndim(v)}
    frames, key_picture = clip.frames[:frames_n][::every][1:], clip.frames[0]
    n = len(frames)
    if "frozen" not in done:
        done["frozen"] = list(score(frames, np.repeat(key_picture[None], n, 0), 25.0))
    for b in MODEL_NAMES:
        layout = get_model(b).make_layout()
        b_params = as_params(b, data[b])
        if f"native:{b}" not in done:
            done[f"native:{b}"] = list(score(frames, animate(b, key_picture, b_params[0], b_params[1:]), 25.0))
            save()
        for a in MODEL_NAMES:
            if a == b or f"{a}>{b}" in done:
                continue
            try:
                t = get_translator(a, b, kind)
            except NoTranslatorError:
                continue
            a_params = as_params(a, data[a])
            translated = layout.snap(t.translate(a_params[1:], a_params[0], b_params[0]))
            done[f"{a}>{b}"] = list(score(frames, animate(b, key_picture, b_params[0], translated), 25.0))
            logging.warning("%s %s>%s %s", name, a, b, done[f"{a}>{b}"])
            save()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--every", type=int, default=4, help="every k-th picture of the first --frames")
    p.add_argument("--kind", default="learned")
    p.add_argument("--json", type=Path, default=Path("runs/translator_eval.json"), help="per-clip results (resumed)")
    p.add_argument("clips", nargs="*")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    import torch

    torch.set_num_threads(1)
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    clips = list(args.clips or DEFAULT_CLIPS)
    for name in clips:
        evaluate_clip(
            name,
            args.frames,
            args.every,
            args.kind,
            results.setdefault(name, {}),
            lambda: args.json.write_text(json.dumps(results, indent=1)),
        )
    print(
        "| A -> B | MS-SSIM | VMAF | native B MS-SSIM | native B VMAF | frozen MS-SSIM | frozen VMAF "
        "| clips beating frozen |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for a in MODEL_NAMES:
        for b in MODEL_NAMES:
            if a == b:
                continue
            have = [c for c in clips if f"{a}>{b}" in results.get(c, {})]
            if not have:
                continue
            r = np.array([results[c][f"{a}>{b}"] for c in have])
            nat = np.array([results[c][f"native:{b}"] for c in have])
            fro = np.array([results[c]["frozen"] for c in have])
            wins = int(np.sum((r[:, 0] > fro[:, 0]) & (r[:, 1] > fro[:, 1])))
            print(
                f"| {a} -> {b} | {r[:, 0].mean():.4f} | {r[:, 1].mean():.2f} | {nat[:, 0].mean():.4f} | "
                f"{nat[:, 1].mean():.2f} | {fro[:, 0].mean():.4f} | {fro[:, 1].mean():.2f} | {wins}/{len(have)} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
