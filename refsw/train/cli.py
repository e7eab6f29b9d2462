"""``gfv-train``: trains one learned GFV model on the CPU, resumably.

Example (the commands that produced the committed checkpoints are in
``refsw/models/weights/README.md``)::

    gfv-train fomm --steps 3000 --work-dir runs/fomm

The work directory holds ``last.pt`` (network, optimiser, step, RNG; written every
``--save-every`` steps and on Ctrl-C or SIGTERM), ``log.jsonl`` (losses every 10 steps, validation every
``--val-every`` steps) and ``config.json``. Re-running the same command resumes. ``--export``
writes the fp16 network with its config and provenance to ``refsw/models/weights/NAME.pt``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from refsw.apps.common import add_version

from .data import TRAIN_CLIPS, VALIDATION_CLIPS, PairSampler, coded_pictures, load_clip
from .split import is_validation, split_clips
from .tasks import TASKS, TRAINED_CONFIGS, FV2VTask, lr_at, to_tensor

log = logging.getLogger("gfv-train")

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "models" / "weights"


def _atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def export(task, step: int, args: argparse.Namespace, val: dict | None, out: Path) -> Path:
    """Writes the fp16 network (no training-only heads) with config and provenance."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in task.net.state_dict().items()}
    meta = {
        "model": task.name,
        "steps": step,
        "batch": args.batch,
        "sizes": args.sizes,
        "lr": args.lr,
        "train_clips": args.train_clips.split(","),
        "validation_clips": list(VALIDATION_CLIPS),
        # the person split (refsw/train/split.py): clips of persons no training clip shows
        "validation_persons_clips": _validation_persons_clips(),
        "command": args.command,
        "init": str(args.init) if args.init else None,
        "validation": val,
    }
    _atomic_save({"model": task.name, "config": task.cfg.as_dict(), "state_dict": state, "meta": meta}, out)
    return out


def _validation_persons_clips() -> list[str]:
    """The clips of the person split's validation persons (empty without the data directory)."""
    try:
        return split_clips()["validation"]
    except FileNotFoundError:
        return []


@torch.no_grad()
def validate(task, clips: list, pairs: int = 6) -> dict:
    """Full-picture L1 / PSNR of the reconstruction and of the frozen source on fixed pairs."""
    task.net.eval()
    l1 = frozen = psnr = 0.0
    n = 0
    for clip in clips:
        idx = np.linspace(1, len(clip.frames) - 1, pairs).astype(int)
        src = to_tensor(clip.frames[:1])
        for j in idx:
            drv = to_tensor(clip.frames[j : j + 1])
            prev = to_tensor(clip.frames[j - 1 : j])
            pred = task.predict(src, drv, prev, lm=(clip.landmarks[:1], clip.landmarks[j : j + 1]))
            l1 += float((pred - drv).abs().mean())
            frozen += float((src - drv).abs().mean())
            psnr += float(10 * torch.log10(1 / ((pred - drv) ** 2).mean()))
            n += 1
    task.net.train()
    return {"val_l1": l1 / n, "val_frozen_l1": frozen / n, "val_psnr": psnr / n}


def translator_main(argv: list[str]) -> int:
    """``gfv-train translator A B`` / ``gfv-train translator --all``: trains the learned parameter
    translators (:mod:`refsw.translate.train`) and exports ``refsw/translate/weights/A_to_B.npz``."""
    from refsw.models import MODEL_NAMES
    from refsw.translate.train import train_pair

    p = argparse.ArgumentParser(
        prog="gfv-train translator",
        description="trains the learned parameter translator from model A to model B (JVET-AG0048)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("source", nargs="?", choices=MODEL_NAMES, help="model A (parameters in)")
    p.add_argument("target", nargs="?", choices=MODEL_NAMES, help="model B (parameters out)")
    p.add_argument("--all", action="store_true", help="every ordered pair of different models")
    p.add_argument("--steps", type=int, default=1500, help="total optimiser steps (a resumed run goes on to it)")
    p.add_argument("--batch", type=int, default=256, help="picture pairs per step")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (cosine decay to a tenth)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--picture-steps",
        type=int,
        default=0,
        help="then this many steps of the picture loss through B's generator (B: fomm, cfte, cttr, fv2v)",
    )
    p.add_argument("--picture-batch", type=int, default=4, help="picture pairs per picture-loss step")
    p.add_argument("--picture-lr", type=float, default=1e-4, help="AdamW learning rate of the picture-loss stage")
    p.add_argument(
        "--picture-gain",
        action="store_true",
        help="then scale the translated change by the gain (0.5..1) with the lowest selection picture L1",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--work-dir", type=Path, default=Path("runs") / "translator", help="per-pair work directories")
    args = p.parse_args(argv)
    if args.all == (args.source is not None):
        p.error("give A and B, or --all")
    if not args.all and (args.target is None or args.source == args.target):
        p.error("A and B must be two different models")
    torch.set_num_threads(args.threads)
    pairs = [(a, b) for a in MODEL_NAMES for b in MODEL_NAMES if a != b] if args.all else [(args.source, args.target)]
    for a, b in pairs:
        meta = train_pair(
            a,
            b,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            seed=args.seed,
            work_dir=args.work_dir / f"{a}_to_{b}",
            command=f"gfv-train translator {a} {b} --steps {args.steps} --batch {args.batch} --lr {args.lr} "
            f"--seed {args.seed}"
            + (
                f" --picture-steps {args.picture_steps} --picture-batch {args.picture_batch}"
                f" --picture-lr {args.picture_lr}"
                if args.picture_steps
                else ""
            )
            + (" --picture-gain" if args.picture_gain else ""),
            picture_steps=args.picture_steps,
            picture_batch=args.picture_batch,
            picture_lr=args.picture_lr,
            picture_gain=args.picture_gain,
        )
        print(f"{a} -> {b}: validation explained {meta['validation_explained']:.3f}, {meta['train_seconds']} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gfv-train`` (``gfv-train translator ...``: :func:`translator_main`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["translator"]:
        return translator_main(argv[1:])
    p = argparse.ArgumentParser(
        prog="gfv-train",
        description=__doc__.split("\n\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", choices=sorted(TASKS), help="the model to train")
    add_version(p)
    p.add_argument("--steps", type=int, default=3000, help="total optimiser steps (a resumed run goes on to it)")
    p.add_argument("--batch", type=int, default=4, help="pairs per optimiser step (even, >= 2)")
    p.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate")
    p.add_argument("--sizes", default="256", help="comma-separated picture sizes (CTTR: 256,384)")
    p.add_argument("--work-dir", type=Path, default=None, help="checkpoints and logs (default runs/MODEL)")
    p.add_argument("--init", type=Path, default=None, help="start from this checkpoint's network (fine-tuning)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--save-every", type=int, default=50, help="steps between resumable checkpoints")
    p.add_argument("--val-every", type=int, default=250, help="steps between validations on the held-out clip")
    p.add_argument("--seed", type=int, default=0, help="random seed of the pair sampling and the initialisation")
    p.add_argument(
        "--near-prob",
        type=float,
        default=0.0,
        help="probability of a driving picture within 8 pictures of its source (fine-tuning on small motion)",
    )
    p.add_argument(
        "--coded-source-prob",
        type=float,
        default=0.0,
        help="probability of a source picture coded as a VVC key picture at --coded-qp and decoded "
        "(every 4th picture of each clip; the decoder's generator gets decoded key pictures)",
    )
    p.add_argument("--coded-qp", type=int, default=32, help="key-picture QP of --coded-source-prob")
    p.add_argument(
        "--detail-transfer",
        action="store_true",
        help="score the reconstruction after the decoder's residual detail transfer (docs/models.md)",
    )
    p.add_argument(
        "--pose-prior",
        type=float,
        default=0.0,
        help="fv2v only: weight of the head-pose supervision by the Face Mesh head rotation (0: off)",
    )
    p.add_argument(
        "--mesh-pose",
        action="store_true",
        help="fv2v only: each driving picture's head pose is the source's moved by the Face Mesh head "
        "motion, as the encoder then computes it (FV2VConfig.mesh_pose, stored in the checkpoint)",
    )
    p.add_argument(
        "--train-clips",
        default=",".join(TRAIN_CLIPS),
        help="comma-separated clip names of the data directory (default: the fixed training split)",
    )
    p.add_argument("--export", action="store_true", help="only export the work directory's last.pt and exit")
    p.add_argument("--out", type=Path, default=None, help="export path (default refsw/models/weights/MODEL.pt)")
    args = p.parse_args(argv)
    if (args.pose_prior or args.mesh_pose) and args.model != "fv2v":
        p.error("--pose-prior and --mesh-pose are for fv2v only")
    if args.batch < 2 or args.batch % 2:
        p.error("--batch must be an even number >= 2 (pairs share their source picture two by two)")
    # before the work directory is made: a refused run leaves nothing behind
    train_clips = args.train_clips.split(",")
    if set(train_clips) & set(VALIDATION_CLIPS):
        p.error(f"training clips must not include the validation clips {', '.join(VALIDATION_CLIPS)}")
    held_out = [c for c in train_clips if is_validation(c)]
    if held_out:
        p.error(f"training clips must not show a validation person (refsw/train/split.py): {', '.join(held_out)}")
    args.command = "gfv-train " + " ".join(a for a in (argv if argv is not None else sys.argv[1:]) if a != "--export")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    work = args.work_dir or Path("runs") / args.model
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or WEIGHTS_DIR / f"{args.model}.pt"
    preset = TRAINED_CONFIGS[args.model]
    config = {**preset["config"], "mesh_pose": True} if args.mesh_pose else preset["config"]
    task = TASKS[args.model](config, preset["noise"])
    task.detail_transfer = args.detail_transfer
    if isinstance(task, FV2VTask):
        task.pose_prior = args.pose_prior
    opt = torch.optim.Adam(task.parameters(), lr=args.lr, betas=(0.5, 0.999))
    step, val = 0, None
    rng = np.random.default_rng(args.seed)
    last = work / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        task.net.load_state_dict(ck["net"])
        task.aux.load_state_dict(ck["aux"])
        opt.load_state_dict(ck["opt"])
        step, val = ck["step"], ck.get("val")
        rng.bit_generator.state = ck["rng"]
        log.info("resumed %s at step %d", last, step)
    elif args.init is not None:
        ck = torch.load(args.init, map_location="cpu", weights_only=False)
        src = ck["state_dict"] if "state_dict" in ck else ck["net"]
        own = task.net.state_dict()
        fits = {
            k: v.float() if v.is_floating_point() else v for k, v in src.items() if k in own and own[k].shape == v.shape
        }
        task.net.load_state_dict(fits, strict=False)
        log.info("initialised %d of %d tensors from %s", len(fits), len(own), args.init)
    if args.export:
        print(export(task, step, args, val, out))
        return 0
    (work / "config.json").write_text(
        json.dumps(
            {"model": args.model, "config": task.cfg.as_dict(), "noise": preset["noise"], "args": args.command},
            indent=1,
        )
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    samplers = {}
    for s in sizes:
        clips = [load_clip(c, size=s) for c in train_clips]
        coded = [coded_pictures(c, qp=args.coded_qp) for c in clips] if args.coded_source_prob > 0 else None
        samplers[s] = PairSampler(clips, seed=args.seed + s, coded=coded)
    for s, smp in samplers.items():
        smp.rng = np.random.default_rng([args.seed, s, step])
    val_clips = [load_clip(c) for c in VALIDATION_CLIPS]

    run = _Run(task, opt, args, rng, samplers, sizes, val_clips, last, out, step, val)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill = Ctrl-C: save last.pt, then stop
    with open(work / "log.jsonl", "a") as logf:
        return run.loop(logf)


@dataclass
class _Run:
    """State of one training run (what ``last.pt`` saves)."""

    task: Any
    opt: torch.optim.Optimizer
    args: argparse.Namespace
    rng: np.random.Generator
    samplers: dict[int, PairSampler]
    sizes: list[int]
    val_clips: list
    last: Path
    out: Path
    step: int
    val: dict | None

    def save(self) -> None:
        _atomic_save(
            {
                "net": self.task.net.state_dict(),
                "aux": self.task.aux.state_dict(),
                "opt": self.opt.state_dict(),
                "step": self.step,
                "rng": self.rng.bit_generator.state,
                "val": self.val,
            },
            self.last,
        )

    def loop(self, logf: Any) -> int:
        from tqdm import tqdm

        args, task, opt = self.args, self.task, self.opt
        bar = tqdm(total=args.steps, initial=self.step, desc=f"train {args.model}", unit="step", dynamic_ncols=True)
        t0 = time.time()
        try:
            while self.step < args.steps:
                for g in opt.param_groups:
                    g["lr"] = lr_at(self.step, args.steps, args.lr)
                size = self.sizes[int(self.rng.integers(len(self.sizes)))]
                batch = self.samplers[size].batch(
                    args.batch, per_source=task.per_source, near_prob=args.near_prob, coded_prob=args.coded_source_prob
                )
                losses = task.losses(batch, self.rng, self.step / args.steps)
                opt.zero_grad(set_to_none=True)
                sum(losses.values()).backward()
                torch.nn.utils.clip_grad_norm_(task.parameters(), 10.0)
                opt.step()
                self.step += 1
                bar.update(1)
                if self.step % 10 == 0:
                    rec = {
                        "step": self.step,
                        "size": size,
                        "time": round(time.time() - t0, 1),
                        **{k: round(float(v), 5) for k, v in losses.items()},
                    }
                    logf.write(json.dumps(rec) + "\n")
                    logf.flush()
                    bar.set_postfix(rec=f"{float(losses['rec']):.4f}")
                if self.step % args.val_every == 0 or self.step == args.steps:
                    self.val = validate(task, self.val_clips)
                    logf.write(json.dumps({"step": self.step, **self.val}) + "\n")
                    logf.flush()
                    log.info("step %d validation %s", self.step, self.val)
                if self.step % args.save_every == 0 or self.step == args.steps:
                    self.save()
        except KeyboardInterrupt:
            self.save()
            log.info("interrupted at step %d; saved %s", self.step, self.last)
            return 130
        bar.close()
        print(export(task, self.step, args, self.val, self.out))
        return 0


if __name__ == "__main__":
    sys.exit(main())
