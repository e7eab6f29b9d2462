"""LPIPS per frame (VGG16 or AlexNet backbone), with locally stored weights.

LPIPS (R. Zhang, P. Isola, A. A. Efros, E. Shechtman, O. Wang, "The unreasonable
effectiveness of deep features as a perceptual metric", CVPR 2018, eq. 1)::

    d(x, y) = sum_l  1 / (H_l W_l)  sum_{h,w}  sum_c  w_{l,c} (xhat_l - yhat_l)^2_{c,h,w}

where ``xhat_l`` are the backbone activations of tap l (VGG16 relu1_2 .. relu5_3, or AlexNet
relu1 .. relu5, :mod:`.backbones`) unit-normalised along the channels,
``f / (||f||_2 + 1e-10)``, and ``w_l >= 0`` the learned per-channel weights (the published
linear layers hold ``w`` itself; the paper's ``||w . diff||^2`` is the same model with
``w`` squared). 0 for identical images, larger is worse. The GFVC CTC reports ``1 - LPIPS``
for BD-rates.

Input normalisation of the ``[0, 1]`` RGB images (``input_norm``):

* ``"imagenet"``: ``(x - mean) / std`` with the ImageNet mean (0.485, 0.456, 0.406) and std
  (0.229, 0.224, 0.225). This is the "LPIPSvgg" of the IQA-pytorch / DISTS code that the GFVC
  common software evaluates with (JVET-AG0042 software ``evaluate/eval_utils/metrics.py``);
  the default for VGG.
* ``"lpips"``: the lpips package's scaling, ``(2 x - 1 - shift) / scale`` with shift
  (-0.030, -0.088, -0.188) and scale (0.458, 0.448, 0.450); the default for AlexNet, and
  with VGG what ``lpips.LPIPS(net="vgg")`` computes. The two normalisations give different
  values (``docs/gfvc_ctc.md#metrics``).

Weights come from ``GFV_METRIC_WEIGHTS`` or ``weights_dir`` (:mod:`.weights`): ``vgg16.pth``
plus ``LPIPSvgg.pt``, or ``alexnet.pth`` plus ``lpips_alex.pth``. Without them every call
raises :class:`MetricUnavailable`.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Literal

import numpy as np
import torch
from torch import nn

from .backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AlexNetFeatures,
    Vgg16Features,
    load_features,
    score_frames,
)
from .common import MetricError, MetricInputError, MetricUnavailable, check_rgb_pair
from .weights import (
    ALEXNET_FILE,
    LPIPS_ALEX_FILE,
    LPIPS_VGG_FILE,
    VGG16_FILE,
    cached_model,
    load_tensors,
    weight_files,
)

logger = logging.getLogger(__name__)

__all__ = ["Lpips", "lpips_per_frame", "lpips_status"]

Net = Literal["vgg", "alex"]
InputNorm = Literal["imagenet", "lpips"]

#: lpips package input scaling applied to 2 x - 1.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
#: Added to the channel norm before dividing (lpips package value).
NORM_EPS = 1e-10
#: Smallest frame side each backbone accepts (relu5 must be at least 1x1).
MIN_SIDE = {"vgg": 16, "alex": 31}
#: (backbone file, linear-weights file) per backbone.
FILES: dict[str, tuple[str, str]] = {
    "vgg": (VGG16_FILE, LPIPS_VGG_FILE),
    "alex": (ALEXNET_FILE, LPIPS_ALEX_FILE),
}
DEFAULT_NORM: dict[str, InputNorm] = {"vgg": "imagenet", "alex": "lpips"}
DEFAULT_BATCH = 8


def _layer_index(key: str, fallback: int) -> int:
    """Layer number in a linear-weights key (``lin3.model.1.weight`` -> 3), else ``fallback``."""
    match = re.search(r"(\d+)", key)
    return int(match.group(1)) if match else fallback


class Lpips(nn.Module):
    """LPIPS distance between image batches.

    Args:
        net: ``"vgg"`` or ``"alex"``.
        input_norm: ``"imagenet"`` or ``"lpips"`` (module docstring).

    ``forward(x, y)``: ``(N, 3, H, W)`` float RGB in [0, 1] each -> ``(N,)`` distances.
    Weights are random until :meth:`load_weights` is called.
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, net: Net = "vgg", input_norm: InputNorm = "imagenet") -> None:
        super().__init__()
        if net not in FILES:
            raise MetricInputError(f"lpips: net must be 'vgg' or 'alex', got {net!r}")
        if input_norm not in ("imagenet", "lpips"):
            raise MetricInputError(f"lpips: input_norm must be imagenet or lpips: {input_norm!r}")
        self.net = net
        self.backbone = Vgg16Features("max") if net == "vgg" else AlexNetFeatures()
        if input_norm == "imagenet":
            shift, scale = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        else:  # (2x - 1 - s) / c  ==  (x - (1 + s) / 2) / (c / 2)
            shift = (1.0 + torch.tensor(LPIPS_SHIFT)) / 2.0
            scale = torch.tensor(LPIPS_SCALE) / 2.0
        self.register_buffer("shift", shift.view(1, 3, 1, 1))
        self.register_buffer("scale", scale.view(1, 3, 1, 1))
        self.linear = nn.ParameterList(nn.Parameter(torch.ones(c), requires_grad=False) for c in self.backbone.channels)
        self.eval()

    def load_weights(self, backbone: dict[str, torch.Tensor], linear: dict[str, torch.Tensor]) -> None:
        """Load a torchvision-style backbone checkpoint and the five linear layers.

        ``linear`` holds one tensor of ``C_l`` values per tap (any shape, e.g. the published
        ``(1, C, 1, 1)``), ordered by the number in their names (``lin0`` .. ``lin4``) or, for
        names without numbers, by file order.

        Raises:
            MetricError: missing entries or wrong shapes.
        """
        load_features(self.backbone, backbone, f"lpips_{self.net}")
        items = list(linear.items())
        if len(items) != len(self.linear):
            raise MetricError(f"lpips_{self.net}: expected {len(self.linear)} linear layers, got {len(items)}")
        order = sorted(range(len(items)), key=lambda i: _layer_index(items[i][0], i))
        for param, i, channels in zip(self.linear, order, self.backbone.channels, strict=True):
            key, tensor = items[i]
            if tensor.numel() != channels:
                raise MetricError(
                    f"lpips_{self.net}: linear layer {key} has {tensor.numel()} weights, expected {channels}"
                )
            param.data.copy_(tensor.reshape(-1).float())

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = self.backbone((x - self.shift) / self.scale)
        fy = self.backbone((y - self.shift) / self.scale)
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for a, b, w in zip(fx, fy, self.linear, strict=True):
            a = a / (torch.sqrt(torch.sum(a * a, dim=1, keepdim=True)) + NORM_EPS)
            b = b / (torch.sqrt(torch.sum(b * b, dim=1, keepdim=True)) + NORM_EPS)
            total = total + torch.einsum("nchw,c->n", (a - b) ** 2, w) / (a.shape[2] * a.shape[3])
        return total


def _load(net: Net, input_norm: InputNorm, weights_dir: str | os.PathLike[str] | None) -> Lpips:
    """The LPIPS model with weights from the weights directory (cached)."""
    what = f"lpips_{net}"
    paths = weight_files(FILES[net], weights_dir, what)

    def build() -> Lpips:
        model = Lpips(net, input_norm)
        model.load_weights(load_tensors(paths[0], what), load_tensors(paths[1], what))
        return model.eval()

    return cached_model(f"lpips-{net}-{input_norm}", paths, build)


def lpips_status(net: Net = "vgg", weights_dir: str | os.PathLike[str] | None = None) -> str | None:
    """``None`` when the weight files of LPIPS-``net`` are in place, else the reason."""
    try:
        weight_files(FILES[net], weights_dir, f"lpips_{net}")
    except MetricUnavailable as exc:
        return str(exc)
    return None


def lpips_per_frame(
    ref: np.ndarray,
    dist: np.ndarray,
    *,
    net: Net = "vgg",
    input_norm: InputNorm | None = None,
    weights_dir: str | os.PathLike[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """LPIPS distance of each frame (0 for identical frames, larger is worse).

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference; min(H, W) >= 16 (VGG) or 31 (Alex).
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        net: backbone, ``"vgg"`` (GFVC CTC) or ``"alex"``.
        input_norm: ``"imagenet"`` or ``"lpips"``; default ImageNet for VGG (GFVC's
            LPIPSvgg), lpips scaling for AlexNet.
        weights_dir: weights directory; ``None`` uses ``$GFV_METRIC_WEIGHTS``.
        batch_size: frames per forward pass.

    Returns:
        ``(N,)`` ``float64`` LPIPS.

    Raises:
        MetricInputError: wrong dtype or shapes, frames too small, bad options.
        MetricUnavailable: weights not configured or missing.
        MetricError: unreadable or mismatching weight files.
    """
    _, h, w = check_rgb_pair(ref, dist, f"lpips_{net}")
    if net not in FILES:
        raise MetricInputError(f"lpips: net must be 'vgg' or 'alex', got {net!r}")
    if min(h, w) < MIN_SIDE[net]:
        raise MetricInputError(f"lpips_{net}: frames {w}x{h} smaller than {MIN_SIDE[net]} pixels")
    if input_norm not in (None, "imagenet", "lpips"):
        raise MetricInputError(f"lpips: input_norm must be imagenet or lpips: {input_norm!r}")
    if batch_size < 1:
        raise MetricInputError(f"lpips: batch_size must be positive, got {batch_size}")
    model = _load(net, input_norm or DEFAULT_NORM[net], weights_dir)
    return score_frames(model, ref, dist, batch_size)
