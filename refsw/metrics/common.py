"""Errors, input checks and 4:2:0 helpers shared by the quality metrics.

The RGB -> 4:2:0 conversion is :func:`refsw.media.colour.rgb_to_i420` (OpenCV's BT.601
limited range, as the GFVC scripts convert: JVET-AG0042 software, ``rgb444_to_yuv420.py``); the
FFmpeg executable is found by :func:`refsw.media.ffmpeg.resolve_ffmpeg`.
"""

from __future__ import annotations

import os

import numpy as np

from refsw.media.colour import Planes, rgb_to_i420

__all__ = [
    "MetricError",
    "MetricInputError",
    "MetricUnavailable",
    "check_i420_planes",
    "check_rgb_pair",
    "rgb_pair_to_i420",
    "write_i420",
]


class MetricError(RuntimeError):
    """A metric cannot be computed (missing tool or library, failed run, unusable input)."""


class MetricInputError(MetricError, ValueError):
    """The inputs are malformed: wrong dtype or shape, or reference and test differ in shape."""


class MetricUnavailable(MetricError):
    """The metric cannot run in this installation (weights not configured or missing, tool
    missing). The message says what to provide."""


def check_rgb_pair(ref: np.ndarray, dist: np.ndarray, what: str) -> tuple[int, int, int]:
    """Check two ``(N, H, W, 3)`` ``uint8`` RGB arrays of equal shape, N >= 1.

    Args:
        ref: reference (original) frames.
        dist: distorted (decoded) frames.
        what: metric name for error messages.

    Returns:
        ``(N, H, W)``.

    Raises:
        MetricInputError: dtype or shape is wrong, or the shapes differ.
    """
    for name, arr in (("ref", ref), ("dist", dist)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
            raise MetricInputError(f"{what}: {name} must be a uint8 numpy array (N, H, W, 3)")
        if arr.ndim != 4 or arr.shape[3] != 3 or min(arr.shape[:3]) == 0:
            raise MetricInputError(f"{what}: {name} must have shape (N, H, W, 3), got {arr.shape}")
    if ref.shape != dist.shape:
        raise MetricInputError(f"{what}: ref {ref.shape} and dist {dist.shape} differ in shape")
    n, h, w, _ = ref.shape
    return n, h, w


def rgb_pair_to_i420(ref: np.ndarray, dist: np.ndarray, what: str) -> tuple[Planes, Planes]:
    """Checks an RGB pair (see :func:`check_rgb_pair`) and converts both to 4:2:0 planes.

    Raises:
        MetricInputError: malformed pair, or an odd frame size (4:2:0 needs even sizes).
    """
    _, h, w = check_rgb_pair(ref, dist, what)
    if h % 2 or w % 2:
        raise MetricInputError(f"{what}: 4:2:0 needs an even frame size, got {w}x{h}")
    return rgb_to_i420(ref), rgb_to_i420(dist)


def check_i420_planes(planes: Planes, what: str, name: str) -> tuple[int, int, int]:
    """Check 8-bit 4:2:0 planes and return ``(N, H, W)``.

    Args:
        planes: ``(y, u, v)`` ``uint8`` arrays ``(N, H, W)``, ``(N, H/2, W/2)`` twice, N >= 1,
            H and W even.
        what: metric name for error messages.
        name: ``"ref"`` or ``"dist"``, for error messages.

    Raises:
        MetricInputError: not three uint8 planes of matching 4:2:0 shapes.
    """
    if len(planes) != 3 or not all(isinstance(p, np.ndarray) for p in planes):
        raise MetricInputError(f"{what}: {name} must be a (y, u, v) tuple of numpy arrays")
    y, u, v = planes
    if y.dtype != np.uint8 or y.ndim != 3 or min(y.shape) == 0 or y.shape[1] % 2 or y.shape[2] % 2:
        raise MetricInputError(f"{what}: {name} luma must be uint8 (N, H, W), H and W even, got {y.shape}")
    n, h, w = y.shape
    if any(p.dtype != np.uint8 or p.shape != (n, h // 2, w // 2) for p in (u, v)):
        raise MetricInputError(f"{what}: {name} chroma must be uint8 (N, H/2, W/2) for luma {y.shape}")
    return n, h, w


def write_i420(path: str | os.PathLike[str], planes: Planes) -> None:
    """Write 4:2:0 planes as a raw ``yuv420p`` file (Y, U, V of frame 0, then frame 1, ...)."""
    with open(path, "wb") as f:
        for i in range(planes[0].shape[0]):
            f.writelines(np.ascontiguousarray(plane[i]).tobytes() for plane in planes)
