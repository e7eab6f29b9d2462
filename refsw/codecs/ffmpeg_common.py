"""Shared plumbing of the FFmpeg-based codec backends.

The encoders (libvvenc, libx265) are reached through the FFmpeg binary bundled with
imageio-ffmpeg: 8-bit YUV 4:2:0 pictures are piped in as raw video and the Annex-B elementary
stream is written to a temporary file. Decoding uses FFmpeg's native decoders, by default
through the same FFmpeg binary (Y4M on stdout), optionally in-process through PyAV (parser +
decoder, no container).

The binary is the default decoder because the VVC decoder of the FFmpeg 8.1.2 libraries inside
PyAV 18.1 reconstructs ALF-filtered luma differently from VVenC: on a 256x256 intra picture at
QP 32, 17 % of the luma samples differ by up to 11 and the Y-PSNR is 0.11 dB below the value
VVenC reports for its own reconstruction, which FFmpeg 9's decoder reproduces to 4 decimals.
With ``ALF=0`` both decoders agree. Their HEVC outputs are identical.

Colour conversion is :mod:`refsw.media.colour` (OpenCV's ``COLOR_RGB2YUV_I420`` /
``COLOR_YUV2RGB_I420``, BT.601 limited range, integer arithmetic), which is what the JVET GFVC
common software uses for its VTM key frames (JVET-AG0042 software, ``ReferenceImageCoder``), so
our inputs are bit-identical to the anchors'. The FFmpeg executable is found by
:func:`refsw.media.ffmpeg.resolve_ffmpeg`.
"""

from __future__ import annotations

import logging
import math
import operator
import os
import re
import subprocess
import tempfile
from abc import abstractmethod
from fractions import Fraction
from pathlib import Path
from typing import ClassVar, Literal, cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext

from refsw.media.colour import Planes, i420_to_rgb, rgb_to_i420
from refsw.media.ffmpeg import ffmpeg_has_encoder, resolve_ffmpeg
from refsw.media.frames import check_frames

from .base import (
    ANNEXB_START_CODES,
    CodecBackend,
    CodecError,
    CodecInputError,
    DecodeResult,
    EncodeResult,
)

logger = logging.getLogger(__name__)

__all__ = [
    "FFmpegBackend",
    "decode_with_ffmpeg",
    "decode_with_pyav",
]

DecoderChoice = Literal["ffmpeg", "pyav"]

#: Lines of a tool's log quoted in error messages.
LOG_TAIL_LINES = 12
_ERROR_LINE = re.compile(r"error|invalid|failed|cannot", re.IGNORECASE)
#: FFmpeg ``err_detect`` flags of the decoders: stop at the first detected error instead of
#: concealing it. Decoders still conceal what they cannot detect (FFmpeg's HEVC decoder more
#: than its VVC decoder), so a damaged stream may still decode. Without ``crccheck``: that flag
#: makes FFmpeg verify the decoded picture hash SEI message and abort on a mismatch with a raw
#: log ("Verifying checksum for frame ...: incorrect"); the GFV decoder verifies it itself
#: (:mod:`refsw.decoder.picture_hash`), naming the picture and the component.
ERR_DETECT = "bitstream+buffer+explode"
#: Y4M colour-space tags of 8-bit 4:2:0 (the chroma siting variants carry the same samples).
_Y4M_420_8BIT = frozenset({"420", "420jpeg", "420mpeg2", "420paldv"})


# --------------------------------------------------------------------------- tools


def log_tail(log: str, lines: int = LOG_TAIL_LINES) -> str:
    """The gist of a failed run's ``log`` on one line (parts joined with `` | ``).

    The lines mentioning an error come first (verbose logs end with statistics, not with the
    cause), then the last lines, ``lines`` in all.
    """
    kept = [line.strip() for line in log.splitlines() if line.strip()]
    if not kept:
        return "(empty log)"
    errors = [line for line in kept if _ERROR_LINE.search(line)][: lines // 2]
    tail = [line for line in kept[-lines:] if line not in errors][-(lines - len(errors)) :]
    return " | ".join(errors + tail)


def run_tool(cmd: list[str], *, stdin: bytes | None, what: str, timeout_s: float) -> str:
    """Run ``cmd`` and return its console output; fail loudly on a non-zero return code.

    Args:
        cmd: argument vector (no shell).
        stdin: bytes piped to standard input, or ``None``.
        what: short description used in error messages (``"libvvenc encode"``).
        timeout_s: wall-clock limit in seconds.

    Returns:
        stderr followed by stdout, decoded as UTF-8 (libvvenc prints some warnings on stdout,
        which is why the bitstream never goes through stdout).

    Raises:
        CodecError: the tool cannot be started, times out or returns non-zero; the message
            carries the return code and the tail of the log.
    """
    logger.debug("running %s", subprocess.list2cmdline(cmd))
    try:
        proc = subprocess.run(
            cmd,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CodecError(f"{what}: timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise CodecError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    log = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise CodecError(f"{what}: return code {proc.returncode}: {log_tail(log)}")
    return log


# --------------------------------------------------------------------------- argument checks


def check_qp(qp: int, low: int, high: int, encoder: str) -> int:
    """Return ``qp`` as ``int`` if it is an integer in ``[low, high]``.

    Raises:
        CodecInputError: ``qp`` is not an integer (``bool`` and ``float`` included) or out of range.
    """
    if isinstance(qp, bool):
        raise CodecInputError(f"{encoder}: qp must be an integer, got {qp!r}")
    try:
        value = operator.index(qp)
    except TypeError:
        raise CodecInputError(f"{encoder}: qp must be an integer, got {qp!r}") from None
    if not low <= value <= high:
        raise CodecInputError(f"{encoder}: qp {value} outside [{low}, {high}]")
    return value


def check_fps(fps: float) -> Fraction:
    """Frame rate as an exact fraction (``29.97`` -> ``2997/100``).

    Raises:
        CodecInputError: ``fps`` is not a finite positive number.
    """
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)):
        raise CodecInputError(f"fps must be a number, got {fps!r}")
    if not (math.isfinite(fps) and fps > 0):
        raise CodecInputError(f"fps must be finite and positive, got {fps!r}")
    return Fraction(fps).limit_denominator(1_000_000)


def check_picture_size(width: int, height: int, min_side: int, encoder: str) -> None:
    """Refuse picture sizes the 4:2:0 encoder cannot take.

    Raises:
        CodecInputError: odd width/height (4:2:0 chroma needs even sizes) or a side below
            ``min_side`` luma samples.
    """
    if width % 2 or height % 2:
        raise CodecInputError(f"{encoder}: 4:2:0 needs an even picture size, got {width}x{height}")
    if width < min_side or height < min_side:
        raise CodecInputError(f"{encoder}: picture {width}x{height} is smaller than {min_side}x{min_side}")


# --------------------------------------------------------------------------- decoding


def _stack_planes(pictures: list[Planes], what: str) -> Planes:
    """Stack per-picture planes, refusing an empty list or a size change."""
    if not pictures:
        raise CodecError(f"{what}: no picture decoded (empty or corrupt bitstream)")
    shapes = {p[0].shape for p in pictures}
    if len(shapes) != 1:
        raise CodecError(f"{what}: picture size changes inside the stream: {sorted(shapes)}")
    return tuple(np.stack([p[k] for p in pictures]) for k in range(3))


def _frame_planes(frame: av.VideoFrame, what: str) -> Planes:
    """Copy the three planes of an 8-bit 4:2:0 PyAV frame (line padding removed)."""
    if frame.format.name != "yuv420p":
        raise CodecError(f"{what}: decoded format {frame.format.name}, only 8-bit 4:2:0 (yuv420p) is supported")
    planes = []
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), np.uint8)[: plane.height * plane.line_size]
        planes.append(rows.reshape(plane.height, plane.line_size)[:, : plane.width].copy())
    return planes[0], planes[1], planes[2]


def decode_with_pyav(bitstream: bytes, codec: str) -> tuple[Planes, str]:
    """Decode an Annex-B elementary stream with FFmpeg's native decoder through PyAV.

    Args:
        bitstream: Annex-B byte stream.
        codec: FFmpeg decoder/parser name (``"vvc"``, ``"hevc"``).

    Returns:
        ``((y, u, v), log)``; planes ``uint8`` ``(N, H, W)`` / ``(N, H/2, W/2)`` in output order.

    Raises:
        CodecError: decoder error, no picture, a size change or a non-8-bit-4:2:0 output.
    """
    what = f"PyAV {codec} decode"
    try:
        ctx = cast(VideoCodecContext, av.CodecContext.create(codec, "r"))
        ctx.options = {"err_detect": ERR_DETECT}
        frames: list[av.VideoFrame] = []
        for packet in ctx.parse(bytes(bitstream)) + ctx.parse(None):
            frames.extend(ctx.decode(packet))
        frames.extend(ctx.decode(None))
    except (av.FFmpegError, ValueError) as exc:
        raise CodecError(f"{what}: {exc}") from exc
    pictures = [_frame_planes(f, what) for f in frames]
    planes = _stack_planes(pictures, what)
    n, h, w = planes[0].shape
    log = f"PyAV {av.__version__} FFmpeg decoder '{codec}': {n} pictures {w}x{h} yuv420p"
    return planes, log


def decode_with_ffmpeg(bitstream: bytes, demuxer: str, ffmpeg: str, timeout_s: float) -> tuple[Planes, str]:
    """Decode an Annex-B elementary stream with the FFmpeg binary (Y4M on stdout).

    Args:
        bitstream: Annex-B byte stream.
        demuxer: FFmpeg raw demuxer name (``"vvc"``, ``"hevc"``).
        ffmpeg: FFmpeg executable.
        timeout_s: wall-clock limit in seconds.

    Returns:
        ``((y, u, v), log)`` as :func:`decode_with_pyav`.

    Raises:
        CodecError: non-zero return code, no picture, or a non-8-bit-4:2:0 output.
    """
    what = f"ffmpeg {demuxer} decode"
    # fmt: off
    cmd = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-xerror",
        "-err_detect", ERR_DETECT, "-f", demuxer, "-i", "pipe:0",
        "-f", "yuv4mpegpipe", "pipe:1",
    ]
    # fmt: on
    try:
        proc = subprocess.run(cmd, input=bytes(bitstream), capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise CodecError(f"{what}: timed out after {timeout_s:g} s") from exc
    log = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise CodecError(f"{what}: return code {proc.returncode}: {log_tail(log)}")
    planes = _stack_planes(_parse_y4m(proc.stdout, what), what)
    return planes, log or f"ffmpeg '{demuxer}' decode: {planes[0].shape[0]} pictures"


def _parse_y4m(data: bytes, what: str) -> list[Planes]:
    """Split a YUV4MPEG2 stream of 8-bit 4:2:0 pictures into planes."""
    end = data.find(b"\n")
    if not data.startswith(b"YUV4MPEG2 ") or end < 0:
        raise CodecError(f"{what}: no picture decoded (empty or corrupt bitstream)")
    tags = {t[:1]: t[1:] for t in data[10:end].decode("ascii", "replace").split()}
    width, height, colour = int(tags.get("W", 0)), int(tags.get("H", 0)), tags.get("C", "420jpeg")
    if colour not in _Y4M_420_8BIT:
        raise CodecError(f"{what}: decoded format C{colour}, only 8-bit 4:2:0 is supported")
    luma, chroma = width * height, (width // 2) * (height // 2)
    pictures, pos = [], end + 1
    while pos < len(data):
        header_end = data.find(b"\n", pos)
        if not data.startswith(b"FRAME", pos) or header_end < 0 or header_end + 1 + luma + 2 * chroma > len(data):
            raise CodecError(f"{what}: truncated Y4M output")
        start = header_end + 1
        buf = np.frombuffer(data, np.uint8, luma + 2 * chroma, start)
        pictures.append(
            (
                buf[:luma].reshape(height, width),
                buf[luma : luma + chroma].reshape(height // 2, width // 2),
                buf[luma + chroma :].reshape(height // 2, width // 2),
            )
        )
        pos = start + luma + 2 * chroma
    return pictures


# --------------------------------------------------------------------------- backend skeleton


class FFmpegBackend(CodecBackend):
    """Encoder reached through the FFmpeg binary; decoder through the binary (or PyAV).

    Subclasses set the class constants and implement :meth:`_encoder_args`.
    """

    #: FFmpeg encoder name (``"libvvenc"``).
    encoder: ClassVar[str]
    #: FFmpeg decoder, parser, raw demuxer and raw muxer name (``"vvc"``).
    stream_format: ClassVar[str]
    #: Accepted QP range, inclusive.
    qp_range: ClassVar[tuple[int, int]]
    #: Smallest accepted width and height in luma samples.
    min_side: ClassVar[int] = 16
    #: Accepted ``preset`` values.
    presets: ClassVar[tuple[str, ...]]
    #: FFmpeg ``-loglevel`` of encoder runs (the log is kept in :class:`EncodeResult`).
    encoder_loglevel: ClassVar[str] = "info"

    def __init__(
        self,
        *,
        preset: str,
        ffmpeg: str | os.PathLike[str] | None = None,
        decoder: DecoderChoice = "ffmpeg",
        timeout_s: float = 600.0,
    ) -> None:
        """Check the executable, the encoder and the options.

        Args:
            preset: encoder speed preset, one of :attr:`presets`.
            ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
            decoder: ``"ffmpeg"`` (the FFmpeg binary, default) or ``"pyav"`` (the FFmpeg
                libraries inside PyAV, in-process; see the module docstring for why it is not
                the default).
            timeout_s: wall-clock limit of each tool run in seconds.

        Raises:
            CodecError: FFmpeg missing, built without the encoder, or PyAV without the decoder.
            CodecInputError: unknown ``preset`` or ``decoder``.
        """
        if preset not in self.presets:
            raise CodecInputError(f"{self.encoder}: unknown preset {preset!r}; use one of {self.presets}")
        if decoder not in ("ffmpeg", "pyav"):
            raise CodecInputError(f"decoder must be 'ffmpeg' or 'pyav', got {decoder!r}")
        self.ffmpeg = resolve_ffmpeg(ffmpeg, error=CodecError)
        if not ffmpeg_has_encoder(self.ffmpeg, self.encoder):
            raise CodecError(f"FFmpeg at {self.ffmpeg} has no {self.encoder} encoder")
        if decoder == "pyav" and self.stream_format not in av.codecs_available:
            raise CodecError(f"PyAV {av.__version__} has no {self.stream_format} decoder")
        self.preset = preset
        self.decoder: DecoderChoice = decoder
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}(preset={self.preset!r}, decoder={self.decoder!r}, ffmpeg={self.ffmpeg!r})"

    @abstractmethod
    def _encoder_args(self, qp: int, low_delay: bool, equal_qp: bool = False) -> list[str]:
        """FFmpeg output options selecting and configuring the encoder (after ``-c:v``)."""

    def _raw_input(self, planes: Planes) -> tuple[str, bytes]:
        """``(pix_fmt, bytes)`` of the raw pictures piped to FFmpeg; 8-bit I420 by default."""
        y, u, v = planes
        n = y.shape[0]
        data = np.concatenate((y.reshape(n, -1), u.reshape(n, -1), v.reshape(n, -1)), axis=1)
        return "yuv420p", data.tobytes()

    def _failure_hint(self, width: int, height: int) -> str:
        """Extra explanation appended to an encoder failure message."""
        return ""

    def encode(
        self, frames_rgb: np.ndarray, *, qp: int, fps: float, low_delay: bool = True, equal_qp: bool = False
    ) -> EncodeResult:
        """Encode RGB pictures (see :meth:`CodecBackend.encode`).

        The pictures are converted with :func:`refsw.media.colour.rgb_to_i420` (OpenCV
        ``COLOR_RGB2YUV_I420``) and coded at a constant ``qp``; the Annex-B stream is checked
        to start with a start code and to hold exactly N access units.

        Raises:
            CodecInputError: bad frames, QP, fps or picture size (before running anything).
            CodecError: encoder failure (message ends with the log tail), empty output, wrong
                number of access units.
        """
        n, h, w = check_frames(frames_rgb, self.encoder, error=CodecInputError)
        qp = check_qp(qp, *self.qp_range, self.encoder)
        if equal_qp and not low_delay:
            raise CodecInputError(f"{self.encoder}: equal_qp needs the low-delay structure")
        rate = check_fps(fps)
        check_picture_size(w, h, self.min_side, self.encoder)
        pix_fmt, raw = self._raw_input(rgb_to_i420(frames_rgb))
        what = f"{self.encoder} encode of {n} picture(s) {w}x{h} at QP {qp}"
        with tempfile.TemporaryDirectory(prefix="gfv_codec_") as tmp:
            out = Path(tmp) / f"out.{self.stream_format}"
            # fmt: off
            cmd = [
                self.ffmpeg, "-nostdin", "-hide_banner", "-nostats",
                "-loglevel", self.encoder_loglevel,
                "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{w}x{h}",
                "-framerate", str(rate), "-i", "pipe:0",
                "-frames:v", str(n), "-c:v", self.encoder, *self._encoder_args(qp, low_delay, equal_qp),
                "-f", self.stream_format, "-y", str(out),
            ]
            # fmt: on
            try:
                log = run_tool(cmd, stdin=raw, what=what, timeout_s=self.timeout_s)
            except CodecError as exc:
                raise CodecError(f"{exc}{self._failure_hint(w, h)}") from exc
            bitstream = out.read_bytes() if out.exists() else b""
        if not bitstream:
            raise CodecError(f"{what}: empty bitstream: {log_tail(log)}")
        if not bitstream.startswith(ANNEXB_START_CODES):
            raise CodecError(f"{what}: output does not start with an Annex-B start code")
        units = self._count_access_units(bitstream)
        if units is not None and units != n:
            raise CodecError(f"{what}: bitstream holds {units} access units, expected {n}")
        logger.info("%s: %d bytes", what, len(bitstream))
        return EncodeResult(bitstream=bitstream, num_frames=n, width=w, height=h, log=log)

    def _count_access_units(self, bitstream: bytes) -> int | None:
        """Number of access units found by FFmpeg's parser, or ``None`` if PyAV lacks it."""
        if self.stream_format not in av.codecs_available:
            return None
        try:
            ctx = av.CodecContext.create(self.stream_format, "r")
            return len(ctx.parse(bitstream) + ctx.parse(None))
        except (av.FFmpegError, ValueError) as exc:
            raise CodecError(f"{self.stream_format} parser rejects the encoder output: {exc}") from exc

    def decode_yuv(self, bitstream: bytes) -> Planes:
        """Decode to the 8-bit 4:2:0 planes, for bit-exact comparisons.

        Args:
            bitstream: Annex-B byte stream.

        Returns:
            ``(y, u, v)`` ``uint8``: ``(N, H, W)``, ``(N, H/2, W/2)``, ``(N, H/2, W/2)``.

        Raises:
            CodecError: empty, corrupt or non-8-bit-4:2:0 stream.
        """
        return self._decode_planes(bitstream)[0]

    def decode(self, bitstream: bytes) -> DecodeResult:
        """Decode to RGB with :func:`refsw.media.colour.i420_to_rgb` (see
        :meth:`CodecBackend.decode`).

        Raises:
            CodecError: empty, corrupt or non-8-bit-4:2:0 stream.
        """
        (y, u, v), log = self._decode_planes(bitstream)
        return DecodeResult(frames=i420_to_rgb(y, u, v), log=log)

    def _decode_planes(self, bitstream: bytes) -> tuple[Planes, str]:
        """Decode with the configured decoder after a cheap sanity check."""
        if not isinstance(bitstream, (bytes, bytearray, memoryview)):
            raise CodecInputError(f"bitstream must be bytes, got {type(bitstream).__name__}")
        if not bytes(bitstream[:4]).startswith(ANNEXB_START_CODES):
            raise CodecError(f"{self.stream_format} decode: input does not start with an Annex-B start code")
        if self.decoder == "pyav":
            return decode_with_pyav(bytes(bitstream), self.stream_format)
        return decode_with_ffmpeg(bytes(bitstream), self.stream_format, self.ffmpeg, self.timeout_s)
