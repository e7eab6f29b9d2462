"""face-vid2vid (FV2V) networks: canonical 3-D keypoints, head pose and expression deltas.

Source: Wang, Mallya and Liu, "One-Shot Free-View Neural Talking-Head Synthesis for Video
Conferencing", CVPR 2021 (section 3, appendix), the configuration wrapped by the JVET GFVC
software ("Vox-256-Beta"): a canonical-keypoint detector (2-D hourglass be 32 / max 1024 /
5 blocks, its output reshaped to a 3-D volume of depth 16, a 3x3x3 convolution giving 15
3-D heatmaps); a head-pose / expression estimator (ResNet bottleneck stack, heads for yaw,
pitch and roll as 66 bins of 3 degrees, translation (3) and expression deltas (15 x 3));
keypoints ``kp = R kp_c + t + delta`` (no Jacobians); a generator that lifts the source to
3-D appearance features (2 down blocks, 1x1 convolution, reshape to 32 channels x depth 16,
six 3-D residual blocks), warps them with a 3-D dense motion field (3-D hourglass on the
keypoint heatmaps and the deformed features, K+1 masks, occlusion map), projects back to 2-D
and decodes (six 2-D residual blocks, up blocks). :data:`PUBLISHED` holds those widths;
``image_skip`` as in :mod:`refsw.models.nets.fomm` (uses the depth-averaged x/y motion).
"""

from __future__ import annotations

import math
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
    ResBlock3d,
    SameBlock2d,
    UpBlock2d,
    _norm,
    coordinate_grid_3d,
    heatmap_to_kp,
    kp_to_gaussian,
    motion_2d,
    spatial_softmax,
    warp,
)

#: Head-pose bins: angle in degrees = sum(softmax * index) * 3 - 99 (66 bins).
NUM_BINS = 66


@dataclass(frozen=True)
class FV2VConfig(NetConfig):
    """Widths and options (defaults: the published values)."""

    num_kp: int = 15
    kp_block_expansion: int = 32
    kp_max_features: int = 1024
    kp_num_blocks: int = 5
    kp_reshape_channels: int = 1024
    kp_depth: int = 16
    kp_scale_factor: float = 1.0
    temperature: float = 0.1
    he_block_expansion: int = 64
    he_scale_factor: float = 1.0
    gen_block_expansion: int = 64
    gen_max_features: int = 512
    feat_channels: int = 32
    feat_depth: int = 16
    num_resblocks_3d: int = 6
    dm_block_expansion: int = 32
    dm_max_features: int = 1024
    dm_num_blocks: int = 5
    dm_compress: int = 4
    dm_mask_kernel: int = 7
    motion_scale_factor: float = 0.25
    kp_variance: float = 0.01
    num_resblocks_2d: int = 6
    image_skip: bool = False
    norm: str = "batch"
    #: the encoder takes each non-key picture's head rotation and translation from the Face Mesh
    #: head pose relative to the key picture's (:func:`mesh_relative_pose`), the estimator giving
    #: the key picture's pose and every picture's expression deltas (a deviation from
    #: face-vid2vid, whose estimator is supervised by a pre-trained pose network; docs/models.md)
    mesh_pose: bool = False


PUBLISHED = FV2VConfig()


def rotation_matrix(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """``(B, 3, 3)`` rotation ``R = R_pitch(x) R_yaw(y) R_roll(z)`` from angles ``(B,)`` in degrees."""
    p, y, r = (a * math.pi / 180 for a in (pitch, yaw, roll))
    o, z = torch.ones_like(p), torch.zeros_like(p)
    rx = torch.stack([o, z, z, z, p.cos(), -p.sin(), z, p.sin(), p.cos()], 1).view(-1, 3, 3)
    ry = torch.stack([y.cos(), z, y.sin(), z, o, z, -y.sin(), z, y.cos()], 1).view(-1, 3, 3)
    rz = torch.stack([r.cos(), -r.sin(), z, r.sin(), r.cos(), z, z, z, o], 1).view(-1, 3, 3)
    return rx @ ry @ rz


def transform_keypoints(
    kp_canonical: torch.Tensor, rotation: torch.Tensor, translation: torch.Tensor, expression: torch.Tensor
) -> torch.Tensor:
    """``kp = R kp_c + t + delta``: ``(B, K, 3)`` from ``kp_c (B, K, 3)``, ``R (B, 3, 3)``,
    ``t (B, 3)``, ``delta (B, K, 3)``."""
    return kp_canonical @ rotation.transpose(1, 2) + translation[:, None] + expression


def mesh_relative_pose(
    rotation: torch.Tensor,
    translation: torch.Tensor,
    mesh_rotation: torch.Tensor,
    mesh_translation: torch.Tensor,
    key_mesh_rotation: torch.Tensor,
    key_mesh_translation: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A picture's FV2V head pose from the key picture's and the Face Mesh head motion between
    them (:attr:`FV2VConfig.mesh_pose`).

    The head moves rigidly about its own centre: with the key picture's FV2V pose ``(R_k, t_k)``,
    the Face Mesh head poses ``(M_k, T_k)`` of the key picture and ``(M, T)`` of the picture
    (:func:`refsw.models.face3d.head_pose`: rotation, translation in the same normalised [-1, 1]
    picture coordinates as the keypoints) and ``Q = M M_k^T``, the picture's keypoints are
    ``Q (kp_k - T_k) + T``, so ``R = Q R_k`` and ``t = Q (t_k - T_k) + T``.

    Args:
        rotation, translation: ``(B, 3, 3)``, ``(B, 3)`` float32: the key picture's FV2V pose.
        mesh_rotation, mesh_translation: ``(B, 3, 3)``, ``(B, 3)``: the picture's Face Mesh pose.
        key_mesh_rotation, key_mesh_translation: the key picture's Face Mesh pose, same shapes.

    Returns:
        ``(R (B, 3, 3), t (B, 3))``; the key picture's own pose where the mesh poses are equal.
    """
    q = mesh_rotation @ key_mesh_rotation.transpose(1, 2)
    t = (q @ (translation - key_mesh_translation)[..., None])[..., 0] + mesh_translation
    return q @ rotation, t


class CanonicalKPDetector(nn.Module):
    """``image (B, 3, H, W)`` in [0, 1] -> canonical keypoints ``(B, K, 3)`` normalised."""

    def __init__(self, cfg: FV2VConfig) -> None:
        super().__init__()
        self.down = AntiAliasDownsample(3, cfg.kp_scale_factor)
        self.predictor = Hourglass(cfg.kp_block_expansion, 3, cfg.kp_num_blocks, cfg.kp_max_features, cfg.norm)
        self.reshape = nn.Conv2d(self.predictor.out_filters, cfg.kp_reshape_channels, 1)
        self.kp = nn.Conv3d(cfg.kp_reshape_channels // cfg.kp_depth, cfg.num_kp, 3, padding=1)
        self.depth = cfg.kp_depth
        self.temperature = cfg.temperature

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        feat = self.reshape(self.predictor(self.down(image)))
        b, c, h, w = feat.shape
        heat = spatial_softmax(self.kp(feat.view(b, c // self.depth, self.depth, h, w)), self.temperature)
        return heatmap_to_kp(heat)


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, norm: str) -> None:
        super().__init__()
        mid = cout // 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1),
            _norm(norm, mid),
            nn.ReLU(),
            nn.Conv2d(mid, mid, 3, stride=stride, padding=1),
            _norm(norm, mid),
            nn.ReLU(),
            nn.Conv2d(mid, cout, 1),
            _norm(norm, cout),
        )
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), _norm(norm, cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x))


class HeadExpressionEstimator(nn.Module):
    """``image (B, 3, H, W)`` -> ``{"yaw", "pitch", "roll"}`` ``(B,)`` degrees, ``"t"`` ``(B, 3)``,
    ``"exp"`` ``(B, K, 3)`` (ResNet-50-style bottleneck stages 256 / 512 / 1024 / 2048 at the
    published width ``be`` = 64)."""

    def __init__(self, cfg: FV2VConfig) -> None:
        super().__init__()
        be = cfg.he_block_expansion
        self.down = AntiAliasDownsample(3, cfg.he_scale_factor)
        self.stem = nn.Sequential(
            nn.Conv2d(3, be, 7, stride=2, padding=3),
            _norm(cfg.norm, be),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, cin = [], be
        for i, n in enumerate((3, 4, 6, 3)):
            cout = be * 4 * 2**i
            for j in range(n):
                stages.append(_Bottleneck(cin, cout, 2 if j == 0 and i > 0 else 1, cfg.norm))
                cin = cout
        self.stages = nn.Sequential(*stages)
        self.yaw, self.pitch, self.roll = (nn.Linear(cin, NUM_BINS) for _ in range(3))
        self.t = nn.Linear(cin, 3)
        self.exp = nn.Linear(cin, 3 * cfg.num_kp)
        for head in (self.t, self.exp):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.num_kp = cfg.num_kp

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        feat = self.stages(self.stem(self.down(image))).mean((2, 3))
        idx = torch.arange(NUM_BINS, dtype=feat.dtype)
        out = {k: (F.softmax(getattr(self, k)(feat), 1) * idx).sum(1) * 3 - 99 for k in ("yaw", "pitch", "roll")}
        out["t"] = self.t(feat)
        out["exp"] = self.exp(feat).view(-1, self.num_kp, 3)
        return out


class _Block3d(nn.Module):
    """3x3x3 conv + norm + ReLU with 1x2x2 average pooling (``up=False``) or preceded by 1x2x2
    nearest upsampling (``up=True``): face-vid2vid's down / up blocks (depth is kept)."""

    def __init__(self, cin: int, cout: int, up: bool, norm: str) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=1)
        self.norm = _norm(norm, cout, 3)
        self.up = up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=(1, 2, 2))
        x = F.relu(self.norm(self.conv(x)))
        return x if self.up else F.avg_pool3d(x, (1, 2, 2))


def _down3d(cin: int, cout: int, norm: str) -> _Block3d:
    return _Block3d(cin, cout, False, norm)


def _up3d(cin: int, cout: int, norm: str) -> _Block3d:
    return _Block3d(cin, cout, True, norm)


def hourglass_3d(be: int, in_features: int, num_blocks: int, max_features: int, norm: str) -> Hourglass:
    """3-D U-Net (pooling over height and width only): :class:`Hourglass` with 3-D blocks;
    output ``be + in_features`` channels."""
    return Hourglass(be, in_features, num_blocks, max_features, norm, down_block=_down3d, up_block=_up3d)


class DenseMotion3d(nn.Module):
    """3-D dense motion: ``deformation (B, D, h, w, 3)`` and ``occlusion (B, 1, h, w)``."""

    def __init__(self, cfg: FV2VConfig) -> None:
        super().__init__()
        k1 = cfg.num_kp + 1
        self.compress = nn.Conv3d(cfg.feat_channels, cfg.dm_compress, 1)
        self.norm = _norm(cfg.norm, cfg.dm_compress, 3)
        self.hourglass = hourglass_3d(
            cfg.dm_block_expansion, k1 * (cfg.dm_compress + 1), cfg.dm_num_blocks, cfg.dm_max_features, cfg.norm
        )
        self.mask = nn.Conv3d(self.hourglass.out_filters, k1, cfg.dm_mask_kernel, padding=cfg.dm_mask_kernel // 2)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters * cfg.feat_depth, 1, 7, padding=3)
        self.num_kp = cfg.num_kp
        self.variance = cfg.kp_variance
        self.scale = cfg.motion_scale_factor

    def forward(
        self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        b, _, d, h, w = feature.shape
        feat = F.relu(self.norm(self.compress(feature)))
        grid = coordinate_grid_3d(d, h, w).to(feature)[None, None]
        motions = grid - kp_driving.view(b, -1, 1, 1, 1, 3) + kp_source.view(b, -1, 1, 1, 1, 3)
        motions = torch.cat([grid.expand(b, 1, d, h, w, 3), motions], 1)
        k1 = self.num_kp + 1
        deformed = F.grid_sample(
            feat.repeat_interleave(k1, 0), motions.flatten(0, 1), padding_mode="border", align_corners=True
        ).view(b, k1, -1, d, h, w)
        heat = kp_to_gaussian(kp_driving, (d, h, w), self.variance) - kp_to_gaussian(
            kp_source, (d, h, w), self.variance
        )
        heat = torch.cat([torch.zeros_like(heat[:, :1]), heat], 1).unsqueeze(2)
        out = self.hourglass(torch.cat([heat, deformed], 2).view(b, -1, d, h, w))
        mask = F.softmax(self.mask(out), 1)
        deformation = (mask.unsqueeze(-1) * motions).sum(1)
        occ = torch.sigmoid(self.occlusion(out.reshape(b, -1, h, w)))
        return {"deformation": deformation, "occlusion": occ}


class FV2VGenerator(nn.Module):
    """Appearance feature volume, 3-D warp, 2-D decoder: ``(source (B, 3, H, W), kp_driving
    (B, K, 3), kp_source (B, K, 3)) -> {"prediction": (B, 3, H, W) in [0, 1], ...}``."""

    def __init__(self, cfg: FV2VConfig) -> None:
        super().__init__()
        be, mx = cfg.gen_block_expansion, cfg.gen_max_features
        self.first = SameBlock2d(3, be, 7, cfg.norm)
        self.down = nn.Sequential(
            DownBlock2d(be, min(mx, be * 2), norm=cfg.norm),
            DownBlock2d(min(mx, be * 2), min(mx, be * 4), norm=cfg.norm),
        )
        self.lift = nn.Conv2d(min(mx, be * 4), cfg.feat_channels * cfg.feat_depth, 1)
        self.res3d = nn.Sequential(*(ResBlock3d(cfg.feat_channels, cfg.norm) for _ in range(cfg.num_resblocks_3d)))
        self.dense_motion = DenseMotion3d(cfg)
        c2 = cfg.feat_channels * cfg.feat_depth
        self.third = SameBlock2d(c2, min(mx, be * 4), 3, cfg.norm)
        self.fourth = nn.Conv2d(min(mx, be * 4), min(mx, be * 4), 1)
        self.res2d = nn.Sequential(*(ResBlock2d(min(mx, be * 4), norm=cfg.norm) for _ in range(cfg.num_resblocks_2d)))
        self.up = nn.Sequential(
            UpBlock2d(min(mx, be * 4), min(mx, be * 2), norm=cfg.norm), UpBlock2d(min(mx, be * 2), be, norm=cfg.norm)
        )
        self.final = nn.Conv2d(be, 3, 7, padding=3)
        self.image_skip = nn.Conv2d(be, 1, 7, padding=3) if cfg.image_skip else None
        if self.image_skip is not None:  # start close to the warped key picture (mask ~ 0.88)
            assert self.image_skip.bias is not None  # bias=True
            nn.init.constant_(self.image_skip.bias, 2.0)
        self.cfg = cfg

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        """Appearance feature volume ``(B, C, D, H/4, W/4)`` (computed once per key picture)."""
        f = self.lift(self.down(self.first(source)))
        b, _, h, w = f.shape
        return self.res3d(f.view(b, self.cfg.feat_channels, self.cfg.feat_depth, h, w))

    def forward(
        self,
        source: torch.Tensor,
        kp_driving: torch.Tensor,
        kp_source: torch.Tensor,
        features: torch.Tensor | None = None,
        crop: tuple[int, int, int] | None = None,
    ) -> dict[str, torch.Tensor]:
        """``crop = (y0, x0, size)`` in feature samples decodes only that window (patch training)."""
        feat = self.encode(source) if features is None else features
        motion_feat = feat
        if self.cfg.motion_scale_factor != 0.25:
            s = self.cfg.motion_scale_factor * 4
            motion_feat = F.interpolate(feat, scale_factor=(1, s, s), mode="trilinear", align_corners=False)
        motion = self.dense_motion(motion_feat, kp_driving, kp_source)
        out = warp(feat, motion["deformation"])
        b, c, d, h, w = out.shape
        out = self.third(out.reshape(b, c * d, h, w))
        out = self.fourth(out)
        occ = motion["occlusion"]
        if occ.shape[2:] != out.shape[2:]:
            occ = F.interpolate(occ, size=out.shape[2:], mode="bilinear", align_corners=False)
        out = out * occ
        if crop is not None:
            y0, x0, n = crop
            out = out[:, :, y0 : y0 + n, x0 : x0 + n]
        out = self.up(self.res2d(out))
        pred = torch.sigmoid(self.final(out))
        result = {"decoded": pred, **motion}
        if self.image_skip is not None:
            grid2d = motion_2d(motion["deformation"])
            deformed = warp(source, grid2d)
            if crop is not None:
                deformed = deformed[:, :, 4 * y0 : 4 * (y0 + n), 4 * x0 : 4 * (x0 + n)]
            m = torch.sigmoid(self.image_skip(out))
            pred = m * deformed + (1 - m) * pred
            result["skip_mask"] = m
        result["prediction"] = pred
        return result


class FV2V(nn.Module):
    """Canonical keypoint detector, head pose / expression estimator and generator."""

    def __init__(self, cfg: FV2VConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.kp_detector = CanonicalKPDetector(cfg)
        self.he_estimator = HeadExpressionEstimator(cfg)
        self.generator = FV2VGenerator(cfg)

    def keypoints(self, kp_canonical: torch.Tensor, he: dict[str, torch.Tensor]) -> torch.Tensor:
        """Driving keypoints ``(B, K, 3)`` from canonical keypoints and an estimator output."""
        return transform_keypoints(
            kp_canonical, rotation_matrix(he["yaw"], he["pitch"], he["roll"]), he["t"], he["exp"]
        )
