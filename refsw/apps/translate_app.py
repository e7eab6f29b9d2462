"""``gfv-translate``: rewrites a GFV stream for another model (issue 17; JVET-AG0048).

``gfv-translate -b IN.266 --to MODEL -o OUT.266 [--translator analytic|learned] [-y]``: the GFV
and GFVE SEI messages and the NNPFC message naming the generator are rewritten for MODEL through
a parameter translator (:mod:`refsw.translate.stream`); the key pictures and every other NAL
unit stay byte for byte; a second NNPFC message names the translator
(``docs/translators.md#signalling``). Exit 0 on success, 1 on an error (one line on stderr, no
output file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from refsw.models import MODEL_NAMES

from .common import UsageError, add_version, check_input_path, check_output_path, run_app, write_atomic


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gfv-translate",
        description="Rewrites the GFV SEI messages of a stream for another model through a parameter translator; "
        "key pictures and other NAL units stay byte for byte.",
    )
    p.add_argument("-b", "--bitstream", required=True, help="input .266 stream with GFV SEI messages")
    p.add_argument("--to", required=True, metavar="MODEL", help=f"target model ({', '.join(MODEL_NAMES)})")
    p.add_argument("-o", "--output", required=True, help="output .266 stream")
    p.add_argument("--translator", choices=("analytic", "learned"), help="translator kind (default: the pair's)")
    p.add_argument("-y", "--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--mode", choices=("vtm", "spec"), default="vtm", help="GFV reconstruction mode (default vtm)")
    add_version(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``gfv-translate``; returns the exit status."""
    args = _parser().parse_args(argv)

    def body() -> int:
        check_input_path(args.bitstream)
        out = check_output_path(args.output, args.overwrite)
        if args.to not in MODEL_NAMES:
            raise UsageError(f"unknown model {args.to}; models: {', '.join(MODEL_NAMES)}")
        from refsw.codecs import CodecError
        from refsw.models import ModelError
        from refsw.translate.stream import TranslateError, translate_stream

        try:
            result = translate_stream(Path(args.bitstream).read_bytes(), args.to, args.translator, mode=args.mode)
        except (CodecError, ModelError, TranslateError) as err:
            raise UsageError(str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)) from err
        write_atomic(out, result.stream)
        for note in result.notes:
            print(f"gfv-translate: {note}", file=sys.stderr)
        print(
            f"{args.output}: {result.messages} GFV messages in {result.segments} segments, "
            f"{result.source} -> {result.target} ({result.translator})"
        )
        return 0

    return run_app("gfv-translate", body, (UsageError, OSError))


if __name__ == "__main__":
    sys.exit(main())
