"""Turn any talking-head video into GFVC CTC test sequences (``gfv-ctc prepare``).

The GFVC common test conditions (JVET-AG2035; common software of JVET-AG0042) use square,
face-centred 25 Hz sequences stored twice: planar 8-bit RGB 4:4:4
(``NAME_256x256_25_8bit_444.rgb``, per picture an R, a G and a B plane) and 8-bit YUV 4:2:0
(``NAME_256x256_25_8bit_420.yuv``, I420), the latter made from the former with OpenCV's
``COLOR_RGB2YUV_I420`` (BT.601 limited range). This module makes both, at 256x256 and 512x512:

1. **Frame rate.** The output picture ``k`` (time ``k/25`` s) is the source picture displayed at
   that time, index ``floor(k * fps_src / 25)`` (exact rational arithmetic). A 30 Hz source thus
   loses every sixth picture; a slower source repeats pictures. A 25 Hz source is unchanged.
2. **Length.** The first ``frames`` output pictures (all the source yields when it is shorter).
3. **Crop.** One face-centred square window for the whole clip
   (:func:`refsw.media.face_crop.find_crop_window`, MediaPipe face detection on 16 pictures spread
   over the resampled clip), cut out and resized to each size (area interpolation down, Lanczos
   up; :func:`refsw.media.face_crop.apply_crop`). Both sizes use the same window.
4. **Colour.** The ``.yuv`` file is :func:`refsw.media.colour.rgb_to_i420` of the ``.rgb`` pictures,
   bit-identical to ``cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from refsw.media.face_crop import CropWindow, apply_crop, find_crop_window
from refsw.media.video_io import InputError, read_video, write_video

logger = logging.getLogger(__name__)

__all__ = [
    "CTC_FPS",
    "CTC_SIZES",
    "PreparedSequence",
    "ctc_file_name",
    "prepare_sequence",
    "resample_indices",
    "source_frames_needed",
]

#: Picture rate of the CTC sequences (Hz).
CTC_FPS = 25
#: Picture sizes written by ``gfv-ctc prepare`` (square, luma samples).
CTC_SIZES = (256, 512)


def ctc_file_name(name: str, size: int, fps: int, chroma: str) -> str:
    """CTC file name, e.g. ``NAME_256x256_25_8bit_444.rgb`` (``chroma`` ``"444"`` or ``"420"``)."""
    ext = "rgb" if chroma == "444" else "yuv"
    return f"{name}_{size}x{size}_{fps}_8bit_{chroma}.{ext}"


def resample_indices(num_source: int, source_fps: float, frames: int | None, fps: int = CTC_FPS) -> np.ndarray:
    """Source picture indices of the ``fps`` Hz output pictures (see the module docstring).

    Args:
        num_source: number of source pictures available.
        source_fps: source picture rate (Hz, > 0).
        frames: wanted number of output pictures, ``None`` for as many as the source covers.
        fps: output picture rate (Hz), 25 in the CTC.

    Returns:
        ``(M,)`` ``int64`` indices, non-decreasing, all ``< num_source`` (``k * ratio <
        num_source`` for every ``k < ceil(num_source / ratio)``).
    """
    ratio = Fraction(source_fps).limit_denominator(1001) / fps
    count = math.ceil(num_source / ratio)
    if frames is not None:
        count = min(count, frames)
    return np.array([math.floor(k * ratio) for k in range(count)], dtype=np.int64)


@dataclass(frozen=True)
class PreparedSequence:
    """What :func:`prepare_sequence` produced.

    Attributes:
        name: sequence name (file name prefix).
        source: input video path.
        source_fps: source picture rate (Hz).
        source_size: ``(width, height)`` of the source pictures.
        frames: number of output pictures.
        fps: output picture rate (Hz).
        source_indices: source picture index of each output picture.
        window: crop window in source pixels ``(x0, y0, size)``.
        files: written files, keyed ``"<size>_444"`` / ``"<size>_420"``.
    """

    name: str
    source: str
    source_fps: float
    source_size: tuple[int, int]
    frames: int
    fps: int
    source_indices: list[int]
    window: tuple[int, int, int]
    files: dict[str, str]


def source_frames_needed(frames: int | None, source_fps: float, fps: int = CTC_FPS) -> int | None:
    """Source pictures to decode for ``frames`` output pictures at ``fps`` Hz (``None``: all)."""
    if frames is None:
        return None
    ratio = Fraction(source_fps).limit_denominator(1001) / fps
    return math.floor((frames - 1) * ratio) + 1


def prepare_sequence(
    source: str | Path,
    out_dir: str | Path,
    *,
    name: str | None = None,
    frames: int | None = None,
    sizes: tuple[int, ...] = CTC_SIZES,
    fps: int = CTC_FPS,
    crop: bool = True,
) -> PreparedSequence:
    """Write the CTC files of one video (see the module docstring).

    Args:
        source: any input :func:`refsw.media.video_io.read_video` reads.
        out_dir: output directory (created if missing).
        name: sequence name; default the source file's stem.
        frames: number of output pictures (``None``: the whole clip).
        sizes: output sides in luma samples.
        fps: output picture rate (Hz), 25 in the CTC.
        crop: ``False`` skips the face detection and resizes the whole (square) picture.

    Returns:
        What was written.

    Raises:
        refsw.media.video_io.InputError: unreadable input, ``crop=False`` on a non-square input.
        refsw.media.face_crop.NoFaceError: no face found.
    """
    source = Path(source)
    name = name or source.stem
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    probe = read_video(source, max_frames=1)
    video = read_video(source, max_frames=source_frames_needed(frames, probe.fps, fps))
    idx = resample_indices(len(video.frames), video.fps, frames, fps)
    picked = video.frames[idx]
    h, w = picked.shape[1:3]
    if crop:
        window = find_crop_window(picked, source=str(source))
    elif h == w:
        window = CropWindow(0, 0, w)
    else:
        raise InputError(f"{source}: {w}x{h} is not square; prepare it with the face crop")
    files: dict[str, str] = {}
    for size in sizes:
        pictures = apply_crop(picked, window, out_size=size)
        for chroma in ("444", "420"):
            path = out / ctc_file_name(name, size, fps, chroma)
            write_video(path, pictures, fps)
            files[f"{size}_{chroma}"] = str(path)
    logger.info("%s: %d pictures at %d Hz from %s", name, len(idx), fps, source)
    return PreparedSequence(
        name=name,
        source=str(source),
        source_fps=float(video.fps),
        source_size=(w, h),
        frames=len(idx),
        fps=fps,
        source_indices=[int(i) for i in idx],
        window=(window.x0, window.y0, window.size),
        files=files,
    )
