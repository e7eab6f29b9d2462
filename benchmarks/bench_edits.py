"""Measured edits of the decoded semantics (issue 16 item 2), printed as a table.

For every clip (default: the held-out persons of the sem3d face basis), the first ``--frames``
pictures (256x256, the cache of :func:`refsw.train.data.load_clip`) are encoded with ``sem3d``
(encoder defaults), decoded without and with each edit (``gfv-decode --edit``), and the face mesh
run on both outputs (:mod:`refsw.metrics.semantics`) says what each edit did: requested against
measured, in the edit keys' units. ``--grid FILE.png`` also writes a frame grid: one row per clip,
the unedited picture then each edit, at picture ``--grid-picture``.

Bars (issue 16): yaw +15 degrees measured within 5 degrees; closed eyes below 20 % of the open
eyes' openness; an opened mouth clearly more open than decoded; zoom 1.2 within 5 %.

``--blink-grid FILE.png``: instead, a frame grid of closed eyes and natural blinks: per clip
(default: tpsmm_driving, st_obama_clip1, mead_w009 neutral 1), the first ``--blink-frames``
pictures are coded once; columns: the input picture ``--grid-picture``, its decoding with
``eyes=0``, the input picture where the face mesh finds the eyes least open (a real blink) and its
decoding without an edit (the blink carried by the stream), each with the face mesh's eye openness
relative to the clip's median.

``--calibrate``: instead, yaw +-15 and pitch +-10 degrees with sem3d's turn gain set to 1, on clips
of persons the sem3d basis was built from (default: six of them), and the mean ratio measured /
requested per axis: what ``refsw.models.sem3d.EDIT_TURN_GAIN`` is set to.

Usage: python benchmarks/bench_edits.py [--frames 20] [--model sem3d] [--grid FILE.png] [--calibrate]
       [--blink-grid FILE.png [--blink-frames 150]] [clip ...]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refsw.decoder import decode_stream
from refsw.decoder.edits import EditPlan
from refsw.encoder import encode_video
from refsw.metrics.semantics import compare, measure_semantics
from refsw.train.data import load_clip

#: Held-out persons (not in the sem3d basis training, refsw/train/sem3d_basis.py).
CLIPS = (
    "lp_d19", "tpsmm_driving", "dagan_driving", "dpe_d", "mead_w009_front_neutral_level1_001", "st_obama_clip1",
    "st_happyenglish_clip1",
)  # fmt: skip
#: Clips of persons of the sem3d basis training, for --calibrate.
CALIBRATION_CLIPS = (
    "dpe_s",
    "lp_d0",
    "lp_d10",
    "mead_m030_front_neutral_level1_001",
    "st_andrew_clip_1",
    "st_feifeili_clip1",
)
#: (edit, requested value, measured quantities): keys of refsw.metrics.semantics.compare, the first
#: in the edit's unit.
EDITS = (
    ("yaw=15", 15.0, ("yaw", "yaw_3d")),
    ("yaw=-15", -15.0, ("yaw", "yaw_3d")),
    ("pitch=10", 10.0, ("pitch", "pitch_3d")),
    ("roll=10", 10.0, ("roll", "roll_3d")),
    ("eyes=0", 0.0, ("eyes",)),
    ("mouth==0.35", 0.35, ("mouth_open",)),
    ("zoom=1.2", 1.2, ("zoom",)),
    ("tx=0.05", 0.05, ("tx",)),
    ("gaze_x=0.15", 0.15, ("gaze_x",)),
)


def passes(edit: str, measured: dict[str, float], requested: float) -> bool | None:
    """The issue's bar for ``edit`` (``None``: the issue sets none)."""
    if edit.startswith("yaw"):
        return abs(measured["yaw"] - requested) <= 5.0
    if edit == "eyes=0":
        return measured["eyes"] < 0.2
    if edit.startswith("mouth"):  # at least half of the requested opening's increase
        return measured["mouth_open"] - measured["mouth_open_ref"] >= 0.5 * (requested - measured["mouth_open_ref"])
    if edit.startswith("zoom"):
        return abs(measured["zoom"] / requested - 1.0) <= 0.05
    return None


def calibrate(clips: list[str], frames: int) -> None:
    """Prints the ratio measured / requested of yaw and pitch edits with the turn gain set to 1."""
    from refsw.models import sem3d

    sem3d.EDIT_TURN_GAIN = (1.0, 1.0)
    ratios: dict[str, list[float]] = {"yaw": [], "pitch": []}
    for name in clips:
        video = load_clip(name, max_frames=frames).frames
        stream, _ = encode_video(video, 25.0, model="sem3d")
        reference = measure_semantics(decode_stream(stream).frames)
        for key, angle in (("yaw", 15.0), ("yaw", -15.0), ("pitch", 10.0), ("pitch", -10.0)):
            edited = decode_stream(stream, edits=EditPlan.from_values({key: angle})).frames
            measured = compare(measure_semantics(edited), reference)[key]
            ratios[key].append(measured / angle)
            print(
                f"{name:>36s} {key:>6s} {angle:6.1f} measured {measured:7.2f} ratio {measured / angle:.3f}", flush=True
            )
    for key, r in ratios.items():
        print(f"{key}: mean ratio {np.mean(r):.3f} (sd {np.std(r):.3f}), gain 1/ratio = {1 / np.mean(r):.3f}")


#: Clips of the --blink-grid (held-out persons whose closed-eye edit meets the bar).
BLINK_CLIPS = ("tpsmm_driving", "st_obama_clip1", "mead_w009_front_neutral_level1_001")


def blink_grid(path: str, clips: list[str], frames: int, picture: int, size: int) -> None:
    """Writes the ``--blink-grid`` PNG (see above) and prints the openness of each cell."""
    import cv2
    from PIL import Image

    rows = []
    for name in clips:
        video = load_clip(name, max_frames=frames).frames
        stream, _ = encode_video(video, 25.0, model="sem3d")
        plain = decode_stream(stream).frames
        closed = decode_stream(stream, edits=EditPlan.parse(["eyes=0"])).frames
        eyes = measure_semantics(video).eyes.mean(1)
        blink = int(np.argmin(eyes))
        cells = (video[picture], closed[picture], video[blink], plain[blink])
        o = [float(measure_semantics(c[None]).eyes.mean()) / np.median(eyes) for c in cells]
        print(
            f"{name}: eyes=0 at {picture}: input {o[0]:.2f}, decoded {o[1]:.2f}; "
            f"blink at {blink}: input {o[2]:.2f}, decoded {o[3]:.2f} (of the median)",
            flush=True,
        )
        rows.append(np.concatenate([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in cells], 1))
    Image.fromarray(np.concatenate(rows, 0)).quantize(256).save(path, optimize=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--model", default="sem3d")
    p.add_argument("--grid", help="write a frame grid PNG (256-colour palette)")
    p.add_argument("--grid-picture", type=int, default=10)
    p.add_argument("--grid-size", type=int, default=112, help="size of a grid cell in pixels")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--calibrate", action="store_true", help="measure the turn gain (see above)")
    p.add_argument("--blink-grid", help="write the closed-eye and blink frame grid PNG instead (see above)")
    p.add_argument("--blink-frames", type=int, default=150)
    p.add_argument("clips", nargs="*")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.blink_grid:
        clips = args.clips or list(BLINK_CLIPS)
        blink_grid(args.blink_grid, clips, args.blink_frames, args.grid_picture, args.grid_size)
        return 0
    if args.calibrate:
        calibrate(args.clips or list(CALIBRATION_CLIPS), args.frames)
        return 0
    if args.markdown:
        print("| clip | edit | requested | measured | also measured | decoded | bar |\n|---|---|---|---|---|---|---|")
    else:
        print(f"{'clip':>36s} {'edit':>12s} {'requested':>9s} {'measured':>9s} {'also':>16s} {'decoded':>8s} bar")
    rows = []
    for name in args.clips or CLIPS:
        frames = load_clip(name, max_frames=args.frames).frames
        stream, _ = encode_video(frames, 25.0, model=args.model)
        plain = decode_stream(stream).frames
        reference = measure_semantics(plain)
        row = [plain[args.grid_picture]]
        for edit, requested, quantities in EDITS:
            edited = decode_stream(stream, edits=EditPlan.parse([edit])).frames
            measured = compare(measure_semantics(edited), reference)
            key = quantities[0]
            ref = {"eyes": 1.0, "mouth_open": measured["mouth_open_ref"], "zoom": 1.0}.get(key, 0.0)
            ok = passes(edit, measured, requested)
            bar = "-" if ok is None else "pass" if ok else "FAIL"
            also = " ".join(f"{q} {measured[q]:.2f}" for q in quantities[1:])
            cells = (name, edit, f"{requested:g}", f"{measured[key]:.3f} ({key})", also, f"{ref:.3f}", bar)
            if args.markdown:
                print("| " + " | ".join(cells) + " |", flush=True)
            else:
                print(
                    f"{name:>36s} {edit:>12s} {requested:9g} {measured[key]:9.3f} {also:>16s} {ref:8.3f} {bar}",
                    flush=True,
                )
            row.append(edited[args.grid_picture])
        rows.append(
            np.concatenate(
                [cv2.resize(r, (args.grid_size, args.grid_size), interpolation=cv2.INTER_AREA) for r in row], 1
            )
        )
    if args.grid:
        from PIL import Image

        Image.fromarray(np.concatenate(rows, 0)).quantize(256).save(args.grid, optimize=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
