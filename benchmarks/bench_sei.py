"""Speed of the table-driven SEI layer on VTM's sample GFV stream, printed as a table.

Workload: the 125 GFV messages of ``conformance/public/gfv_vtm_sample`` (FOMM-type: 10 2-D
keypoints, ten 2x2 type-0 matrices; one base message, 124 predicted ones), in stream order,
each pass with a fresh :class:`sei.context.DecodingContext` so that prediction runs as in a
decoder. Rows:

* ``parse+reconstruct``: :func:`sei.sei_message.parse_payload` (no trace) and
  :func:`sei.sei_message.reconstruct` per payload (dequantised keypoints and matrices);
* ``parse+reconstruct+trace``: the same with the VTM trace records collected;
* ``write``: :func:`sei.sei_message.write_payload` of the parsed syntax values;
* ``read_stream_sei``: the whole Annex B stream (NAL units, emulation prevention, framing,
  parse, reconstruct), per GFV message.

Target (issue "Spec-driven SEI layer"): >= 5000 messages/s for parse+reconstruct and for write
on a 2-core machine. Rates are the best of ``--repeat`` runs, in messages per second of CPU
time of this process (``time.process_time``), which other jobs sharing the machine disturb far
less than wall-clock time; ``--wall`` uses wall-clock time instead.

Usage: python benchmarks/bench_sei.py [--vector PATH.266] [--repeat 7] [--min-time 0.3] [--wall]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sei.context import DecodingContext
from sei.sei_message import SEIMessage, parse_payload, reconstruct, write_payload
from sei.stream import read_stream_sei

GFV = 223
TARGET = 5000.0


def _best_rate(fn: Callable[[], int], repeat: int, min_time: float, clock: Callable[[], float]) -> float:
    """Messages per second of ``fn`` (which returns how many messages it handled): best of
    ``repeat`` runs, each looping until ``min_time`` seconds of ``clock`` have passed."""
    best = 0.0
    for _ in range(repeat):
        n = 0
        start = clock()
        while True:
            n += fn()
            elapsed = clock() - start
            if elapsed >= min_time:
                break
        best = max(best, n / elapsed)
    return best


def main() -> int:
    here = Path(__file__).resolve()
    shared = Path(os.environ.get("GFV_SHARED", str(here.parents[2] / "shared")))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vector", default=str(shared / "conformance/public/gfv_vtm_sample/gfv_vtm_sample.266"))
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.3)
    p.add_argument("--wall", action="store_true", help="measure wall-clock instead of process CPU time")
    args = p.parse_args()

    data = Path(args.vector).read_bytes()
    parsed = [m for _, m in read_stream_sei(data).messages if m.payload_type == GFV]
    payloads = [m.payload for m in parsed]
    values = [m.values for m in parsed if m.values is not None]

    def parse(want_trace: bool) -> Callable[[], int]:
        def run() -> int:
            ctx = DecodingContext()
            for payload in payloads:
                msg = parse_payload(SEIMessage(GFV, len(payload), payload), ctx, want_trace)
                reconstruct(msg, ctx)
            return len(payloads)

        return run

    def write() -> int:
        ctx = DecodingContext()
        for v in values:
            write_payload(GFV, v, ctx)
        return len(values)

    def stream() -> int:
        read_stream_sei(data, want_trace=False)
        return len(payloads)

    rows = [
        ("parse+reconstruct", parse(False), True),
        ("parse+reconstruct+trace", parse(True), False),
        ("write", write, True),
        ("read_stream_sei (whole stream)", stream, False),
    ]
    print(
        f"{Path(args.vector).name}: {len(payloads)} GFV messages, "
        f"{sum(map(len, payloads)) / len(payloads):.1f} payload bytes on average"
    )
    print(f"{'operation':<32} | {'msg/s':>9} | {'us/msg':>7} | target")
    print("-" * 33 + "+" + "-" * 11 + "+" + "-" * 9 + "+" + "-" * 12)
    for name, fn, targeted in rows:
        rate = _best_rate(fn, args.repeat, args.min_time, time.perf_counter if args.wall else time.process_time)
        verdict = ("ok" if rate >= TARGET else "BELOW") + f" ({TARGET:.0f})" if targeted else "-"
        print(f"{name:<32} | {rate:9.0f} | {1e6 / rate:7.1f} | {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
