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

import json
import logging
import os
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from refsw.codecs.ffmpeg_common import log_tail
from refsw.media.colour import Planes
from refsw.media.ffmpeg import ffmpeg_has_filter, resolve_ffmpeg

from .common import (
    MetricError,
    MetricInputError,
    check_i420_planes,
    rgb_pair_to_i420,
    write_i420,
)

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MODEL", "vmaf_per_frame", "vmaf_per_frame_i420"]

#: libvmaf built-in model selector.
DEFAULT_MODEL = "version=vmaf_v0.6.1"


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
    n, h, w = check_i420_planes(ref, "vmaf", "ref")
    if check_i420_planes(dist, "vmaf", "dist") != (n, h, w):
        raise MetricInputError(f"vmaf: ref {ref[0].shape} and dist {dist[0].shape} differ in shape")
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise MetricInputError(f"vmaf: fps must be positive, got {fps!r}")
    exe = resolve_ffmpeg(ffmpeg, what="vmaf", error=MetricError)
    if not ffmpeg_has_filter(exe, "libvmaf"):
        raise MetricError(f"vmaf: FFmpeg at {exe} has no libvmaf filter")
    rate = str(Fraction(fps).limit_denominator(1_000_000))
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-framerate", rate, "-i"]
    graph = f"[0:v][1:v]libvmaf=model='{model}':log_fmt=json:log_path=vmaf.json:n_threads={n_threads}"
    with tempfile.TemporaryDirectory(prefix="gfv_vmaf_") as tmp:
        for name, planes in (("ref.yuv", ref), ("dist.yuv", dist)):
            write_i420(Path(tmp) / name, planes)
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
            raise MetricError(f"vmaf: FFmpeg return code {proc.returncode}: {log_tail(proc.stderr)}")
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
    ref_planes, dist_planes = rgb_pair_to_i420(ref, dist, "vmaf")
    return vmaf_per_frame_i420(
        ref_planes,
        dist_planes,
        fps,
        n_threads=n_threads,
        model=model,
        ffmpeg=ffmpeg,
        timeout_s=timeout_s,
    )
