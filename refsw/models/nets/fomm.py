"""First Order Motion Model (FOMM) networks.

Source: Siarohin, Lathuilière, Tulyakov, Ricci and Sebe, "First Order Motion Model for Image
Animation", NeurIPS 2019 (section 3, appendix A); published configuration ``vox-256``
(keypoint detector: hourglass be 32 / max 1024 / 5 blocks on the 64x64 anti-aliased input,
10 keypoints, softmax temperature 0.1, 7x7 heads; dense motion: hourglass be 64 / max 1024 /
5 blocks, kp variance 0.01; generator: be 64 / max 512, 2 down blocks, 6 bottleneck residual
blocks), which :data:`PUBLISHED` reproduces. The JVET GFVC software wraps this model as
"FOMM" (10 2-D keypoints + a 2x2 Jacobian each per inter picture).

Deviation (option ``image_skip``, on in the configurations trained here): the generator also
warps the key picture itself with the dense motion field and blends it with its decoded output
through a predicted mask, so that a small network trained for a few CPU-hours renders sharp
pictures; with ``image_skip=False`` the generator is exactly the published one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import (
    AntiAliasDownsample,
    DownBlock2d,
    Hourglass,
    NetConfig,
    ResBlock2d,
    SameBlock2d,
    UpBlock2d,
    coordinate_grid,
    heads,
    heatmap_to_kp,
    kp_to_gaussian,
    like_weights,
    spatial_softmax,
    warp,
)


@dataclass(frozen=True)
class FOMMConfig(NetConfig):
    """Widths and options of a FOMM instance (defaults: the published ``vox-256`` values)."""

    num_kp: int = 10
    kp_block_expansion: int = 32
    kp_max_features: int = 1024
    kp_num_blocks: int = 5
    temperature: float = 0.1
    kp_pad: int = 0
    scale_factor: float = 0.25
    dm_block_expansion: int = 64
    dm_max_features: int = 1024
    dm_num_blocks: int = 5
    kp_variance: float = 0.01
    gen_block_expansion: int = 64
    gen_max_features: int = 512
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    image_skip: bool = False
    norm: str = "batch"


#: The published ``vox-256`` configuration.
PUBLISHED = FOMMConfig()


class KPDetector(nn.Module):
    """Unsupervised keypoint detector: ``image (B, 3, H, W)`` float32 in [0, 1] ->
    ``{"value": (B, K, 2), "jacobian": (B, K, 2, 2)}`` normalised (x, y)."""

    def __init__(self, cfg: FOMMConfig) -> None:
        super().__init__()
        self.down = AntiAliasDownsample(3, cfg.scale_factor)
        self.predictor = Hourglass(cfg.kp_block_expansion, 3, cfg.kp_num_blocks, cfg.kp_max_features, cfg.norm)
        c = self.predictor.out_filters
        self.kp = nn.Conv2d(c, cfg.num_kp, 7, padding=cfg.kp_pad)
        self.jacobian = nn.Conv2d(c, 4 * cfg.num_kp, 7, padding=cfg.kp_pad)
        nn.init.zeros_(self.jacobian.weight)
        assert self.jacobian.bias is not None  # bias=True
        with torch.no_grad():
            self.jacobian.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0]).repeat(cfg.num_kp))
        self.temperature = cfg.temperature
        self.num_kp = cfg.num_kp

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feat = self.predictor(self.down(image))
        heat = spatial_softmax(self.kp(feat), self.temperature)
        value = heatmap_to_kp(heat)
        jac_map = self.jacobian(feat).view(feat.shape[0], self.num_kp, 4, *heat.shape[2:])
        jac = (heat.unsqueeze(2) * jac_map).flatten(3).sum(-1).view(-1, self.num_kp, 2, 2)
        return {"value": value, "jacobian": jac}


class DenseMotionNetwork(nn.Module):
    """Dense motion from sparse first-order motions: ``deformation (B, h, w, 2)`` and
    ``occlusion (B, 1, h, w)`` at ``scale_factor`` x the picture size."""

    def __init__(self, cfg: FOMMConfig) -> None:
        super().__init__()
        k = cfg.num_kp
        self.down = AntiAliasDownsample(3, cfg.scale_factor)
        self.hourglass = Hourglass(
            cfg.dm_block_expansion, (k + 1) * 4, cfg.dm_num_blocks, cfg.dm_max_features, cfg.norm
        )
        self.mask = nn.Conv2d(self.hourglass.out_filters, k + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, 7, padding=3)
        self.num_kp = k
        self.variance = cfg.kp_variance

    def sparse_motions(self, h: int, w: int, kp_driving: dict, kp_source: dict) -> torch.Tensor:
        """``(B, K+1, h, w, 2)``: identity (background) then, per keypoint, the first-order
        approximation ``kp_s + J_s J_d^-1 (z - kp_d)``."""
        b = kp_driving["value"].shape[0]
        grid = coordinate_grid(h, w).to(kp_driving["value"])[None, None]
        rel = grid - kp_driving["value"].view(b, self.num_kp, 1, 1, 2)
        if "jacobian" in kp_driving:
            jac = kp_source["jacobian"] @ torch.inverse(kp_driving["jacobian"])
            rel = (jac.view(b, self.num_kp, 1, 1, 2, 2) @ rel.unsqueeze(-1)).squeeze(-1)
        motions = rel + kp_source["value"].view(b, self.num_kp, 1, 1, 2)
        return torch.cat([grid.expand(b, 1, h, w, 2), motions], dim=1)

    def prepare(self, source: torch.Tensor, kp_source: dict) -> dict[str, torch.Tensor]:
        """What depends on the source picture alone (the decoder computes it once per key
        picture): the anti-aliased source ``(B, 3, h, w)`` and its keypoints' heatmaps
        ``(B, K, h, w)``."""
        src = self.down(source)
        return {
            "source_small": src,
            "source_heat": kp_to_gaussian(kp_source["value"], tuple(src.shape[2:]), self.variance),
        }

    def forward(
        self, source: torch.Tensor, kp_driving: dict, kp_source: dict, prepared: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """``prepared``: :meth:`prepare` of ``source`` and ``kp_source`` (computed here when
        ``None``)."""
        prepared = self.prepare(source, kp_source) if prepared is None else prepared
        src = prepared["source_small"]
        b, _, h, w = src.shape
        heat = kp_to_gaussian(kp_driving["value"], (h, w), self.variance) - prepared["source_heat"]
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1).unsqueeze(2)
        motions = self.sparse_motions(h, w, kp_driving, kp_source)
        k1 = self.num_kp + 1
        deformed = F.grid_sample(
            src.repeat_interleave(k1, 0), motions.flatten(0, 1), padding_mode="border", align_corners=True
        ).view(b, k1, 3, h, w)
        feat = self.hourglass(like_weights(torch.cat([heat, deformed], dim=2).view(b, k1 * 4, h, w), self.mask))
        mask_logits, occlusion = heads(self, feat, "mask", "occlusion")
        mask = F.softmax(mask_logits, dim=1)
        deformation = (mask.unsqueeze(-1) * motions).sum(1)
        return {"deformation": deformation, "occlusion": torch.sigmoid(occlusion), "mask": mask}


class WarpingGenerator(nn.Module):
    """FOMM's occlusion-aware encoder / feature warp / bottleneck / decoder, without the motion
    network (shared by FOMM and CFTE/CTTR): ``decode(source (B, 3, H, W), features, motion)
    -> {"prediction": (B, 3, H, W) float32 in [0, 1], ...}``."""

    def __init__(
        self, be: int, mx: int, num_down_blocks: int, num_bottleneck_blocks: int, image_skip: bool, norm: str = "batch"
    ) -> None:
        super().__init__()
        self.first = SameBlock2d(3, be, 7, norm)
        widths = [min(mx, be * 2**i) for i in range(num_down_blocks + 1)]
        self.down = nn.ModuleList(DownBlock2d(widths[i], widths[i + 1], norm=norm) for i in range(num_down_blocks))
        self.bottleneck = nn.Sequential(*(ResBlock2d(widths[-1], norm=norm) for _ in range(num_bottleneck_blocks)))
        self.up = nn.ModuleList(
            UpBlock2d(widths[i + 1], widths[i], norm=norm) for i in reversed(range(num_down_blocks))
        )
        self.final = nn.Conv2d(be, 3, 7, padding=3)
        self.image_skip = nn.Conv2d(be, 1, 7, padding=3) if image_skip else None
        if self.image_skip is not None:  # start close to the warped key picture (mask ~ 0.88)
            assert self.image_skip.bias is not None  # bias=True
            nn.init.constant_(self.image_skip.bias, 2.0)

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        """Appearance features ``(B, C, H/2^n, W/2^n)`` of the source picture (computed once per
        key picture)."""
        out = self.first(source)
        for block in self.down:
            out = block(out)
        return out

    def decode(
        self, source: torch.Tensor, features: torch.Tensor, motion: dict, crop: tuple[int, int, int] | None = None
    ) -> dict[str, torch.Tensor]:
        """Warps ``features`` with ``motion["deformation"]`` ``(B, h, w, 2)``, multiplies by
        ``motion["occlusion"]`` ``(B, 1, h, w)`` and decodes the output picture.

        ``crop = (y0, x0, size)`` in feature samples decodes only that window (training on
        patches: the output is the window scaled by 2^num_down_blocks)."""
        out = warp(features, motion["deformation"])
        occ = motion["occlusion"]
        if occ.shape[2:] != out.shape[2:]:
            occ = F.interpolate(occ, size=out.shape[2:], mode="bilinear", align_corners=False)
        out = like_weights(out * occ, self.final)
        if crop is not None:
            y0, x0, n = crop
            out = out[:, :, y0 : y0 + n, x0 : x0 + n]
        out = self.bottleneck(out)
        for block in self.up:
            out = block(out)
        if self.image_skip is None:
            final, skip = self.final(out), None
        else:
            final, skip = heads(self, out, "final", "image_skip")
        pred = torch.sigmoid(final)
        result = {"decoded": pred}
        if skip is not None:
            deformed = warp(source, motion["deformation"])
            if crop is not None:
                f = source.shape[-1] // features.shape[-1]
                deformed = deformed[:, :, f * y0 : f * (y0 + n), f * x0 : f * (x0 + n)]
            m = torch.sigmoid(skip)
            pred = m * deformed + (1 - m) * pred
            result["skip_mask"] = m
        result["prediction"] = pred
        return result


class OcclusionAwareGenerator(WarpingGenerator):
    """FOMM generator: dense motion network + :class:`WarpingGenerator`; ``forward(source,
    kp_driving, kp_source) -> {"prediction": (B, 3, H, W), "deformation", "occlusion", ...}``."""

    def __init__(self, cfg: FOMMConfig) -> None:
        super().__init__(
            cfg.gen_block_expansion,
            cfg.gen_max_features,
            cfg.num_down_blocks,
            cfg.num_bottleneck_blocks,
            cfg.image_skip,
            cfg.norm,
        )
        self.dense_motion = DenseMotionNetwork(cfg)

    def forward(
        self,
        source: torch.Tensor,
        kp_driving: dict,
        kp_source: dict,
        features: torch.Tensor | None = None,
        crop: tuple[int, int, int] | None = None,
    ) -> dict[str, torch.Tensor]:
        motion = self.dense_motion(source, kp_driving, kp_source)
        out = self.decode(source, self.encode(source) if features is None else features, motion, crop)
        out.update(motion)
        return out


class FOMM(nn.Module):
    """Keypoint detector (encoder-side analysis and decoder-side key-picture re-analysis) and
    generator of one FOMM instance."""

    def __init__(self, cfg: FOMMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.kp_detector = KPDetector(cfg)
        self.generator = OcclusionAwareGenerator(cfg)
