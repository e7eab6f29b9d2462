"""Trains the ``kptps`` refinement network (:mod:`refsw.models.refine`) on ``../shared/data``.

Data protocol: pictures 250 onwards of the long clips (``lp_d3``, ``lp_d6``, ``lp_d10``,
``lp_d14``) are the training set; pictures 0-249 of every clip are what the main-job benchmark
evaluates, so no evaluated picture is trained on, and ``lp_d0``, ``lp_d12``, ``lp_d19`` and
``tpsmm_driving`` are identities never seen in training. Validation: ``lp_d19`` pictures 0-99.
Each sample: a key picture coded with libvvenc at QP 32 (every 40th picture of the training
range), a target picture within 120 pictures of it, the TPS warp of the key picture from its
tracked keypoints to the target's (kptps keypoints, quantised to 2^-7), a random 128x128 crop.
Loss: L1 + 0.5 * (1 - SSIM). CPU, resumable (checkpoint every ``--ckpt-every`` steps), tqdm,
log lines in ``--out``/train_log.csv.

Command that produced the committed weights (see refsw/models/weights/README.md):
    python -m refsw.train.train_refine --steps 6000 --out work_tmp/refine
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from refsw.codecs import create_backend
from refsw.face_crop import prepare_ctc
from refsw.models.kptps import KEYPOINTS
from refsw.models.landmarks import LandmarkAnalyzer
from refsw.models.refine import RefineNet
from refsw.models.tps import TPSWarpGenerator
from refsw.video_io import read_video

log = logging.getLogger(__name__)

TRAIN_CLIPS = ("lp_d3.mp4", "lp_d6.mp4", "lp_d10.mp4", "lp_d14.mp4")
VAL_CLIP = "lp_d19.mp4"
STEP = 2.0 ** -7


def _ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of ``(B, 3, H, W)`` in [0, 1] with an 11x11 Gaussian window (sigma 1.5)."""
    g = torch.exp(-((torch.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    g = (g / g.sum())
    k = (g[:, None] * g[None, :]).expand(3, 1, 11, 11).contiguous()
    f = lambda x: F.conv2d(x, k, groups=3)  # noqa: E731
    ma, mb = f(a), f(b)
    va, vb, cov = f(a * a) - ma ** 2, f(b * b) - mb ** 2, f(a * b) - ma * mb
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))).mean()


class ClipData:
    """Pictures, tracked keypoints and coded key pictures of one clip segment."""

    def __init__(self, path: Path, start: int, count: int, qp: int = 32, key_every: int = 40) -> None:
        video = read_video(path, max_frames=start + count)
        frames, _ = prepare_ctc(video.frames[start:], size=256, force=True)
        self.frames = frames
        kps, _ = LandmarkAnalyzer(KEYPOINTS).analyze(frames)
        self.kps = np.round(kps / STEP) * STEP
        codec = create_backend("vvenc")
        self.keys = {}
        for k in range(0, len(frames), key_every):
            self.keys[k] = codec.decode(codec.encode(frames[k:k + 1], qp=qp, fps=25).bitstream).frames[0]
        log.info("%s: %d pictures, %d key pictures", path.name, len(frames), len(self.keys))

    def sample(self, rng: np.random.Generator, gen: TPSWarpGenerator, window: int = 120):
        k = int(rng.choice(list(self.keys)))
        lo, hi = max(0, k - window), min(len(self.frames) - 1, k + window)
        t = int(rng.integers(lo, hi + 1))
        gen.set_key_picture(self.keys[k], self.kps[k])
        warped, disp = gen.warp(self.kps[t])
        key = torch.from_numpy(self.keys[k]).permute(2, 0, 1)[None].float()
        target = torch.from_numpy(self.frames[t]).permute(2, 0, 1)[None].float()
        return warped / 255.0, key / 255.0, disp, target / 255.0


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("GFV_SHARED", str(here.parents[3] / "shared")) + "/data")
    p.add_argument("--out", default="work_tmp/refine")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--width", type=int, default=12)
    p.add_argument("--frames-per-clip", type=int, default=400)
    p.add_argument("--ckpt-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = [ClipData(Path(args.data) / c, 250, args.frames_per_clip) for c in TRAIN_CLIPS]
    val = ClipData(Path(args.data) / VAL_CLIP, 0, 100, key_every=100)
    net = RefineNet(args.width)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    ckpt = out / "last.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        rng = np.random.default_rng(args.seed + step)
        log.info("resumed at step %d", step)
    gen = TPSWarpGenerator()
    from tqdm import tqdm

    logf = open(out / "train_log.csv", "a", newline="")
    writer = csv.writer(logf)
    bar = tqdm(total=args.steps, initial=step, desc="refine")
    t0 = time.time()
    while step < args.steps:
        batch = [data[int(rng.integers(len(data)))].sample(rng, gen) for _ in range(args.batch)]
        crops = []
        for w, k, d, t in batch:
            y, x = (int(v) for v in rng.integers(0, 256 - args.crop + 1, 2))
            sl = (slice(None), slice(None), slice(y, y + args.crop), slice(x, x + args.crop))
            crops.append((w[sl], k[sl], d[sl], t[sl]))
        w, k, d, t = (torch.cat([c[i] for c in crops]) for i in range(4))
        pred = net(w, k, d)
        loss = (pred - t).abs().mean() + 0.5 * (1 - _ssim(pred, t))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}")
        if step % args.ckpt_every == 0 or step == args.steps:
            with torch.no_grad():
                vl, vb = [], []
                vrng = np.random.default_rng(123)
                for _ in range(8):
                    w, k, d, t = val.sample(vrng, gen)
                    vl.append(float((net(w, k, d) - t).abs().mean()))
                    vb.append(float((w - t).abs().mean()))
            writer.writerow([step, f"{loss.item():.5f}", f"{np.mean(vl):.5f}", f"{np.mean(vb):.5f}",
                             f"{time.time() - t0:.0f}"])
            logf.flush()
            torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step, "width": args.width}, ckpt)
    bar.close()
    torch.save({"width": args.width, "state_dict": {k: v.half() for k, v in net.state_dict().items()},
                "steps": step, "command": "python -m refsw.train.train_refine " + " ".join(argv or [])},
               out / "kptps_refine.pt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
