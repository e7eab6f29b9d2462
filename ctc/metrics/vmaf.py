"""VMAF per frame with the libvmaf filter of the bundled FFmpeg.

VMAF (Netflix; Z. Li et al., "Toward a practical perceptual video quality metric", 2016) with
the model built into libvmaf, ``vmaf_v0.6.1`` by default (trained for 1080p viewing at 3H; it
is applied unchanged to the 256x256 CTC frames). VMAF reads luma only. RGB inputs are
converted to YUV 4:2:0 with OpenCV ``COLOR_RGB2YUV_I420`` (BT.601 limited range), written
as raw ``yuv420p`` files and scored with::

    ffmpeg -f rawvideo ... -i dist.yuv -f rawvideo ... -i ref.yuv \\
           -lavfi "[0:v][1:v]libvmaf=model='version=vmaf_v0.6.1':log_fmt=json:..." -f null -

(libvmaf's first input is the distorted video, the second the reference.) Scores are read from
the JSON log, ``frames[i].metrics.vmaf``, printed by libvmaf with 6 decimals. The motion
feature of the first frame is 0 by definition, so the first score is usually a little lower.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from .common import MetricError, MetricInputError, check_rgb_pair, rgb_to_i420_planes

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MODEL", "vmaf_per_frame", "vmaf_per_frame_i420"]

#: libvmaf built-in model selector.
DEFAULT_MODEL = "version=vmaf_v0.6.1"
#: Lines of FFmpeg's log quoted in error messages.
_LOG_TAIL = 8

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def _resolve_ffmpeg(ffmpeg: str | os.PathLike[str] | None) -> str:
    """Absolute path of the FFmpeg executable (imageio-ffmpeg's by default)."""
    exe = os.fspath(ffmpeg) if ffmpeg is not None else imageio_ffmpeg.get_ffmpeg_exe()
    found = shutil.which(exe)
    if found is None:
        raise MetricError(f"vmaf: FFmpeg executable not found: {exe}")
    return os.path.abspath(found)


@functools.cache
def _has_libvmaf(ffmpeg: str) -> bool:
    """Whether ``ffmpeg`` lists the libvmaf filter."""
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, check=False
    )
    return proc.returncode == 0 and any(
        line.split()[1:2] == ["libvmaf"] for line in proc.stdout.splitlines()
    )


def _tail(log: str) -> str:
    """Last non-empty lines of ``log`` on one line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return " | ".join(lines[-_LOG_TAIL:]) or "(empty log)"


def _check_planes(planes: Planes, name: str) -> tuple[int, int, int]:
    """Check ``(y, u, v)`` uint8 4:2:0 planes and return ``(N, H, W)``."""
    if len(planes) != 3 or not all(isinstance(p, np.ndarray) for p in planes):
        raise MetricInputError(f"vmaf: {name} must be a (y, u, v) tuple of numpy arrays")
    y, u, v = planes
    if y.dtype != np.uint8 or y.ndim != 3 or min(y.shape) == 0 or y.shape[1] % 2 or y.shape[2] % 2:
        raise MetricInputError(
            f"vmaf: {name} luma must be uint8 (N, H, W), H and W even, got {y.shape}"
        )
    n, h, w = y.shape
    if any(p.dtype != np.uint8 or p.shape != (n, h // 2, w // 2) for p in (u, v)):
        raise MetricInputError(
            f"vmaf: {name} chroma must be uint8 (N, H/2, W/2) for luma {y.shape}"
        )
    return n, h, w


def vmaf_per_frame_i420(
    ref: Planes,
    dist: Planes,
    fps: float = 25.0,
    *,
    n_threads: int = 2,
    model: str = DEFAULT_MODEL,
    ffmpeg: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
) -> np.ndarray:
    """VMAF of each frame from 8-bit YUV 4:2:0 planes.

    Args:
        ref: ``(y, u, v)`` ``uint8`` reference planes, ``(N, H, W)``, ``(N, H/2, W/2)`` twice.
        dist: distorted planes of the same shapes.
        fps: frame rate in Hz given to both raw inputs (VMAF's motion feature does not use it).
        n_threads: libvmaf worker threads.
        model: libvmaf ``model`` option value.
        ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
        timeout_s: wall-clock limit in seconds.

    Returns:
        ``(N,)`` ``float64`` VMAF scores (0..100 for vmaf_v0.6.1).

    Raises:
        MetricInputError: malformed planes or differing shapes.
        MetricError: FFmpeg or its libvmaf filter is missing, the run fails or the log is
            unusable.
    """
    n, h, w = _check_planes(ref, "ref")
    if _check_planes(dist, "dist") != (n, h, w):
        raise MetricInputError(f"vmaf: ref {ref[0].shape} and dist {dist[0].shape} differ in shape")
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise MetricInputError(f"vmaf: fps must be positive, got {fps!r}")
    exe = _resolve_ffmpeg(ffmpeg)
    if not _has_libvmaf(exe):
        raise MetricError(f"vmaf: FFmpeg at {exe} has no libvmaf filter")
    rate = str(Fraction(fps).limit_denominator(1_000_000))
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-framerate", rate, "-i"]
    graph = (
        f"[0:v][1:v]libvmaf=model='{model}':log_fmt=json:log_path=vmaf.json:n_threads={n_threads}"
    )
    with tempfile.TemporaryDirectory(prefix="gfv_vmaf_") as tmp:
        for name, planes in (("ref.yuv", ref), ("dist.yuv", dist)):
            with open(Path(tmp) / name, "wb") as f:
                for i in range(n):
                    for plane in planes:
                        f.write(np.ascontiguousarray(plane[i]).tobytes())
        # fmt: off
        cmd = [
            exe, "-nostdin", "-hide_banner", "-loglevel", "error",
            *raw, "dist.yuv", *raw, "ref.yuv", "-lavfi", graph, "-f", "null", "-",
        ]
        # fmt: on
        try:
            proc = subprocess.run(
                cmd,
                cwd=tmp,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MetricError(f"vmaf: FFmpeg timed out after {timeout_s:g} s") from exc
        if proc.returncode != 0:
            raise MetricError(f"vmaf: FFmpeg return code {proc.returncode}: {_tail(proc.stderr)}")
        try:
            log = json.loads((Path(tmp) / "vmaf.json").read_text())
            frames = sorted(log["frames"], key=lambda fr: fr["frameNum"])
            scores = np.array([fr["metrics"]["vmaf"] for fr in frames], np.float64)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MetricError(f"vmaf: unusable libvmaf log: {exc!r}") from exc
    if scores.shape != (n,):
        raise MetricError(f"vmaf: libvmaf scored {scores.size} frames, expected {n}")
    logger.debug("vmaf of %d frames %dx%d: mean %.3f", n, w, h, scores.mean())
    return scores


def vmaf_per_frame(
    ref: np.ndarray,
    dist: np.ndarray,
    fps: float = 25.0,
    *,
    n_threads: int = 2,
    model: str = DEFAULT_MODEL,
    ffmpeg: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
) -> np.ndarray:
    """VMAF of each frame of RGB inputs (converted with OpenCV I420, BT.601 limited range).

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, H and W even.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        fps: frame rate in Hz.
        n_threads: libvmaf worker threads.
        model: libvmaf ``model`` option value (default ``version=vmaf_v0.6.1``).
        ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
        timeout_s: wall-clock limit in seconds.

    Returns:
        ``(N,)`` ``float64`` VMAF scores.

    Raises:
        MetricInputError: wrong dtype or shapes, or an odd frame size.
        MetricError: libvmaf missing or failing.
    """
    _, h, w = check_rgb_pair(ref, dist, "vmaf")
    if h % 2 or w % 2:
        raise MetricInputError(f"vmaf: 4:2:0 needs an even frame size, got {w}x{h}")
    return vmaf_per_frame_i420(
        rgb_to_i420_planes(ref),
        rgb_to_i420_planes(dist),
        fps,
        n_threads=n_threads,
        model=model,
        ffmpeg=ffmpeg,
        timeout_s=timeout_s,
    )
