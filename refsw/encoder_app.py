"""``gfv-encode``: a face video -> one VVC ``.266`` stream (key picture + GFV SEI messages).

Options follow VTM EncoderApp where they fit (``-i``, ``-b``, ``-c``, ``-q/--qp``,
``-f/--frames``, ``-wdt``, ``-hgt``, ``-fr``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

import yaml

from .cli_common import (
    DEFAULT_CFG,
    UsageError,
    check_output_path,
    load_config,
    run_app,
    write_atomic,
)

log = logging.getLogger(__name__)


def _qp(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"QP must be an integer, got {text!r}") from None
    if not 0 <= value <= 63:
        raise argparse.ArgumentTypeError(f"QP {value} outside 0..63")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gfv-encode``."""
    p = argparse.ArgumentParser(prog="gfv-encode", description=__doc__.splitlines()[0])
    p.add_argument("-i", "--input", required=True,
                   help="mp4/avi/mov/mkv, y4m, PNG directory or pattern, NAME_WxH_FPS_8bit_420.yuv or _444.rgb")
    p.add_argument("-b", "--bitstream", required=True, help="output VVC byte stream (.266, Annex B)")
    p.add_argument("-c", "--config", action="append", default=[], help="YAML config (repeatable, later wins)")
    p.add_argument("-q", "--qp", type=_qp, help="key-picture QP, 0..63")
    p.add_argument("-f", "--frames", type=int, help="number of pictures to code (0 = all)")
    p.add_argument("--model", help="GFV model: kptps (default), fomm, cfte, cttr, fv2v")
    p.add_argument("--precision", type=int, help="coordinate precision factor 1..31 (default: the model's)")
    p.add_argument("--matrix-precision", type=int, help="matrix element precision factor 1..31 (default: the model's)")
    p.add_argument("--nnpfc-mode", type=int, choices=(1, 0),
                   help="NNPFC nnpfc_mode_idc: 1 = generator URI (default), 0 = network in the payload")
    p.add_argument("--decision", choices=("ssim+vmaf", "ssim", "none"),
                   help="encoder choice of the sent keypoints (default ssim+vmaf)")
    p.add_argument("--key-period", type=int,
                   help="a key picture every N output pictures (the GFVC software's gop_size; 0 = picture 0 only)")
    p.add_argument("--size", type=int, choices=(256, 384, 512), help="CTC picture size for cropped input")
    p.add_argument("--force-crop", action="store_true", help="crop and resize even CTC-format input")
    p.add_argument("--no-crop", action="store_true", help="code the input as it is (no face crop)")
    p.add_argument("-wdt", "--width", type=int, help="width of raw input (else from the file name)")
    p.add_argument("-hgt", "--height", type=int, help="height of raw input (else from the file name)")
    p.add_argument("-fr", "--fps", type=float, help="picture rate of raw/PNG input (else from the name, or 25)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--summary-json", help="also write the summary as JSON to this file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 bad input or failure, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    from refsw.codecs import CodecError
    from refsw.models.landmarks import NoFaceInClipError
    from refsw.models.learned import CheckpointError
    from refsw.media.video_io import InputError, OutputError

    return run_app("gfv-encode", lambda: _run(args),
                   (UsageError, InputError, OutputError, CodecError, NoFaceInClipError, CheckpointError, KeyError,
                    OSError))


def _run(args: argparse.Namespace) -> int:
    from refsw.media.face_crop import prepare_ctc
    from refsw.gfv_codec import DECISIONS, encode_video
    from refsw.models import get_model
    from refsw.media.video_io import read_video

    defaults = yaml.safe_load(DEFAULT_CFG.read_text())
    cfg = load_config(args.config, defaults)
    for key, opt in (("qp", "qp"), ("frames", "frames"), ("model", "model"), ("size", "size"),
                     ("decision", "decision"), ("coordinate_precision", "precision"),
                     ("matrix_precision", "matrix_precision"), ("nnpfc_mode", "nnpfc_mode"),
                     ("key_period", "key_period")):
        if getattr(args, opt) is not None:
            cfg[key] = getattr(args, opt)
    for key in ("coordinate_precision", "matrix_precision"):
        if cfg[key] is not None and not 1 <= int(cfg[key]) <= 31:
            raise UsageError(f"{key} {cfg[key]} outside 1..31")
    if int(cfg["nnpfc_mode"]) not in (0, 1):
        raise UsageError(f"nnpfc_mode {cfg['nnpfc_mode']} is not 0 or 1")
    if not 0 <= int(cfg["qp"]) <= 63:
        raise UsageError(f"QP {cfg['qp']} outside 0..63")
    if int(cfg["key_period"]) < 0:
        raise UsageError(f"key_period {cfg['key_period']} is negative")
    if int(cfg["frames"]) < 0:
        raise UsageError(f"--frames {cfg['frames']} is negative")
    get_model(cfg["model"])
    if cfg["decision"] not in DECISIONS:
        raise UsageError(f"decision {cfg['decision']!r} is not one of {', '.join(DECISIONS)}")
    out = check_output_path(args.bitstream, args.overwrite)
    if args.summary_json:
        check_output_path(args.summary_json, args.overwrite)
    print("gfv-encode configuration: " + json.dumps(cfg, sort_keys=True), file=sys.stderr)
    video = read_video(args.input, max_frames=int(cfg["frames"]) or None, width=args.width, height=args.height,
                       fps=args.fps)
    frames = video.frames
    if not args.no_crop:
        frames, window = prepare_ctc(video.frames, size=int(cfg["size"]), force=args.force_crop)
        if window is not None:
            h, w = video.frames.shape[1:3]
            print(f"gfv-encode: input {w}x{h} is not in the CTC format: face-centred "
                  f"crop x0={window.x0} y0={window.y0} size={window.size} resized to {cfg['size']}x{cfg['size']}",
                  file=sys.stderr)
    prec = None if cfg["coordinate_precision"] is None else int(cfg["coordinate_precision"])
    mprec = None if cfg["matrix_precision"] is None else int(cfg["matrix_precision"])
    stream, summary = encode_video(frames, video.fps, model=cfg["model"], qp=int(cfg["qp"]), precision=prec,
                                   matrix_precision=mprec, backend=cfg["backend"], decision=cfg["decision"],
                                   nnpfc_mode=int(cfg["nnpfc_mode"]), key_period=int(cfg["key_period"]))
    write_atomic(out, stream)
    print(summary.text())
    if args.summary_json:
        data = {k: getattr(summary, k) for k in ("frames", "fps", "width", "height", "qp", "model", "bits_key",
                                                   "bits_gfv", "bits_other", "total_bits", "kbps", "encode_fps")}
        write_atomic(check_output_path(args.summary_json, True), json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
