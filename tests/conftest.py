"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Directory of shared project resources.

    Taken from the environment variable ``GFV_SHARED``, else ``<repo>/../shared``.
    Tests using it are skipped when the directory does not exist.
    """
    env = os.environ.get("GFV_SHARED")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    if not path.is_dir():
        pytest.skip(f"shared directory {path} not found (set GFV_SHARED)")
    return path


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    """Directory of the real talking-head test clips (``<shared>/data/*.mp4``)."""
    path = shared_dir / "data"
    if not any(path.glob("*.mp4")):
        pytest.skip(f"no test clips in {path}")
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regenerate-expected", action="store_true", default=False,
                     help="rewrite the golden MD5s in tests/expected/ instead of comparing with them")
