"""Shared pytest fixtures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# One thread per test process for the OpenMP / BLAS pools (torch, numpy), unless the caller chose:
# the suite runs two pytest-xdist workers on this 2-core machine, and two processes of two threads
# each took 2.2 times as long as two of one thread (58 s against 26 s, a FOMM quality test run
# twice at once). Set before any test module imports torch; tests that need a thread count set it
# (tests/test_golden.py's default path: 2) and _torch_threads_restored gives it back.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
# the golden tests' portable MD5s hold on AVX2 and AVX-512 CPUs alike (refsw.apps.common.portable_kernels)
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")


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


@pytest.fixture(autouse=True)
def _torch_threads_restored() -> Iterator[None]:
    """Gives torch's thread count back after each test: in-process runs of ``gfv-train`` set it
    for the process, and FV2V's pictures (the golden MD5s) depend on it. Does nothing for tests
    that run before torch is imported."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    if torch is not None and before is not None:
        torch.set_num_threads(before)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regenerate-expected",
        action="store_true",
        default=False,
        help="rewrite the golden MD5s in tests/expected/ instead of comparing with them",
    )


#: Markers (``pytest -m "not slow"``, ``-m shared``, ``-m vtm``).
MARKERS = {
    "shared": "needs the shared clips and conformance vectors (../shared or $GFV_SHARED); skipped without them",
    "vtm": "needs VTM's DecoderApp ($GFV_VTM_DECODER); skipped without it",
    "slow": "takes more than about 10 s on 2 cores",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


#: The longest test files (measured with ``--durations``), run first: pytest-xdist's
#: ``--dist loadfile`` hands files to its workers in collection order, so starting with the
#: longest ones keeps the two workers busy to the end (longest-first scheduling).
LONGEST_FIRST = (
    "test_models.py",
    "test_models_quality.py",
    "test_face_crop.py",
    "test_memory_limits.py",
    "test_main_job.py",
    "test_golden.py",
    "test_ctc.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the shared directory (directly or through a fixture) get the ``shared``
    marker; the longest files go first (:data:`LONGEST_FIRST`), the rest keep their order."""
    for item in items:
        if {"shared_dir", "data_dir"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within files kept


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Says loudly how many tests were skipped for want of ../shared (they test nothing then)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "shared directory" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"WARNING: {len(skipped)} tests skipped: the shared directory (../shared or "
            f"$GFV_SHARED) was not found; they did not run",
            red=True,
            bold=True,
        )
