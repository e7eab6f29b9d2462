"""``gfv-check``: conformance check of a VVC Annex B byte stream with GFV SEI messages.

Usage::

    gfv-check -b STREAM [--sei-only] [--json] [--verbose] [--variant C|B] [--mode vtm|spec]
              [--trace-sei FILE]

Checks every rule of the SEI layer (:mod:`sei.checker`) and decodes the VVC layer (the coded
key pictures, with FFmpeg's VVC decoder as ``gfv-decode`` does; a picture it refuses is one
error naming its access unit), so that "conformant" covers the whole stream; ``--sei-only``
skips the VVC layer and the verdict says so. Prints every finding and the verdict on stdout
(with ``--verbose`` also the NAL units and SEI messages); with ``--json`` the report goes to
stdout as JSON alone (``conformant``, ``layers``, ``num_errors``, ``num_warnings``,
``num_limits``, ``nal_units``, ``messages``, ``findings`` with element, offsets, rule, source,
severity, NAL and message index). Severities (docs/conformance.md#severity-policy): ``error``
(non-conformance), ``warning`` (legal but questionable, or VTM behaves differently), ``limit``
(a bound of this software: not checked there, not non-conformance). Diagnostics (unreadable
input) go to stderr. ``--trace-sei`` writes VTM's decoded-SEI dump format of the parsed
messages to FILE (as ``gfv-decode --trace-sei``).

Exit status: 0 conformant (warnings allowed), 1 at least one error finding, 2 unreadable input
(missing file, not an Annex B byte stream, no VVC decoder), 3 no error but a ``limit`` finding
(the stream is beyond this software's bounds and was not checked completely).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from refsw.codecs import CodecError
from refsw.decoder.errors import StreamError
from refsw.decoder.verdict import check_vcl
from sei.checker import CheckReport, check_stream
from sei.errors import BitstreamError

from .common import add_version, plain

EXIT_OK = 0
EXIT_NONCONFORMANT = 1
EXIT_UNREADABLE = 2
EXIT_LIMIT = 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gfv-check", description=plain(__doc__.splitlines()[0]))
    p.add_argument("-b", "--bitstream", help="VVC Annex B byte stream (.266)")
    p.add_argument("stream", nargs="?", help=argparse.SUPPRESS)  # the older positional form
    p.add_argument(
        "--sei-only",
        action="store_true",
        help="check the SEI layer only (do not decode the key pictures); the verdict says so",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout (and nothing else)")
    p.add_argument("-v", "--verbose", action="store_true", help="also list the NAL units and SEI messages")
    p.add_argument(
        "--variant",
        choices=("C", "B"),
        default="C",
        help="GFV syntax: C = VTM-23.12 and later (default), B = VTM-23.9..23.11",
    )
    p.add_argument(
        "--mode",
        choices=("vtm", "spec"),
        default="vtm",
        help="reconstruction state: VTM decoder behaviour (default) or per-id as the semantics intend",
    )
    p.add_argument("--trace-sei", metavar="FILE", help="write the VTM-format SEI trace of the parsed messages to FILE")
    p.add_argument("--trace", dest="trace_sei", metavar="FILE", help=argparse.SUPPRESS)  # the older name
    add_version(p)
    return p


def _human(report: CheckReport, name: str, out: TextIO, verbose: bool, layers: str) -> None:
    """The findings and the verdict (with ``verbose`` the listing first), for people."""
    print(
        f"{name}: {len(report.nal_units)} NAL units, {len(report.messages)} SEI messages "
        f"(GFV variant {report.variant}, mode {report.mode})",
        file=out,
    )
    by_nal: dict[int, list] = {}
    for m in report.messages:
        by_nal.setdefault(m.nal_index, []).append(m)
    for n in report.nal_units if verbose else ():
        tid = "-" if n.nuh_temporal_id_plus1 is None else n.nuh_temporal_id_plus1 - 1
        print(
            f"  NAL {n.index:4d} @{n.offset:8d}  {n.type_name:<15} layer {n.nuh_layer_id} tid {tid} {n.size:6d} bytes",
            file=out,
        )
        for m in by_nal.get(n.index, []):
            fields = " ".join(f"{k} {v}" for k, v in m.fields.items())
            state = "" if m.parsed else "  (not parsed)"
            print(
                f"      msg {m.index:4d}  payloadType {m.payload_type} ({m.name}) {m.payload_size} bytes "
                f"@NAL byte {m.payload_offset}  {fields}{state}",
                file=out,
            )
    for f in report.findings:
        print("  " + f.describe(), file=out)
    verdict = "conformant" if report.conformant else "NOT conformant"
    if report.conformant and report.limits:
        verdict = "no error found, but not checked completely (beyond this software's limits)"
    limits = f", {len(report.limits)} limits" if report.limits else ""
    print(
        f"{name}: {len(report.errors)} errors, {len(report.warnings)} warnings{limits}: {verdict} ({layers})",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``gfv-check``; returns the exit status (0, 1 or 2, see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    if bool(args.bitstream) == bool(args.stream):
        parser.error("give the stream once, as -b STREAM")
    path = Path(args.bitstream or args.stream)
    try:
        data = path.read_bytes()
    except OSError as err:
        print(f"gfv-check: cannot read {path}: {err.strerror or err}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        report = check_stream(data, variant=args.variant, mode=args.mode, want_trace=bool(args.trace_sei))
    except BitstreamError as err:
        print(f"gfv-check: {path}: unreadable: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    layers = "SEI layer only (--sei-only): the key pictures were not decoded"
    if not args.sei_only:
        try:
            pictures, vcl = check_vcl(data)
        except (CodecError, StreamError) as err:
            hint = "(--sei-only checks the SEI layer alone)"
            print(f"gfv-check: {path}: VVC layer not checked: {err} {hint}", file=sys.stderr)
            return EXIT_UNREADABLE
        if vcl is not None:
            report.findings.append(vcl)
        layers = f"SEI layer and VVC layer: {pictures} coded pictures decoded"
    if args.trace_sei:
        try:
            Path(args.trace_sei).write_text(report.trace)
        except OSError as err:
            print(f"gfv-check: cannot write {args.trace_sei}: {err.strerror or err}", file=sys.stderr)
            return EXIT_UNREADABLE
    if args.json:
        json.dump({"stream": str(path), "layers": layers, **report.to_json()}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _human(report, str(path), sys.stdout, args.verbose, layers)
    if not report.conformant:
        return EXIT_NONCONFORMANT
    return EXIT_LIMIT if report.limits else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
