"""A short run of the SEI fuzzer (``tests/fuzz/fuzz_sei.py``, ``docs/conformance.md#fuzzing``):
seeds from the public vectors and the project's own streams, libFuzzer's exit status 0 means no
input raised anything but the SEI layer's documented errors, no hang and no memory blow-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

FUZZ = Path(__file__).resolve().parent / "fuzz"

#: Starts the fuzzer from a small intermediate process: a process exec'd straight from this
#: one inherits its peak resident set size (Linux keeps the larger of the old image's high-water
#: mark across exec), which libFuzzer's ``-rss_limit_mb`` reads; pytest holds models of 800 MB.
_FRESH = [sys.executable, "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"]


def test_short_fuzz_run_finds_nothing(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(FUZZ.parents[1]))
    seeds, corpus = tmp_path / "seeds", tmp_path / "corpus"
    subprocess.run([sys.executable, str(FUZZ / "make_seeds.py"), str(seeds)], check=True, env=env, capture_output=True)
    corpus.mkdir()
    done = subprocess.run(
        [
            *_FRESH,
            sys.executable,
            str(FUZZ / "fuzz_sei.py"),
            str(corpus),
            str(seeds),
            "-runs=1500",
            "-seed=1",  # the same inputs on every run (the campaign in docs/conformance.md explores)
            "-max_total_time=10",
            "-max_len=512",
            "-rss_limit_mb=300",
            "-timeout=20",
            f"-artifact_prefix={tmp_path}/",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cov:" in done.stderr and not list(tmp_path.glob("crash-*"))
