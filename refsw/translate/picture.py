"""Picture-loss fine-tuning of a learned translator through B's generator (issue 17, JVET-AG0048).

The parameter stage (:mod:`refsw.translate.train`) fits B's *parameters*; what a viewer sees is
B's *picture*. This stage fine-tunes the translator (eps_A, delta_B and W) so that B's generator,
animating picture i of a training clip with B's own analysis of it (the key picture), driven by
the translation of A's parameters of picture j, draws picture j:

    loss = L1(G_B(picture_i, v_B[i], T(v_A[j]; v_A[i], v_B[i])), picture_j)
           + w * relative parameter loss (a batch of the parameter stage)

``w`` balances the two at the start (the selection persons' picture L1 before the stage over
the first parameter loss), so the parameters stay near B's own while the picture loss corrects
what the generator renders badly. Gradients flow through B's frozen generator (FOMM, CFTE, CTTR,
FV2V: PyTorch); ``sem3d`` and ``kptps`` render with numpy and keep the parameter loss, which is
geometric for them. The generator runs as the decoder runs it, with its residual detail
transfer, except CTTR's trajectory (the previous picture is the driving one, as after a key
picture).

The fine-tuned translator is kept only where it lowers the picture L1 of the selection persons
(:func:`refsw.translate.train.inner_split`; key picture: the clip's first usable picture, every
:data:`EVAL_EVERY`-th usable picture of the first 250 after it).
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
import torch.nn.functional as F

from refsw.progress import bar
from refsw.train.tasks import to_tensor

from .learned import ROTATION_MODELS
from .pairnet import NEAR, PairNet, Sampler

#: Models whose generator is a PyTorch network (the picture loss can reach the translator).
PICTURE_MODELS = ("fomm", "cfte", "cttr", "fv2v")
#: Every this many usable pictures of a clip are scored when the stage is judged.
EVAL_EVERY = 25
#: Gains on the translated change tried by :func:`choose_gain` (1: the translation as trained).
GAINS = (0.5, 0.625, 0.75, 0.875, 1.0)


def rodrigues_torch(w: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 3)`` rotation matrices of rotation vectors ``w`` ``(B, 3)`` (radians; Rodrigues'
    formula, differentiable; a zero vector gives the identity)."""
    theta = torch.sqrt((w * w).sum(1, keepdim=True) + 1e-12)
    k = w / theta
    zero = torch.zeros_like(k[:, 0])
    kx = torch.stack(
        [zero, -k[:, 2], k[:, 1], k[:, 2], zero, -k[:, 0], -k[:, 1], k[:, 0], zero],
        1,
    ).view(-1, 3, 3)
    s, c = torch.sin(theta)[:, :, None], (1 - torch.cos(theta))[:, :, None]
    return torch.eye(3).expand_as(kx) + s * kx + c * (kx @ kx)


def apply_change_torch(model: str, key: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
    """``(B, D)``: B's key-picture parameters ``key`` ``(B, D)`` moved by ``change`` ``(B, out)``
    (output space, B's units), as :func:`refsw.translate.learned.apply_change`."""
    if model not in ROTATION_MODELS:
        return key + change
    rot = rodrigues_torch(change[:, :3]) @ key[:, :9].reshape(-1, 3, 3)
    return torch.cat([rot.reshape(-1, 9), key[:, 9:] + change[:, 3:]], 1)


class Renderer:
    """B's committed generator as a differentiable function of its parameters (weights frozen),
    with the decoder's residual detail transfer where the model uses it
    (:class:`refsw.models.learned.LearnedGenerator`; CFTE's raw synthesis is far from the picture
    without it).

    Args:
        model: ``"fomm"``, ``"cfte"``, ``"cttr"`` or ``"fv2v"``.

    Raises:
        ValueError: ``model`` has no PyTorch generator.
    """

    def __init__(self, model: str) -> None:
        if model not in PICTURE_MODELS:
            raise ValueError(f"{model} has no PyTorch generator (picture loss: {', '.join(PICTURE_MODELS)})")
        from refsw.models.learned import LEARNED, LearnedModel

        self.name = model
        # the committed network is shared through its cache; it only ever runs in inference, so
        # freezing its weights here changes nothing for the other users
        self.net = LearnedModel.committed(model).net
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.detail_transfer = LEARNED[model].detail_transfer

    def _synthesise(self, source: torch.Tensor, source_params: torch.Tensor, params: torch.Tensor) -> dict[str, Any]:
        """The generator's raw output: ``prediction`` ``(B, 3, H, W)`` and the 2-D ``deformation``."""
        from refsw.models.nets.blocks import motion_2d

        gen: Any = self.net.generator
        b = len(source)
        if self.name == "fomm":

            def kp(p: torch.Tensor) -> dict[str, torch.Tensor]:
                return {"value": p[:, :20].view(b, 10, 2), "jacobian": p[:, 20:].view(b, 10, 2, 2)}

            return gen(source, kp(params), kp(source_params))
        if self.name in ("cfte", "cttr"):
            drv, src = params.view(b, 1, 4, 4), source_params.view(b, 1, 4, 4)
            return gen(source, drv, src, drv if self.name == "cttr" else None)
        from refsw.models.nets.fv2v import transform_keypoints

        net: Any = self.net
        kp_c = net.kp_detector(source)

        def kp3(p: torch.Tensor) -> torch.Tensor:
            return transform_keypoints(kp_c, p[:, :9].view(b, 3, 3), p[:, 9:12], p[:, 12:].view(b, 15, 3))

        out = gen(source, kp3(params), kp3(source_params))
        return {"prediction": out["prediction"], "deformation": motion_2d(out["deformation"])}

    def __call__(self, source: torch.Tensor, source_params: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` float32 pictures in [0, 1] (roughly; not clipped) of B's generator
        animating ``source`` ``(B, 3, H, W)`` float32 in [0, 1], whose parameters are
        ``source_params`` ``(B, D)``, with parameters ``params`` ``(B, D)`` float32."""
        from refsw.models.nets.blocks import displacement, warp

        out = self._synthesise(source, source_params, params)
        if not self.detail_transfer:
            return out["prediction"]
        with torch.no_grad():
            own = self._synthesise(source, source_params, source_params)
        residual = source - own["prediction"]
        return out["prediction"] + warp(residual, out["deformation"] - displacement(own["deformation"]))


@dataclass
class PictureData:
    """One clip for the picture stage: its pictures ``(N, H, W, 3)`` uint8, A's parameters
    ``(N, in)`` and B's parameters ``(N, D)`` (parameter format) float32, usable indices."""

    frames: np.ndarray
    inputs: np.ndarray
    params: np.ndarray
    usable: np.ndarray


def picture_data(source: str, target: str, names: list[str], clips: list[dict[str, np.ndarray]]) -> list[PictureData]:
    """The clips ``names`` (their cached analyses ``clips``) with their pictures, as many as
    were analysed."""
    from refsw.train.data import load_clip

    out = []
    for name, c in zip(names, clips, strict=True):
        usable = np.flatnonzero(c["found"])
        if len(usable) < 2:
            continue
        frames = load_clip(name, max_frames=len(c["found"])).frames
        out.append(PictureData(frames, c[source].astype(np.float32), c[target].astype(np.float32), usable))
    return out


def _sample(data: list[PictureData], batch: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """``(picture_i, picture_j, x_i, x_j, v_B_i)``: ``batch`` (key picture, picture) pairs, each
    of one clip (clips weighted by their usable pictures, j within 25 usable pictures of i half
    of the time, as the parameter stage samples)."""
    sizes = np.array([len(d.usable) for d in data], dtype=np.float64)
    src, drv, xk, x, vk = [], [], [], [], []
    for c in rng.choice(len(data), size=batch, p=sizes / sizes.sum()):
        d = data[c]
        a = int(rng.integers(len(d.usable)))
        near = int(np.clip(a + rng.integers(-NEAR, NEAR + 1), 0, len(d.usable) - 1))
        b = near if rng.random() < 0.5 else int(rng.integers(len(d.usable)))
        i, j = d.usable[a], d.usable[b]
        src.append(d.frames[i])
        drv.append(d.frames[j])
        xk.append(d.inputs[i])
        x.append(d.inputs[j])
        vk.append(d.params[i])
    return (
        to_tensor(np.stack(src)),
        to_tensor(np.stack(drv)),
        torch.from_numpy(np.stack(xk)),
        torch.from_numpy(np.stack(x)),
        torch.from_numpy(np.stack(vk)),
    )


def picture_loss(net: PairNet, render: Renderer, target: str, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean absolute difference (pictures in [0, 1]) between B's synthesis with the translated
    parameters and the driving pictures of ``batch`` (:func:`_sample`)."""
    src, drv, xk, x, vk = batch
    params = apply_change_torch(target, vk, net.change(xk, x) * net.out_scale).float()
    return F.l1_loss(render(src, vk, params), drv)


@torch.no_grad()
def evaluate(net: PairNet, render: Renderer, target: str, data: list[PictureData], every: int = EVAL_EVERY) -> float:
    """Mean picture L1 (pictures in [0, 1]) of B's synthesis of every ``every``-th usable picture
    of each clip after its first usable picture (the key picture, animated with the translated
    parameters)."""
    total, count = 0.0, 0
    for d in data:
        k, idx = d.usable[0], d.usable[every::every]
        for start in range(0, len(idx), 8):
            j = idx[start : start + 8]
            n = len(j)
            batch = (
                to_tensor(np.repeat(d.frames[k : k + 1], n, 0)),
                to_tensor(d.frames[j]),
                torch.from_numpy(np.repeat(d.inputs[k : k + 1], n, 0)),
                torch.from_numpy(d.inputs[j]),
                torch.from_numpy(np.repeat(d.params[k : k + 1], n, 0)),
            )
            total += float(picture_loss(net, render, target, batch)) * n
            count += n
    return total / max(count, 1)


def fine_tune(
    net: PairNet,
    source: str,
    target: str,
    sample: Sampler,
    train: list[PictureData],
    select: list[PictureData],
    steps: int,
    batch: int,
    lr: float,
    work: Path,
    seed: int,
    param_batch: int = 256,
    save_every: int = 25,
    eval_every: int = EVAL_EVERY,
    param_weight: float | None = None,
) -> dict[str, Any]:
    """Fine-tunes ``net`` in place on the picture loss (resumable from ``work/picture.pt``); keeps
    the result only if it lowers the selection persons' picture L1, else restores ``net``.
    ``param_weight``: the weight of the parameter loss (``None``: balanced at the start).

    Returns:
        What the checkpoint's ``meta`` records: steps, batch, lr, the balancing weight, the
        selection picture L1 before and after, and whether the stage was kept.
    """
    render = Renderer(target)
    before_state = {k: v.clone() for k, v in net.state_dict().items()}
    t0 = time.perf_counter()
    before = evaluate(net, render, target, select, eval_every)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)
    state_path = work / "picture.pt"
    step, weight = 0, param_weight
    if state_path.exists():
        state = torch.load(state_path, weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step, weight = int(state["step"]), float(state["weight"])
    progress = bar(f"{source} -> {target} (picture loss)", total=steps, unit="step")
    progress.update(step)
    with open(work / "log.jsonl", "a") as log:
        while step < steps:
            rng = np.random.default_rng([seed, 7, step])
            pic = picture_loss(net, render, target, _sample(train, batch, rng))
            par = net.relative_loss(*(torch.from_numpy(a) for a in sample(param_batch, rng)))
            if weight is None:  # balanced at the start: the selection persons' picture L1 over the first parameter loss
                weight = before / max(float(par.detach()), 1e-12)
            loss = pic + weight * par
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            progress.update(1)
            if step % 10 == 0 or step == 1:
                log.write(
                    json.dumps(
                        {
                            "stage": "picture",
                            "step": step,
                            "picture_l1": pic.item(),
                            "param": par.item(),
                            "seconds": round(time.perf_counter() - t0, 1),
                        }
                    )
                    + "\n"
                )
                log.flush()
            if step % save_every == 0 or step == steps:
                state = {"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "weight": weight}
                torch.save(state, work / "picture.tmp")
                os.replace(work / "picture.tmp", state_path)
    progress.close()
    after = evaluate(net, render, target, select, eval_every)
    kept = after < before
    if not kept:
        net.load_state_dict(before_state)
    return {
        "picture_steps": steps,
        "picture_batch": batch,
        "picture_lr": lr,
        "picture_param_weight": None if weight is None else round(weight, 6),
        "picture_selection_l1": {"before": round(before, 5), "after": round(after, 5)},
        "picture_kept": kept,
        "picture_seconds": round(time.perf_counter() - t0, 1),
    }


def gain_scores(
    net: PairNet, target: str, data: list[PictureData], gains: tuple[float, ...] = GAINS, every: int = EVAL_EVERY
) -> dict[float, float]:
    """Mean picture L1 (pictures in [0, 1]) per gain: B's generator as the decoder runs it (any
    model, numpy or PyTorch) animating each clip's first usable picture, driven by the translated
    change times the gain, snapped to B's GFV grid, for every ``every``-th usable picture after
    it. No gradient: this reaches the numpy generators (sem3d, kptps) too."""
    from refsw.models import get_model

    from .dataset import as_params
    from .learned import apply_change

    spec = get_model(target)
    layout = spec.make_layout()
    gen = spec.make_generator()
    totals = dict.fromkeys(gains, 0.0)
    count = 0
    for d in data:
        k, idx = d.usable[0], d.usable[every::every]
        if not len(idx):
            continue
        key = as_params(target, d.params[k : k + 1].astype(np.float64))[0]
        gen.set_key_picture(d.frames[k], key)
        with torch.no_grad():
            normalised = net.change(torch.from_numpy(d.inputs[k : k + 1]), torch.from_numpy(d.inputs[idx]))
            change = (normalised * net.out_scale).double().numpy()
        for g in gains:
            params = layout.snap(as_params(target, apply_change(target, key, g * change)))
            for p, j in zip(params, idx, strict=True):
                totals[g] += float(np.abs(gen.generate(p).astype(np.float64) - d.frames[j]).mean()) / 255.0
        count += len(idx)
    return {g: t / max(count, 1) for g, t in totals.items()}


def choose_gain(net: PairNet, target: str, select: list[PictureData], every: int = EVAL_EVERY) -> dict[str, Any]:
    """Scales the translated change of ``net`` in place by the gain of :data:`GAINS` with the
    lowest picture L1 on the selection persons (:func:`gain_scores`; it multiplies ``out_scale``,
    so the checkpoint format is unchanged). For B generators the picture loss cannot reach
    (sem3d, kptps: numpy), a partly wrong change bends the picture; a smaller change can bend it
    less.

    Returns:
        What the checkpoint's ``meta`` records: the gain and the L1 per gain.
    """
    scores = gain_scores(net, target, select, every=every)
    gain = min(scores, key=lambda g: (scores[g], -g))
    with torch.no_grad():
        net.out_scale.mul_(gain)
    return {"picture_gain": gain, "picture_gain_l1": {f"{g:g}": round(v, 5) for g, v in scores.items()}}
