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

With ``picture_steps`` (``gfv-train translator A B --picture-steps N``) and a PyTorch generator
B (FOMM, CFTE, CTTR, FV2V), a last stage fine-tunes the translator on B's synthesised picture
(:mod:`refsw.translate.picture`), kept only where it lowers the selection persons' picture L1.

The work directory holds ``last.pt`` (networks, optimiser, step; written every ``save_every``
steps and at the end) and ``log.jsonl``; re-running resumes. At the end the numpy checkpoint is
exported to ``refsw/translate/weights/<A>_to_<B>.npz``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from refsw.models import get_model
from refsw.progress import bar
from refsw.train.split import person_of, split_clips

from .dataset import load_dataset
from .learned import checkpoint_path, output_space
from .pairnet import PairData, PairNet, Sampler
from .picture import PICTURE_MODELS, choose_gain, fine_tune, picture_data

#: Ridge penalties tried for the linear path (on :data:`RIDGE_PAIRS` normalised pairs).
RIDGE_PENALTIES = (1e2, 1e3, 1e4, 1e5)
#: Sampled picture pairs of the ridge regression.
RIDGE_PAIRS = 20000
#: AdamW weight decay of the networks (they overfit the training persons without it).
WEIGHT_DECAY = 0.05
#: Every this many training persons one chooses the ridge penalty and the network (:func:`inner_split`).
SELECTION_EVERY = 5
#: Smallest standard deviation used to normalise an element (elements that never move).
MIN_STD = 1e-4


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


def statistics(data: list[PairData], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(in_std, out_scale)`` float32: the deviation of A's and of B's change between two random
    pictures of a clip (root mean square)."""
    dx, dt = [], []
    for d in data:
        i, j = rng.choice(d.usable, 200), rng.choice(d.usable, 200)
        dx.append(d.inputs[j] - d.inputs[i])
        dt.append(d.targets[j] - d.targets[i])
    rms = [np.sqrt(np.mean(np.concatenate(v) ** 2, axis=0)) for v in (dx, dt)]
    return np.maximum(rms[0], MIN_STD), np.maximum(rms[1], MIN_STD)


def inner_split(clips: list[str]) -> tuple[list[str], list[str]]:
    """The training clips split by person into (fitting, selection): every
    :data:`SELECTION_EVERY`-th person (sorted) chooses the ridge penalty and whether the network
    is kept, so the validation persons stay unseen."""
    persons = sorted({person_of(c) for c in clips})
    chosen = set(persons[SELECTION_EVERY // 2 :: SELECTION_EVERY])
    return [c for c in clips if person_of(c) not in chosen], [c for c in clips if person_of(c) in chosen]


def ridge(
    sample: Sampler, in_std: np.ndarray, out_scale: np.ndarray, lam: float, rng: np.random.Generator
) -> np.ndarray:
    """``(in, out)`` float64: the ridge regression (penalty ``lam``) of B's normalised change on
    A's normalised change over :data:`RIDGE_PAIRS` sampled pairs."""
    xk, x, tk, t = sample(RIDGE_PAIRS, rng)
    dx, dt = (x - xk) / in_std, (t - tk) / out_scale
    return np.linalg.solve(dx.T @ dx + lam * np.eye(dx.shape[1]), dx.T @ dt)


@torch.no_grad()
def validate(net: PairNet, data: list[PairData], network: bool = True) -> float:
    """Fraction of B's normalised change from each clip's first usable picture that the
    translation explains (1 - MSE / mean square of the change); ``network=False``: the linear
    path alone."""
    err = tot = 0.0
    for d in data:
        k, idx = d.usable[0], d.usable[1:]
        change = torch.from_numpy(d.targets[idx] - d.targets[k]) / net.out_scale
        pred = net.change(torch.from_numpy(d.inputs[k : k + 1]), torch.from_numpy(d.inputs[idx]), network)
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
    arrays["linear"] = net.linear.detach().numpy().astype(np.float32)
    for name in ("in_std", "out_scale"):
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
    steps: int = 1500,
    batch: int = 256,
    lr: float = 1e-3,
    work_dir: Path | None = None,
    out: Path | None = None,
    seed: int = 0,
    save_every: int = 500,
    command: str = "",
    picture_steps: int = 0,
    picture_batch: int = 4,
    picture_lr: float = 1e-4,
    picture_gain: bool = False,
) -> dict[str, Any]:
    """Trains (or resumes) the translator ``source`` -> ``target`` and exports it.

    Stages: (1) the linear path W by ridge regression, its penalty chosen among
    :data:`RIDGE_PENALTIES` on the selection persons (:func:`inner_split`); (2) eps_A and delta_B
    (and W) by AdamW (weight decay :data:`WEIGHT_DECAY`) on the relative parameter loss; (3) the
    network is kept only if it explains more of the selection persons' change than W alone
    (else delta_B's last layer is zeroed: a linear translator); (4) with ``picture_steps`` and a
    PyTorch generator B, the picture loss through B's generator
    (:func:`refsw.translate.picture.fine_tune`, ``picture_batch`` pairs per step, AdamW at
    ``picture_lr``), kept only where it lowers the selection persons' picture L1; (5) with
    ``picture_gain``, the gain on the translated change with the lowest selection picture L1
    (:func:`refsw.translate.picture.choose_gain`; for the numpy generators sem3d and kptps).

    Returns:
        The provenance written into the checkpoint (``meta``), with the validation score.
    """
    torch.manual_seed(seed)
    split = split_clips()
    fit_clips, select_clips = inner_split(split["train"])
    fit_arrays, select_arrays = load_dataset(fit_clips), load_dataset(select_clips)  # the picture stage reuses them
    train = pair_data(source, target, fit_arrays)
    select = pair_data(source, target, select_arrays)
    val = pair_data(source, target, load_dataset(split["validation"]))
    in_std, out_scale = statistics(train, np.random.default_rng(seed))
    sample = Sampler(train)
    scores = {}
    for lam in RIDGE_PENALTIES:
        w = ridge(sample, in_std, out_scale, lam, np.random.default_rng([seed, 1]))
        scores[lam] = validate(PairNet(in_std, out_scale, w), select, network=False)
    lam = max(scores, key=lambda k: scores[k])
    net = PairNet(in_std, out_scale, ridge(sample, in_std, out_scale, lam, np.random.default_rng([seed, 1])))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
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
                # a float: torch.load(weights_only=True) refuses numpy scalars when a run resumes
                g["lr"] = float(lr * (0.55 + 0.45 * np.cos(np.pi * step / steps)))
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
    with_net, linear_only = validate(net, select), validate(net, select, network=False)
    if with_net <= linear_only:
        net.drop_network()
    picture: dict[str, Any] = {}
    tune = picture_steps > 0 and target in PICTURE_MODELS
    if tune or picture_gain:  # the selection persons' pictures, read once for both stages
        select_pictures = picture_data(source, target, select_clips, select_arrays)
    if tune:
        train_pictures = picture_data(source, target, fit_clips, fit_arrays)
        picture = fine_tune(
            net,
            source,
            target,
            sample,
            train_pictures,
            select_pictures,
            steps=picture_steps,
            batch=picture_batch,
            lr=picture_lr,
            work=work,
            seed=seed,
        )
    if picture_gain:
        picture.update(choose_gain(net, target, select_pictures))
    meta = {
        "command": command or f"gfv-train translator {source} {target}",
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "weight_decay": WEIGHT_DECAY,
        "ridge_penalty": lam,
        "network_kept": with_net > linear_only,
        "selection_explained": {"network": round(with_net, 4), "linear": round(linear_only, 4)},
        "fit_clips": fit_clips,
        "selection_clips": select_clips,
        "validation_clips": split["validation"],
        "validation_explained": round(validate(net, val), 4),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "loss": "relative parameter MSE (normalised per element)"
        + (", then picture L1 through B's generator" if picture.get("picture_kept") else ""),
        **picture,
        "source_uri": get_model(source).uri,
        "target_uri": get_model(target).uri,
    }
    export(net, source, target, meta, out or checkpoint_path(source, target))
    return meta
