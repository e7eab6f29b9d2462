"""Building blocks shared by the FOMM, CFTE/CTTR and FV2V networks.

Architecture as published for the First Order Motion Model (Siarohin et al., "First Order
Motion Model for Image Animation", NeurIPS 2019, section 3 and appendix) and reused by CFTE
(Chen et al., "Beyond Keypoint Coding: Temporal Evolution Inference with Compact Feature
Representation for Talking Face Video Compression", DCC 2022) and face-vid2vid (Wang et al.,
"One-Shot Free-View Neural Talking-Head Synthesis for Video Conferencing", CVPR 2021): an
hourglass (U-Net) of down/up blocks whose width doubles per level from ``block_expansion``
up to ``max_features``. Every width is a constructor argument, so the published widths and
the small widths trained here share one implementation.

Coordinates are normalised, ``(x, y[, z])`` in [-1, 1] with ``align_corners=True`` sampling
(-1 and +1 are the centres of the first and last sample).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn


class NetConfig:
    """Base of the network config dataclasses (FOMM, CFTE/CTTR, FV2V)."""

    def as_dict(self) -> dict:
        """Plain dict (stored in checkpoints; tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]


def coordinate_grid(height: int, width: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(H, W, 2)`` grid of normalised ``(x, y)`` sample positions."""
    y = torch.linspace(-1.0, 1.0, height, dtype=dtype)
    x = torch.linspace(-1.0, 1.0, width, dtype=dtype)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx, yy], dim=-1)


def coordinate_grid_3d(depth: int, height: int, width: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(D, H, W, 3)`` grid of normalised ``(x, y, z)`` sample positions."""
    z = torch.linspace(-1.0, 1.0, depth, dtype=dtype)
    y = torch.linspace(-1.0, 1.0, height, dtype=dtype)
    x = torch.linspace(-1.0, 1.0, width, dtype=dtype)
    zz, yy, xx = torch.meshgrid(z, y, x, indexing="ij")
    return torch.stack([xx, yy, zz], dim=-1)


def motion_2d(deformation: torch.Tensor) -> torch.Tensor:
    """A 2-D motion field ``(B, h, w, 2)``: as it is, or a 3-D field ``(B, d, h, w, 3)`` (FV2V)
    with x, y averaged over depth."""
    return deformation if deformation.dim() == 4 else deformation[..., :2].mean(1)


def displacement(field: torch.Tensor) -> torch.Tensor:
    """A 2-D sampling field ``(B, h, w, 2)`` minus the identity: how far each sample moves
    (normalised units)."""
    return field - coordinate_grid(field.shape[1], field.shape[2]).to(field)[None]


def warp(inp: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Backward warp: ``inp`` ``(B, C, H, W)`` (or ``(B, C, D, H, W)``) sampled at ``grid``
    ``(B, H', W', 2)`` (``(B, D', H', W', 3)``) normalised positions; the grid is resized to the
    input's spatial size first when they differ."""
    spatial = inp.shape[2:]
    if grid.shape[1:-1] != spatial:
        mode = "bilinear" if grid.dim() == 4 else "trilinear"
        g = grid.permute(0, grid.dim() - 1, *range(1, grid.dim() - 1)).contiguous()  # 2.5x faster than the view
        grid = F.interpolate(g, size=spatial, mode=mode, align_corners=True)
        grid = grid.permute(0, *range(2, grid.dim()), 1)
    return F.grid_sample(inp, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _channels_last(conv: nn.Conv2d) -> bool:
    """Whether ``conv``'s weights are in the channels-last memory format (the decoder's copies)."""
    return conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()


def like_weights(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``x`` ``(B, C, H, W)`` in the memory format of ``conv``'s weights (channels-last for the
    decoder's networks), so that oneDNN does not convert it in every convolution; same values."""
    return x.contiguous(memory_format=torch.channels_last) if _channels_last(conv) else x


def heads(module: nn.Module, x: torch.Tensor, *names: str) -> list[torch.Tensor]:
    """The convolutions ``module.<name>`` (same input ``x``) applied to ``x``, one output per
    name; computed by one convolution when :func:`fuse_heads` fused them (the same values)."""
    fused = module.__dict__.get("fused_heads")
    if fused is not None and fused[0] == names:
        _, conv, sizes, formats = fused
        return [t.contiguous(memory_format=f) for t, f in zip(conv(x).split(sizes, dim=1), formats)]
    return [getattr(module, n)(x) for n in names]


def fuse_heads(module: nn.Module, *names: str) -> None:
    """Inference only: makes :func:`heads` compute the convolutions ``module.<name>`` (same input,
    kernel, padding, dtype) as one convolution over their concatenated output channels. Every
    output channel is the same dot product as before (bit-identical, checked in the tests), the
    input is read once (the decoder's two 7x7 heads: about 2x faster). The fused weights are a
    copy outside the state dict: fuse after the last change to the weights (dtype, memory
    format)."""
    convs = [getattr(module, n) for n in names]
    first = convs[0]
    conv = nn.Conv2d(
        first.in_channels, sum(c.out_channels for c in convs), first.kernel_size, padding=first.padding, bias=True
    ).to(first.weight.dtype)
    assert conv.bias is not None  # bias=True
    with torch.no_grad():
        conv.weight.copy_(torch.cat([c.weight for c in convs]))
        conv.bias.copy_(torch.cat([c.bias for c in convs]))
    cl = _channels_last(first)
    if cl:
        # type: ignore: torch's stubs lack Module.to(memory_format=), which exists at run time
        conv = conv.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    # each output in the memory format its own convolution gives (later kernels round alike;
    # a one-channel output is plain contiguous)
    formats = [torch.channels_last if cl and c.out_channels > 1 else torch.contiguous_format for c in convs]
    module.__dict__["fused_heads"] = (names, conv.eval(), [c.out_channels for c in convs], formats)


def _norm(kind: str, channels: int, dims: int = 2) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm3d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    raise ValueError(f"unknown normalisation {kind!r}")


class SameBlock2d(nn.Module):
    """conv(k) + norm + ReLU, same resolution."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.norm = _norm(norm, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)))


class DownBlock2d(nn.Module):
    """conv 3x3 + norm + ReLU + 2x2 average pooling (half resolution)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.norm = _norm(norm, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.relu(self.norm(self.conv(x))), 2)


class UpBlock2d(nn.Module):
    """2x nearest upsampling + conv 3x3 + norm + ReLU (double resolution)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, norm: str = "batch") -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.norm = _norm(norm, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2.0))))


class ResBlock2d(nn.Module):
    """Pre-activation residual block: (norm, ReLU, conv 3x3) x 2 + identity."""

    def __init__(self, channels: int, kernel: int = 3, norm: str = "batch") -> None:
        super().__init__()
        self.norm1, self.norm2 = _norm(norm, channels), _norm(norm, channels)
        self.conv1 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(out)))


class ResBlock3d(nn.Module):
    """3-D pre-activation residual block (face-vid2vid appearance features)."""

    def __init__(self, channels: int, norm: str = "batch") -> None:
        super().__init__()
        self.norm1, self.norm2 = _norm(norm, channels, 3), _norm(norm, channels, 3)
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(out)))


class Hourglass(nn.Module):
    """U-Net hourglass: ``num_blocks`` down blocks (width ``min(max_features, be * 2^(i+1))``),
    the mirrored up blocks with skip concatenation; the output has ``be + in_features``
    channels at the input resolution (FOMM appendix, Fig. 7). ``down_block`` / ``up_block``
    (``(cin, cout, norm=)`` factories) give other variants, e.g. face-vid2vid's 3-D one."""

    def __init__(
        self,
        block_expansion: int,
        in_features: int,
        num_blocks: int = 3,
        max_features: int = 256,
        norm: str = "batch",
        down_block: Callable[..., nn.Module] = DownBlock2d,
        up_block: Callable[..., nn.Module] = UpBlock2d,
    ) -> None:
        super().__init__()
        widths = [in_features] + [min(max_features, block_expansion * 2 ** (i + 1)) for i in range(num_blocks)]
        self.down = nn.ModuleList(down_block(widths[i], widths[i + 1], norm=norm) for i in range(num_blocks))
        ups = []
        for i in reversed(range(num_blocks)):
            cin = widths[i + 1] * (1 if i == num_blocks - 1 else 2)
            cout = min(max_features, block_expansion * 2**i)
            ups.append(up_block(cin, cout, norm=norm))
        self.up = nn.ModuleList(ups)
        self.out_filters = block_expansion + in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.down:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.up:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return out


class AntiAliasDownsample(nn.Module):
    """Gaussian low-pass then subsampling by ``scale`` < 1 (FOMM's ``AntiAliasInterpolation2d``)."""

    weight: torch.Tensor  # a buffer (register_buffer)

    def __init__(self, channels: int, scale: float) -> None:
        super().__init__()
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        self.ka = size // 2
        self.step = round(1 / scale)
        ax = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        g = torch.exp(-(ax**2) / (2 * sigma**2))
        kernel = g[:, None] * g[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("weight", kernel.expand(channels, 1, size, size).contiguous(), persistent=False)
        self.groups = channels
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1.0:
            return x
        out = F.conv2d(F.pad(x, (self.ka,) * 4, mode="replicate"), self.weight, groups=self.groups)
        return out[:, :, :: self.step, :: self.step]


class GDN(nn.Module):
    """Generalised divisive normalisation, ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``
    (Ballé, Laparra and Simoncelli, "Density Modeling of Images Using a Generalized Normalization
    Transformation", ICLR 2016); parameters kept positive by squaring."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        gamma = (self.gamma**2).view(c, c, 1, 1)
        return x / torch.sqrt(F.conv2d(x * x, gamma, self.beta**2 + 1e-6))


def kp_to_gaussian(kp: torch.Tensor, spatial: tuple[int, ...], variance: float) -> torch.Tensor:
    """Gaussian heatmaps ``(B, K, *spatial)`` centred on ``kp`` ``(B, K, 2 or 3)`` normalised.

    Values below the smallest normal number of the dtype (float32: 1.18e-38) are set to 0: a
    Gaussian's far tail is subnormal, and subnormal inputs make the CPU's float32 convolutions
    several times slower (``benchmarks/bench_models.py``: FOMM's motion network 2x)."""
    dims = kp.shape[-1]
    grid = (
        coordinate_grid(*cast("tuple[int, int]", spatial))
        if dims == 2
        else coordinate_grid_3d(*cast("tuple[int, int, int]", spatial))
    ).to(kp)
    diff = grid[None, None] - kp.view(kp.shape[0], kp.shape[1], *([1] * dims), dims)
    heat = torch.exp(-0.5 * (diff**2).sum(-1) / variance)
    return torch.where(heat < torch.finfo(heat.dtype).tiny, 0.0, heat)


def heatmap_to_kp(heatmap: torch.Tensor) -> torch.Tensor:
    """Expected position ``(B, K, 2 or 3)`` of softmax-normalised heatmaps ``(B, K, *spatial)``."""
    spatial = heatmap.shape[2:]
    grid = (coordinate_grid(*spatial) if len(spatial) == 2 else coordinate_grid_3d(*spatial)).to(heatmap)
    return (heatmap.unsqueeze(-1) * grid).flatten(2, -2).sum(2)


def spatial_softmax(x: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax over all spatial positions of ``(B, K, *spatial)``."""
    shape = x.shape
    return F.softmax(x.flatten(2) / temperature, dim=2).view(shape)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
