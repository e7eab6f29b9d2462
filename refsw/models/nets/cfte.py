"""CFTE and CTTR networks: one 4x4 compact feature per picture.

Sources:
- CFTE: Chen, Wang, Li, Ye and Kwong, "Beyond Keypoint Coding: Temporal Evolution Inference
  with Compact Feature Representation for Talking Face Video Compression", DCC 2022. The
  extractor is FOMM's hourglass on the 64x64 anti-aliased picture followed by four 5x5
  stride-2 convolutions with GDN and one channel (64 -> 32 -> 16 -> 8 -> 4x4). The motion
  network upsamples the two 4x4 features through four up blocks to 64x64 and takes their
  difference as a heatmap; a sparse motion is OpenCV's Farnebäck optical flow between the two
  4x4 maps (min-max normalised to uint8; pyramid 0.5, 2 levels, window 15, 3 iterations,
  poly_n 5, sigma 1.2) that warps a 4x4 encoding of the source (4 down blocks, 4 residual
  blocks, 4 up blocks) into a deformed source; an hourglass (4 input channels) predicts the
  dense flow and the occlusion map; the generator is FOMM's.
- CTTR: Chen, Wang, Li, Lin, Wang and Kwong, "Compact Temporal Trajectory Representation for
  Talking Face Video Compression", IEEE TCSVT 2023 (software ``CFTE_2.0``). Same 4x4 feature;
  the motion network also sees the temporal trajectory (the previous picture's feature), and
  resolutions 64k x 64k are handled by analysing the picture downscaled by 1/k so the feature
  stays 4x4 while motion is estimated on a 64x64 grid and the generator runs at full size.

:data:`PUBLISHED` holds the published widths (be 32 / max 1024 / 5 blocks extractor; motion
hourglass be 64 / max 512 / 4 blocks; FOMM generator). ``image_skip`` as in
:mod:`refsw.models.nets.fomm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import (
    GDN,
    AntiAliasDownsample,
    DownBlock2d,
    Hourglass,
    NetConfig,
    ResBlock2d,
    UpBlock2d,
    coordinate_grid,
    heads,
    like_weights,
    warp,
)
from .fomm import WarpingGenerator

FEATURE_SIZE = 4


@dataclass(frozen=True)
class CFTEConfig(NetConfig):
    """Widths and options (defaults: the published CFTE values)."""

    ex_block_expansion: int = 32
    ex_max_features: int = 1024
    ex_num_blocks: int = 5
    motion_size: int = 64
    up_channels: int = 1
    src_channels: tuple[int, ...] = (64, 128, 256, 512)
    dm_block_expansion: int = 64
    dm_max_features: int = 512
    dm_num_blocks: int = 4
    gen_block_expansion: int = 64
    gen_max_features: int = 512
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    image_skip: bool = False
    trajectory: bool = False
    norm: str = "batch"


PUBLISHED = CFTEConfig()


def _to_motion_size(image: torch.Tensor, size: int, down: AntiAliasDownsample) -> torch.Tensor:
    if image.shape[-1] != size * 4:
        image = F.interpolate(image, size=(size * 4, size * 4), mode="bilinear", align_corners=False, antialias=True)
    return down(image)


class FeatureExtractor(nn.Module):
    """``image (B, 3, H, W)`` float32 in [0, 1] -> compact feature ``(B, 1, 4, 4)`` float32.
    Any square size is first brought to 256 (CTTR's 1/k downscaling), then anti-aliased to
    ``motion_size``."""

    def __init__(self, cfg: CFTEConfig) -> None:
        super().__init__()
        self.size = cfg.motion_size
        self.down = AntiAliasDownsample(3, 0.25)
        self.predictor = Hourglass(cfg.ex_block_expansion, 3, cfg.ex_num_blocks, cfg.ex_max_features, cfg.norm)
        layers: list[nn.Module] = []
        c = self.predictor.out_filters
        n = int(np.log2(cfg.motion_size // FEATURE_SIZE))
        for i in range(n):
            layers += [nn.Conv2d(c if i == 0 else 1, 1, 5, stride=2, padding=2), GDN(1)]
        self.compress = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.compress(self.predictor(_to_motion_size(image, self.size, self.down)))


def farneback_flow(driving: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Sparse motion between two feature maps with OpenCV's Farnebäck optical flow.

    Args:
        driving / source: ``(B, 1, 4, 4)`` float32 features.

    Returns:
        ``(B, 4, 4, 2)`` float32 normalised displacement: the driving map at ``p`` matches the
        source map at ``p + flow`` (no gradient: the flow is computed on the CPU per picture).
    """
    import cv2

    out = np.zeros((driving.shape[0], driving.shape[2], driving.shape[3], 2), dtype=np.float32)
    d_np, s_np = driving.detach().cpu().numpy()[:, 0], source.detach().cpu().numpy()[:, 0]
    for b in range(len(out)):
        maps = []
        for m in (d_np[b], s_np[b]):
            lo, hi = float(m.min()), float(m.max())
            maps.append(np.uint8(np.round(255 * (m - lo) / (hi - lo))) if hi > lo else np.zeros(m.shape, np.uint8))
        # type: ignore: OpenCV's stubs do not accept flow=None (valid at run time: allocates the
        # output) and numpy's stubs type np.uint8(array) as a scalar
        out[b] = cv2.calcOpticalFlowFarneback(maps[0], maps[1], None, 0.5, 2, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload]
    scale = np.array([2.0 / (driving.shape[3] - 1), 2.0 / (driving.shape[2] - 1)], dtype=np.float32)
    return torch.from_numpy(out * scale)


class CFTEMotion(nn.Module):
    """Dense motion from two compact features: ``deformation (B, 64, 64, 2)``, ``occlusion
    (B, 1, 64, 64)``."""

    def __init__(self, cfg: CFTEConfig) -> None:
        super().__init__()
        self.size = cfg.motion_size
        n = int(np.log2(cfg.motion_size // FEATURE_SIZE))
        cin = 2 if cfg.trajectory else 1
        ups = [UpBlock2d(cin if i == 0 else cfg.up_channels, cfg.up_channels, norm=cfg.norm) for i in range(n)]
        self.feature_up = nn.Sequential(*ups)
        self.down = AntiAliasDownsample(3, 0.25)
        ch = (3,) + tuple(cfg.src_channels)
        self.src_down = nn.Sequential(*(DownBlock2d(ch[i], ch[i + 1], norm=cfg.norm) for i in range(n)))
        self.src_res = nn.Sequential(*(ResBlock2d(ch[n], norm=cfg.norm) for _ in range(4)))
        self.src_up = nn.Sequential(
            *(UpBlock2d(ch[n - i], ch[n - i - 1] if i < n - 1 else 8, norm=cfg.norm) for i in range(n))
        )
        self.src_out = nn.Conv2d(8, 3, 3, padding=1)
        self.hourglass = Hourglass(
            cfg.dm_block_expansion, 3 + cfg.up_channels, cfg.dm_num_blocks, cfg.dm_max_features, cfg.norm
        )
        self.flow = nn.Conv2d(self.hourglass.out_filters, 2, 7, padding=3)
        nn.init.zeros_(self.flow.weight)
        assert self.flow.bias is not None  # bias=True
        nn.init.zeros_(self.flow.bias)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, 7, padding=3)
        self.trajectory = cfg.trajectory

    def _up(self, feat: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
        if self.trajectory:
            feat = torch.cat([feat, feat - (feat if prev is None else prev)], dim=1)
        return self.feature_up(feat)

    def prepare(self, source: torch.Tensor, feat_source: torch.Tensor) -> dict[str, torch.Tensor]:
        """What depends on the source picture alone (the decoder computes it once per key
        picture): the source at the motion size ``(B, 3, s, s)``, its encoding ``(B, C, 4, 4)``
        and the up-sampled source feature ``(B, up_channels, s, s)``."""
        src = _to_motion_size(source, self.size, self.down)
        return {
            "source_small": src,
            "source_encoded": self.src_down(src),
            "source_up": self._up(feat_source, feat_source),
        }

    def forward(
        self,
        source: torch.Tensor,
        feat_driving: torch.Tensor,
        feat_source: torch.Tensor,
        feat_previous: torch.Tensor | None = None,
        prepared: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """``prepared``: :meth:`prepare` of ``source`` and ``feat_source`` (computed here when
        ``None``)."""
        prepared = self.prepare(source, feat_source) if prepared is None else prepared
        src = prepared["source_small"]
        heat = self._up(feat_driving, feat_previous) - prepared["source_up"]
        grid4 = coordinate_grid(FEATURE_SIZE, FEATURE_SIZE).to(src)[None]
        sparse = grid4 + farneback_flow(feat_driving, feat_source).to(src)
        enc = warp(prepared["source_encoded"], sparse)
        deformed_src = torch.sigmoid(self.src_out(self.src_up(self.src_res(enc))))
        feat = self.hourglass(like_weights(torch.cat([deformed_src, heat], dim=1), self.flow))
        sparse_up = F.interpolate(
            sparse.permute(0, 3, 1, 2), size=(self.size, self.size), mode="bilinear", align_corners=True
        )
        flow, occlusion = heads(self, feat, "flow", "occlusion")
        deformation = (sparse_up + flow).permute(0, 2, 3, 1)
        return {"deformation": deformation, "occlusion": torch.sigmoid(occlusion), "deformed_source": deformed_src}


class CFTEGenerator(WarpingGenerator):
    """CFTE/CTTR generator: :class:`CFTEMotion` + FOMM's :class:`WarpingGenerator`."""

    def __init__(self, cfg: CFTEConfig) -> None:
        super().__init__(
            cfg.gen_block_expansion,
            cfg.gen_max_features,
            cfg.num_down_blocks,
            cfg.num_bottleneck_blocks,
            cfg.image_skip,
            cfg.norm,
        )
        self.dense_motion = CFTEMotion(cfg)

    def forward(
        self,
        source: torch.Tensor,
        feat_driving: torch.Tensor,
        feat_source: torch.Tensor,
        feat_previous: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        crop: tuple[int, int, int] | None = None,
    ) -> dict[str, torch.Tensor]:
        motion = self.dense_motion(source, feat_driving, feat_source, feat_previous)
        out = self.decode(source, self.encode(source) if features is None else features, motion, crop)
        out.update(motion)
        return out


class CFTE(nn.Module):
    """Feature extractor and generator of one CFTE (or CTTR, ``trajectory=True``) instance."""

    def __init__(self, cfg: CFTEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.extractor = FeatureExtractor(cfg)
        self.generator = CFTEGenerator(cfg)
