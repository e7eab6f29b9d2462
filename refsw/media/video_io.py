"""Video input/output for the GFV reference software.

Reading (:func:`read_video`):

* container video (mp4/avi/mov/mkv/webm, y4m, ...) and PNG pictures are read through imageio's
  v3 API: the ``pyav`` plugin (PyAV's FFmpeg libraries; the same decoders as before imageio was
  used) and the ``pillow`` plugin;
* the raw formats of the JVET CTC, which imageio does not read (planar 8-bit RGB 4:4:4 ``.rgb``
  and 8-bit YUV 4:2:0 ``.yuv``, size and frame rate in the file name), have their own reader.

Writing (:func:`write_video`): mp4 (H.264 through the FFmpeg binary found by
:func:`refsw.media.ffmpeg.resolve_ffmpeg`), y4m, raw I420 and planar RGB.

All frames handled here are ``(N, H, W, 3)`` ``uint8`` RGB arrays. 8-bit 4:2:0 video is converted
to and from RGB with :mod:`refsw.media.colour` (OpenCV's BT.601 limited-range conversion, which
is what the JVET GFVC scripts use). imageio's own YUV -> RGB conversion (FFmpeg's swscale) gives
other pixels (up to 3 levels apart on 90 % of the samples of the test clips), so 4:2:0 BT.601
video is taken from imageio as raw planes (:data:`_PACK_I420`) and converted here.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, cast

import av
import imageio.v3 as iio
import numpy as np

from .colour import i420_to_rgb, rgb_to_i420
from .ffmpeg import resolve_ffmpeg
from .frames import InputError, check_even_size, check_frames

logger = logging.getLogger(__name__)

__all__ = [
    "InputError",
    "OutputError",
    "Video",
    "i420_chunks",
    "read_video",
    "write_video",
]

#: Extensions accepted by :func:`write_video`.
WRITE_EXTENSIONS = frozenset({".mp4", ".y4m", ".yuv", ".rgb"})
#: Frame rate assumed for PNG sequences and raw files whose name carries no frame rate.
DEFAULT_FPS = 25.0
#: x264 constant rate factor used for mp4 output (visually near-lossless).
MP4_CRF = 10

_PRINTF_PATTERN = re.compile(r"%0?(\d*)d")
# NAME_WxH[_FPS[fps|Hz]][_Nbit][_420|_444] at the end of the file stem (JVET CTC naming).
_RAW_NAME = re.compile(
    r"(?:^|_)(?P<w>\d+)x(?P<h>\d+)"
    r"(?:_(?P<fps>\d+(?:\.\d+)?)(?:fps|hz)?)?"
    r"(?:_(?P<bits>\d+)bits?)?"
    r"(?:_(?P<chroma>4\d\d)p?)?$",
    re.IGNORECASE,
)
_BT601_COLORSPACES = frozenset({2, 5, 6})  # AVColorSpace: unspecified, BT470BG, SMPTE170M
_LIMITED_RANGES = frozenset({0, 1})  # AVColorRange: unspecified, MPEG (limited)

#: FFmpeg filter graph (imageio ``filter_graph`` form: nodes, edges) that packs the three planes
#: of an 8-bit 4:2:0 picture into one ``gray`` picture of ``(3H/2, W)`` samples, Y on top, Cb
#: and Cr side by side below, without changing a sample. imageio's PyAV plugin only returns
#: pixel formats that are one strided array, which 4:2:0 is not (``format=None`` raises), and
#: its ``rgb24`` conversion is swscale's, not :func:`i420_to_rgb`.
_PACK_I420 = (
    {
        "planes": ("extractplanes", "y+u+v"),
        "chroma": ("hstack", "inputs=2"),
        "packed": ("vstack", "inputs=2"),
    },
    [
        ("video_in", "planes", 0, 0),
        ("planes", "packed", 0, 0),
        ("planes", "chroma", 1, 0),
        ("planes", "chroma", 2, 1),
        ("chroma", "packed", 0, 1),
        ("packed", "video_out", 0, 0),
    ],
)


class OutputError(OSError):
    """An output file cannot be written (missing or unwritable directory, encoder failure)."""


@dataclass
class Video:
    """Decoded video.

    Attributes:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB frames, ``N >= 1``.
        fps: Frame rate in frames per second, ``> 0``.
        source: Where the frames came from (path or pattern as given).

    Raises:
        InputError: On construction, if ``frames`` or ``fps`` violate the above.
    """

    frames: np.ndarray
    fps: float
    source: str

    def __post_init__(self) -> None:
        check_frames(self.frames, self.source)
        _check_fps(self.fps, self.source)


def _check_fps(fps: float, what: str) -> None:
    """Raise InputError unless ``fps`` is a finite positive number."""
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(f"{what}: fps must be a finite positive number, got {fps!r}")


# --------------------------------------------------------------------------- reading


def read_video(
    path: str | os.PathLike[str],
    *,
    max_frames: int | None = None,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> Video:
    """Read a video into RGB frames.

    Supported inputs, chosen by the path:

    * ``.mp4 .avi .mov .mkv .y4m`` (any other extension is also tried): first video stream,
      decoded by imageio's ``pyav`` plugin. 8-bit 4:2:0 frames tagged BT.601 (or untagged),
      limited range (or untagged), even size, are converted with :func:`i420_to_rgb`; other
      pixel formats, matrices and ranges by imageio/swscale (``rgb24``, with the frame's own
      matrix and range). The choice is made from the first frame.
    * a directory of ``*.png`` (sorted by name), a printf pattern such as ``frames/%04d.png``
      (numbering starts at 0 or 1 and stops at the first missing file) or a single ``.png``,
      read by imageio's ``pillow`` plugin: EXIF orientation applied, 16-bit samples cut to
      their high byte, grey replicated to RGB, alpha dropped (as OpenCV's ``IMREAD_COLOR``).
    * raw ``.yuv`` (8-bit I420) and ``.rgb`` (8-bit planar R, G, B per frame). Size and frame
      rate come from the JVET CTC name ``NAME_WxH_FPS_8bit_420.yuv`` /
      ``NAME_WxH_FPS_8bit_444.rgb`` (``NAME_WxH_FPS.yuv`` and ``NAME_WxH.yuv`` are also
      accepted, frame rate then defaults to 25) unless ``width``/``height``/``fps`` are given.

    Args:
        path: File, directory or printf pattern.
        max_frames: Read at most this many frames (from the start); ``None`` reads all.
            Only the needed part of the file is read or decoded.
        width: Raw files: frame width in pixels (overrides the name). Other inputs: expected
            width, a mismatch raises InputError.
        height: As ``width``, for the frame height.
        fps: Frame rate to report instead of the one stored in / derived for the input.

    Returns:
        :class:`Video` with ``(N, H, W, 3)`` ``uint8`` RGB frames, ``1 <= N <= max_frames``.

    Raises:
        InputError: Missing or unreadable input, not a video, zero frames, unknown or
            inconsistent raw frame size, odd size for 4:2:0, unsupported bit depth or chroma
            format, a size differing from ``width``/``height``, or bad arguments.
    """
    source = os.fspath(path)
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise InputError(f"{source}: max_frames must be a positive integer, got {max_frames!r}")
    if fps is not None:
        _check_fps(fps, source)
    for name, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InputError(f"{source}: {name} must be a positive integer, got {value!r}")

    p = Path(source)
    suffix = p.suffix.lower()
    if _PRINTF_PATTERN.search(p.name):
        frames, native_fps = _read_png_pattern(p, max_frames), DEFAULT_FPS
    elif p.is_dir():
        frames, native_fps = _read_png_dir(p, max_frames), DEFAULT_FPS
    elif not p.exists():
        raise InputError(f"{source}: no such file or directory")
    elif not p.is_file():
        raise InputError(f"{source}: not a regular file")
    elif p.stat().st_size == 0:
        raise InputError(f"{source}: empty file (zero frames)")
    elif suffix in (".yuv", ".rgb"):
        return _read_raw(p, max_frames, width, height, fps)
    elif suffix == ".png":
        frames, native_fps = _read_png_files([p], source), DEFAULT_FPS
    else:
        frames, native_fps = _read_container(p, max_frames)

    got_h, got_w = frames.shape[1:3]
    if (width is not None and width != got_w) or (height is not None and height != got_h):
        raise InputError(f"{source}: frame size is {got_w}x{got_h}, expected {width or got_w}x{height or got_h}")
    video = Video(frames=frames, fps=float(fps if fps is not None else native_fps), source=source)
    logger.debug("read %s: %d frames %dx%d @ %.3f fps", source, len(frames), got_w, got_h, video.fps)
    return video


@dataclass(frozen=True)
class _StreamInfo:
    """What :func:`_read_container` needs to know before decoding with imageio."""

    #: The frames are 8-bit 4:2:0, BT.601 or untagged, limited range or untagged, even size.
    opencv_i420: bool
    #: Frame rate stored in the container (``guessed_rate``, else ``average_rate``), or None.
    rate: Fraction | None


def _probe_container(source: str) -> _StreamInfo:
    """Open ``source`` with PyAV and decode its first video frame for the colour tags.

    imageio's PyAV plugin exposes neither the frames' colour matrix and range nor their
    pixel-format details, which decide the conversion (see :func:`read_video`).

    Raises:
        InputError: The file cannot be opened or decoded, has no video stream or no frame.
    """
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise InputError(f"{source}: no video stream")
            stream = container.streams.video[0]
            rate = stream.guessed_rate or stream.average_rate
            first = next(container.decode(stream), None)
    except av.FFmpegError as exc:
        raise InputError(f"{source}: cannot decode as video ({exc.strerror or exc})") from exc
    if first is None:
        raise InputError(f"{source}: zero frames decoded")
    opencv_i420 = (
        first.format.name == "yuv420p"
        and first.height % 2 == 0
        and first.width % 2 == 0
        and first.colorspace in _BT601_COLORSPACES
        and first.color_range in _LIMITED_RANGES
    )
    return _StreamInfo(opencv_i420=opencv_i420, rate=rate)


def _read_container(path: Path, max_frames: int | None) -> tuple[np.ndarray, float]:
    """Decode the first video stream of a container file through imageio's PyAV plugin.

    Returns:
        ``((N, H, W, 3) uint8 RGB, fps)``.

    Raises:
        InputError: If the file cannot be opened/decoded, has no video stream or no frames.
    """
    source = str(path)
    info = _probe_container(source)
    frames: list[np.ndarray] = []
    try:
        with iio.imopen(path, "r", plugin="pyav") as video:
            if info.opencv_i420:
                # format=None keeps the filter graph's gray output (imageio's stubs say str)
                packed_frames = video.iter(format=None, filter_graph=_PACK_I420, thread_type="AUTO")  # type: ignore[arg-type]
                for packed in packed_frames:
                    frames.append(_unpack_i420(packed))
                    if max_frames is not None and len(frames) >= max_frames:
                        break
            else:
                for rgb in video.iter(format="rgb24", thread_type="AUTO"):
                    frames.append(rgb)
                    if max_frames is not None and len(frames) >= max_frames:
                        break
    except (av.FFmpegError, OSError) as exc:
        detail = exc.strerror if isinstance(exc, av.FFmpegError) and exc.strerror else exc
        raise InputError(f"{source}: cannot decode as video ({detail})") from exc
    if not frames:
        raise InputError(f"{source}: zero frames decoded")
    if info.rate is None or info.rate <= 0:
        logger.warning("%s: no frame rate stored, assuming %g fps", source, DEFAULT_FPS)
        native_fps = DEFAULT_FPS
    else:
        native_fps = float(info.rate)
    return np.stack(frames), native_fps


def _unpack_i420(packed: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of one ``(3H/2, W)`` picture packed by :data:`_PACK_I420`."""
    h = packed.shape[0] * 2 // 3
    half_w = packed.shape[1] // 2
    y = packed[None, :h]
    u = packed[None, h:, :half_w]
    v = packed[None, h:, half_w:]
    return i420_to_rgb(y, u, v)[0]


def _read_png_dir(directory: Path, max_frames: int | None) -> np.ndarray:
    """Read the ``*.png`` files of a directory in name order (at most ``max_frames``)."""
    files = sorted(f for f in directory.iterdir() if f.suffix.lower() == ".png" and f.is_file())
    if not files:
        raise InputError(f"{directory}: directory contains no .png files")
    return _read_png_files(files[:max_frames], str(directory))


def _read_png_pattern(pattern: Path, max_frames: int | None) -> np.ndarray:
    """Read ``pattern % i`` for i = start, start+1, ... (start 0 or 1) until a file is missing."""
    name = pattern.name
    start = next((i for i in (0, 1) if (pattern.parent / (name % i)).is_file()), None)
    if start is None:
        raise InputError(f"{pattern}: no file matches the pattern (tried numbers 0 and 1)")
    files: list[Path] = []
    index = start
    while max_frames is None or len(files) < max_frames:
        candidate = pattern.parent / (name % index)
        if not candidate.is_file():
            break
        files.append(candidate)
        index += 1
    return _read_png_files(files, str(pattern))


def _read_png_files(files: list[Path], source: str) -> np.ndarray:
    """Read PNG files (any bit depth / channel count, converted to 8-bit RGB) of equal size."""
    frames: list[np.ndarray] = []
    for f in files:
        rgb = _read_picture(f)
        if frames and rgb.shape != frames[0].shape:
            raise InputError(
                f"{source}: {f.name} is {rgb.shape[1]}x{rgb.shape[0]}, "
                f"previous frames are {frames[0].shape[1]}x{frames[0].shape[0]}"
            )
        frames.append(rgb)
    return np.stack(frames)


def _read_picture(path: Path) -> np.ndarray:
    """One picture file as ``(H, W, 3)`` uint8 RGB, through imageio's ``pillow`` plugin.

    The result equals OpenCV's ``imread(IMREAD_COLOR)`` (converted to RGB), which this reader
    replaced: EXIF orientation applied; 16-bit samples cut to their high byte; 1/2/4-bit grey
    scaled to 0..255; palettes expanded; grey replicated to three channels; alpha (channel,
    ``tRNS``) dropped, not composited; gamma and ICC chunks ignored.

    Raises:
        InputError: The file cannot be decoded as a picture.
    """
    try:
        with warnings.catch_warnings():
            # Pillow's advice for palette pictures with tRNS; the alpha is dropped anyway.
            warnings.filterwarnings("ignore", "Palette images with Transparency", UserWarning)
            image = iio.imread(path, plugin="pillow", index=0, rotate=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not a picture"
        raise InputError(f"{path}: cannot read as an image") from exc
    if image.dtype == np.bool_:  # 1-bit grey
        image = image.astype(np.uint8) * 255
    elif image.dtype.itemsize > 1:  # 16-bit grey ("I;16"/"I"): keep the high byte
        image = (image.astype(np.uint32) >> 8).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.dtype != np.uint8:
        raise InputError(f"{path}: cannot read as an image")
    if image.shape[2] <= 2:  # grey, grey + alpha
        return np.ascontiguousarray(np.repeat(image[:, :, :1], 3, axis=2))
    return np.ascontiguousarray(image[:, :, :3])


def _parse_raw_name(path: Path) -> tuple[int | None, int | None, float | None]:
    """Parse ``NAME_WxH[_FPS][_8bit][_420|_444]`` from a raw file name.

    Returns:
        ``(width, height, fps)``, each ``None`` when absent from the name.

    Raises:
        InputError: If the name declares a bit depth other than 8 or a chroma format that
            does not match the extension (4:2:0 for ``.yuv``, 4:4:4 for ``.rgb``).
    """
    match = _RAW_NAME.search(path.stem)
    if match is None:
        return None, None, None
    if match["bits"] is not None and int(match["bits"]) != 8:
        raise InputError(f"{path}: only 8-bit raw video is supported, name says {match['bits']}")
    expected_chroma = "420" if path.suffix.lower() == ".yuv" else "444"
    if match["chroma"] is not None and match["chroma"] != expected_chroma:
        raise InputError(f"{path}: name says {match['chroma']}, but {path.suffix} files are {expected_chroma}")
    name_fps = float(match["fps"]) if match["fps"] is not None else None
    return int(match["w"]), int(match["h"]), name_fps


def _read_raw(
    path: Path,
    max_frames: int | None,
    width: int | None,
    height: int | None,
    fps: float | None,
) -> Video:
    """Read a raw ``.yuv`` (I420) or ``.rgb`` (planar RGB 4:4:4) 8-bit file."""
    name_w, name_h, name_fps = _parse_raw_name(path)
    w = width if width is not None else name_w
    h = height if height is not None else name_h
    if w is None or h is None:
        raise InputError(
            f"{path}: unknown raw frame size; name it NAME_WxH_FPS_8bit_420.yuv / "
            "NAME_WxH_FPS_8bit_444.rgb or pass width and height"
        )
    is_yuv = path.suffix.lower() == ".yuv"
    if is_yuv:
        check_even_size(h, w, str(path))
    frame_bytes = w * h * 3 // 2 if is_yuv else w * h * 3
    file_bytes = path.stat().st_size
    if file_bytes % frame_bytes:
        raise InputError(f"{path}: size {file_bytes} B is not a whole number of {w}x{h} frames ({frame_bytes} B each)")
    n = file_bytes // frame_bytes
    if max_frames is not None:
        n = min(n, max_frames)
    try:
        data = np.fromfile(path, dtype=np.uint8, count=n * frame_bytes)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if data.size != n * frame_bytes:
        raise InputError(f"{path}: file shrank while reading")
    if is_yuv:
        data = data.reshape(n, frame_bytes)
        luma, quarter = w * h, w * h // 4
        frames = i420_to_rgb(
            data[:, :luma].reshape(n, h, w),
            data[:, luma : luma + quarter].reshape(n, h // 2, w // 2),
            data[:, luma + quarter :].reshape(n, h // 2, w // 2),
        )
    else:
        frames = np.ascontiguousarray(data.reshape(n, 3, h, w).transpose(0, 2, 3, 1))
    if fps is not None:
        rate = fps
    elif name_fps is not None:
        rate = name_fps
    else:
        logger.info("%s: no frame rate in the name, assuming %g fps", path, DEFAULT_FPS)
        rate = DEFAULT_FPS
    logger.debug("read %s: %d raw frames %dx%d @ %.3f fps", path, n, w, h, rate)
    return Video(frames=frames, fps=float(rate), source=str(path))


# --------------------------------------------------------------------------- writing


#: Exact 4:2:0 samples of some pictures, by picture index: ``(Y (H, W), U, V (H/2, W/2))`` uint8.
ExactPlanes = dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]


def write_video(path: str | os.PathLike[str], frames: np.ndarray, fps: float, exact: ExactPlanes | None = None) -> None:
    """Write RGB frames to a file; the format follows the extension.

    * ``.mp4``: H.264 (libx264, CRF 10, yuv420p, tagged BT.601 limited range) via the FFmpeg
      binary of :func:`~refsw.media.ffmpeg.resolve_ffmpeg` (imageio-ffmpeg's); the 4:2:0
      conversion is :func:`~refsw.media.colour.rgb_to_i420`.
    * ``.y4m``: YUV4MPEG2, 8-bit 4:2:0 (:func:`~refsw.media.colour.rgb_to_i420`).
    * ``.yuv``: raw I420 (Y, U, V planes per frame).
    * ``.rgb``: raw planar RGB 4:4:4 (R, G, B planes per frame).

    The data is written to a temporary file in the target directory and renamed onto ``path``
    at the end, so a failure never leaves a partial output file.

    Args:
        path: Output file.
        frames: ``(N, H, W, 3)`` ``uint8`` RGB, ``N >= 1``; ``H`` and ``W`` even except for
            ``.rgb``.
        fps: Frame rate in frames per second (``> 0``); stored in mp4/y4m, ignored for raw.
        exact: 4:2:0 samples written as they are for these pictures in the 4:2:0 formats
            (``.yuv``, ``.y4m``, and the H.264 encoder's input for ``.mp4``), e.g. a decoder's
            own output for the decoded key pictures; the other pictures are converted from RGB.

    Raises:
        InputError: Bad ``frames``/``fps``, odd size for a 4:2:0 format, unknown extension.
        OutputError: The directory is missing or unwritable, or the encoder fails.
    """
    target = Path(os.fspath(path))
    suffix = target.suffix.lower()
    if suffix not in WRITE_EXTENSIONS:
        raise InputError(f"{target}: cannot write '{suffix}' files (use one of {sorted(WRITE_EXTENSIONS)})")
    check_frames(frames, str(target))
    _check_fps(fps, str(target))
    n, h, w, _ = frames.shape
    if suffix != ".rgb":
        check_even_size(h, w, str(target))

    writers: dict[str, Callable[[Path, np.ndarray, float, ExactPlanes], None]] = {
        ".mp4": _write_mp4,
        ".y4m": _write_y4m,
        ".yuv": _write_yuv,
        ".rgb": _write_rgb,
    }
    directory = target.parent
    tmp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        tmp.open("xb").close()  # probe writability; default permissions (umask) apply
    except OSError as exc:
        raise OutputError(f"{target}: cannot write to {directory} ({exc.strerror or exc})") from exc
    try:
        writers[suffix](tmp, frames, fps, exact or {})
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"{target}: write failed ({exc.strerror or exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)
    logger.debug("wrote %s: %d frames %dx%d @ %.3f fps", target, n, w, h, fps)


def _rate_fraction(fps: float) -> Fraction:
    """Frame rate as a fraction (e.g. 29.97002997 -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


def i420_chunks(frames: np.ndarray, exact: ExactPlanes | None = None) -> Iterator[bytes]:
    """Yield the I420 bytes of each frame as :func:`write_video` writes them to ``.yuv`` (Y, U, V
    planes, 8 bits a sample): ``exact`` planes where given, else converted from ``frames``
    ``(N, H, W, 3)`` uint8 RGB with :func:`~refsw.media.colour.rgb_to_i420`."""
    for i in range(len(frames)):
        if exact and i in exact:
            yield b"".join(np.ascontiguousarray(p, dtype=np.uint8).tobytes() for p in exact[i])
            continue
        y, u, v = rgb_to_i420(frames[i : i + 1])
        yield y.tobytes() + u.tobytes() + v.tobytes()


def _write_chunks(dst: BinaryIO, chunks: Iterator[bytes]) -> None:
    """Write all chunks to an open binary stream."""
    dst.writelines(chunks)


def _write_yuv(tmp: Path, frames: np.ndarray, fps: float, exact: ExactPlanes) -> None:
    """Raw I420 (``fps`` is not stored)."""
    with tmp.open("wb") as f:
        _write_chunks(f, i420_chunks(frames, exact))


def _write_rgb(tmp: Path, frames: np.ndarray, fps: float, exact: ExactPlanes) -> None:
    """Raw planar RGB 4:4:4 (``fps`` is not stored)."""
    with tmp.open("wb") as f:
        _write_chunks(f, (np.ascontiguousarray(fr.transpose(2, 0, 1)).tobytes() for fr in frames))


def y4m_header(width: int, height: int, fps: float) -> bytes:
    """The YUV4MPEG2 stream header this software writes: 8-bit 4:2:0, progressive, square
    samples, ``C420mpeg2`` (see :func:`write_video`), limited range; ``fps`` in pictures/s."""
    rate = _rate_fraction(fps)
    rate_text = f"F{rate.numerator}:{rate.denominator}"
    return f"YUV4MPEG2 W{width} H{height} {rate_text} Ip A1:1 C420mpeg2 XCOLORRANGE=LIMITED\n".encode("ascii")


def _write_y4m(tmp: Path, frames: np.ndarray, fps: float, exact: ExactPlanes) -> None:
    """YUV4MPEG2 4:2:0 8-bit, limited range.

    The header declares ``C420mpeg2``: chroma co-sited with the left luma column, between two
    rows, VVC's default chroma sample location (type 0, H.274 clause 8.6 / H.266 VUI), which is
    what the decoded key pictures are. The synthesised pictures are converted with
    :func:`rgb_to_i420`, which takes each chroma sample from the top-left pixel of its 2x2 block
    (half a row above type 0; :mod:`refsw.media.colour`).
    """
    _, h, w, _ = frames.shape
    with tmp.open("wb") as f:
        f.write(y4m_header(w, h, fps))
        _write_chunks(f, (b"FRAME\n" + chunk for chunk in i420_chunks(frames, exact)))


def _write_mp4(tmp: Path, frames: np.ndarray, fps: float, exact: ExactPlanes) -> None:
    """H.264 in MP4 via the bundled FFmpeg binary, fed with I420 on stdin.

    Raises:
        OutputError: If FFmpeg exits with an error.
    """
    _, h, w, _ = frames.shape
    rate = _rate_fraction(fps)
    cmd = [
        resolve_ffmpeg(error=OutputError),
        "-hide_banner", "-loglevel", "error", "-nostats", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{w}x{h}",
        "-framerate", f"{rate.numerator}/{rate.denominator}", "-i", "pipe:0",
        "-an", "-c:v", "libx264", "-preset", "medium", "-crf", str(MP4_CRF),
        "-pix_fmt", "yuv420p", "-colorspace", "smpte170m", "-color_primaries", "smpte170m",
        "-color_trc", "smpte170m", "-color_range", "tv",
        "-f", "mp4", str(tmp),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errlog:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errlog)
        stdin = cast(BinaryIO, proc.stdin)
        try:
            _write_chunks(stdin, i420_chunks(frames, exact))
        except BrokenPipeError:
            pass  # FFmpeg died early; its exit code and stderr are reported below
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass
            returncode = proc.wait()
        if returncode != 0:
            errlog.seek(0)
            lines = errlog.read().decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit code {returncode}"
            raise OutputError(f"ffmpeg failed: {detail}")
