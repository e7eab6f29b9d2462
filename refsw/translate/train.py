"""Training of the learned parameter translators (:mod:`refsw.translate.learned`), CPU, resumable.

Data: the parameter dataset (:mod:`refsw.translate.dataset`) of the training persons
(:func:`refsw.train.split.split_clips`). Each step draws ``batch`` picture pairs (key picture i,
picture j) from one clip each (clips weighted by their length; j within 25 usable pictures of i half
of the time, talking heads mostly move little; only pictures where the face tracker found the face)
and minimises the parameter loss of the relative form: the mean squared difference between the
translated change ``delta_B(eps_A(v_A[j])) - delta_B(eps_A(v_A[i]))`` and B's own change
``v_B[j] - v_B[i]`` (a head rotation as rotation vectors), both in units of the standard deviation
of B's change between two pictures of a clip, so every element of every format weighs the same.
For ``sem3d`` and ``kptps`` targets this loss is geometric (head pose, landmark positions, eye /
mouth openness in their own units); their generators are numpy (no gradient).

Validation (the validation persons, the clip's first picture as the key picture, as
``benchmarks`` and ``docs/translators.md`` measure): the fraction of B's change the translation
explains, ``1 - MSE / variance``, over the normalised elements.

The work directory holds ``last.pt`` (networks, optimiser, step; written every ``save_every``
steps and at the end) and ``log.jsonl``; re-running resumes. At the end the numpy checkpoint is
exported to ``refsw/translate/weights/<A>_to_<B>.npz``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from refsw.models import get_model
from refsw.progress import bar
from refsw.train.split import split_clips

from .dataset import load_dataset
from .learned import LATENT, LAYERS, checkpoint_path, output_space

#: Pictures around the key picture of a "near" pair.
NEAR = 25
#: Smallest standard deviation used to normalise an element (elements that never move).
MIN_STD = 1e-4


def mlp(sizes: list[int]) -> nn.Sequential:
    """Fully connected layers ``sizes[0] -> ... -> sizes[-1]``, ReLU between them."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


@dataclass
class PairData:
    """One clip's A inputs ``(N, in)`` and B targets ``(N, out)`` (output space), float32, and
    the indices of its usable pictures."""

    inputs: np.ndarray
    targets: np.ndarray
    usable: np.ndarray


def pair_data(source: str, target: str, clips: list[dict[str, np.ndarray]]) -> list[PairData]:
    """The per-clip training arrays of pair ``source`` -> ``target``."""
    out = []
    for c in clips:
        usable = np.flatnonzero(c["found"])
        if len(usable) >= 2:
            out.append(
                PairData(c[source].astype(np.float32), output_space(target, c[target]).astype(np.float32), usable)
            )
    return out


def statistics(data: list[PairData], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(in_mean, in_std, out_scale)`` float32: A's mean and deviation over every usable picture;
    the deviation of B's change between two random pictures of a clip."""
    x = np.concatenate([d.inputs[d.usable] for d in data])
    changes = []
    for d in data:
        i, j = rng.choice(d.usable, 200), rng.choice(d.usable, 200)
        changes.append(d.targets[j] - d.targets[i])
    scale = np.sqrt(np.mean(np.concatenate(changes) ** 2, axis=0))
    return x.mean(0), np.maximum(x.std(0), MIN_STD), np.maximum(scale, MIN_STD)


class Sampler:
    """Random (key picture, picture) pairs of the usable pictures of one clip each, clips weighted
    by their number of usable pictures; half of the pictures within :data:`NEAR` usable pictures
    of their key picture."""

    def __init__(self, data: list[PairData]) -> None:
        self.inputs = np.concatenate([d.inputs[d.usable] for d in data])
        self.targets = np.concatenate([d.targets[d.usable] for d in data])
        sizes = np.array([len(d.usable) for d in data])
        self.start = np.repeat(np.cumsum(sizes) - sizes, sizes)
        self.end = np.repeat(np.cumsum(sizes), sizes)

    def __call__(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """``(x_key, x, t_key, t)``, ``batch`` rows each."""
        i = rng.integers(len(self.inputs), size=batch)
        lo, hi = self.start[i], self.end[i]
        far = lo + (rng.random(batch) * (hi - lo)).astype(np.int64)
        near = np.clip(i + rng.integers(-NEAR, NEAR + 1, size=batch), lo, hi - 1)
        j = np.where(rng.random(batch) < 0.5, near, far)
        return self.inputs[i], self.inputs[j], self.targets[i], self.targets[j]


class PairNet(nn.Module):
    """eps_A and delta_B of one pair, with the normalisation statistics as buffers."""

    def __init__(self, in_mean: np.ndarray, in_std: np.ndarray, out_scale: np.ndarray) -> None:
        super().__init__()
        self.encoder = mlp([len(in_mean)] + [LATENT] * LAYERS)
        self.decoder = mlp([LATENT] * LAYERS + [len(out_scale)])
        self.in_mean: torch.Tensor
        self.in_std: torch.Tensor
        self.out_scale: torch.Tensor
        self.register_buffer("in_mean", torch.from_numpy(in_mean))
        self.register_buffer("in_std", torch.from_numpy(in_std))
        self.register_buffer("out_scale", torch.from_numpy(out_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised output (units of ``out_scale``) of A parameters ``(B, in)``."""
        return self.decoder(self.encoder((x - self.in_mean) / self.in_std))

    def relative_loss(self, x_key: torch.Tensor, x: torch.Tensor, t_key: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the translated change, normalised."""
        pred = self(x) - self(x_key)
        return ((pred - (t - t_key) / self.out_scale) ** 2).mean()


@torch.no_grad()
def validate(net: PairNet, data: list[PairData]) -> float:
    """Fraction of B's normalised change from each clip's first usable picture that the
    translation explains (1 - MSE / mean square of the change)."""
    err = tot = 0.0
    for d in data:
        k, idx = d.usable[0], d.usable[1:]
        x = torch.from_numpy(d.inputs[idx])
        change = torch.from_numpy(d.targets[idx] - d.targets[k]) / net.out_scale
        pred = net(x) - net(torch.from_numpy(d.inputs[k : k + 1]))
        err += float(((pred - change) ** 2).sum())
        tot += float((change**2).sum())
    return 1.0 - err / max(tot, 1e-12)


def export(net: PairNet, source: str, target: str, meta: dict[str, Any], out: Path) -> Path:
    """Writes the numpy checkpoint of :mod:`refsw.translate.learned` (float32) atomically."""
    arrays: dict[str, Any] = {}
    for part, seq in (("enc", net.encoder), ("dec", net.decoder)):
        linears = [m for m in seq if isinstance(m, nn.Linear)]
        for i, lin in enumerate(linears):
            arrays[f"{part}_w{i}"] = lin.weight.detach().numpy().T.astype(np.float32)
            arrays[f"{part}_b{i}"] = lin.bias.detach().numpy().astype(np.float32)
    for name in ("in_mean", "in_std", "out_scale"):
        arrays[name] = getattr(net, name).numpy().astype(np.float32)
    arrays["meta"] = np.array(json.dumps({"source": source, "target": target, **meta}, sort_keys=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


def train_pair(
    source: str,
    target: str,
    steps: int = 3000,
    batch: int = 256,
    lr: float = 1e-3,
    work_dir: Path | None = None,
    out: Path | None = None,
    seed: int = 0,
    save_every: int = 500,
    command: str = "",
) -> dict[str, Any]:
    """Trains (or resumes) the translator ``source`` -> ``target`` and exports it.

    Returns:
        The provenance written into the checkpoint (``meta``), with the validation score.
    """
    torch.manual_seed(seed)
    split = split_clips()
    train = pair_data(source, target, load_dataset(split["train"]))
    val = pair_data(source, target, load_dataset(split["validation"]))
    net = PairNet(*statistics(train, np.random.default_rng(seed)))
    sample = Sampler(train)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    work = work_dir or Path("runs") / "translator" / f"{source}_to_{target}"
    work.mkdir(parents=True, exist_ok=True)
    step = 0
    last = work / "last.pt"
    if last.exists():
        state = torch.load(last, weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
    t0 = time.perf_counter()
    progress = bar(f"{source} -> {target}", total=steps, unit="step")
    progress.update(step)
    with open(work / "log.jsonl", "a") as log:
        while step < steps:
            rng = np.random.default_rng([seed, step])
            for g in opt.param_groups:  # cosine decay to a tenth
                g["lr"] = lr * (0.55 + 0.45 * np.cos(np.pi * step / steps))
            loss = net.relative_loss(*(torch.from_numpy(a) for a in sample(batch, rng)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            progress.update(1)
            if step % 100 == 0:
                log.write(json.dumps({"step": step, "loss": loss.item()}) + "\n")
            if step % save_every == 0 or step == steps:
                torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "step": step}, work / "last.tmp")
                os.replace(work / "last.tmp", last)
    progress.close()
    score = validate(net, val)
    meta = {
        "command": command or f"gfv-train translator {source} {target}",
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "train_clips": split["train"],
        "validation_clips": split["validation"],
        "validation_explained": round(score, 4),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "loss": "relative parameter MSE (normalised per element)",
        "source_uri": get_model(source).uri,
        "target_uri": get_model(target).uri,
    }
    export(net, source, target, meta, out or checkpoint_path(source, target))
    return meta
