"""DISTS per frame, with locally stored weights.

DISTS (K. Ding, K. Ma, S. Wang, E. P. Simoncelli, "Image quality assessment: unifying
structure and texture similarity", IEEE TPAMI 44(5), 2022, eqs. 6-10). Representation:
the input image itself (stage 0, 3 channels, RGB in [0, 1]) and the VGG16 taps relu1_2 ..
relu5_3 computed on the ImageNet-normalised image with L2 pooling in place of max pooling
(:class:`.backbones.Vgg16Features` with ``pool="l2"``), 3 + 64 + 128 + 256 + 512 + 512 = 1475
channels. For channel i of stage j, with spatial means ``mu``, variances ``sigma^2`` and
covariance ``sigma_xy`` over the whole feature map::

    l_ij = (2 mu_x mu_y + c1) / (mu_x^2 + mu_y^2 + c1)              (texture)
    s_ij = (2 sigma_xy + c2) / (sigma_x^2 + sigma_y^2 + c2)         (structure)
    DISTS = 1 - sum_ij (alpha_ij l_ij + beta_ij s_ij),   c1 = c2 = 1e-6

with the learned ``alpha, beta >= 0`` divided by their joint sum so that they add up to 1.
0 for identical images, larger is worse; the GFVC CTC reports ``1 - DISTS`` for BD-rates.
The paper resizes images whose shorter side exceeds 256 pixels; that is not done here (the
CTC frames are 256x256; ``docs/gfvc_ctc.md#metrics``).

Weights: ``vgg16.pth`` (torchvision ImageNet VGG16) and ``DISTS.pt`` (``alpha``, ``beta``,
each ``(1, 1475, 1, 1)``) in ``GFV_METRIC_WEIGHTS`` or ``weights_dir`` (:mod:`.weights`).
Without them every call raises :class:`MetricUnavailable`.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from torch import nn

from .backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_CHANNELS,
    Vgg16Features,
    load_features,
    score_frames,
)
from .common import MetricError, MetricInputError, MetricUnavailable, check_rgb_pair
from .weights import DISTS_FILE, VGG16_FILE, cached_model, load_tensors, weight_files

logger = logging.getLogger(__name__)

__all__ = ["Dists", "dists_per_frame", "dists_status"]

#: Channels of stage 0 (the image) and of the five VGG taps.
STAGE_CHANNELS = (3, *VGG16_CHANNELS)
#: Stabilising constants of the texture (c1) and structure (c2) terms.
C1 = C2 = 1e-6
MIN_SIDE = 16
FILES = (VGG16_FILE, DISTS_FILE)
DEFAULT_BATCH = 8


class Dists(nn.Module):
    """DISTS distance between image batches.

    ``forward(x, y)``: ``(N, 3, H, W)`` float RGB in [0, 1] each -> ``(N,)`` distances.
    Weights are random (alpha = beta = uniform) until :meth:`load_weights` is called.
    """

    mean: torch.Tensor
    std: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.backbone = Vgg16Features("l2")
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        total = sum(STAGE_CHANNELS)
        self.register_buffer("alpha", torch.full((total,), 0.5 / total))
        self.register_buffer("beta", torch.full((total,), 0.5 / total))
        self.eval()

    def load_weights(self, backbone: dict[str, torch.Tensor], alpha_beta: dict[str, torch.Tensor]) -> None:
        """Load a torchvision-style VGG16 checkpoint and the DISTS ``alpha`` / ``beta``.

        Raises:
            MetricError: missing entries, wrong sizes or negative / all-zero weights.
        """
        load_features(self.backbone, backbone, "dists")
        total = sum(STAGE_CHANNELS)
        for name in ("alpha", "beta"):
            if name not in alpha_beta:
                raise MetricError(f"dists: weights lack {name!r} (have {', '.join(alpha_beta)})")
            if alpha_beta[name].numel() != total:
                raise MetricError(f"dists: {name} has {alpha_beta[name].numel()} values, expected {total}")
        alpha = alpha_beta["alpha"].reshape(-1).float()
        beta = alpha_beta["beta"].reshape(-1).float()
        norm = alpha.sum() + beta.sum()
        if torch.any(alpha < 0) or torch.any(beta < 0) or not norm > 0:
            raise MetricError("dists: alpha and beta must be non-negative and not all zero")
        self.alpha.copy_(alpha / norm)
        self.beta.copy_(beta / norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = [x, *self.backbone((x - self.mean) / self.std)]
        fy = [y, *self.backbone((y - self.mean) / self.std)]
        alphas = torch.split(self.alpha, list(STAGE_CHANNELS))
        betas = torch.split(self.beta, list(STAGE_CHANNELS))
        similarity = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for a, b, alpha, beta in zip(fx, fy, alphas, betas, strict=True):
            mu_a = a.mean(dim=(2, 3))
            mu_b = b.mean(dim=(2, 3))
            var_a = ((a - mu_a[..., None, None]) ** 2).mean(dim=(2, 3))
            var_b = ((b - mu_b[..., None, None]) ** 2).mean(dim=(2, 3))
            cov = ((a - mu_a[..., None, None]) * (b - mu_b[..., None, None])).mean(dim=(2, 3))
            texture = (2 * mu_a * mu_b + C1) / (mu_a**2 + mu_b**2 + C1)
            structure = (2 * cov + C2) / (var_a + var_b + C2)
            similarity = similarity + (texture * alpha).sum(1) + (structure * beta).sum(1)
        return 1.0 - similarity


def _load(weights_dir: str | os.PathLike[str] | None) -> Dists:
    """The DISTS model with weights from the weights directory (cached)."""
    paths = weight_files(FILES, weights_dir, "dists")

    def build() -> Dists:
        model = Dists()
        model.load_weights(load_tensors(paths[0], "dists"), load_tensors(paths[1], "dists"))
        return model.eval()

    return cached_model("dists", paths, build)


def dists_status(weights_dir: str | os.PathLike[str] | None = None) -> str | None:
    """``None`` when the DISTS weight files are in place, else the reason."""
    try:
        weight_files(FILES, weights_dir, "dists")
    except MetricUnavailable as exc:
        return str(exc)
    return None


def dists_per_frame(
    ref: np.ndarray,
    dist: np.ndarray,
    *,
    weights_dir: str | os.PathLike[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """DISTS distance of each frame (0 for identical frames, larger is worse).

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, min(H, W) >= 16.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        weights_dir: weights directory; ``None`` uses ``$GFV_METRIC_WEIGHTS``.
        batch_size: frames per forward pass.

    Returns:
        ``(N,)`` ``float64`` DISTS.

    Raises:
        MetricInputError: wrong dtype or shapes, frames too small.
        MetricUnavailable: weights not configured or missing.
        MetricError: unreadable or mismatching weight files.
    """
    _, h, w = check_rgb_pair(ref, dist, "dists")
    if min(h, w) < MIN_SIDE:
        raise MetricInputError(f"dists: frames {w}x{h} smaller than {MIN_SIDE} pixels")
    if batch_size < 1:
        raise MetricInputError(f"dists: batch_size must be positive, got {batch_size}")
    return score_frames(_load(weights_dir), ref, dist, batch_size)
