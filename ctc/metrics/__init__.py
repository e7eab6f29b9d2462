"""Per-frame quality metrics of the CTC evaluation, found by name.

Every registered metric is a function ``fn(ref, dist) -> (N,) float64`` taking two
``(N, H, W, 3)`` ``uint8`` RGB arrays (reference first). Registered names:

=============  ===============================================================  ==============
name           definition                                                       module
=============  ===============================================================  ==============
``psnr_rgb``   PSNR over the RGB samples, peak 255 (dB, ``inf`` if identical)   :mod:`.psnr`
``psnr_y``     Y PSNR after OpenCV I420 conversion (dB)                         :mod:`.psnr`
``psnr_yuv``   GFVC 4:1:1 MSE-weighted YUV 4:2:0 PSNR (dB)                       :mod:`.psnr`
``msssim``     MS-SSIM on RGB, mean of R, G, B (pytorch_msssim)                 :mod:`.msssim`
``vmaf``       VMAF vmaf_v0.6.1 via FFmpeg's libvmaf, 25 Hz                     :mod:`.vmaf`
=============  ===============================================================  ==============

:func:`register_metric` refuses a second registration of a name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from .common import MetricError, MetricInputError
from .msssim import msssim_per_frame
from .psnr import YuvPsnr, psnr_i420_per_frame, psnr_rgb_per_frame, psnr_yuv_per_frame
from .vmaf import vmaf_per_frame, vmaf_per_frame_i420

logger = logging.getLogger(__name__)

__all__ = [
    "MetricError",
    "MetricFn",
    "MetricInputError",
    "MetricRegistryError",
    "YuvPsnr",
    "available_metrics",
    "get_metric",
    "msssim_per_frame",
    "psnr_i420_per_frame",
    "psnr_rgb_per_frame",
    "psnr_yuv_per_frame",
    "register_metric",
    "vmaf_per_frame",
    "vmaf_per_frame_i420",
]

#: ``fn(ref, dist) -> (N,) float64``; ref and dist are ``(N, H, W, 3)`` ``uint8`` RGB.
MetricFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class MetricRegistryError(LookupError):
    """Unknown metric name, or a second registration of an existing name."""


_REGISTRY: dict[str, MetricFn] = {}


def register_metric(name: str, fn: MetricFn) -> MetricFn:
    """Register ``fn`` under ``name`` and return it.

    Raises:
        MetricRegistryError: ``name`` is empty or already registered.
    """
    if not name:
        raise MetricRegistryError("metric name must be a non-empty string")
    if name in _REGISTRY:
        raise MetricRegistryError(f"metric {name!r} already registered")
    _REGISTRY[name] = fn
    return fn


def get_metric(name: str) -> MetricFn:
    """The metric registered as ``name``.

    Raises:
        MetricRegistryError: no metric of that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MetricRegistryError(
            f"unknown metric {name!r}; available: {', '.join(available_metrics())}"
        ) from None


def available_metrics() -> tuple[str, ...]:
    """Registered metric names, sorted."""
    return tuple(sorted(_REGISTRY))


def _psnr_y(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` Y PSNR in dB after OpenCV I420 conversion."""
    return psnr_yuv_per_frame(ref, dist).y


def _psnr_yuv(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` GFVC 4:1:1 MSE-weighted YUV 4:2:0 PSNR in dB."""
    return psnr_yuv_per_frame(ref, dist).yuv


def _vmaf(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` VMAF (vmaf_v0.6.1) at 25 Hz."""
    return vmaf_per_frame(ref, dist)


register_metric("psnr_rgb", psnr_rgb_per_frame)
register_metric("psnr_y", _psnr_y)
register_metric("psnr_yuv", _psnr_yuv)
register_metric("msssim", msssim_per_frame)
register_metric("vmaf", _vmaf)
