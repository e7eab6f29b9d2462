"""``gfv-studio``: a local web page to play a decoded GFV stream, edit the face (eyes, mouth,
gaze, head pose, zoom, translation), animate another base picture, plot the per-picture
parameters and export the edited video.

The page is served by Flask (werkzeug's threaded server) on 127.0.0.1 only and loads nothing
from outside; stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .common import UsageError, add_version, check_input_path, plain, run_app

#: Default port (the stream extension's digits).
DEFAULT_PORT = 8266


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gfv-studio``."""
    p = argparse.ArgumentParser(prog="gfv-studio", description=plain(__doc__.splitlines()[0]))
    p.add_argument("bitstream", metavar="STREAM.266", help="VVC byte stream with GFV SEI messages")
    p.add_argument(
        "--ref",
        metavar="INPUT",
        help="the encoder's input video, shown beside the decoded pictures (cropped and resized as gfv-encode does)",
    )
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: a free one)"
    )
    add_version(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 stopped, 1 bad input or failure, 2 bad usage,
    130 interrupted)."""
    args = build_parser().parse_args(argv)
    rc = run_app("gfv-studio", lambda: _check(args), (UsageError,))
    if rc:
        return rc
    from refsw.codecs import CodecError
    from refsw.decoder import StreamError
    from refsw.media.face_crop import NoFaceError
    from refsw.media.frames import InputError

    errors = (UsageError, StreamError, CodecError, InputError, NoFaceError, OSError)
    return run_app("gfv-studio", lambda: _run(args), errors)


def _check(args: argparse.Namespace) -> int:
    """Checks the paths and the port (one-line :class:`UsageError`); returns 0."""
    if not Path(args.bitstream).is_file():
        raise UsageError(f"cannot read {args.bitstream}: no such file")
    if args.ref:
        check_input_path(args.ref)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: use 0..65535")
    return 0


def _run(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from refsw.studio.session import StudioSession

    from .studio_web import create_app

    stream = Path(args.bitstream).read_bytes()
    if not stream:
        raise UsageError(f"{args.bitstream} is empty")
    print(f"gfv-studio: decoding {args.bitstream} ...", file=sys.stderr)
    session = StudioSession(stream)
    if args.ref:
        from refsw.media.face_crop import read_reference

        _, h, w = session.decoded.frames.shape[:3]
        session.reference = read_reference(args.ref, session.num_pictures, (h, w))
    name = Path(args.bitstream).name
    app = create_app(session, name, f"{Path(args.bitstream).stem}_edited.mp4")
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}/"
    print(f"gfv-studio: {name} ({session.num_pictures} pictures) at {url} (Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
