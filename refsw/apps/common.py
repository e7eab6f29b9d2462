"""Shared plumbing of the command-line apps: output-path checks, atomic writes, error reporting
(one line, non-zero exit, no partial output)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


class UsageError(ValueError):
    """A bad option or configuration value."""


def check_output_path(path: str, overwrite: bool) -> Path:
    """Refuses an output that exists (unless ``overwrite``) or whose directory is not writable.

    Raises:
        UsageError: with a one-line reason.
    """
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"output {path} is a directory")
    if p.exists() and not overwrite:
        raise UsageError(f"output {path} exists; pass -y/--overwrite to replace it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: directory {parent} is not writable")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes | str) -> None:
    """Writes ``data`` to a temporary file beside ``path`` and renames it into place; the file
    gets the permissions of a newly created file (0666 less the user's umask)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def portable_kernels() -> None:
    """For ``--deterministic``, before PyTorch runs its first kernel: ATen's vectorised CPU kernels
    limited to AVX2 (``ATEN_CPU_CAPABILITY=avx2``; a value the user set is kept).

    ATen picks its kernels by the CPU's widest vector extension the first time one runs, and its
    AVX-512 kernels round differently from its AVX2 ones: FV2V's portable-path pictures differed
    between an AVX2 and an AVX-512 CPU (``tests/test_golden.py``, 2026-12-07). PyTorch reads the
    variable once, so it must be set before any tensor arithmetic in the process.
    """
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")


def run_app(prog: str, body: Callable[[], int], expected: tuple[type[BaseException], ...]) -> int:
    """Runs ``body``; expected errors become ``"<prog>: error: <one line>"`` on stderr and exit 1."""
    logging.basicConfig(level=logging.WARNING, format=f"{prog}: %(levelname)s: %(message)s")
    try:
        return body()
    except expected as err:
        text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)  # no repr quotes
        msg = text.strip().splitlines()[0] if text.strip() else type(err).__name__
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def check_input_path(path: str) -> None:
    """Refuses an input that does not exist: a file, a directory of PNG pictures, or a
    ``%04d``-style pattern whose directory exists (checked before any heavy import, so a
    mistyped name fails at once).

    Raises:
        UsageError: with a one-line reason.
    """
    p = Path(path)
    if "%" in p.name:
        if not (p.parent if str(p.parent) else Path(".")).is_dir():
            raise UsageError(f"cannot read {path}: directory {p.parent} does not exist")
        return
    if not p.exists():
        raise UsageError(f"cannot read {path}: no such file or directory")


def add_version(parser: argparse.ArgumentParser) -> None:
    """Adds ``--version`` (the installed package's version)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("gfv-refsw")
    except PackageNotFoundError:
        text = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"%(prog)s (gfv-refsw) {text}")


def plain(text: str) -> str:
    """``text`` without reST markup (double backticks), for ``--help``."""
    return text.replace("``", "")
