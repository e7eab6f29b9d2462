"""PSNR per frame, on RGB and on YUV 4:2:0.

RGB PSNR pools the squared error of the three channels of a frame (one MSE over ``H*W*3``
samples), peak 255.

YUV PSNR follows the JVET GFVC common software (JVET-AG0042 software,
``evaluate/multiMetric_yuv420.py``): RGB frames are converted to YUV 4:2:0 with OpenCV
``COLOR_RGB2YUV_I420`` (BT.601 limited range), then

    PSNR_c   = 10 log10(MAX^2 / MSE_c)                        for c in Y, U, V
    PSNR_YUV = 10 log10(MAX^2 / ((4 MSE_Y + MSE_U + MSE_V) / 6))

i.e. the 4:1:1 weighting is applied to the MSEs (not to the PSNR values; the 6:1:1 weighting of
PSNR values used for VVC CTC BD-rates is a different quantity). The GFVC script reports the
sequence value as ``10 log10(MAX^2 / mean over frames of the weighted MSE)``
(:meth:`YuvPsnr.sequence_yuv_db`).

The GFVC script first scales the 8-bit samples to 10 bits (``x << 2``) and uses MAX = 1020
(``ten_bit_scaled=True``). Because both the MSE and MAX^2 are then multiplied by exactly 16,
the result equals the 8-bit computation with MAX = 255 bit for bit; the option exists so that
the intermediate MSE values match the script's.

A frame with zero error has infinite PSNR; ``max_db`` caps it (VTM prints 999.99 dB in that case).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .common import MetricInputError, check_rgb_pair, rgb_pair_to_i420

logger = logging.getLogger(__name__)

__all__ = [
    "PEAK_8BIT",
    "PEAK_10BIT_SCALED",
    "YUV_WEIGHTS",
    "YuvPsnr",
    "psnr_from_mse",
    "psnr_i420_per_frame",
    "psnr_rgb_per_frame",
    "psnr_yuv_per_frame",
]

#: Peak value of 8-bit samples.
PEAK_8BIT = 255.0
#: Peak value of 8-bit samples scaled to 10 bits by ``x << 2`` (GFVC ``multiMetric_yuv420.py``).
PEAK_10BIT_SCALED = 1020.0
#: Weights of MSE_Y, MSE_U, MSE_V in PSNR_YUV (GFVC common software).
YUV_WEIGHTS = (4.0, 1.0, 1.0)


@dataclass(frozen=True)
class YuvPsnr:
    """Per-frame YUV 4:2:0 PSNR.

    Attributes:
        y, u, v: ``(N,)`` ``float64`` PSNR of each plane in dB.
        yuv: ``(N,)`` ``float64`` PSNR of the 4:1:1-weighted MSE in dB.
        mse_y, mse_u, mse_v: ``(N,)`` ``float64`` MSE per plane, in squared sample units of the
            scale used (8-bit, or 10-bit when ``peak`` is 1020).
        peak: MAX used (255 or 1020).
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    yuv: np.ndarray
    mse_y: np.ndarray
    mse_u: np.ndarray
    mse_v: np.ndarray
    peak: float

    def weighted_mse(self) -> np.ndarray:
        """``(N,)`` ``(4 MSE_Y + MSE_U + MSE_V) / 6``."""
        wy, wu, wv = YUV_WEIGHTS
        return (wy * self.mse_y + wu * self.mse_u + wv * self.mse_v) / (wy + wu + wv)

    def sequence_yuv_db(self, max_db: float | None = None) -> float:
        """Sequence PSNR_YUV as the GFVC script computes it: from the mean weighted MSE (dB)."""
        return float(psnr_from_mse(np.array([self.weighted_mse().mean()]), self.peak, max_db)[0])


def psnr_from_mse(mse: np.ndarray, peak: float, max_db: float | None = None) -> np.ndarray:
    """``10 log10(peak^2 / mse)`` in dB, ``inf`` where ``mse == 0`` (or ``max_db`` if given).

    Args:
        mse: ``(N,)`` mean squared errors (squared sample units).
        peak: peak sample value (255 for 8 bits).
        max_db: cap applied to every value, or ``None`` for no cap.

    Returns:
        ``(N,)`` ``float64`` PSNR in dB.
    """
    mse = np.asarray(mse, np.float64)
    with np.errstate(divide="ignore"):
        psnr = 10.0 * np.log10(peak * peak / mse)
    if max_db is not None:
        psnr = np.minimum(psnr, max_db)
    return psnr


def _mse(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` MSE over all axes but the first, computed exactly in float64."""
    diff = ref.astype(np.float64) - dist.astype(np.float64)
    return np.mean((diff * diff).reshape(diff.shape[0], -1), axis=1)


def psnr_rgb_per_frame(ref: np.ndarray, dist: np.ndarray, *, max_db: float | None = None) -> np.ndarray:
    """RGB PSNR of each frame: one MSE over the ``H*W*3`` samples, peak 255.

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        max_db: cap in dB (identical frames give ``inf`` without a cap).

    Returns:
        ``(N,)`` ``float64`` PSNR in dB.

    Raises:
        MetricInputError: wrong dtype or shapes.
    """
    check_rgb_pair(ref, dist, "psnr_rgb")
    return psnr_from_mse(_mse(ref, dist), PEAK_8BIT, max_db)


def psnr_i420_per_frame(
    ref: tuple[np.ndarray, np.ndarray, np.ndarray],
    dist: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    ten_bit_scaled: bool = False,
    max_db: float | None = None,
) -> YuvPsnr:
    """YUV 4:2:0 PSNR of each frame from 8-bit planes (GFVC formula, see the module docstring).

    Args:
        ref: ``(y, u, v)`` ``uint8`` reference planes, ``(N, H, W)`` and ``(N, H/2, W/2)`` twice
            (e.g. from ``VvencFFmpegBackend.decode_yuv``).
        dist: distorted planes, same shapes.
        ten_bit_scaled: compute on ``x << 2`` with MAX 1020 like the GFVC script (same dB values).
        max_db: cap in dB for zero-error planes.

    Returns:
        :class:`YuvPsnr` with ``(N,)`` arrays.

    Raises:
        MetricInputError: not three uint8 planes of matching 4:2:0 shapes.
    """
    if len(ref) != 3 or len(dist) != 3:
        raise MetricInputError("psnr_yuv: ref and dist must be (y, u, v) tuples")
    for r, d in zip(ref, dist, strict=True):
        if not (isinstance(r, np.ndarray) and isinstance(d, np.ndarray)):
            raise MetricInputError("psnr_yuv: planes must be numpy arrays")
        if r.dtype != np.uint8 or d.dtype != np.uint8 or r.ndim != 3 or r.shape != d.shape:
            raise MetricInputError(
                f"psnr_yuv: planes must be uint8 (N, rows, cols) of equal shapes, got {r.shape}"
                f" {r.dtype} and {d.shape} {d.dtype}"
            )
    n, h, w = ref[0].shape
    if ref[1].shape != (n, h // 2, w // 2) or ref[2].shape != (n, h // 2, w // 2) or n == 0:
        raise MetricInputError(f"psnr_yuv: chroma planes must be (N, H/2, W/2) for luma {ref[0].shape}")
    scale = 4.0 if ten_bit_scaled else 1.0
    peak = PEAK_10BIT_SCALED if ten_bit_scaled else PEAK_8BIT
    mse = [_mse(r.astype(np.float64) * scale, d.astype(np.float64) * scale) for r, d in zip(ref, dist, strict=True)]
    wy, wu, wv = YUV_WEIGHTS
    weighted = (wy * mse[0] + wu * mse[1] + wv * mse[2]) / (wy + wu + wv)
    return YuvPsnr(
        y=psnr_from_mse(mse[0], peak, max_db),
        u=psnr_from_mse(mse[1], peak, max_db),
        v=psnr_from_mse(mse[2], peak, max_db),
        yuv=psnr_from_mse(weighted, peak, max_db),
        mse_y=mse[0],
        mse_u=mse[1],
        mse_v=mse[2],
        peak=peak,
    )


def psnr_yuv_per_frame(
    ref: np.ndarray,
    dist: np.ndarray,
    *,
    ten_bit_scaled: bool = False,
    max_db: float | None = None,
) -> YuvPsnr:
    """YUV 4:2:0 PSNR of each frame of RGB inputs (converted with OpenCV I420, BT.601 limited).

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, H and W even.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        ten_bit_scaled: GFVC's 10-bit-scaled computation (MAX 1020; same dB values).
        max_db: cap in dB for zero-error planes.

    Returns:
        :class:`YuvPsnr` with ``(N,)`` arrays; ``.yuv`` is the 4:1:1 MSE-weighted PSNR.

    Raises:
        MetricInputError: wrong dtype or shapes, or an odd frame size.
    """
    ref_planes, dist_planes = rgb_pair_to_i420(ref, dist, "psnr_yuv")
    return psnr_i420_per_frame(
        ref_planes,
        dist_planes,
        ten_bit_scaled=ten_bit_scaled,
        max_db=max_db,
    )
