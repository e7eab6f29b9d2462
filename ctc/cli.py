"""``gfv-ctc``: command line of the CTC evaluation tools.

Subcommands:

* ``bd-rate --anchor A.csv --test B.csv --metric NAME [--method pchip|cubic] [--json]``:
  BD-rate of the test curve against the anchor (:func:`ctc.bdrate.bd_rate`). Each CSV has a
  header with a ``kbps`` column (kbit/s) and a column named NAME (a higher-is-better metric,
  e.g. ``psnr_yuv`` or ``1-dists``), one row per rate point.
* ``run`` and ``prepare``, when :mod:`ctc.runner` and :mod:`ctc.prepare` exist: each module
  provides ``add_run_parser(subparsers)`` / ``add_prepare_parser(subparsers)``, which adds
  its subparser and sets its ``func`` default to a callable ``(argparse.Namespace) -> int``.

Results go to stdout; errors are one line on stderr (``gfv-ctc: error: ...``) and exit code 1.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .bdrate import METHODS, BDResult, bd_rate

logger = logging.getLogger(__name__)

__all__ = ["CliError", "build_parser", "main", "read_rd_csv"]

PROG = "gfv-ctc"
#: Rate column of the RD CSV files (kbit/s).
RATE_COLUMN = "kbps"
#: Subcommands defined in this module.
BUILTIN_COMMANDS = frozenset({"bd-rate"})
#: Optional subcommand modules: (module, function adding the subparser).
PLUGINS: tuple[tuple[str, str], ...] = (
    ("ctc.runner", "add_run_parser"),
    ("ctc.prepare", "add_prepare_parser"),
)


class CliError(ValueError):
    """Bad command line or unusable input file."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser raising :class:`CliError` instead of exiting with status 2."""

    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def read_rd_csv(path: str | Path, metric: str) -> tuple[list[float], list[float]]:
    """Read the rate points of one RD curve.

    Args:
        path: CSV file with a header row holding ``kbps`` and ``metric`` columns (others are
            ignored); surrounding spaces in names and values are ignored.
        metric: name of the metric column.

    Returns:
        ``(kbps, metric values)``, in file order.

    Raises:
        CliError: missing file or column, or a value that is not a number.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise CliError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    for col in (RATE_COLUMN, metric):
        if col not in header:
            raise CliError(f"{path}: no column {col!r} (columns: {', '.join(header)})")
    i_rate, i_metric = header.index(RATE_COLUMN), header.index(metric)
    kbps: list[float] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        try:
            kbps.append(float(row[i_rate]))
            values.append(float(row[i_metric]))
        except (IndexError, ValueError):
            raise CliError(f"{path}: row {line}: {RATE_COLUMN} and {metric} must be numbers") from None
    return kbps, values


def _format_result(result: BDResult, metric: str) -> str:
    """Plain-text report of a BD-rate result, one ``key: value`` per line."""
    return "\n".join(
        [
            f"metric: {metric}",
            f"method: {result.method}",
            f"bd_rate_percent: {result.value:.4f}",
            f"overlap_low: {result.overlap_low:.6g}",
            f"overlap_high: {result.overlap_high:.6g}",
            f"anchor_overlap_percent: {100.0 * result.anchor_overlap:.1f}",
            f"test_overlap_percent: {100.0 * result.test_overlap:.1f}",
        ]
    )


def _cmd_bd_rate(args: argparse.Namespace) -> int:
    """``bd-rate`` subcommand."""
    anchor = read_rd_csv(args.anchor, args.metric)
    test = read_rd_csv(args.test, args.metric)
    result = bd_rate(*anchor, *test, method=args.method)
    if args.json:
        out = {
            "metric": args.metric,
            "method": result.method,
            "bd_rate_percent": result.value,
            "overlap_low": result.overlap_low,
            "overlap_high": result.overlap_high,
            "anchor_overlap": result.anchor_overlap,
            "test_overlap": result.test_overlap,
            "warnings": list(result.warnings),
        }
        print(json.dumps(out))
    else:
        print(_format_result(result, args.metric))
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    return 0


def _add_bd_rate_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bd-rate`` subparser."""
    p = subparsers.add_parser(
        "bd-rate",
        help="Bjontegaard delta rate of a test RD curve against an anchor",
        description="BD-rate (percent, negative = the test saves rate) over the metric range "
        "common to both curves (VCEG-M33 / VCEG-AI11).",
    )
    p.add_argument("--anchor", required=True, type=Path, help="anchor CSV (kbps + metric)")
    p.add_argument("--test", required=True, type=Path, help="test CSV (kbps + metric)")
    p.add_argument("--metric", required=True, help="metric column name, higher is better")
    p.add_argument("--method", choices=METHODS, default="pchip", help="interpolation (pchip)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_bd_rate)


def _add_plugins(subparsers: argparse._SubParsersAction) -> None:
    """Add the subcommands of the optional modules that are present."""
    for module_name, func_name in PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if getattr(exc, "name", None) == module_name:
                logger.debug("%s not present; its subcommand is not offered", module_name)
            else:
                logger.warning("%s cannot be imported, subcommand skipped: %s", module_name, exc)
            continue
        getattr(module, func_name)(subparsers)


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first non-option argument), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``gfv-ctc`` parser.

    Args:
        command: the subcommand about to be parsed. For a built-in one (``bd-rate``) the
            optional modules are not imported (``ctc.prepare`` pulls in heavy dependencies);
            otherwise every available subcommand is added.
    """
    parser = _Parser(prog=PROG, description="GFV common test conditions (CTC) tools.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    _add_bd_rate_parser(subparsers)
    if command not in BUILTIN_COMMANDS:
        _add_plugins(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``gfv-ctc``.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns:
        Exit code: 0 on success, 1 on any error (one line on stderr).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser(_command(args_list)).parse_args(args_list)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format=f"{PROG}: %(levelname)s: %(name)s: %(message)s",
        )
        return int(args.func(args))
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # the CLI turns every library error into one line
        logger.debug("traceback", exc_info=True)
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
