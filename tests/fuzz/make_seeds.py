"""Writes the seed corpus of the SEI fuzzer (:mod:`tests.fuzz.fuzz_sei`) to a directory.

Seeds: the public conformance vectors (``/work/shared/conformance/public/*/*.266`` or the
directory given with ``--vectors``) and small streams of this project's own test builders
(:mod:`tests.sei_streams`): valid GFV / GFVE / NNPFC / NNPFA / SPTI streams of both syntax
variants and every hand-made broken stream under ``--max-bytes`` (default 4096) bytes.

Usage::

    python tests/fuzz/make_seeds.py OUT_DIR [--vectors DIR] [--max-bytes N]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sei_streams as s  # noqa: E402 - the test builders live beside this folder

#: Where the public conformance vectors are unless ``--vectors`` says otherwise.
PUBLIC_VECTORS = Path("/work/shared/conformance/public")


def own_streams() -> dict[str, bytes]:
    """Small valid and broken streams of :mod:`sei_streams`, by name."""
    out: dict[str, bytes] = {
        "gfv_base": s.stream([(s.GFV, s.gfv_base())]),
        "gfv_sequence": s.stream(
            [(s.GFV, s.gfv_base()), (s.GFV, s.gfv_next(cnt=1)), (s.GFV, s.gfv_absolute(cnt=2)), (s.GFV, s.gfv_next(3))]
        ),
        "gfv_types": s.stream([(s.GFV, s.gfv_base(matrix_types=(0, 1, 2, 4, 5, 7)))]),
        "gfve": s.stream([(s.GFV, s.gfv_base()), (s.GFVE, s.gfve_message()), (s.GFVE, s.gfve_message(base=False))]),
        "nnpfc_nnpfa_spti": s.annexb(
            s.nal(s.NNPFC, s.written([(s.NNPFC, s.NNPFC_VALUES)])[0]),
            s.nal(s.NNPFA, s.written([(s.NNPFA, s.NNPFA_VALUES)])[0]),
            s.nal(s.SPTI, s.written([(s.SPTI, s.SPTI_VALUES)])[0]),
        ),
    }
    for name, (build, _element, _severity) in s.BROKEN.items():
        out["broken_" + name] = build()
    return out


def main(argv: list[str] | None = None) -> int:
    """Writes the seeds; returns the exit status."""
    p = argparse.ArgumentParser(description="write the seed corpus of the SEI fuzzer")
    p.add_argument("out", type=Path, help="output directory (created; existing seeds are kept)")
    p.add_argument("--vectors", type=Path, default=PUBLIC_VECTORS, help="public conformance vectors")
    p.add_argument("--max-bytes", type=int, default=4096, help="skip own streams larger than this")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = {f"vector_{f.stem}": f.read_bytes() for f in sorted(args.vectors.glob("*/*.266"))}
    seeds.update({k: v for k, v in own_streams().items() if len(v) <= args.max_bytes})
    for name, data in seeds.items():
        (args.out / f"{name}-{hashlib.sha1(data).hexdigest()[:8]}.266").write_bytes(data)
    print(f"{len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
