"""VGG16 and AlexNet feature extractors for the learned metrics, in plain ``torch.nn``.

Architectures:
    VGG16 configuration D (K. Simonyan, A. Zisserman, "Very deep convolutional networks for
    large-scale image recognition", ICLR 2015): 13 3x3 convolutions (padding 1) with ReLU in
    five blocks of 64, 128, 256, 512, 512 channels, 2x2 max pooling between blocks.
    AlexNet (A. Krizhevsky, I. Sutskever, G. Hinton, NeurIPS 2012) in the single-tower form of
    the published ImageNet checkpoints: convolutions 11x11/4 (64), 5x5 (192), 3x3 (384),
    3x3 (256), 3x3 (256), 3x3/2 max pooling after the first two.

The layers sit in an ``nn.Sequential`` named ``features`` whose indices match those of the
published torchvision checkpoints, so their ``features.<i>.weight`` / ``.bias`` entries load
unchanged (:func:`load_features`). Both extractors return the ReLU outputs that LPIPS and
DISTS use: VGG16 relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 and AlexNet relu1..relu5.

DISTS (K. Ding, K. Ma, S. Wang, E. P. Simoncelli, "Image quality assessment: unifying
structure and texture similarity", IEEE TPAMI 44(5), 2022) replaces VGG's max pooling with
L2 pooling (O. Henaff, E. Simoncelli, ICLR 2016): ``sqrt(g * x^2)`` with the 3x3 Hanning
window g = [1 2 1]^T [1 2 1] / 16, stride 2, padding 1 (:class:`L2Pool2d`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .common import MetricError

logger = logging.getLogger(__name__)

__all__ = [
    "ALEXNET_CHANNELS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VGG16_CHANNELS",
    "AlexNetFeatures",
    "L2Pool2d",
    "Vgg16Features",
    "load_features",
    "score_frames",
]

#: ImageNet channel mean and standard deviation of RGB in [0, 1] (the backbones' training).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Channels of the five VGG16 taps (relu1_2 .. relu5_3).
VGG16_CHANNELS = (64, 128, 256, 512, 512)
#: Channels of the five AlexNet taps (relu1 .. relu5).
ALEXNET_CHANNELS = (64, 192, 384, 256, 256)

# VGG16 configuration D: channels of each 3x3 convolution, "M" for a pooling layer. The layer
# list stops after relu5_3, the last tap.
_VGG16_PLAN: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)  # fmt: skip
#: ``features`` indices of the VGG16 taps (the ReLU after conv1_2, 2_2, 3_3, 4_3, 5_3).
VGG16_TAPS = (3, 8, 15, 22, 29)
#: ``features`` indices of the AlexNet taps (the ReLU after conv1 .. conv5).
ALEXNET_TAPS = (1, 4, 7, 9, 11)


class L2Pool2d(nn.Module):
    """L2 pooling, ``sqrt(g * x^2 + eps)`` with the 3x3 Hanning window g, stride 2, padding 1.

    ``(N, C, H, W) -> (N, C, floor((H - 1) / 2) + 1, floor((W - 1) / 2) + 1)``.
    """

    #: Added under the square root so that the gradient at 0 stays finite.
    EPS = 1e-12
    window: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("window", (taps[:, None] * taps[None, :] / 16.0)[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        weight = self.window.to(x.dtype).expand(channels, 1, 3, 3)
        return torch.sqrt(F.conv2d(x * x, weight, stride=2, padding=1, groups=channels) + self.EPS)


class _TappedFeatures(nn.Module):
    """``self.features`` run layer by layer, returning the outputs of the layers in ``self.taps``."""

    features: nn.Sequential
    taps: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                outs.append(x)
        return outs


class Vgg16Features(_TappedFeatures):
    """VGG16 convolutional layers up to relu5_3.

    Args:
        pool: ``"max"`` (2x2/2 max pooling, as trained; LPIPS) or ``"l2"`` (DISTS).

    ``forward(x)``: ``(N, 3, H, W)`` normalised input -> the five taps, ``(N, C_k, H_k, W_k)``
    with ``C_k`` = :data:`VGG16_CHANNELS`.
    """

    def __init__(self, pool: Literal["max", "l2"] = "max") -> None:
        super().__init__()
        if pool not in ("max", "l2"):
            raise ValueError(f"pool must be 'max' or 'l2', got {pool!r}")
        layers: list[nn.Module] = []
        channels = 3
        for item in _VGG16_PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2) if pool == "max" else L2Pool2d())
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.taps = VGG16_TAPS
        self.channels = VGG16_CHANNELS


class AlexNetFeatures(_TappedFeatures):
    """AlexNet convolutional layers up to relu5.

    ``forward(x)``: ``(N, 3, H, W)`` normalised input, H and W >= 31 -> the five taps with
    ``C_k`` = :data:`ALEXNET_CHANNELS`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1),
            nn.ReLU(),
        )
        self.taps = ALEXNET_TAPS
        self.channels = ALEXNET_CHANNELS


def load_features(module: Vgg16Features | AlexNetFeatures, tensors: Mapping[str, torch.Tensor], what: str) -> None:
    """Load the convolution weights of a torchvision-style checkpoint into ``module``.

    Args:
        module: extractor to fill.
        tensors: checkpoint entries; those named ``features.<i>.weight|bias`` are used (other
            entries, e.g. the classifier, are ignored). A checkpoint without the ``features.``
            prefix (``<i>.weight``) is accepted too.
        what: metric name for error messages.

    Raises:
        MetricError: an expected entry is missing or has the wrong shape.
    """
    prefixed = {k[len("features.") :]: v for k, v in tensors.items() if k.startswith("features.")}
    state = prefixed or dict(tensors)
    expected = module.features.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise MetricError(f"{what}: backbone weights lack {', '.join(missing[:4])}")
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise MetricError(
                f"{what}: backbone entry {key} has shape {tuple(state[key].shape)}, expected {tuple(ref.shape)}"
            )
    module.features.load_state_dict({k: state[k].float() for k in expected})


def score_frames(
    score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ref: np.ndarray,
    dist: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Apply a pairwise image score to frames in batches, without gradients.

    Args:
        score: ``(x, y) -> (B,)`` with ``x``, ``y`` ``(B, 3, H, W)`` float32 RGB in [0, 1]
            (reference first).
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference (already checked).
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        batch_size: frames per call (results do not depend on it beyond float rounding).

    Returns:
        ``(N,)`` ``float64`` scores.
    """
    out = np.empty(ref.shape[0], np.float64)
    with torch.no_grad():
        for start in range(0, ref.shape[0], batch_size):
            stop = min(start + batch_size, ref.shape[0])
            x, y = (
                torch.from_numpy(np.ascontiguousarray(a[start:stop])).permute(0, 3, 1, 2).float() / 255.0
                for a in (ref, dist)
            )
            out[start:stop] = score(x, y).double().numpy()
    return out
