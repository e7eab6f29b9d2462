"""XPSNR per frame with the ``xpsnr`` filter of the bundled FFmpeg.

XPSNR, the extended perceptually weighted PSNR (C. R. Helmrich, M. Siekmann, S. Becker,
S. Bosse, D. Marpe, T. Wiegand, "XPSNR: a low-complexity extension of the perceptually
weighted peak signal-to-noise ratio for high-resolution video quality assessment", ICASSP
2020; Fraunhofer HHI, implemented in FFmpeg's ``vf_xpsnr``): the squared error of each block
is weighted by the inverse of the block's spatial and temporal visual activity in the
reference, so errors in flat, still regions count more than in textured, moving ones. It is a
video metric (the temporal activity uses the previous reference frames), runs offline and
needs no learned weights.

RGB inputs are converted to YUV 4:2:0 with OpenCV ``COLOR_RGB2YUV_I420`` (BT.601 limited
range), written as raw ``yuv420p`` and scored with::

    ffmpeg -f rawvideo ... -i dist.yuv -f rawvideo ... -i ref.yuv \\
           -lavfi "[0:v][1:v]xpsnr=stats_file=xpsnr.log" -f null -

(the filter's first input is the distorted video, the second the reference). The per-frame
lines ``n: 1  XPSNR y: 35.2112  XPSNR u: 38.9879  XPSNR v: 38.9529`` (4 decimals, ``inf``
for identical frames) give the Y, U and V values in dB.

``yuv`` is this module's combination, analogous to the GFVC PSNR_YUV (:mod:`.psnr`): each
plane's XPSNR is turned back into a weighted MSE, ``255^2 10^(-XPSNR/10)``, and
``XPSNR_YUV = 10 log10(255^2 / ((4 wMSE_Y + wMSE_U + wMSE_V) / 6))``. It is not a value that
FFmpeg or the XPSNR paper prints.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from refsw.codecs.ffmpeg_common import log_tail
from refsw.media.colour import Planes
from refsw.media.ffmpeg import ffmpeg_has_filter, resolve_ffmpeg

from .common import (
    MetricError,
    MetricInputError,
    MetricUnavailable,
    check_i420_planes,
    rgb_pair_to_i420,
    write_i420,
)

logger = logging.getLogger(__name__)

__all__ = ["Xpsnr", "xpsnr_per_frame", "xpsnr_per_frame_i420", "xpsnr_status"]

#: Weights of the Y, U, V weighted MSEs in XPSNR_YUV.
YUV_WEIGHTS = (4.0, 1.0, 1.0)
PEAK = 255.0
_FRAME_LINE = re.compile(r"n:\s*(\d+)\s+XPSNR y:\s*(\S+)\s+XPSNR u:\s*(\S+)\s+XPSNR v:\s*(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Xpsnr:
    """Per-frame XPSNR in dB.

    Attributes:
        y, u, v: ``(N,)`` ``float64`` XPSNR of each plane (``inf`` for identical planes).
        yuv: ``(N,)`` ``float64`` (4, 1, 1)-weighted combination (module docstring).
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    yuv: np.ndarray


def _combine(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``(N,)`` XPSNR_YUV from the plane values (dB)."""
    wy, wu, wv = YUV_WEIGHTS
    mse = [PEAK * PEAK * np.power(10.0, -p / 10.0) for p in (y, u, v)]
    weighted = (wy * mse[0] + wu * mse[1] + wv * mse[2]) / (wy + wu + wv)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(PEAK * PEAK / weighted)


def xpsnr_status(ffmpeg: str | os.PathLike[str] | None = None) -> str | None:
    """``None`` when FFmpeg with the xpsnr filter is found, else the reason."""
    try:
        exe = resolve_ffmpeg(ffmpeg, what="xpsnr", error=MetricError)
    except MetricError as exc:
        return str(exc)
    if not ffmpeg_has_filter(exe, "xpsnr"):
        return f"xpsnr: FFmpeg at {exe} has no xpsnr filter (FFmpeg 7.1 or later needed)"
    return None


def _parse(log: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame Y, U, V values from the stats file, frames 1..n in order."""
    rows: dict[int, tuple[float, float, float]] = {}
    for match in _FRAME_LINE.finditer(log):
        rows[int(match.group(1))] = (
            float(match.group(2)),
            float(match.group(3)),
            float(match.group(4)),
        )
    if sorted(rows) != list(range(1, n + 1)):
        raise MetricError(f"xpsnr: stats file has {len(rows)} frame lines, expected {n}")
    arr = np.array([rows[i] for i in range(1, n + 1)], np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def xpsnr_per_frame_i420(
    ref: Planes,
    dist: Planes,
    fps: float = 25.0,
    *,
    ffmpeg: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
) -> Xpsnr:
    """XPSNR of each frame from 8-bit YUV 4:2:0 planes.

    Args:
        ref: ``(y, u, v)`` ``uint8`` reference planes, ``(N, H, W)``, ``(N, H/2, W/2)`` twice.
        dist: distorted planes of the same shapes.
        fps: frame rate in Hz of both raw inputs.
        ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
        timeout_s: wall-clock limit in seconds.

    Returns:
        :class:`Xpsnr` with ``(N,)`` arrays in dB.

    Raises:
        MetricInputError: malformed planes or differing shapes, bad fps.
        MetricUnavailable: FFmpeg has no xpsnr filter.
        MetricError: FFmpeg missing, the run fails or its stats file is unusable.
    """
    n, h, w = check_i420_planes(ref, "xpsnr", "ref")
    if check_i420_planes(dist, "xpsnr", "dist") != (n, h, w):
        raise MetricInputError(f"xpsnr: ref {ref[0].shape} and dist {dist[0].shape} differ")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise MetricInputError(f"xpsnr: fps must be positive, got {fps!r}")
    exe = resolve_ffmpeg(ffmpeg, what="xpsnr", error=MetricError)
    if not ffmpeg_has_filter(exe, "xpsnr"):
        raise MetricUnavailable(f"xpsnr: FFmpeg at {exe} has no xpsnr filter")
    rate = str(Fraction(fps).limit_denominator(1_000_000))
    raw = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}", "-framerate", rate, "-i"]
    with tempfile.TemporaryDirectory(prefix="gfv_xpsnr_") as tmp:
        write_i420(Path(tmp) / "ref.yuv", ref)
        write_i420(Path(tmp) / "dist.yuv", dist)
        # fmt: off
        cmd = [
            exe, "-nostdin", "-hide_banner", "-loglevel", "error",
            *raw, "dist.yuv", *raw, "ref.yuv",
            "-lavfi", "[0:v][1:v]xpsnr=stats_file=xpsnr.log", "-f", "null", "-",
        ]
        # fmt: on
        try:
            proc = subprocess.run(
                cmd, cwd=tmp, capture_output=True, text=True, errors="replace",
                timeout=timeout_s, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise MetricError(f"xpsnr: FFmpeg timed out after {timeout_s:g} s") from exc
        if proc.returncode != 0:
            raise MetricError(f"xpsnr: FFmpeg return code {proc.returncode}: {log_tail(proc.stderr)}")
        try:
            log = (Path(tmp) / "xpsnr.log").read_text()
        except OSError as exc:
            raise MetricError(f"xpsnr: no stats file: {exc}") from exc
    y, u, v = _parse(log, n)
    logger.debug("xpsnr of %d frames %dx%d: mean Y %.3f dB", n, w, h, float(np.mean(y)))
    return Xpsnr(y=y, u=u, v=v, yuv=_combine(y, u, v))


def xpsnr_per_frame(
    ref: np.ndarray,
    dist: np.ndarray,
    fps: float = 25.0,
    *,
    ffmpeg: str | os.PathLike[str] | None = None,
    timeout_s: float = 600.0,
) -> Xpsnr:
    """XPSNR of each frame of RGB inputs (converted with OpenCV I420, BT.601 limited range).

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, H and W even.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        fps: frame rate in Hz.
        ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
        timeout_s: wall-clock limit in seconds.

    Returns:
        :class:`Xpsnr` with ``(N,)`` arrays in dB.

    Raises:
        MetricInputError: wrong dtype or shapes, or an odd frame size.
        MetricUnavailable: FFmpeg has no xpsnr filter.
        MetricError: FFmpeg missing or failing.
    """
    ref_planes, dist_planes = rgb_pair_to_i420(ref, dist, "xpsnr")
    return xpsnr_per_frame_i420(ref_planes, dist_planes, fps, ffmpeg=ffmpeg, timeout_s=timeout_s)
