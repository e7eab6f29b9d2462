"""The learned translator of one pair as trained (:mod:`refsw.translate.train`,
:mod:`refsw.translate.picture`): the networks eps_A, delta_B and the linear path W with their
normalisation (:class:`PairNet`), and the (key picture, picture) pairs they learn from
(:class:`PairData`, :class:`Sampler`). Inference is :mod:`refsw.translate.learned` (numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .learned import LATENT, LAYERS

#: Pictures around the key picture of a "near" pair.
NEAR = 25


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
    """eps_A, delta_B and the linear path W of one pair, with the normalisation statistics as
    buffers; :meth:`change` is the normalised change of B from the key picture."""

    def __init__(self, in_std: np.ndarray, out_scale: np.ndarray, linear: np.ndarray) -> None:
        super().__init__()
        self.encoder = mlp([len(in_std)] + [LATENT] * LAYERS)
        self.decoder = mlp([LATENT] * LAYERS + [len(out_scale)])
        self.linear = nn.Parameter(torch.from_numpy(linear.astype(np.float32)))
        self.in_std: torch.Tensor
        self.out_scale: torch.Tensor
        self.register_buffer("in_std", torch.from_numpy(in_std))
        self.register_buffer("out_scale", torch.from_numpy(out_scale))

    def change(self, x_key: torch.Tensor, x: torch.Tensor, network: bool = True) -> torch.Tensor:
        """Normalised change of B (units of ``out_scale``) for A parameters ``x`` ``(B, in)`` from
        the key picture's ``x_key``; ``network=False``: the linear path alone."""
        dx = (x - x_key) / self.in_std
        out = dx @ self.linear
        if network:
            out = out + self.decoder(self.encoder(dx)) - self.decoder(self.encoder(torch.zeros_like(dx[:1])))
        return out

    def relative_loss(self, x_key: torch.Tensor, x: torch.Tensor, t_key: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Mean squared error of the translated change, normalised."""
        return ((self.change(x_key, x) - (t - t_key) / self.out_scale) ** 2).mean()

    def drop_network(self) -> None:
        """Zeroes delta_B's last layer: the network's contribution becomes exactly zero."""
        last = [m for m in self.decoder if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.zero_()
