"""Errors, input checks and FFmpeg helpers shared by the quality metrics."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import cv2
import imageio_ffmpeg
import numpy as np

__all__ = [
    "MetricError",
    "MetricInputError",
    "MetricUnavailable",
    "Planes",
    "check_i420_planes",
    "check_rgb_pair",
    "ffmpeg_has_filter",
    "log_tail",
    "resolve_ffmpeg",
    "rgb_to_i420_planes",
    "write_i420",
]

#: ``(y, u, v)`` 8-bit 4:2:0 planes: ``(N, H, W)``, ``(N, H/2, W/2)``, ``(N, H/2, W/2)``.
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]
#: Lines of a tool's log quoted in error messages.
LOG_TAIL_LINES = 8


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
        raise MetricInputError(
            f"{what}: {name} luma must be uint8 (N, H, W), H and W even, got {y.shape}"
        )
    n, h, w = y.shape
    if any(p.dtype != np.uint8 or p.shape != (n, h // 2, w // 2) for p in (u, v)):
        raise MetricInputError(
            f"{what}: {name} chroma must be uint8 (N, H/2, W/2) for luma {y.shape}"
        )
    return n, h, w


def resolve_ffmpeg(ffmpeg: str | os.PathLike[str] | None, what: str) -> str:
    """Absolute path of the FFmpeg executable (imageio-ffmpeg's bundled one by default).

    Raises:
        MetricError: the executable is not found.
    """
    exe = os.fspath(ffmpeg) if ffmpeg is not None else imageio_ffmpeg.get_ffmpeg_exe()
    found = shutil.which(exe)
    if found is None:
        raise MetricError(f"{what}: FFmpeg executable not found: {exe}")
    return os.path.abspath(found)


@functools.cache
def ffmpeg_has_filter(ffmpeg: str, name: str) -> bool:
    """Whether the FFmpeg executable ``ffmpeg`` lists the filter ``name``."""
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and any(
        line.split()[1:2] == [name] for line in proc.stdout.splitlines()
    )


def log_tail(log: str, lines: int = LOG_TAIL_LINES) -> str:
    """Last non-empty lines of a tool's log joined on one line."""
    kept = [line.strip() for line in log.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(empty log)"


def write_i420(path: str | os.PathLike[str], planes: Planes) -> None:
    """Write 4:2:0 planes as a raw ``yuv420p`` file (Y, U, V of frame 0, then frame 1, ...)."""
    with open(path, "wb") as f:
        for i in range(planes[0].shape[0]):
            f.writelines(np.ascontiguousarray(plane[i]).tobytes() for plane in planes)
