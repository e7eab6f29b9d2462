"""Provenance of a CTC run: what ran, from which code, with which tools, where and when.

Written as ``provenance.json`` next to the results, so that every result can be traced and repeated
(CompressAI-Vision ``config/outputs.py`` does the same): the resolved configuration, the git
revision (and whether the work tree had local changes), the versions of Python, the packages and
FFmpeg, the host, the start and end time.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "collect", "git_info", "now_iso"]

#: Distributions whose versions are recorded.
PACKAGES = (
    "numpy", "torch", "opencv-contrib-python", "opencv-python", "mediapipe", "av", "imageio",
    "pillow", "imageio-ffmpeg", "pytorch-msssim", "scipy", "matplotlib", "dask", "distributed",
    "tqdm", "PyYAML",
)  # fmt: skip


def now_iso() -> str:
    """Current local time, ISO 8601 with UTC offset, to the second."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def git_info(repo: Path) -> dict[str, Any]:
    """``{"revision", "dirty", "changed", "diff_sha256"}`` of the git work tree at ``repo``:
    the HEAD commit, whether tracked files differ from it, which, and the SHA-256 of ``git diff
    HEAD`` (identifies the uncommitted code that ran). Read-only git commands only;
    ``--no-optional-locks`` so that ``status`` does not even refresh the index. ``revision`` is
    ``None`` outside a git work tree."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "--no-optional-locks", "-C", str(repo), *args],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout if proc.returncode == 0 else None

    revision = git("rev-parse", "HEAD")
    if revision is None:
        return {"revision": None, "dirty": None, "changed": []}
    status = git("status", "--porcelain", "--untracked-files=no") or ""
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    diff = git("diff", "HEAD", "--no-color") or ""
    return {
        "revision": revision.strip(),
        "dirty": bool(changed),
        "changed": changed,
        "diff_sha256": hashlib.sha256(diff.encode()).hexdigest() if changed else None,
    }


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _ffmpeg_version() -> str | None:
    try:
        from refsw.media.ffmpeg import resolve_ffmpeg

        proc = subprocess.run(
            [resolve_ffmpeg(), "-version"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.splitlines()[0] if proc.stdout else None


def collect(repo: Path) -> dict[str, Any]:
    """Static provenance fields (the runner adds config, times, executor and job counts)."""
    return {
        "git": git_info(repo),
        "python": sys.version.split()[0],
        "packages": _versions(),
        "ffmpeg": _ffmpeg_version(),
        "host": {
            "name": socket.gethostname(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "cwd": os.getcwd(),
    }
