"""``gfv-ctc``: command line of the CTC evaluation tools.

Subcommands:

* ``bd-rate --anchor A.csv --test B.csv --metric NAME [--method pchip|cubic] [--json]``:
  BD-rate of the test curve against the anchor (:func:`ctc.bdrate.bd_rate`). Each CSV has a
  header with a ``kbps`` column (kbit/s) and a column named NAME (a higher-is-better metric,
  e.g. ``psnr_yuv`` or ``1-dists``), one row per rate point.
* ``run CONFIG.yaml ...``: a whole CTC test (:func:`ctc.runner.run_ctc`), resumable.
* ``prepare INPUT --out DIR``: CTC sequences from a video (:func:`ctc.prepare.prepare_sequence`).

Every subcommand's parser is built here; the libraries (:mod:`ctc.runner`, :mod:`ctc.prepare`)
are imported only when their subcommand runs.

Results go to stdout; errors are one line on stderr (``gfv-ctc: error: ...``) and exit code 1.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from refsw.apps.common import add_version

from .bdrate import METHODS, BDResult, bd_rate

logger = logging.getLogger(__name__)

__all__ = ["CliError", "build_parser", "main", "read_rd_csv"]

PROG = "gfv-ctc"
#: Rate column of the RD CSV files (kbit/s).
RATE_COLUMN = "kbps"


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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_run_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` subparser."""
    p = subparsers.add_parser(
        "run",
        help="run a whole CTC test from configuration files (resumable)",
        description="Runs a CTC test from YAML configuration files: every sequence x codec x rate point, "
        "resumable, with results.csv, summary.md, RD plots and provenance.json.",
    )
    p.add_argument("config", nargs="+", help="CTC YAML file(s), merged in order (later wins)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive, help="local worker processes (default: cores)")
    where.add_argument("--dask-scheduler", metavar="ADDR", help="run on a Dask cluster")
    where.add_argument(
        "--dask-local",
        type=_positive,
        metavar="N",
        help="run on a local Dask cluster of N worker processes",
    )
    p.add_argument("--output", help="results directory (overrides the configuration)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="run every job again (ignore the cache)")
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    """``gfv-ctc run``: prints a JSON summary on stdout; exit 1 if any job failed."""
    import dataclasses

    from .config import load_config
    from .runner import run_ctc

    cfg = load_config(args.config)
    if args.output:
        out = Path(args.output).resolve()
        work = out / "work" if cfg.work == cfg.output / "work" else cfg.work
        cfg = dataclasses.replace(cfg, output=out, work=work)
    result = run_ctc(
        cfg,
        workers=args.workers,
        dask_scheduler=args.dask_scheduler,
        dask_local=args.dask_local,
        progress=not args.no_progress,
        force=args.force,
    )
    for job_id, message in result.failed.items():
        print(f"{PROG}: job {job_id} failed: {message}", file=sys.stderr)
    summary = {
        "output": str(cfg.output),
        "jobs_run": len(result.ran),
        "jobs_cached": len(result.cached),
        "jobs_failed": len(result.failed),
        "seconds": round(result.seconds, 1),
        "files": [str(p) for p in result.outputs],
    }
    print(json.dumps(summary, indent=1))
    return 1 if result.failed else 0


def _add_prepare_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prepare`` subparser."""
    p = subparsers.add_parser(
        "prepare",
        help="turn a video into CTC sequences (256x256 and 512x512, 25 Hz, .rgb and .yuv)",
        description="Turns a video into CTC sequences: face-centred crop, 256x256 and 512x512, 25 Hz, "
        "planar RGB 4:4:4 and YUV 4:2:0 files with JVET names.",
    )
    p.add_argument("input", help="video file (mp4/mov/mkv/y4m, PNG directory, raw CTC file)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--frames", type=_positive, help="number of 25 Hz output pictures (default: all)")
    p.add_argument("--name", help="sequence name (default: the input file's stem)")
    p.add_argument("--no-crop", action="store_true", help="resize the whole (square) picture, no face crop")
    p.set_defaults(func=_cmd_prepare)


def _cmd_prepare(args: argparse.Namespace) -> int:
    """``gfv-ctc prepare``: writes the files, prints a JSON summary on stdout."""
    from dataclasses import asdict

    from .prepare import prepare_sequence

    result = prepare_sequence(args.input, args.out, name=args.name, frames=args.frames, crop=not args.no_crop)
    summary = asdict(result)
    summary.pop("source_indices")
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first non-option argument), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``gfv-ctc`` parser (``command``: unused, kept for callers that name the subcommand)."""
    parser = _Parser(prog=PROG, description="GFV common test conditions (CTC) tools.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    add_version(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    _add_bd_rate_parser(subparsers)
    _add_run_parser(subparsers)
    _add_prepare_parser(subparsers)
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
