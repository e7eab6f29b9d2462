"""Errors and input checks shared by the quality metrics."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MetricError", "MetricInputError", "check_rgb_pair", "rgb_to_i420_planes"]


class MetricError(RuntimeError):
    """A metric cannot be computed (missing tool or library, failed run, unusable input)."""


class MetricInputError(MetricError, ValueError):
    """The inputs are malformed: wrong dtype or shape, or reference and test differ in shape."""


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


def rgb_to_i420_planes(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB -> YUV 4:2:0 with OpenCV ``COLOR_RGB2YUV_I420`` (BT.601 limited range), as the GFVC
    scripts convert (JVET-AG0042 software, ``rgb444_to_yuv420.py``).

    Args:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB, H and W even (not checked here).

    Returns:
        ``(y, u, v)`` ``uint8``: ``(N, H, W)``, ``(N, H/2, W/2)``, ``(N, H/2, W/2)``.
    """
    n, h, w, _ = frames.shape
    flat = np.stack(
        [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2YUV_I420) for f in frames]
    ).reshape(n, -1)
    luma, chroma = h * w, (h // 2) * (w // 2)
    return (
        flat[:, :luma].reshape(n, h, w),
        flat[:, luma : luma + chroma].reshape(n, h // 2, w // 2),
        flat[:, luma + chroma :].reshape(n, h // 2, w // 2),
    )
