"""``gfv-decode``: a ``.266`` stream with GFV SEI messages -> video, per-picture log, SEI trace.

``--edit KEY=VALUE ...`` (``--edit-frames A:B``, ``--edit-script FILE.yaml``) changes the decoded
facial semantics before generation (:mod:`refsw.decoder.edits`, ``docs/editing.md``).

``--trace-sei`` writes the parsed SEI messages in the exact text format of VTM DecoderApp's
``--OutputDecodedSEIMessagesFilename``, so the two can be diffed. The key pictures are verified
against the stream's decoded picture hash SEI messages (H.266 D.2, MD5), as VTM DecoderApp
does; ``--md5`` writes one MD5 per output picture for regression comparisons.

The stream is checked with ``gfv-check``'s rules first: on a finding of severity ``error`` or
``limit``, or a coded picture the VVC decoder refuses, decoding stops with one line naming the
element, access unit and byte offset (exit 1, no output). ``--conceal`` decodes around the
damage: pictures that cannot be synthesised repeat the last good picture, each is reported on
stderr, logged with kind ``concealed`` in ``--pictures-csv`` and counted in ``--summary-json``
(``concealed``), and decoding recovers at the next key picture.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
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

    from refsw.decoder import DecodedVideo
    from refsw.decoder.edits import EditPlan
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
    p.add_argument(
        "--md5",
        metavar="FILE",
        help="write one line per output picture to FILE: index, kind (key, generated, interpolated) and the MD5 "
        "of its 8-bit I420 samples (Y, then U, then V plane, raster order) exactly as written to a .yuv output, "
        "whatever the output format (key pictures: the VVC decoder's samples; the others: their RGB-to-I420 "
        "conversion); with --deterministic the synthesised pictures' MD5s are the same on any x86 CPU",
    )
    p.add_argument(
        "--ignore-hash-mismatch",
        action="store_true",
        help="a key picture that does not match its decoded picture hash SEI message (MD5) is reported as a "
        "warning and decoding goes on (default: an error, exit status 1, no output)",
    )
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
    p.add_argument(
        "--conceal",
        action="store_true",
        help="decode around errors: repeat the last good picture where the stream is damaged, report each one",
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="low delay: read a growing stream (-b - reads stdin) and write each picture as YUV4MPEG2 as soon as "
        "its message has arrived (-o - writes to stdout)",
    )
    p.add_argument(
        "--live-idle",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="with --live and a -b file: stop when it has not grown for this long (default 2)",
    )
    p.add_argument(
        "--edit",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="change the decoded semantics before generation: eye_left, eye_right, eyes, mouth (factors; KEY==VALUE: "
        "absolute), gaze_x, gaze_y (eye widths), yaw, pitch, roll (degrees), zoom (factor), tx, ty (picture "
        "fractions); see docs/editing.md",
    )
    p.add_argument("--edit-frames", metavar="A:B", help="apply --edit to output pictures A <= i < B only")
    p.add_argument(
        "--edit-script", metavar="FILE", help="key-framed edits (YAML, linearly interpolated); see docs/editing.md"
    )
    other = p.add_mutually_exclusive_group()
    other.add_argument(
        "--base-picture",
        metavar="IMAGE",
        help="animate the face in IMAGE (a photo, a painting, a cartoon-like face) with the stream's motion "
        "instead of the stream's own face",
    )
    other.add_argument(
        "--base-video",
        metavar="VIDEO",
        help="as --base-picture with a video: its picture i is animated for output picture i (its last one after "
        "its end)",
    )
    p.add_argument(
        "--background",
        metavar="IMAGE|R,G,B",
        help="replace the background the stream's chroma key marks (gfv-encode --chroma-key) by IMAGE or a colour",
    )
    p.add_argument(
        "--translate-to",
        metavar="MODEL",
        help="animate with MODEL's generator through a parameter translator from the stream's model "
        "(docs/translators.md); a stream whose generator is missing here is translated by default",
    )
    p.add_argument(
        "--translator",
        choices=("analytic", "learned"),
        help="translator kind with --translate-to (default: the pair's)",
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
    if args.deterministic:
        from .common import portable_kernels

        portable_kernels()
    from refsw.codecs import CodecError
    from refsw.decoder import BasePictureError, StreamError
    from refsw.decoder.edits import EditError
    from refsw.media.chroma_key import ChromaKeyError
    from refsw.media.video_io import InputError, OutputError
    from refsw.models import ModelError

    errors: tuple[type[BaseException], ...] = (
        UsageError, EditError, StreamError, CodecError, InputError, OutputError, OSError,
        BasePictureError, ChromaKeyError, ModelError,
    )  # fmt: skip
    if args.ref:  # the metrics package imports PyTorch (about 230 MB): only when --ref asks for them
        from refsw.metrics.common import MetricError

        errors += (MetricError,)
    if args.live:
        from .live import run_live_decode

        return run_app("gfv-decode", lambda: run_live_decode(args), errors)
    return run_app("gfv-decode", lambda: _run(args), errors)


def _check(args: argparse.Namespace) -> int:
    """Checks the paths (one-line :class:`UsageError`); returns 0."""
    if args.live:
        given = {
            "--pictures-csv": args.pictures_csv, "--trace-sei": args.trace_sei, "--summary-json": args.summary_json,
            "--ref": args.ref, "--conceal": args.conceal, "--edit": args.edit, "--edit-script": args.edit_script,
            "--base-picture": args.base_picture, "--base-video": args.base_video, "--background": args.background,
            "--translate-to": args.translate_to,
        }  # fmt: skip
        unused = [option for option, value in given.items() if value]
        if unused:
            raise UsageError(f"{unused[0]} is not available with --live")
        if args.bitstream != "-" and not Path(args.bitstream).is_file():
            raise UsageError(f"cannot read {args.bitstream}: no such file")
        if args.output != "-":
            check_output_path(args.output, args.overwrite)
        return 0
    if args.translator and not args.translate_to:
        raise UsageError("--translator needs --translate-to MODEL")
    src = Path(args.bitstream)
    if not src.is_file():
        raise UsageError(f"cannot read {args.bitstream}: no such file")
    out = check_output_path(args.output, args.overwrite)
    if out.suffix.lower() not in (".mp4", ".y4m", ".yuv", ".rgb"):
        raise UsageError(f"output {args.output}: use .mp4, .y4m, .yuv or .rgb")
    for extra in (args.pictures_csv, args.trace_sei, args.summary_json, args.md5):
        if extra:
            check_output_path(extra, args.overwrite)
    for given in (args.ref, args.base_picture, args.base_video):
        if given:
            check_input_path(given)
    if (args.base_picture or args.base_video) and args.key_pictures_only:
        raise UsageError("--base-picture/--base-video need the stream's generator; drop --key-pictures-only")
    if args.background and not Path(args.background).is_file():
        _colour(args.background)
    if args.edit_script and not Path(args.edit_script).is_file():
        raise UsageError(f"cannot read {args.edit_script}: no such file")
    return 0


def _edit_plan(args: argparse.Namespace) -> EditPlan | None:
    """The plan of ``--edit``, ``--edit-frames`` and ``--edit-script`` (``None`` without edits);
    ``--edit`` values apply on top of the script's.

    Raises:
        EditError: a bad edit, range or script.
    """
    from refsw.decoder.edits import EditPlan

    if not (args.edit or args.edit_frames or args.edit_script):
        return None
    plan = EditPlan.parse(args.edit or [], args.edit_frames)
    if args.edit_script:
        script = EditPlan.from_yaml(args.edit_script)
        plan = dataclasses.replace(plan, keyframes=script.keyframes)
    return plan


def _colour(text: str) -> tuple[int, int, int]:
    """``"R,G,B"`` (0..255 each) as a tuple.

    Raises:
        UsageError: not an existing image file nor three integers 0..255.
    """
    parts = text.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
        r, g, b = (int(p) for p in parts)
        return r, g, b
    raise UsageError(f"--background {text}: neither an image file nor a colour R,G,B (0..255 each)")


def _picture(path: str) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB (grey or RGBA converted).

    Raises:
        UsageError: not a readable 8-bit image.
    """
    import imageio.v3 as iio
    import numpy as np

    try:
        img = np.asarray(iio.imread(path))
    except Exception as err:  # imageio raises many kinds for unreadable files
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"cannot read image {path}: {why}") from None
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise UsageError(f"{path} is not an 8-bit grey or RGB image")
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else np.ascontiguousarray(img[..., :3])


def _run(args: argparse.Namespace) -> int:
    from refsw.decoder import decode_stream
    from refsw.media.video_io import write_video

    out = Path(args.output)
    edits = _edit_plan(args)  # bad edits fail before decoding
    stream = Path(args.bitstream).read_bytes()
    if not stream:
        raise UsageError(f"{args.bitstream} is empty")
    base = _picture(args.base_picture) if args.base_picture else None
    if args.base_video:
        from refsw.media.video_io import read_video

        base = read_video(args.base_video).frames
    background: np.ndarray | tuple[int, int, int] | None = None
    if args.background:
        background = _picture(args.background) if Path(args.background).is_file() else _colour(args.background)
    t0 = time.perf_counter()
    decoded = decode_stream(
        stream,
        mode=args.mode,
        variant=args.variant,
        key_pictures_only=args.key_pictures_only,
        deterministic=args.deterministic,
        conceal=args.conceal,
        edits=edits,
        base_picture=base,
        background=background,
        hash_mismatch="warn" if args.ignore_hash_mismatch else "error",
        want_trace=bool(args.trace_sei),
        translate_to=args.translate_to,
        translator_kind=args.translator,
    )
    seconds = time.perf_counter() - t0
    for note in decoded.notes:
        print(f"gfv-decode: {note}", file=sys.stderr)
    for index, cause in decoded.concealed.items():
        print(f"gfv-decode: concealed picture {index}: {cause}", file=sys.stderr)
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
    if args.md5:
        write_atomic(Path(args.md5), _md5_lines(decoded))
    n = len(decoded.frames)
    n_gen = sum(p.kind in ("generated", "fused") for p in decoded.pictures)
    n_int = sum(p.kind == "interpolated" for p in decoded.pictures)
    n_con = len(decoded.concealed)
    n_key = n - n_gen - n_int - n_con
    summary: dict[str, Any] = {
        "bitstream": str(args.bitstream), "output": str(out), "pictures": n, "key_pictures": n_key,
        "generated": n_gen, "interpolated": n_int, "concealed": n_con, "generator": decoded.generator,
        "fps": decoded.fps, "bits": 8 * len(stream),
        "kbps": 8 * len(stream) * decoded.fps / n / 1000.0, "decode_fps": n / seconds if seconds > 0 else None,
        "quality": None,
        "hash_verified": decoded.picture_hash.verified if decoded.picture_hash else 0,
        "hash_mismatches": len(decoded.picture_hash.mismatches) if decoded.picture_hash else 0,
    }  # fmt: skip
    print(
        f"decoded {n} pictures ({n_key} key, {n_gen} generated from their GFV messages and {n_int} from "
        f"interpolated parameters by {decoded.generator or 'no generator'}"
        + (f"; {n_con} concealed" if n_con else "")
        + ") "
        f"at {decoded.fps:g} fps, {summary['kbps']:.3f} kbit/s, {n / seconds:.1f} frames/s -> {out}"
    )
    if summary["hash_verified"]:
        verified = summary["hash_verified"]
        kinds = "/".join(decoded.picture_hash.kinds) if decoded.picture_hash else ""
        print(f"decoded picture hash ({kinds}): verified {verified} key picture{'s' if verified > 1 else ''}")
    if args.ref:
        quality = _quality_against(args.ref, decoded.frames, decoded.fps)
        summary["quality"] = quality.as_dict()
        print(quality.text())
    if args.summary_json:
        write_atomic(Path(args.summary_json), json.dumps(summary, indent=2) + "\n")
    return 0


def _md5_lines(decoded: DecodedVideo) -> str:
    """The ``--md5`` file: a comment line, then ``index kind md5`` per output picture, the MD5 of
    its I420 bytes as a ``.yuv`` output holds them (:func:`refsw.media.video_io.i420_chunks`)."""
    from refsw.media.video_io import i420_chunks

    lines = ["# picture kind md5(I420: Y, U, V planes, 8 bits a sample, as in the .yuv output)"]
    for pic, chunk in zip(decoded.pictures, i420_chunks(decoded.frames, decoded.key_planes), strict=True):
        lines.append(f"{pic.index} {pic.kind} {hashlib.md5(chunk).hexdigest()}")
    return "\n".join(lines) + "\n"


def _quality_against(ref: str, decoded: np.ndarray, fps: float) -> QualitySummary:
    """The encoder's input ``ref`` prepared as gfv-encode prepares it
    (:func:`refsw.media.face_crop.read_reference`), against ``decoded``.

    Raises:
        refsw.media.frames.InputError: the reference is unreadable or shorter than ``decoded``.
    """
    from refsw.media.face_crop import read_reference
    from refsw.metrics.summary import quality_summary

    n, h, w = decoded.shape[:3]
    return quality_summary(read_reference(ref, n, (h, w)), decoded, fps)


if __name__ == "__main__":
    sys.exit(main())
