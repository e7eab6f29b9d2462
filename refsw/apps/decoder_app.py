"""``gfv-decode``: a ``.266`` stream with GFV SEI messages -> video, per-picture log, SEI trace.

``--trace-sei`` writes the parsed SEI messages in the exact text format of VTM DecoderApp's
``--OutputDecodedSEIMessagesFilename``, so the two can be diffed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refsw.progress import set_quiet

from .common import UsageError, add_version, check_input_path, check_output_path, plain, run_app, write_atomic

if TYPE_CHECKING:
    import numpy as np

    from refsw.metrics.summary import QualitySummary


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``gfv-decode``."""
    p = argparse.ArgumentParser(prog="gfv-decode", description=plain(__doc__.splitlines()[0]))
    p.add_argument("-b", "--bitstream", required=True, help="input VVC byte stream (.266)")
    p.add_argument("-o", "--output", required=True, help="decoded video: .mp4, .y4m, .yuv (I420) or .rgb (planar)")
    p.add_argument("--trace-sei", help="write the SEI trace (VTM dump format) to this file")
    p.add_argument("--pictures-csv", metavar="FILE", help="write the per-picture log (CSV) to FILE")
    p.add_argument(
        "--ref",
        metavar="INPUT",
        help="the encoder's input video: print the quality of the decoded pictures against it (PSNR-Y/U/V, "
        "MS-SSIM, VMAF); it is cropped and resized to the decoded size as gfv-encode does",
    )
    p.add_argument("--summary-json", metavar="FILE", help="write the summary (and --ref quality) as JSON to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress bars (also off when stderr is not a terminal)")
    p.add_argument(
        "--mode",
        choices=("vtm", "spec"),
        default="vtm",
        help="GFV reconstruction: VTM decoder behaviour (default) or per-gfv_id state",
    )
    p.add_argument("--variant", choices=("C", "B"), default="C", help="GFV syntax: C (VTM-23.12+) or B (23.9-23.11)")
    p.add_argument(
        "--key-pictures-only",
        action="store_true",
        help="when the stream's generator is not available, output its key pictures instead of failing",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="portable fp32 generator path (one thread, no oneDNN): the same pictures on any x86 CPU",
    )
    p.add_argument("-y", "--overwrite", action="store_true", help="replace existing output files")
    add_version(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 bad input or failure, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    set_quiet(args.quiet)
    rc = run_app("gfv-decode", lambda: _check(args), (UsageError,))  # before the heavy imports
    if rc:
        return rc
    from refsw.codecs import CodecError
    from refsw.decoder import StreamError
    from refsw.media.video_io import InputError, OutputError
    from refsw.metrics.common import MetricError

    errors = (UsageError, StreamError, CodecError, InputError, OutputError, MetricError, OSError)
    return run_app("gfv-decode", lambda: _run(args), errors)


def _check(args: argparse.Namespace) -> int:
    """Checks the paths (one-line :class:`UsageError`); returns 0."""
    src = Path(args.bitstream)
    if not src.is_file():
        raise UsageError(f"cannot read {args.bitstream}: no such file")
    out = check_output_path(args.output, args.overwrite)
    if out.suffix.lower() not in (".mp4", ".y4m", ".yuv", ".rgb"):
        raise UsageError(f"output {args.output}: use .mp4, .y4m, .yuv or .rgb")
    for extra in (args.pictures_csv, args.trace_sei, args.summary_json):
        if extra:
            check_output_path(extra, args.overwrite)
    if args.ref:
        check_input_path(args.ref)
    return 0


def _run(args: argparse.Namespace) -> int:
    from refsw.decoder import decode_stream
    from refsw.media.video_io import write_video

    out = Path(args.output)
    stream = Path(args.bitstream).read_bytes()
    if not stream:
        raise UsageError(f"{args.bitstream} is empty")
    t0 = time.perf_counter()
    decoded = decode_stream(
        stream,
        mode=args.mode,
        variant=args.variant,
        key_pictures_only=args.key_pictures_only,
        deterministic=args.deterministic,
        want_trace=bool(args.trace_sei),
    )
    seconds = time.perf_counter() - t0
    for note in decoded.notes:
        print(f"gfv-decode: {note}", file=sys.stderr)
    write_video(out, decoded.frames, decoded.fps, exact=decoded.key_planes)
    if args.pictures_csv:
        buf = io.StringIO()
        fields = [f.name for f in dataclasses.fields(decoded.pictures[0])] if decoded.pictures else ["index"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for pic in decoded.pictures:
            writer.writerow(dataclasses.asdict(pic))
        write_atomic(Path(args.pictures_csv), buf.getvalue())
    if args.trace_sei:
        write_atomic(Path(args.trace_sei), decoded.sei.trace_text())
    n = len(decoded.frames)
    n_gen = sum(p.kind == "generated" for p in decoded.pictures)
    n_int = sum(p.kind == "interpolated" for p in decoded.pictures)
    n_key = n - n_gen - n_int
    summary: dict[str, Any] = {
        "bitstream": str(args.bitstream), "output": str(out), "pictures": n, "key_pictures": n_key,
        "generated": n_gen, "interpolated": n_int, "generator": decoded.generator, "fps": decoded.fps,
        "bits": 8 * len(stream),
        "kbps": 8 * len(stream) * decoded.fps / n / 1000.0, "decode_fps": n / seconds if seconds > 0 else None,
        "quality": None,
    }  # fmt: skip
    print(
        f"decoded {n} pictures ({n_key} key, {n_gen} generated from their GFV messages and {n_int} from "
        f"interpolated parameters by {decoded.generator or 'no generator'}) "
        f"at {decoded.fps:g} fps, {summary['kbps']:.3f} kbit/s, {n / seconds:.1f} frames/s -> {out}"
    )
    if args.ref:
        quality = _quality_against(args.ref, decoded.frames, decoded.fps)
        summary["quality"] = quality.as_dict()
        print(quality.text())
    if args.summary_json:
        write_atomic(Path(args.summary_json), json.dumps(summary, indent=2) + "\n")
    return 0


def _quality_against(ref: str, decoded: np.ndarray, fps: float) -> QualitySummary:
    """The encoder's input ``ref`` prepared as gfv-encode prepares it (face-centred crop and
    resize to the decoded size unless already in that format), against ``decoded``.

    Raises:
        UsageError: the reference is shorter than the decoded video.
    """
    from refsw.media.face_crop import prepare_ctc
    from refsw.media.video_io import read_video
    from refsw.metrics.summary import quality_summary

    n, h, w = decoded.shape[:3]
    frames = read_video(ref, max_frames=n).frames
    if frames.shape[1:3] != (h, w):
        frames, _ = prepare_ctc(frames, size=h)
    if len(frames) < n:
        raise UsageError(f"--ref {ref} has {len(frames)} pictures, the stream {n}")
    return quality_summary(frames[:n], decoded, fps)


if __name__ == "__main__":
    sys.exit(main())
