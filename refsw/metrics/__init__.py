"""Quality metrics of the CTC evaluation, found by name: per-picture and per-clip metrics.

Every registered per-picture metric is a function ``fn(ref, dist) -> (N,) float64`` taking two
``(N, H, W, 3)`` ``uint8`` RGB arrays (reference first); a clip's value is the mean over its
pictures. NaN marks a picture without a value (``akd``, ``pose_err``: no face found); means
skip NaN. Registered names:

==============  ==============================================================  ==============
name            definition                                                      module
==============  ==============================================================  ==============
``psnr_rgb``    PSNR over the RGB samples, peak 255 (dB, ``inf`` if identical)  :mod:`.psnr`
``psnr_y``      Y PSNR after OpenCV I420 conversion (dB)                        :mod:`.psnr`
``psnr_yuv``    GFVC 4:1:1 MSE-weighted YUV 4:2:0 PSNR (dB)                     :mod:`.psnr`
``ssim_rgb``    SSIM (Gaussian 11x11, sigma 1.5), mean of R, G, B               :mod:`.ssim`
``ssim_y``      SSIM of the I420 Y plane                                        :mod:`.ssim`
``ssim_yuv``    (4 SSIM_Y + SSIM_U + SSIM_V) / 6 on I420 planes                 :mod:`.ssim`
``msssim``      MS-SSIM on RGB, mean of R, G, B (pytorch_msssim)                :mod:`.msssim`
``lpips``       LPIPS, VGG16, ImageNet input normalisation (GFVC LPIPSvgg)      :mod:`.lpips`
``lpips_alex``  LPIPS, AlexNet, lpips input scaling                             :mod:`.lpips`
``dists``       DISTS distance                                                  :mod:`.dists`
``vmaf``        VMAF vmaf_v0.6.1 via FFmpeg's libvmaf, 25 Hz                    :mod:`.vmaf`
``xpsnr_y``     XPSNR of the I420 Y plane via FFmpeg's xpsnr, 25 Hz (dB)        :mod:`.xpsnr`
``xpsnr_yuv``   (4, 1, 1)-weighted XPSNR of the I420 planes (dB)                :mod:`.xpsnr`
``akd``         average keypoint distance / reference inter-ocular distance     :mod:`.motion`
``pose_err``    mean absolute yaw/pitch/roll difference (degrees)               :mod:`.motion`
==============  ==============================================================  ==============

A per-clip metric (:func:`register_clip_metric`) is a function
``fn(ref, dist, fps) -> float`` for statistics that exist only over a whole clip (correlations
of traces); it may return NaN (e.g. a constant trace). Names are unique across both kinds;
:func:`is_clip_metric` tells them apart. Registered per-clip metrics:

==============  ==============================================================  ==============
name            definition                                                      module
==============  ==============================================================  ==============
``eye_corr``    Pearson correlation of the eye-openness traces                  :mod:`.motion`
``mouth_corr``  Pearson correlation of the mouth-opening traces                 :mod:`.motion`
``mkr``         missing keypoint rate (decoded has no face where ref has one)   :mod:`.motion`
==============  ==============================================================  ==============

LPIPS, DISTS, AKD, pose_err and MKR are lower-is-better; the others are higher-is-better.
The motion metrics use dlib's 68 landmarks (:mod:`.face68`, not MediaPipe, which drives the
encoder) and need ``dlib-bin`` and ``face-recognition-models``.
LPIPS and DISTS need locally stored weights (:mod:`.weights`, ``GFV_METRIC_WEIGHTS``); without
them they stay registered, :func:`metric_status` says "not available: <reason>" and a call
raises :class:`MetricUnavailable`. Nothing is skipped silently.

ColorVideoVDP (``cvvdp`` 0.5.7) is not wrapped: it imports torchvision when imported, and the
only torchvision 0.28.0 wheel the package indexes here offer is the CUDA build (it bundles
libcudart), whose operators do not load next to torch 2.13.0+cpu (``import torchvision``:
"operator torchvision::nms does not exist"); XPSNR is the perceptual video metric that runs
offline here.

:func:`register_metric` and :func:`register_clip_metric` refuse a second registration of a name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from refsw.media.ffmpeg import ffmpeg_has_filter, resolve_ffmpeg

from .common import MetricError, MetricInputError, MetricUnavailable, check_rgb_pair
from .dists import dists_per_frame, dists_status
from .face68 import face68_status, head_pose_status
from .lpips import lpips_per_frame, lpips_status
from .motion import MotionFidelity, akd_per_picture, cached_landmarks68, motion_fidelity, motion_traces, pearson
from .motion import pose_error_per_picture as _pose_error_per_picture
from .msssim import msssim_per_frame
from .psnr import YuvPsnr, psnr_i420_per_frame, psnr_rgb_per_frame, psnr_yuv_per_frame
from .ssim import YuvSsim, ssim_i420_per_frame, ssim_rgb_per_frame, ssim_yuv_per_frame
from .vmaf import vmaf_per_frame, vmaf_per_frame_i420
from .xpsnr import Xpsnr, xpsnr_per_frame, xpsnr_per_frame_i420, xpsnr_status

logger = logging.getLogger(__name__)

__all__ = [
    "AVAILABLE",
    "ClipMetricFn",
    "MetricError",
    "MetricFn",
    "MetricInputError",
    "MetricRegistryError",
    "MetricUnavailable",
    "MotionFidelity",
    "StatusFn",
    "Xpsnr",
    "YuvPsnr",
    "YuvSsim",
    "available_clip_metrics",
    "available_metrics",
    "dists_per_frame",
    "get_clip_metric",
    "get_metric",
    "is_clip_metric",
    "lpips_per_frame",
    "metric_status",
    "motion_fidelity",
    "msssim_per_frame",
    "psnr_i420_per_frame",
    "psnr_rgb_per_frame",
    "psnr_yuv_per_frame",
    "register_clip_metric",
    "register_metric",
    "ssim_i420_per_frame",
    "ssim_rgb_per_frame",
    "ssim_yuv_per_frame",
    "vmaf_per_frame",
    "vmaf_per_frame_i420",
    "xpsnr_per_frame",
    "xpsnr_per_frame_i420",
]

#: ``fn(ref, dist) -> (N,) float64``; ref and dist are ``(N, H, W, 3)`` ``uint8`` RGB.
MetricFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
#: ``fn(ref, dist, fps) -> float`` (NaN allowed); ref and dist as for :data:`MetricFn`, fps in Hz.
ClipMetricFn = Callable[[np.ndarray, np.ndarray, float], float]
#: ``status() -> None`` when the metric can run here, else the reason it cannot.
StatusFn = Callable[[], "str | None"]
#: What :func:`metric_status` returns for a metric that can run.
AVAILABLE = "available"


class MetricRegistryError(LookupError):
    """Unknown metric name, or a second registration of an existing name."""


_REGISTRY: dict[str, MetricFn] = {}
_CLIP_REGISTRY: dict[str, ClipMetricFn] = {}
_STATUS: dict[str, StatusFn] = {}


def _check_new_name(name: str) -> None:
    if not name:
        raise MetricRegistryError("metric name must be a non-empty string")
    if name in _REGISTRY or name in _CLIP_REGISTRY:
        raise MetricRegistryError(f"metric {name!r} already registered")


def register_metric(name: str, fn: MetricFn, *, status: StatusFn | None = None) -> MetricFn:
    """Register ``fn`` under ``name`` and return it.

    Args:
        name: registry key.
        fn: ``fn(ref, dist) -> (N,) float64``.
        status: availability probe for metrics that need weights or tools; ``None`` means
            always available.

    Raises:
        MetricRegistryError: ``name`` is empty or already registered (as either kind).
    """
    _add(_REGISTRY, name, fn, status)
    return fn


def register_clip_metric(name: str, fn: ClipMetricFn, *, status: StatusFn | None = None) -> ClipMetricFn:
    """Register the per-clip metric ``fn`` under ``name`` and return it.

    Args:
        name: registry key, shared with the per-picture metrics.
        fn: ``fn(ref, dist, fps) -> float``; NaN when the statistic is undefined for the clip.
        status: availability probe, as for :func:`register_metric`.

    Raises:
        MetricRegistryError: ``name`` is empty or already registered (as either kind).
    """
    _add(_CLIP_REGISTRY, name, fn, status)
    return fn


def _add(table: dict, name: str, fn: Callable, status: StatusFn | None) -> None:
    """Puts ``fn`` into ``table`` (either registry) with its availability probe.

    Raises:
        MetricRegistryError: ``name`` is empty or already registered (as either kind).
    """
    _check_new_name(name)
    table[name] = fn
    if status is not None:
        _STATUS[name] = status


def get_metric(name: str) -> MetricFn:
    """The metric registered as ``name``.

    Raises:
        MetricRegistryError: no metric of that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MetricRegistryError(f"unknown metric {name!r}; available: {', '.join(available_metrics())}") from None


def get_clip_metric(name: str) -> ClipMetricFn:
    """The per-clip metric registered as ``name``.

    Raises:
        MetricRegistryError: no per-clip metric of that name.
    """
    try:
        return _CLIP_REGISTRY[name]
    except KeyError:
        raise MetricRegistryError(
            f"unknown clip metric {name!r}; available: {', '.join(available_clip_metrics())}"
        ) from None


def is_clip_metric(name: str) -> bool:
    """Whether ``name`` is a registered per-clip metric."""
    return name in _CLIP_REGISTRY


def available_metrics() -> tuple[str, ...]:
    """Registered per-picture metric names, sorted (including those that cannot run here; see
    :func:`metric_status`)."""
    return tuple(sorted(_REGISTRY))


def available_clip_metrics() -> tuple[str, ...]:
    """Registered per-clip metric names, sorted."""
    return tuple(sorted(_CLIP_REGISTRY))


def metric_status(name: str) -> str:
    """``"available"`` when metric ``name`` can run here, else ``"not available: <reason>"``
    (e.g. LPIPS without ``GFV_METRIC_WEIGHTS``). Checks files and tools, runs nothing.
    Per-picture and per-clip metrics alike.

    Raises:
        MetricRegistryError: no metric of that name.
    """
    if name not in _CLIP_REGISTRY:
        get_metric(name)
    probe = _STATUS.get(name)
    reason = probe() if probe is not None else None
    return AVAILABLE if reason is None else f"not available: {reason}"


def _psnr_y(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` Y PSNR in dB after OpenCV I420 conversion."""
    return psnr_yuv_per_frame(ref, dist).y


def _psnr_yuv(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` GFVC 4:1:1 MSE-weighted YUV 4:2:0 PSNR in dB."""
    return psnr_yuv_per_frame(ref, dist).yuv


def _vmaf(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` VMAF (vmaf_v0.6.1) at 25 Hz."""
    return vmaf_per_frame(ref, dist)


def _vmaf_status() -> str | None:
    """Reason VMAF cannot run (no FFmpeg, or one without libvmaf), else ``None``."""
    try:
        exe = resolve_ffmpeg(what="vmaf", error=MetricError)
    except MetricError as exc:
        return str(exc)
    return None if ffmpeg_has_filter(exe, "libvmaf") else f"vmaf: FFmpeg at {exe} has no libvmaf"


def _ssim_y(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` SSIM of the I420 Y plane."""
    return ssim_yuv_per_frame(ref, dist).y


def _ssim_yuv(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` (4 SSIM_Y + SSIM_U + SSIM_V) / 6 on I420 planes."""
    return ssim_yuv_per_frame(ref, dist).yuv


def _lpips_vgg(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` LPIPS, VGG16 backbone, ImageNet normalisation (GFVC LPIPSvgg)."""
    return lpips_per_frame(ref, dist, net="vgg")


def _lpips_alex(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` LPIPS, AlexNet backbone, lpips input scaling."""
    return lpips_per_frame(ref, dist, net="alex")


def _xpsnr_y(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` XPSNR of the I420 Y plane in dB, 25 Hz."""
    return xpsnr_per_frame(ref, dist).y


def _xpsnr_yuv(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` (4, 1, 1)-weighted XPSNR in dB, 25 Hz."""
    return xpsnr_per_frame(ref, dist).yuv


def _akd(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` AKD per picture (inner 51 dlib points, / reference inter-ocular distance), NaN
    where either picture has no face."""
    check_rgb_pair(ref, dist, "akd")
    return akd_per_picture(cached_landmarks68(ref), cached_landmarks68(dist))


def _pose_err(ref: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``(N,)`` mean of the absolute yaw, pitch and roll differences in degrees, NaN where
    either picture has no face."""
    check_rgb_pair(ref, dist, "pose_err")
    return _pose_error_per_picture(motion_traces(ref).pose, motion_traces(dist).pose).mean(axis=1)


def _eye_corr(ref: np.ndarray, dist: np.ndarray, fps: float) -> float:
    """Pearson correlation of the eye-openness traces (NaN: constant trace or no face)."""
    check_rgb_pair(ref, dist, "eye_corr")
    return pearson(motion_traces(ref).eye, motion_traces(dist).eye).value


def _mouth_corr(ref: np.ndarray, dist: np.ndarray, fps: float) -> float:
    """Pearson correlation of the mouth-opening traces (NaN: constant trace or no face)."""
    check_rgb_pair(ref, dist, "mouth_corr")
    return pearson(motion_traces(ref).mouth, motion_traces(dist).mouth).value


def _mkr(ref: np.ndarray, dist: np.ndarray, fps: float) -> float:
    """Missing keypoint rate in [0, 1]."""
    return motion_fidelity(ref, dist, fps).mkr


register_metric("psnr_rgb", psnr_rgb_per_frame)
register_metric("psnr_y", _psnr_y)
register_metric("psnr_yuv", _psnr_yuv)
register_metric("ssim_rgb", ssim_rgb_per_frame)
register_metric("ssim_y", _ssim_y)
register_metric("ssim_yuv", _ssim_yuv)
register_metric("msssim", msssim_per_frame)
register_metric("lpips", _lpips_vgg, status=lambda: lpips_status("vgg"))
register_metric("lpips_alex", _lpips_alex, status=lambda: lpips_status("alex"))
register_metric("dists", dists_per_frame, status=dists_status)
register_metric("vmaf", _vmaf, status=_vmaf_status)
register_metric("xpsnr_y", _xpsnr_y, status=xpsnr_status)
register_metric("xpsnr_yuv", _xpsnr_yuv, status=xpsnr_status)
register_metric("akd", _akd, status=face68_status)
register_metric("pose_err", _pose_err, status=head_pose_status)
register_clip_metric("eye_corr", _eye_corr, status=face68_status)
register_clip_metric("mouth_corr", _mouth_corr, status=face68_status)
register_clip_metric("mkr", _mkr, status=head_pose_status)
