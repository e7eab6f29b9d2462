"""Per-model training objectives (FOMM, CFTE, CTTR, FV2V).

Every task builds its network from a config, samples (source, driving) pairs of one clip and
returns the losses of one batch. Common to all:

- reconstruction of the driving picture from the source picture: L1 at 1, 1/2 and 1/4 scale
  plus (1 - SSIM) (no VGG weights can be had here, so FOMM's perceptual pyramid is replaced by
  pixel and structural terms), computed on a random window of the output (``crop``: patch
  training, the decoder runs on 1/4 of the picture, the motion on all of it);
- transmitted parameters see the GFV quantisation during training: uniform noise of one
  quantisation step is added to them (the additive-noise proxy of learned compression).

Model-specific terms (all documented in ``docs/models.md``):

- FOMM: the published equivariance loss (keypoints and Jacobians under a random affine
  transform) and a landmark prior pulling the 10 keypoints towards 10 MediaPipe Face Mesh
  landmarks, weight decaying over training (the detector is still free to move them);
- CFTE/CTTR: an auxiliary linear probe predicting 10 landmark positions from the 4x4 feature
  (training only) so that the feature learns face motion within a CPU budget;
- FV2V: a landmark prior on the 3-D keypoints ``R kp_c + t + delta`` (Face Mesh x, y, z) and the
  published L1 prior on the expression deltas;
- optional (``gfv-train --detail-transfer``): the reconstruction is scored after the decoder's
  residual detail transfer (:class:`refsw.models.learned.LearnedGenerator`): the source
  picture re-synthesised from its own parameters (no gradient) gives the detail the generator
  loses, which is warped with the driving picture's motion relative to that self-synthesis and
  added to the prediction, so the network learns what the decoder actually outputs;
- all: a landmark motion prior (:func:`motion_prior`): the dense motion field must carry the
  driving picture's Face Mesh points to the source picture's (added at step 475 / 706 / 350 of
  the FOMM / CFTE / FV2V runs that produced the committed checkpoints, which were resumed).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim
from torch import nn

from ..models.nets.blocks import displacement, motion_2d, warp
from ..models.nets.cfte import CFTE, CFTEConfig
from ..models.nets.fomm import FOMM, FOMMConfig
from ..models.nets.fv2v import FV2V, FV2VConfig

#: Face Mesh indices of the landmark priors: forehead, chin, jaw L/R, nose tip, iris L/R,
#: mouth corners L/R, lower lip (FOMM / CFTE probe: 10); FV2V adds brows L/R, upper lip,
#: lower jaw L/R (15).
LANDMARKS_10 = (10, 152, 234, 454, 1, 468, 473, 61, 291, 17)
LANDMARKS_15 = LANDMARKS_10 + (105, 334, 0, 172, 397)


#: Face Mesh points of the motion prior: every 7th of the 468 mesh points (the whole face).
MOTION_LANDMARKS = tuple(range(0, 468, 7))


def motion_prior(deformation: torch.Tensor, batch: dict[str, np.ndarray], progress: float) -> torch.Tensor:
    """Landmark motion prior: the dense motion field ``(B, h, w, 2)`` (driving position ->
    source position) sampled at the driving picture's Face Mesh points should give the source
    picture's points. Weight 10, decaying linearly to 1 at 70 % of training."""
    d = _landmarks(batch["driving_lm"], MOTION_LANDMARKS)
    s = _landmarks(batch["source_lm"], MOTION_LANDMARKS)
    field = deformation.permute(0, 3, 1, 2)
    at = F.grid_sample(field, d.clamp(-1, 1).unsqueeze(1), align_corners=True)[:, :, 0].transpose(1, 2)
    return 10.0 * max(0.1, 1.0 - progress / 0.7) * F.l1_loss(at, s)


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(255.0)


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 pyramid (1, 1/2, 1/4) + (1 - SSIM) of ``(B, 3, H, W)`` pictures in [0, 1]."""
    loss = F.l1_loss(pred, target)
    p, t = pred, target
    for _ in range(2):
        p, t = F.avg_pool2d(p, 2), F.avg_pool2d(t, 2)
        loss = loss + F.l1_loss(p, t)
    return loss + (1.0 - ssim(pred, target, data_range=1.0, size_average=True))


def random_crop(rng: np.random.Generator, feature_size: int, window: int) -> tuple[int, int, int]:
    """A random decoder window ``(y0, x0, window)`` in feature samples."""
    y0, x0 = (int(v) for v in rng.integers(0, feature_size - window + 1, size=2))
    return y0, x0, window


def crop_target(target: torch.Tensor, crop: tuple[int, int, int], factor: int) -> torch.Tensor:
    """The window of ``target`` ``(B, 3, H, W)`` matching a decoder crop."""
    y0, x0, n = crop
    return target[:, :, factor * y0 : factor * (y0 + n), factor * x0 : factor * (x0 + n)]


def random_affine(b: int, rng: np.random.Generator, sigma: float = 0.05) -> torch.Tensor:
    """``(B, 2, 3)`` float32 affine transforms near the identity (equivariance loss)."""
    theta = np.tile(np.eye(2, 3, dtype=np.float32), (b, 1, 1))
    theta += rng.normal(0.0, sigma, size=theta.shape).astype(np.float32)
    return torch.from_numpy(theta)


class Task:
    """Base class: a network, its losses and the parameters it transmits."""

    name = ""
    config_class: Any = None
    net_class: Any = None

    #: consecutive pairs of a batch that share their source picture
    per_source = 2
    #: score the reconstruction after the decoder's residual detail transfer (:meth:`with_detail`)
    detail_transfer = False

    def __init__(self, config: dict, step_noise: float, crop: int = 32) -> None:
        self.cfg = self.config_class(**config)
        self.net = self.net_class(self.cfg)
        self.noise = step_noise
        self.crop = crop
        self.aux = nn.Module()

    def parameters(self) -> list[nn.Parameter]:
        """Trainable parameters (network and training-only heads)."""
        return list(self.net.parameters()) + list(self.aux.parameters())

    def source_features(self, src: torch.Tensor) -> torch.Tensor:
        """Generator features of a batch whose consecutive ``per_source`` sources are equal."""
        k = self.per_source
        return self.net.generator.encode(src[::k]).repeat_interleave(k, 0)

    def decoder_output(
        self,
        src: torch.Tensor,
        features: torch.Tensor,
        out: dict[str, torch.Tensor],
        crop: tuple[int, int, int] | None,
        *source_params: object,
        per_source: int | None = None,
    ) -> torch.Tensor:
        """What the decoder outputs for a batch: ``out["prediction"]`` (the ``crop`` window, or
        the whole picture), after the residual detail transfer when :attr:`detail_transfer` is
        on. The self-synthesis of each distinct source picture (generator arguments
        ``source_params``, one per source picture; consecutive ``per_source`` pictures of ``src``
        share it, default :attr:`per_source`) runs without gradient."""
        if not self.detail_transfer:
            return out["prediction"]
        k = self.per_source if per_source is None else per_source
        with torch.no_grad():
            own = self.net.generator(src[::k], *source_params, features=features[::k])
        own = {
            "prediction": own["prediction"].repeat_interleave(k, 0),
            "deformation": motion_2d(own["deformation"]).repeat_interleave(k, 0),
        }
        return self.with_detail(out["prediction"], motion_2d(out["deformation"]), src, own, crop)

    def with_detail(
        self,
        prediction: torch.Tensor,
        deformation: torch.Tensor,
        source: torch.Tensor,
        self_synthesis: dict[str, torch.Tensor],
        crop: tuple[int, int, int] | None = None,
    ) -> torch.Tensor:
        """The decoder's residual detail transfer applied to a prediction.

        Args:
            prediction: ``(B, 3, h, w)`` decoder output (the ``crop`` window of the picture).
            deformation: ``(B, H', W', 2)`` 2-D motion field of the driving pictures.
            source: ``(B, 3, H, W)`` source pictures.
            self_synthesis: ``prediction`` ``(B, 3, H, W)`` and 2-D ``deformation`` of the source
                pictures synthesised from their own parameters (full picture, no gradient needed).
            crop: the decoder window of ``prediction`` (``None``: the whole picture).

        Returns:
            ``prediction`` plus the warped residual, same shape.
        """
        residual = source - self_synthesis["prediction"]
        detail = warp(residual, deformation - displacement(self_synthesis["deformation"]))
        return prediction + (detail if crop is None else crop_target(detail, crop, 4))

    def quantisation_noise(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus uniform noise of one quantisation step (training only)."""
        return x + (torch.rand_like(x) - 0.5) * self.noise if self.net.training and self.noise else x

    def losses(
        self, batch: dict[str, np.ndarray], rng: np.random.Generator, progress: float
    ) -> dict[str, torch.Tensor]:
        """Loss terms of one batch (``progress`` in [0, 1] for scheduled weights)."""
        raise NotImplementedError

    def predict(
        self,
        source: torch.Tensor,
        driving: torch.Tensor,
        previous: torch.Tensor | None = None,
        lm: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> torch.Tensor:
        """Full-picture reconstruction of ``driving`` (validation); ``lm``: the Face Mesh
        landmarks ``(1, 478, 3)`` of the source and driving pictures (FV2V's mesh pose)."""
        raise NotImplementedError


def _landmarks(lm: np.ndarray, idx: tuple[int, ...], dims: int = 2) -> torch.Tensor:
    return torch.from_numpy(lm[:, list(idx), :dims].astype(np.float32))


class FOMMTask(Task):
    """FOMM: 10 keypoints + Jacobians."""

    name = "fomm"
    config_class = FOMMConfig
    net_class = FOMM

    def _kp(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        kp = self.net.kp_detector(image)
        return {"value": self.quantisation_noise(kp["value"]), "jacobian": self.quantisation_noise(kp["jacobian"])}

    def losses(self, batch, rng, progress):
        src, drv = to_tensor(batch["source"]), to_tensor(batch["driving"])
        k = self.per_source
        kp_s_u = self._kp(src[::k])
        kp_s = {n: v.repeat_interleave(k, 0) for n, v in kp_s_u.items()}
        kp_d = self._kp(drv)
        crop = random_crop(rng, src.shape[-1] // 4, self.crop)
        feats = self.source_features(src)
        out = self.net.generator(src, kp_d, kp_s, features=feats, crop=crop)
        pred = self.decoder_output(src, feats, out, crop, kp_s_u, kp_s_u)
        loss = {
            "rec": reconstruction_loss(pred, crop_target(drv, crop, 4)),
            "motion_prior": motion_prior(out["deformation"], batch, progress),
        }
        theta = random_affine(len(drv), rng)
        grid = F.affine_grid(theta, list(drv.shape), align_corners=True)
        kp_t = self.net.kp_detector(F.grid_sample(drv, grid, padding_mode="reflection", align_corners=True))
        # a point p of the transformed picture comes from theta @ (p, 1) of the driving picture
        mapped = kp_t["value"] @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]
        loss["equivariance_value"] = 10.0 * F.l1_loss(mapped, kp_d["value"])
        jac = theta[:, None, :, :2] @ kp_t["jacobian"]
        eye = torch.eye(2).expand_as(jac)
        loss["equivariance_jacobian"] = 10.0 * F.l1_loss(torch.inverse(kp_d["jacobian"]) @ jac, eye)
        w = 10.0 * max(0.01, 1.0 - progress / 0.5)
        target = torch.cat(
            [_landmarks(batch["source_lm"], LANDMARKS_10), _landmarks(batch["driving_lm"], LANDMARKS_10)]
        )
        loss["landmark_prior"] = w * F.l1_loss(torch.cat([kp_s["value"], kp_d["value"]]), target)
        return loss

    @torch.no_grad()
    def predict(self, source, driving, previous=None, lm=None):
        kp_s = self.net.kp_detector(source)
        feats = self.net.generator.encode(source)
        out = self.net.generator(source, self.net.kp_detector(driving), kp_s, features=feats)
        return self.decoder_output(source, feats, out, None, kp_s, kp_s, per_source=1)


class CFTETask(Task):
    """CFTE: one 4x4 compact feature."""

    name = "cfte"
    config_class = CFTEConfig
    net_class = CFTE

    def __init__(self, config, step_noise, crop=32):
        super().__init__(config, step_noise, crop)
        self.aux.probe = nn.Linear(16, 2 * len(LANDMARKS_10))

    def losses(self, batch, rng, progress):
        src, drv = to_tensor(batch["source"]), to_tensor(batch["driving"])
        f_s = self.quantisation_noise(self.net.extractor(src[:: self.per_source])).repeat_interleave(self.per_source, 0)
        f_d = self.quantisation_noise(self.net.extractor(drv))
        f_p = None
        if self.cfg.trajectory:
            f_p = self.quantisation_noise(self.net.extractor(to_tensor(batch["previous"])))
        crop = random_crop(rng, src.shape[-1] // 4, self.crop)
        feats = self.source_features(src)
        out = self.net.generator(src, f_d, f_s, f_p, features=feats, crop=crop)
        f_u = f_s[:: self.per_source]  # the decoder's self-synthesis: previous = the key picture's feature
        pred = self.decoder_output(src, feats, out, crop, f_u, f_u, f_u if self.cfg.trajectory else None)
        loss = {
            "rec": reconstruction_loss(pred, crop_target(drv, crop, 4)),
            "motion_prior": motion_prior(out["deformation"], batch, progress),
        }
        w = 10.0 * max(0.01, 1.0 - progress / 0.5)
        target = torch.cat(
            [_landmarks(batch["source_lm"], LANDMARKS_10), _landmarks(batch["driving_lm"], LANDMARKS_10)]
        )
        probe = self.aux.probe(torch.cat([f_s, f_d]).flatten(1)).view(-1, len(LANDMARKS_10), 2)
        loss["landmark_probe"] = w * F.l1_loss(probe, target)
        return loss

    @torch.no_grad()
    def predict(self, source, driving, previous=None, lm=None):
        f_p = self.net.extractor(previous) if self.cfg.trajectory and previous is not None else None
        f_s = self.net.extractor(source)
        feats = self.net.generator.encode(source)
        out = self.net.generator(source, self.net.extractor(driving), f_s, f_p, features=feats)
        return self.decoder_output(
            source, feats, out, None, f_s, f_s, f_s if self.cfg.trajectory else None, per_source=1
        )


class CTTRTask(CFTETask):
    """CTTR: CFTE's feature with the temporal trajectory, several resolutions."""

    name = "cttr"


def mesh_poses(landmarks: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Head poses of Face Mesh landmarks ``(B, 478, 3)`` float32 (x, y, z normalised as in
    :func:`refsw.train.data.load_clip`): rotations ``(B, 3, 3)`` and translations ``(B, 3)``
    float32, the Umeyama alignment of the rigid landmarks onto the canonical face of ``sem3d``'s
    basis (:func:`refsw.models.face3d.head_pose`; the rotation is the one ``sem3d`` carries in
    GFV matrix type 4)."""
    from ..models.sem3d import head_poses

    rot, trans = head_poses(landmarks)
    return torch.from_numpy(rot).float(), torch.from_numpy(trans).float()


def mesh_rotations(landmarks: np.ndarray) -> torch.Tensor:
    """The rotations ``(B, 3, 3)`` float32 of :func:`mesh_poses`."""
    return mesh_poses(landmarks)[0]


def pose_error(estimates: list[dict[str, torch.Tensor]], landmarks: np.ndarray) -> torch.Tensor:
    """Mean squared difference (scalar tensor) between the rotations of FV2V head-pose estimates
    (``"yaw"``, ``"pitch"``, ``"roll"`` ``(B_i,)`` degrees each, concatenated in order) and the
    Face Mesh head rotations of ``landmarks`` ``(sum B_i, 478, 3)`` (:func:`mesh_rotations`)."""
    from ..models.nets.fv2v import rotation_matrix

    rot = torch.cat([rotation_matrix(h["yaw"], h["pitch"], h["roll"]) for h in estimates])
    return F.mse_loss(rot, mesh_rotations(landmarks))


class FV2VTask(Task):
    """FV2V: canonical 3-D keypoints, rotation, translation, expression deltas.

    :attr:`pose_prior` > 0 adds the head-pose supervision of face-vid2vid (Wang et al., CVPR
    2021, which supervises its estimator with a pre-trained pose network): the estimator's
    rotation of each source and driving picture should equal the Face Mesh head rotation
    (:func:`mesh_rotations`), weight ``pose_prior`` on the mean squared matrix difference. Without
    it the estimator learned to put nearly all head motion into the expression deltas (its
    rotation moved 1-5 % of ``sem3d``'s, docs/translators.md).
    """

    name = "fv2v"
    config_class = FV2VConfig
    net_class = FV2V
    #: weight of the head-pose supervision (``gfv-train fv2v --pose-prior``; 0: off)
    pose_prior = 0.0

    def _pose(
        self, src: torch.Tensor, drv: torch.Tensor, lm: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[dict, dict, tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Estimator outputs and head poses ``(R (B, 3, 3), t (B, 3))`` of the source and driving
        pictures; with :attr:`FV2VConfig.mesh_pose` and landmarks ``lm`` (source, driving
        ``(B, 478, 3)``) the driving pose is the source's moved by the Face Mesh head motion,
        as the encoder computes it."""
        from ..models.nets.fv2v import mesh_relative_pose, rotation_matrix

        he_s, he_d = self.net.he_estimator(src), self.net.he_estimator(drv)
        pose_s = (rotation_matrix(he_s["yaw"], he_s["pitch"], he_s["roll"]), he_s["t"])
        if self.cfg.mesh_pose and lm is not None:
            (mr_s, mt_s), (mr_d, mt_d) = mesh_poses(lm[0]), mesh_poses(lm[1])
            pose_d = mesh_relative_pose(*pose_s, mr_d, mt_d, mr_s, mt_s)
        else:
            pose_d = (rotation_matrix(he_d["yaw"], he_d["pitch"], he_d["roll"]), he_d["t"])
        return he_s, he_d, pose_s, pose_d

    def _kp(self, kp_c: torch.Tensor, pose: tuple[torch.Tensor, torch.Tensor], he: dict) -> torch.Tensor:
        from ..models.nets.fv2v import transform_keypoints

        q = self.quantisation_noise
        return transform_keypoints(kp_c, q(pose[0]), q(pose[1]), q(he["exp"]))

    def losses(self, batch, rng, progress):
        src, drv = to_tensor(batch["source"]), to_tensor(batch["driving"])
        kp_c = self.net.kp_detector(src[:: self.per_source]).repeat_interleave(self.per_source, 0)
        he_s, he_d, pose_s, pose_d = self._pose(src, drv, (batch["source_lm"], batch["driving_lm"]))
        kp_s, kp_d = self._kp(kp_c, pose_s, he_s), self._kp(kp_c, pose_d, he_d)
        crop = random_crop(rng, src.shape[-1] // 4, self.crop)
        feats = self.source_features(src)
        out = self.net.generator(src, kp_d, kp_s, features=feats, crop=crop)
        pred = self.decoder_output(src, feats, out, crop, kp_s[:: self.per_source], kp_s[:: self.per_source])
        loss = {
            "rec": reconstruction_loss(pred, crop_target(drv, crop, 4)),
            "motion_prior": motion_prior(motion_2d(out["deformation"]), batch, progress),
        }
        w = 10.0 * max(0.01, 1.0 - progress / 0.5)
        target = torch.cat(
            [_landmarks(batch["source_lm"], LANDMARKS_15, 3), _landmarks(batch["driving_lm"], LANDMARKS_15, 3)]
        )
        loss["landmark_prior"] = w * F.l1_loss(torch.cat([kp_s, kp_d]), target)
        loss["expression_prior"] = 0.2 * (he_s["exp"].abs().mean() + he_d["exp"].abs().mean())
        if self.pose_prior > 0:
            loss["pose_prior"] = self.pose_prior * pose_error(
                [he_s, he_d], np.concatenate([batch["source_lm"], batch["driving_lm"]])
            )
        return loss

    @torch.no_grad()
    def predict(self, source, driving, previous=None, lm=None):
        kp_c = self.net.kp_detector(source)
        he_s, he_d, pose_s, pose_d = self._pose(source, driving, lm)
        kp_s, kp_d = self._kp(kp_c, pose_s, he_s), self._kp(kp_c, pose_d, he_d)
        feats = self.net.generator.encode(source)
        out = self.net.generator(source, kp_d, kp_s, features=feats)
        return self.decoder_output(source, feats, out, None, kp_s, kp_s, per_source=1)


TASKS: dict[str, type[Task]] = {t.name: t for t in (FOMMTask, CFTETask, CTTRTask, FV2VTask)}

#: Widths trained here (small enough for CPU training and fast decoding; published widths
#: are the config classes' defaults). ``noise``: one GFV quantisation step of the transmitted
#: parameters (section "precision" of ``docs/models.md``).
_CFTE_SMALL = {
    "ex_block_expansion": 16,
    "ex_max_features": 128,
    "ex_num_blocks": 4,
    "src_channels": (16, 32, 64, 64),
    "up_channels": 16,
    "dm_block_expansion": 16,
    "dm_max_features": 128,
    "dm_num_blocks": 4,
    "gen_block_expansion": 16,
    "gen_max_features": 64,
    "num_bottleneck_blocks": 3,
    "image_skip": True,
}
TRAINED_CONFIGS: dict[str, dict[str, Any]] = {
    "fomm": {
        "config": {
            "kp_block_expansion": 16,
            "kp_max_features": 128,
            "kp_num_blocks": 4,
            "dm_block_expansion": 16,
            "dm_max_features": 128,
            "dm_num_blocks": 4,
            "gen_block_expansion": 16,
            "gen_max_features": 64,
            "num_bottleneck_blocks": 3,
            "image_skip": True,
        },
        "noise": 2.0**-7,
    },
    "cfte": {"config": _CFTE_SMALL, "noise": 2.0**-4},
    "cttr": {"config": {**_CFTE_SMALL, "trajectory": True}, "noise": 2.0**-4},
    "fv2v": {
        "config": {
            "kp_block_expansion": 16,
            "kp_max_features": 128,
            "kp_num_blocks": 4,
            "kp_reshape_channels": 64,
            "kp_depth": 8,
            "kp_scale_factor": 0.25,
            "he_block_expansion": 8,
            "he_scale_factor": 0.5,
            "gen_block_expansion": 16,
            "gen_max_features": 64,
            "feat_channels": 8,
            "feat_depth": 8,
            "num_resblocks_3d": 2,
            "dm_block_expansion": 8,
            "dm_max_features": 64,
            "dm_num_blocks": 3,
            "dm_compress": 2,
            "dm_mask_kernel": 3,
            "motion_scale_factor": 0.125,
            "num_resblocks_2d": 3,
            "image_skip": True,
        },
        "noise": 2.0**-7,
    },
}


def lr_at(step: int, total: int, base: float) -> float:
    """Cosine decay from ``base`` to ``base / 10`` over ``total`` steps."""
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
