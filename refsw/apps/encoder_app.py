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
from typing import TYPE_CHECKING

from refsw.config import (
    DECISIONS,
    DECODED_PICTURE_HASHES,
    NNPFC_MODES,
    SIZES,
    ConfigError,
    EncoderConfig,
    load_encoder_config,
)
from refsw.models import MODEL_NAMES
from refsw.progress import set_quiet
from sei.carriage import SEI_PACKINGS

from .common import UsageError, add_version, check_input_path, check_output_path, plain, run_app, write_atomic

if TYPE_CHECKING:
    import numpy as np

    from refsw.metrics.summary import QualitySummary

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
    p = argparse.ArgumentParser(prog="gfv-encode", description=plain(__doc__.splitlines()[0]))
    p.add_argument(
        "-i",
        "--input",
        required=True,
        help="mp4/avi/mov/mkv, y4m, PNG directory or pattern, NAME_WxH_FPS_8bit_420.yuv or _444.rgb",
    )
    p.add_argument("-b", "--bitstream", required=True, help="output VVC byte stream (.266, Annex B)")
    d = EncoderConfig()
    p.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        help="YAML encoder config (options of refsw.config.EncoderConfig; repeatable, later wins; "
        "e.g. cfg/encoder/gfvc_ctc.yaml)",
    )
    p.add_argument(
        "-q", "--qp", type=_qp, help=f"key-picture QP, 0..63; the lowest one with --max-kbps (default {d.qp})"
    )
    p.add_argument(
        "--max-kbps",
        type=float,
        help="rate cap in kbit/s over the whole stream: the key pictures are coded again at the lowest higher QP "
        f"(up to --max-qp) that keeps the stream within it; 0 = fixed QP (default {d.max_kbps:g})",
    )
    p.add_argument("--max-qp", type=_qp, help=f"the highest key-picture QP the rate cap may use (default {d.max_qp})")
    p.add_argument("-f", "--frames", type=int, help="number of pictures to code (0 = all, the default)")
    p.add_argument("--model", choices=MODEL_NAMES, help=f"GFV model (default {d.model})")
    p.add_argument(
        "--coordinate-precision-factor",
        type=int,
        help="gfv_coordinate_precision_factor_minus1 + 1, 1..31 (default: the model's)",
    )
    p.add_argument(
        "--matrix-element-precision-factor",
        type=int,
        help="gfv_matrix_element_precision_factor_minus1 + 1, 1..31 (default: the model's)",
    )
    p.add_argument(
        "--nnpfc-mode",
        type=int,
        choices=NNPFC_MODES,
        help=f"NNPFC nnpfc_mode_idc: 1 = generator URI, 0 = network in the payload (default {d.nnpfc_mode})",
    )
    p.add_argument(
        "--nnpfa",
        type=int,
        choices=(1, 0),
        help="1: activate the NNPFC with an NNPFA message; 0: none, for stock VTM 23.13, whose DecoderApp "
        f"may abort on an NNPFA (default {d.nnpfa})",
    )
    p.add_argument(
        "--decoded-picture-hash",
        type=int,
        choices=DECODED_PICTURE_HASHES,
        help="a decoded picture hash SEI message after every key picture, verified by gfv-decode, numbered as "
        f"VTM's --SEIDecodedPictureHash: 1 MD5, 2 CRC, 3 checksum, 0 none (default {d.decoded_picture_hash})",
    )
    p.add_argument(
        "--decision", choices=DECISIONS, help=f"encoder choice of the sent parameters (default {d.decision})"
    )
    p.add_argument(
        "--key-period",
        type=int,
        help="a key picture every N output pictures (the GFVC software's gop_size; 0 = picture 0 only; "
        "default: the model's, sem3d 0 with refreshes where the head turns or the key picture's eyes are closed, "
        "the others 50)",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        default=None,
        help="run the encoder's own synthesis on the generator's portable fp32 path (slower)",
    )
    p.add_argument(
        "--sei-packing",
        choices=SEI_PACKINGS,
        help=f"SEI messages per SEI NAL unit: all of an access unit's, or one each as VTM's EncoderApp "
        f"(default {d.sei_packing})",
    )
    p.add_argument(
        "--chroma-key",
        metavar="R,G,B[,LOWER,UPPER]",
        help="write this chroma key in the base GFV messages (gfv_chroma_key_*, purpose background; thresholds: "
        "RGB distances, default 48,75): gfv-decode --background replaces what it keys",
    )
    p.add_argument("--size", type=int, choices=SIZES, help=f"CTC picture size for cropped input (default {d.size})")
    p.add_argument("--force-crop", action="store_true", help="crop and resize even CTC-format input")
    p.add_argument("--no-crop", action="store_true", help="code the input as it is (no face crop)")
    p.add_argument("-wdt", "--width", type=int, help="width of raw input (else from the file name)")
    p.add_argument("-hgt", "--height", type=int, help="height of raw input (else from the file name)")
    p.add_argument("-fr", "--fps", type=float, help="picture rate of raw/PNG input (else from the name, or 25)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--summary-json", help="also write the summary as JSON to this file")
    p.add_argument(
        "--ref-metrics",
        action="store_true",
        help="decode the stream and print the quality of its pictures against the input "
        "(PSNR-Y/U/V, MS-SSIM, VMAF; also in --summary-json)",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="low delay: read pictures as they come (-i - reads YUV4MPEG2 on stdin) and write each picture's NAL "
        "units at once (-b - writes to stdout); one IDR key picture per key period, a GFV message per picture",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars (also off when stderr is not a terminal)")
    add_version(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 bad input or failure, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    set_quiet(args.quiet)
    checked: list[EncoderConfig] = []

    def check() -> int:  # options, config files and paths before the heavy imports: a typo fails at once
        checked.append(_check(args))
        return 0

    rc = run_app("gfv-encode", check, (UsageError, ConfigError))
    if rc:
        return rc
    if checked[0].deterministic:
        from .common import portable_kernels

        portable_kernels()
    from refsw.codecs import CodecError
    from refsw.media.video_io import InputError, OutputError
    from refsw.metrics.common import MetricError
    from refsw.models import ModelError

    if args.live:
        from .live import run_live_encode

        body = lambda: run_live_encode(args, checked[0])  # noqa: E731
    else:
        body = lambda: _run(args, checked[0])  # noqa: E731
    return run_app(
        "gfv-encode",
        body,
        (UsageError, ConfigError, InputError, OutputError, CodecError, ModelError, MetricError, OSError),
    )


def _check(args: argparse.Namespace) -> EncoderConfig:
    """The configuration, with the input and output paths checked.

    Raises:
        UsageError / ConfigError: naming the option, file or key.
    """
    if not (args.live and args.input == "-"):
        check_input_path(args.input)
    cfg = load_encoder_config(args.config, {key: getattr(args, key, None) for key in EncoderConfig.keys()})
    if args.live and args.ref_metrics:
        raise UsageError("--ref-metrics needs the whole clip: not with --live")
    if not (args.live and args.bitstream == "-"):
        check_output_path(args.bitstream, args.overwrite)
    if args.summary_json:
        check_output_path(args.summary_json, args.overwrite)
    return cfg


def _run(args: argparse.Namespace, cfg: EncoderConfig) -> int:
    from refsw.encoder import encode_video
    from refsw.media.face_crop import prepare_ctc
    from refsw.media.video_io import read_video
    from refsw.models import get_model

    get_model(cfg.model)
    out = check_output_path(args.bitstream, args.overwrite)
    video = read_video(args.input, max_frames=cfg.frames or None, width=args.width, height=args.height, fps=args.fps)
    frames = video.frames
    h, w = video.frames.shape[1:3]
    how = "coded as it is (--no-crop)"
    if not args.no_crop:
        frames, window = prepare_ctc(video.frames, size=cfg.size, force=args.force_crop)
        how = "in the CTC format: coded as it is"
        if window is not None:
            why = "--force-crop" if args.force_crop else "not in the CTC format"
            how = (
                f"{why}: face-centred crop x0={window.x0} y0={window.y0} size={window.size} "
                f"resized to {frames.shape[2]}x{frames.shape[1]}"
            )
    coded = {**cfg.as_dict(), "size": f"{frames.shape[2]}x{frames.shape[1]}", "frames": len(frames)}
    print("gfv-encode configuration: " + json.dumps(coded, sort_keys=True), file=sys.stderr)
    print(f"gfv-encode: input {args.input} ({w}x{h}, {video.fps:g} fps) {how}", file=sys.stderr)
    stream, summary = encode_video(frames, video.fps, cfg)
    write_atomic(out, stream)
    if args.ref_metrics:
        summary.quality = _quality_of_stream(stream, frames, video.fps)
    print(summary.text())
    print(f"gfv-encode: {out}: {summary.frames} pictures, {summary.total_bits} bits, {summary.kbps:.3f} kbit/s")
    if args.summary_json:
        text = json.dumps({"input": str(args.input), "bitstream": str(out), **summary.as_dict()}, indent=2)
        write_atomic(check_output_path(args.summary_json, True), text + "\n")
    return 0


def _quality_of_stream(stream: bytes, frames: np.ndarray, fps: float) -> QualitySummary:
    """The quality of what a decoder will output (the encoder's own synthesis) against the input."""
    from refsw.decoder import decode_stream
    from refsw.metrics.summary import quality_summary

    decoded = decode_stream(stream).frames
    return quality_summary(frames, decoded, fps)


if __name__ == "__main__":
    sys.exit(main())
