"""Peak memory and time of ``gfv-check`` and ``gfv-decode`` on streams with huge GFV matrices,
printed as a table (issue 13 item 3, ``docs/conformance.md#memory-and-size-limits``).

Workload: the key picture of the public conformance vector ``gfv_cfte_type7`` (its SEI removed)
with one base GFV message of ``side`` x ``side`` matrix elements (one type-7 matrix, P = 4;
:func:`tests.sei_streams.huge_gfv_stream`). Each app runs in its own process; the peak is that
process's maximum resident set size (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a helper
process that runs only it), the time its wall-clock time (other jobs sharing the machine
stretch it; ``user`` is its CPU time). The stream names no generator, so ``gfv-decode`` stops
at generation with a one-line error after parsing and reconstructing every message.

``--src DIR`` runs the apps from another checkout (e.g. an older revision exported with
``git archive``) for before/after numbers; the streams are always built with this checkout.

Usage: python benchmarks/bench_memory.py [--sides 100,300,1000] [--src DIR] [--apps check,decode]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY_STREAM = Path("/work/shared/conformance/public/gfv_cfte_type7/gfv_cfte_type7.266")
_PROBE = (
    "import resource, subprocess, sys;"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
    "print(u.ru_maxrss, u.ru_utime, p.returncode);"
    "sys.stderr.write(p.stdout[-2000:] + p.stderr[-2000:])"
)


def peak_run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float, int, str]:
    """Runs ``argv`` in a helper process; returns ``(peak MB, wall s, user s, exit status,
    last output)``; the peak is the maximum resident set size of ``argv``'s process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    kb, user, rc = done.stdout.split()
    return int(kb) / 1024, wall, float(user), int(rc), done.stderr


def main(argv: list[str] | None = None) -> int:
    """Builds the streams, runs the apps and prints the table; returns the exit status."""
    p = argparse.ArgumentParser(description="peak memory of gfv-check / gfv-decode on huge GFV matrices")
    p.add_argument("--sides", default="100,300,1000", help="matrix sides (elements = side^2)")
    p.add_argument("--src", type=Path, default=ROOT, help="checkout the apps run from (PYTHONPATH)")
    p.add_argument("--apps", default="check,decode", help="which apps to run")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from sei_streams import huge_gfv_stream

    env = dict(os.environ, PYTHONPATH=str(args.src))
    print(f"apps from {args.src}")
    print(f"{'elements':>9} | {'stream':>9} | {'app':<6} | {'wall s':>7} | {'user s':>7} | {'peak MB':>8} | exit")
    print("-" * 66)
    with tempfile.TemporaryDirectory() as tmp:
        for side in (int(s) for s in args.sides.split(",")):
            stream = Path(tmp) / f"huge{side}.266"
            stream.write_bytes(huge_gfv_stream(KEY_STREAM.read_bytes(), side))
            runs = {
                "check": ["-m", "refsw.apps.check_app", "-b", str(stream)],
                "decode": ["-m", "refsw.apps.decoder_app", "-b", str(stream), "-o", f"{tmp}/o.y4m", "--quiet"],
            }
            for app in args.apps.split(","):
                peak, wall, user, rc, _ = peak_run([sys.executable, *runs[app]], env)
                size = f"{stream.stat().st_size / 1e6:.2f} MB"
                print(f"{side * side:>9} | {size:>9} | {app:<6} | {wall:7.1f} | {user:7.1f} | {peak:8.0f} | {rc}")
                Path(f"{tmp}/o.y4m").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
