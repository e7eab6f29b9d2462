"""Thin-plate-spline (TPS) warping generator driven by 2-D facial keypoints.

The generator animates the decoded key picture: a TPS maps every output pixel to a position
in the key picture so that the key picture's keypoints land on the current picture's
keypoints (Bookstein, "Principal warps: thin-plate splines and the decomposition of
deformations", IEEE TPAMI 1989; the same backward-warping scheme as the motion module of
Zhao & Zhang, "Thin-Plate Spline Motion Model for Image Animation", CVPR 2022, here with the
keypoints given by the bitstream instead of a learned detector). Fixed anchors on the picture
border keep the background still. The TPS is solved on the keypoints, evaluated on a coarse
grid and upsampled, so one picture costs a few milliseconds on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

#: Border anchors (normalised x, y) that map to themselves: 16 points, 5 per picture edge.
_EDGE = np.linspace(-1.0, 1.0, 5)
BORDER_ANCHORS = np.array(
    [[x, -1.0] for x in _EDGE]
    + [[x, 1.0] for x in _EDGE]
    + [[-1.0, y] for y in _EDGE[1:-1]]
    + [[1.0, y] for y in _EDGE[1:-1]],
    dtype=np.float64,
)


def _radial(d2: np.ndarray) -> np.ndarray:
    """TPS kernel U(r) = r^2 log r^2 (with U(0) = 0)."""
    return d2 * np.log(np.maximum(d2, 1e-12))


def tps_coefficients(dst: np.ndarray, src: np.ndarray, regularisation: float) -> np.ndarray:
    """Solves the TPS that maps ``dst`` points onto ``src`` points.

    Args:
        dst: ``(P, 2)`` float64 control points in the output picture (normalised).
        src: ``(P, 2)`` float64 where they come from in the key picture (normalised).
        regularisation: smoothing weight lambda (0 = exact interpolation).

    Returns:
        ``(P + 3, 2)`` float64: P radial weights then the affine part (constant, x, y).
    """
    n = len(dst)
    a = np.zeros((n + 3, n + 3))
    a[:n, :n] = _radial(((dst[:, None] - dst[None]) ** 2).sum(-1)) + regularisation * np.eye(n)
    a[:n, n] = 1.0
    a[:n, n + 1 :] = dst
    a[n, :n] = 1.0
    a[n + 1 :, :n] = dst.T
    b = np.zeros((n + 3, 2))
    b[:n] = src
    return np.linalg.lstsq(a, b, rcond=None)[0]


class TPSWarpGenerator:
    """Warps a key picture with a keypoint-driven TPS.

    Args:
        regularisation: TPS smoothing weight (normalised units); small values avoid folds
            when neighbouring keypoints move differently.
        grid: side of the coarse grid on which the TPS is evaluated before upsampling.
        interpolation: ``grid_sample`` mode used to resample the key picture.
    """

    def __init__(self, regularisation: float = 0.01, grid: int = 64, interpolation: str = "bilinear") -> None:
        self.regularisation = regularisation
        self.grid = grid
        self.interpolation = interpolation
        self._key: torch.Tensor | None = None
        self._key_kps: np.ndarray | None = None
        g = np.linspace(-1.0, 1.0, grid)
        ys, xs = np.meshgrid(g, g, indexing="ij")
        self._coarse = np.stack([xs, ys], -1).reshape(-1, 2)
        self._coarse_sq = (self._coarse * self._coarse).sum(1)

    def set_key_picture(self, key_picture: np.ndarray, key_kps: np.ndarray) -> None:
        """Sets the picture to animate.

        Args:
            key_picture: ``(H, W, 3)`` uint8 RGB, the decoded key picture.
            key_kps: ``(K, 2)`` float64 normalised keypoints of the key picture.
        """
        self._key = torch.from_numpy(np.ascontiguousarray(key_picture)).permute(2, 0, 1)[None].float()
        self._key_kps = np.asarray(key_kps, dtype=np.float64)

    def sampling_grid(self, kps: np.ndarray, height: int, width: int) -> torch.Tensor:
        """``(1, H, W, 2)`` float32 positions in the key picture (normalised) for every output pixel."""
        assert self._key_kps is not None
        dst = np.concatenate([np.asarray(kps, dtype=np.float64), BORDER_ANCHORS])
        src = np.concatenate([self._key_kps, BORDER_ANCHORS])
        coef = tps_coefficients(dst, src, self.regularisation)
        n = len(dst)
        d2 = self._coarse_sq[:, None] + (dst * dst).sum(1)[None] - 2.0 * (self._coarse @ dst.T)
        u = _radial(np.maximum(d2, 0.0))
        mapped = u @ coef[:n] + coef[n] + self._coarse @ coef[n + 1 :]
        coarse = torch.from_numpy(mapped.reshape(1, self.grid, self.grid, 2).astype(np.float32)).permute(0, 3, 1, 2)
        fine = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=True).permute(0, 2, 3, 1)
        return fine

    @torch.no_grad()
    def generate(self, kps: np.ndarray) -> np.ndarray:
        """One output picture.

        Args:
            kps: ``(K, 2)`` float64 normalised keypoints of the picture to synthesise.

        Returns:
            ``(H, W, 3)`` uint8 RGB.

        Raises:
            RuntimeError: :meth:`set_key_picture` was not called.
        """
        if self._key is None:
            raise RuntimeError("set_key_picture() must be called before generate()")
        _, _, h, w = self._key.shape
        grid = self.sampling_grid(kps, h, w)
        out = F.grid_sample(self._key, grid, mode=self.interpolation, padding_mode="border", align_corners=True)
        return out[0].permute(1, 2, 0).round_().clamp_(0, 255).to(torch.uint8).numpy()
