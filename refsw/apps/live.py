"""The live (low-delay) forms of ``gfv-encode`` and ``gfv-decode`` (``--live``).

``gfv-encode --live -i - -b -`` reads YUV4MPEG2 pictures from stdin as they are captured and writes
each picture's NAL units to stdout at once (:class:`refsw.encoder.live.LiveEncoder`);
``gfv-decode --live -b - -o -`` reads the growing stream and writes each picture as YUV4MPEG2 to
stdout as soon as its message has arrived (:class:`refsw.decoder.live.LiveDecoder`), so the two
can be piped into each other and into a player (``ffplay -``). Files work too: a growing ``-b``
file is followed until it has not grown for ``--live-idle`` seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

from refsw.config import EncoderConfig

from .common import UsageError, check_output_path

if TYPE_CHECKING:
    from av.container import InputContainer

#: Bytes read from the stream at a time (a read returns what is there, up to this).
READ_SIZE = 1 << 16


def _open_output(name: str, overwrite: bool, stack: ExitStack) -> tuple[BinaryIO, Path | None]:
    """stdout for ``-``, else a new file (checked: never replaced without ``-y``)."""
    if name == "-":
        return sys.stdout.buffer, None
    path = check_output_path(name, overwrite)
    return stack.enter_context(path.open("wb")), path


def run_live_encode(args: argparse.Namespace, cfg: EncoderConfig) -> int:
    """``gfv-encode --live``: pictures of ``args.input`` (``-``: YUV4MPEG2 on stdin) to
    ``args.bitstream`` (``-``: stdout), picture by picture; the summary goes to stderr.

    Input in the CTC format (square 256x256 / 512x512) is coded as it is; other input is cropped
    to the face-centred window found on its first picture (``--no-crop``: as it is).

    Raises:
        UsageError: unreadable input, an existing output without ``-y``.
        refsw.media.frames.InputError: the input had no picture, or pictures of different sizes.
        refsw.models.ModelError: no face on the first picture.
        refsw.codecs.CodecError: the VVC encoder failed.
    """
    import av

    from refsw.encoder.live import LiveEncoder
    from refsw.media.face_crop import apply_crop, find_crop_window, is_ctc_format

    source = sys.stdin.buffer if args.input == "-" else args.input
    try:
        container = cast("InputContainer", av.open(source, format="yuv4mpegpipe" if args.input == "-" else None))
    except (av.FFmpegError, OSError) as err:
        raise UsageError(f"cannot read {args.input}: {err}") from None
    with ExitStack() as stack:
        stack.enter_context(container)
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.base_rate or 25)
        out, path = _open_output(args.bitstream, args.overwrite, stack)
        encoder = LiveEncoder(out, fps, cfg)  # models loaded before the first picture arrives
        window = None
        try:
            for i, frame in enumerate(container.decode(stream)):
                if cfg.frames and i >= cfg.frames:
                    break
                rgb = frame.to_ndarray(format="rgb24")
                if i == 0 and not args.no_crop and (args.force_crop or not is_ctc_format(rgb[None])):
                    window = find_crop_window(rgb[None], source=str(args.input))
                if window is not None:
                    rgb = apply_crop(rgb[None], window, cfg.size)[0]
                encoder.push(rgb)
            summary = encoder.close()
        except BaseException:
            if path is not None:
                path.unlink(missing_ok=True)  # no partial output
            raise
    print(summary.text(), file=sys.stderr)
    return 0


def run_live_decode(args: argparse.Namespace) -> int:
    """``gfv-decode --live``: the growing stream ``args.bitstream`` (``-``: stdin) to YUV4MPEG2
    (``args.output``: ``-`` for stdout, or a ``.y4m`` file), each picture written and flushed as
    soon as it is complete; key pictures are written as the VVC decoder output them.

    Raises:
        UsageError: output not ``-`` or ``.y4m``, an existing output without ``-y``.
        refsw.decoder.StreamError: a corrupted or unsupported stream.
    """
    from refsw.decoder.live import LiveDecoder
    from refsw.media.video_io import i420_chunks, y4m_header

    if args.output != "-" and Path(args.output).suffix.lower() != ".y4m":
        raise UsageError(f"--live writes YUV4MPEG2: use -o - (stdout) or a .y4m file, not {args.output}")
    decoder = LiveDecoder(mode=args.mode, variant=args.variant, deterministic=args.deterministic)
    pictures = 0
    t0 = time.perf_counter()
    with ExitStack() as stack:
        out, path = _open_output(args.output, args.overwrite, stack)
        src: BinaryIO = sys.stdin.buffer if args.bitstream == "-" else stack.enter_context(open(args.bitstream, "rb"))
        try:
            for chunk in _chunks(src, follow=args.bitstream != "-", idle=args.live_idle):
                for pic in decoder.feed(chunk) if chunk else decoder.finish():
                    if pictures == 0:
                        h, w = pic.rgb.shape[:2]
                        out.write(y4m_header(w, h, decoder.fps))
                    exact = {0: pic.planes} if pic.planes else None  # a key picture: the VVC decoder's samples
                    out.writelines(b"FRAME\n" + chunk for chunk in i420_chunks(pic.rgb[None], exact))
                    out.flush()
                    pictures += 1
        except BaseException:
            if path is not None:
                path.unlink(missing_ok=True)  # no partial output
            raise
    seconds = time.perf_counter() - t0
    print(f"gfv-decode --live: {pictures} pictures in {seconds:.1f} s -> {args.output}", file=sys.stderr)
    return 0


def _chunks(src: BinaryIO, follow: bool, idle: float):  # noqa: ANN202 (a generator of bytes)
    """What ``src`` delivers, as it arrives; an empty chunk at the end. A file (``follow``) is
    read on while it grows, until it has not grown for ``idle`` seconds."""
    read = getattr(src, "read1", src.read)
    quiet_since: float | None = None
    while True:
        chunk = read(READ_SIZE)
        if chunk:
            quiet_since = None
            yield chunk
            continue
        if not follow:
            break
        now = time.monotonic()
        quiet_since = quiet_since or now
        if now - quiet_since >= idle:
            break
        time.sleep(0.005)
    yield b""
