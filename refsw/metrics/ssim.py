"""SSIM per frame, on RGB and on YUV 4:2:0.

SSIM (Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from
error visibility to structural similarity", IEEE TIP 13(4), 2004), as in the authors'
MATLAB ``ssim_index.m``: local statistics under an 11x11 circular-symmetric Gaussian window,
sigma 1.5, normalised to unit sum, evaluated only where the window fits ('valid' filtering),
K1 = 0.01, K2 = 0.03, L = 255::

    mu_x = w * x,  sigma_x^2 = w * x^2 - mu_x^2,  sigma_xy = w * (x y) - mu_x mu_y
    SSIM map = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
               sigma_y^2 + C2)),  C1 = (K1 L)^2, C2 = (K2 L)^2

and the SSIM of a plane is the mean of its map. No downsampling is applied (the 2009 MATLAB
``ssim.m`` downsamples by ``round(min(H, W) / 256)``, which is 1 up to 383 pixels, so the
CTC's 256x256 frames are unaffected).

* RGB SSIM (``ssim_rgb``) is the mean of the SSIM of R, G and B. (The GFVC v2 RGB script
  scores the R channel only, a bug, JVET-AG0042 software ``eval_utils/metrics.py``; v1's
  ``multiMetric_rgb444.py`` averages the three channels as here.)
* YUV SSIM (``ssim_yuv``): RGB is converted with OpenCV ``COLOR_RGB2YUV_I420`` (BT.601
  limited range), SSIM is computed on each plane at its own resolution (Y at H x W, U and V
  at H/2 x W/2) and weighted ``SSIM_YUV = (4 SSIM_Y + SSIM_U + SSIM_V) / 6``. The weighting is
  the GFVC CTC one; the GFVC script itself re-converts the 4:2:0 planes to full-range YUV
  4:4:4 before scoring, so its chroma values differ slightly from these.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from refsw.media.colour import Planes

from .common import (
    MetricInputError,
    check_i420_planes,
    check_rgb_pair,
    rgb_pair_to_i420,
)

logger = logging.getLogger(__name__)

__all__ = [
    "K1",
    "K2",
    "SIGMA",
    "WINDOW",
    "YUV_WEIGHTS",
    "YuvSsim",
    "gaussian_window_1d",
    "luma",
    "ssim_luma",
    "ssim_i420_per_frame",
    "ssim_plane",
    "ssim_rgb_per_frame",
    "ssim_yuv_per_frame",
]

#: Gaussian window size (taps per side).
WINDOW = 11
#: Gaussian window standard deviation in samples.
SIGMA = 1.5
#: Stabilising constants of the luminance and contrast-structure terms.
K1, K2 = 0.01, 0.03
#: Dynamic range of 8-bit samples.
DATA_RANGE = 255.0
#: Weights of SSIM_Y, SSIM_U, SSIM_V in SSIM_YUV (GFVC CTC).
YUV_WEIGHTS = (4.0, 1.0, 1.0)


def gaussian_window_1d(size: int = WINDOW, sigma: float = SIGMA) -> np.ndarray:
    """``(size,)`` float64 Gaussian taps summing to 1; the 2-D window is their outer product
    (equal to MATLAB ``fspecial('gaussian', size, sigma)``)."""
    t = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable correlation of a float64 ``(H, W)`` image, keeping only the 'valid' part."""
    r = len(taps) // 2
    full = cv2.sepFilter2D(img, cv2.CV_64F, taps, taps, borderType=cv2.BORDER_REFLECT)
    return full[r : img.shape[0] - r, r : img.shape[1] - r]


def ssim_plane(x: np.ndarray, y: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """SSIM of one plane: mean of the 'valid' SSIM map (see the module docstring).

    Args:
        x: ``(H, W)`` reference samples (any real dtype), H and W >= 11.
        y: ``(H, W)`` distorted samples.
        data_range: L, the dynamic range of the samples (255 for 8 bits).

    Returns:
        SSIM in [-1, 1], 1 for identical planes.

    Raises:
        MetricInputError: shapes differ or a side is shorter than the window.
    """
    if x.shape != y.shape or x.ndim != 2:
        raise MetricInputError(f"ssim: planes must be 2-D of equal shape, got {x.shape}, {y.shape}")
    if min(x.shape) < WINDOW:
        raise MetricInputError(f"ssim: plane {x.shape} smaller than the {WINDOW}x{WINDOW} window")
    taps = gaussian_window_1d()
    xf = x.astype(np.float64)
    yf = y.astype(np.float64)
    mx, my = _filter_valid(xf, taps), _filter_valid(yf, taps)
    sxx = _filter_valid(xf * xf, taps) - mx * mx
    syy = _filter_valid(yf * yf, taps) - my * my
    sxy = _filter_valid(xf * yf, taps) - mx * my
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    smap = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(smap.mean())


def ssim_rgb_per_frame(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """RGB SSIM of each frame: mean of the R, G and B SSIM.

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, H and W >= 11.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.

    Returns:
        ``(N,)`` ``float64`` SSIM, 1 for identical frames.

    Raises:
        MetricInputError: wrong dtype or shapes, or frames smaller than the window.
    """
    n, h, w = check_rgb_pair(ref, dist, "ssim_rgb")
    if min(h, w) < WINDOW:
        raise MetricInputError(f"ssim_rgb: frames {w}x{h} smaller than the {WINDOW}x{WINDOW} window")
    return np.array(
        [np.mean([ssim_plane(ref[i, ..., c], dist[i, ..., c]) for c in range(3)]) for i in range(n)],
        np.float64,
    )


@dataclass(frozen=True)
class YuvSsim:
    """Per-frame YUV 4:2:0 SSIM.

    Attributes:
        y, u, v: ``(N,)`` ``float64`` SSIM of each plane.
        yuv: ``(N,)`` ``float64`` ``(4 y + u + v) / 6``.
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    yuv: np.ndarray


def ssim_i420_per_frame(ref: Planes, dist: Planes) -> YuvSsim:
    """YUV 4:2:0 SSIM of each frame from 8-bit planes, each plane at its own resolution.

    Args:
        ref: ``(y, u, v)`` ``uint8`` reference planes ``(N, H, W)``, ``(N, H/2, W/2)`` twice,
            H/2 and W/2 >= 11.
        dist: distorted planes, same shapes.

    Returns:
        :class:`YuvSsim`.

    Raises:
        MetricInputError: malformed planes, differing shapes or chroma smaller than the window.
    """
    n, h, w = check_i420_planes(ref, "ssim_yuv", "ref")
    if check_i420_planes(dist, "ssim_yuv", "dist") != (n, h, w):
        raise MetricInputError(f"ssim_yuv: ref {ref[0].shape} and dist {dist[0].shape} differ")
    if min(h, w) // 2 < WINDOW:
        raise MetricInputError(f"ssim_yuv: chroma of {w}x{h} smaller than the {WINDOW}x{WINDOW} window")
    per_plane = [
        np.array([ssim_plane(r[i], d[i]) for i in range(n)], np.float64) for r, d in zip(ref, dist, strict=True)
    ]
    wy, wu, wv = YUV_WEIGHTS
    yuv = (wy * per_plane[0] + wu * per_plane[1] + wv * per_plane[2]) / (wy + wu + wv)
    return YuvSsim(y=per_plane[0], u=per_plane[1], v=per_plane[2], yuv=yuv)


def ssim_yuv_per_frame(ref: np.ndarray, dist: np.ndarray) -> YuvSsim:
    """YUV 4:2:0 SSIM of each frame of RGB inputs (OpenCV I420, BT.601 limited range).

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, H and W even and >= 22.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.

    Returns:
        :class:`YuvSsim`; ``.yuv`` is the (4, 1, 1)-weighted value.

    Raises:
        MetricInputError: wrong dtype or shapes, odd or too small frames.
    """
    return ssim_i420_per_frame(*rgb_pair_to_i420(ref, dist, "ssim_yuv"))


# --------------------------------------------------------------------------- encoder's fast SSIM
#: BT.601 luma weights of R, G, B.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(picture: np.ndarray) -> np.ndarray:
    """``(H, W)`` float32 BT.601 luma in [0, 255] of an ``(H, W, 3)`` uint8 RGB picture."""
    return picture.astype(np.float32) @ _LUMA


def ssim_luma(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two luma pictures ``(H, W)`` float32 in [0, 255], the encoder decision's fast
    variant (:mod:`refsw.encoder.decision`): the same Gaussian window (11x11, sigma 1.5) and
    constants as :func:`ssim_plane`, but float32 and filtered at full size with OpenCV's
    reflected borders, so its values differ slightly from the CTC metric's 'valid' SSIM."""
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    ma, mb = _blur(a), _blur(b)
    va, vb, cov = _blur(a * a) - ma * ma, _blur(b * b) - mb * mb, _blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def _blur(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (WINDOW, WINDOW), SIGMA)
