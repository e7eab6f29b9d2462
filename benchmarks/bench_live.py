"""Live mode: latency per picture from capture to decoded picture, and the rate cost of live
carriage (issue 14 item 4).

Runs ``gfv-encode --live -i - -b - | gfv-decode --live -b - -o -`` as two processes, feeds the
encoder a clip's pictures as YUV4MPEG2 at the clip's picture rate (a camera), and stamps each
picture when it is written to the encoder ("capture") and when the decoder's YUV4MPEG2 frame has
been read whole ("decoded"), on one monotonic clock, no network. The start-up of both processes
(imports, models) happens before the first picture is sent; the first picture (the key picture:
VVC encoding and decoding, the generator's set-up) is sent alone and timed on its own, then the
others follow at the picture rate. Then the same pictures go through the
file encoder (``gfv-encode``, defaults) for the rate comparison. Prints one table; ``--csv`` also
writes it.

    python benchmarks/bench_live.py [--clips st_obama_clip1 lp_d19 ...] [--frames 100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

import numpy as np
from _common import write_csv

from refsw.encoder import encode_video
from refsw.media.colour import rgb_to_i420
from refsw.media.video_io import y4m_header
from refsw.train.data import load_clip

#: Seconds given to both processes to start (imports, models) before the first picture.
WARM_UP = 25.0


def run_pipe(frames: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray, int]:
    """``(capture times (N,), decoded times (N,), stream bytes)`` of one live run (seconds)."""
    n, h, w = frames.shape[:3]
    enc = subprocess.Popen(
        [sys.executable, "-m", "refsw.apps.encoder_app", "--live", "-i", "-", "-b", "-", "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert enc.stdin is not None and enc.stdout is not None
    tee_r, tee_w = _tee(enc.stdout)
    dec = subprocess.Popen(
        [sys.executable, "-m", "refsw.apps.decoder_app", "--live", "-b", "-", "-o", "-"],
        stdin=tee_r,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert dec.stdout is not None
    captured = np.zeros(n)
    decoded = np.zeros(n)
    enc.stdin.write(y4m_header(w, h, fps))
    enc.stdin.flush()
    time.sleep(WARM_UP)

    def read() -> None:
        f = dec.stdout
        assert f is not None
        f.readline()  # header
        size = h * w * 3 // 2
        for i in range(n):
            f.readline()  # FRAME
            got = 0
            while got < size:
                got += len(f.read(size - got))
            decoded[i] = time.monotonic()

    reader = threading.Thread(target=read)
    reader.start()
    y, u, v = rgb_to_i420(frames)
    for i in range(n):
        if i == 1:  # the key picture alone first: its one-time costs do not queue the others
            while not decoded[0]:
                time.sleep(0.001)
            start = time.monotonic() - 1 / fps
        elif i > 1:
            wait = start + i / fps - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        captured[i] = time.monotonic()
        enc.stdin.write(b"FRAME\n" + y[i].tobytes() + u[i].tobytes() + v[i].tobytes())
        enc.stdin.flush()
    enc.stdin.close()
    reader.join()
    enc.wait()
    dec.wait()
    return captured, decoded, tee_w()


def _tee(src) -> tuple[int, object]:  # noqa: ANN001 (a pipe)
    """Copies ``src`` into a new pipe, counting the bytes; ``(read end, () -> bytes so far)``."""
    import os

    r, w = os.pipe()
    count = [0]

    def pump() -> None:
        while chunk := src.read1(1 << 16):
            count[0] += len(chunk)
            os.write(w, chunk)
        os.close(w)

    threading.Thread(target=pump, daemon=True).start()
    return r, lambda: count[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["st_obama_clip1", "lp_d19", "mead_w009_front_happy_level3_001"])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--csv")
    args = ap.parse_args()
    header = [
        "clip", "pictures", "latency mean ms", "p50 ms", "p95 ms", "max ms", "first ms",
        "live kbit/s", "file kbit/s", "live/file",
    ]  # fmt: skip
    rows = []
    for name in args.clips:
        clip = load_clip(name, max_frames=args.frames)
        captured, decoded, nbytes = run_pipe(clip.frames, clip.fps)
        lat = 1000 * (decoded - captured)
        _, summary = encode_video(clip.frames, clip.fps)
        live_kbps = 8 * nbytes * clip.fps / len(clip.frames) / 1000
        rest = lat[1:]
        rows.append(
            [name, len(clip.frames), f"{rest.mean():.0f}", f"{np.median(rest):.0f}", f"{np.percentile(rest, 95):.0f}",
             f"{rest.max():.0f}", f"{lat[0]:.0f}", f"{live_kbps:.2f}", f"{summary.kbps:.2f}",
             f"{live_kbps / summary.kbps:.2f}"]
        )  # fmt: skip
        print(" | ".join(str(c) for c in rows[-1]), flush=True)
    widths = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print()
    print(" | ".join(h.ljust(wd) for h, wd in zip(header, widths)))
    for r in rows:
        print(" | ".join(str(c).ljust(wd) for c, wd in zip(r, widths)))
    print(
        f"\nlatency: capture (picture written to the encoder) to decoded (its YUV4MPEG2 frame read from the "
        f"decoder), pictures 1..N-1; 'first': picture 0, the key picture. Picture interval {1000 / 25:.0f} ms at 25 Hz."
    )
    if args.csv:
        write_csv(args.csv, header, rows)


if __name__ == "__main__":
    main()
