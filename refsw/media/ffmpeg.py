"""The FFmpeg executable: where it is and what it was built with.

By default the software runs the FFmpeg binary bundled with imageio-ffmpeg (a static build with
libx264, libx265, libvvenc, libvmaf and the xpsnr filter); every component that runs FFmpeg
(mp4 writing, the VVenC/x265 codec backends, the VMAF and XPSNR metrics, the provenance record)
finds it through :func:`resolve_ffmpeg`, optionally with a user-given executable instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable

import imageio_ffmpeg

__all__ = ["FFmpegNotFoundError", "ffmpeg_has_encoder", "ffmpeg_has_filter", "resolve_ffmpeg"]


class FFmpegNotFoundError(RuntimeError):
    """No usable FFmpeg executable (default error of :func:`resolve_ffmpeg`)."""


def resolve_ffmpeg(
    executable: str | os.PathLike[str] | None = None,
    *,
    what: str = "",
    error: Callable[[str], Exception] = FFmpegNotFoundError,
) -> str:
    """Absolute path of the FFmpeg executable to run.

    Args:
        executable: Explicit path or command name (looked up on ``PATH``); ``None`` uses
            imageio-ffmpeg's bundled binary.
        what: Prefix of the error message (``"xpsnr"`` gives ``"xpsnr: FFmpeg executable not
            found ..."``); empty for none.
        error: Exception class (or factory) raised with the message, so that each caller keeps
            its own error type (``CodecError``, ``MetricError``, ``OutputError``).

    Returns:
        Absolute path of an existing executable file.

    Raises:
        FFmpegNotFoundError: (or ``error``) imageio-ffmpeg has no binary for this platform, or
            ``executable`` does not exist or is not executable.
    """
    prefix = f"{what}: " if what else ""
    if executable is None:
        try:
            executable = imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError as exc:
            raise error(f"{prefix}imageio-ffmpeg has no FFmpeg binary: {exc}") from exc
    found = shutil.which(os.fspath(executable))
    if found is None:
        raise error(f"{prefix}FFmpeg executable not found or not executable: {executable}")
    return os.path.abspath(found)


@functools.cache
def ffmpeg_has_encoder(ffmpeg: str, encoder: str) -> bool:
    """Whether the FFmpeg executable ``ffmpeg`` was built with the encoder ``encoder``.

    Args:
        ffmpeg: Path of the executable (see :func:`resolve_ffmpeg`).
        encoder: FFmpeg encoder name (``"libvvenc"``).

    Returns:
        ``True`` if ``ffmpeg -h encoder=NAME`` describes it. Cached per argument pair.
    """
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-h", f"encoder={encoder}"],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    return proc.returncode == 0 and f"Encoder {encoder} " in proc.stdout


@functools.cache
def ffmpeg_has_filter(ffmpeg: str, name: str) -> bool:
    """Whether the FFmpeg executable ``ffmpeg`` lists the filter ``name``.

    Args:
        ffmpeg: Path of the executable (see :func:`resolve_ffmpeg`).
        name: FFmpeg filter name (``"libvmaf"``, ``"xpsnr"``).

    Returns:
        ``True`` if ``ffmpeg -filters`` lists it. Cached per argument pair.
    """
    proc = subprocess.run([ffmpeg, "-hide_banner", "-filters"], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and any(line.split()[1:2] == [name] for line in proc.stdout.splitlines())
