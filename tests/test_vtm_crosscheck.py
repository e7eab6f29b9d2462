"""Cross-check with VTM's DecoderApp (marker ``vtm``): its SEI dump of our own streams equals
``gfv-decode --trace-sei``, it decodes the key pictures and verifies their decoded picture hash
SEI messages (skipped without ``$GFV_VTM_DECODER``).

VTM 23.13's DecoderApp reads the NNPFA message through an NNPFC-typed pointer, so it may abort
("No NNPFC, no NNPFA") depending on heap layout: build it with that check fixed locally.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.train.data import TEST_CLIPS, load_clip

pytestmark = pytest.mark.vtm


@pytest.fixture(scope="module")
def decoder_app() -> str:
    path = os.environ.get("GFV_VTM_DECODER")
    if not path or not Path(path).is_file():
        pytest.skip("VTM DecoderApp not configured ($GFV_VTM_DECODER)")
    return path


@pytest.mark.parametrize(
    ("model", "packing"),
    [("sem3d", "per-access-unit"), ("sem3d", "per-message"), ("kptps", "per-access-unit"), ("fomm", "per-message")],
)
def test_vtm_sei_dump_equals_our_trace(
    model: str, packing: str, decoder_app: str, shared_dir: Path, tmp_path: Path
) -> None:
    frames = load_clip(TEST_CLIPS[0], data_dir=shared_dir / "data", max_frames=24).frames[::3]
    stream, _ = encode_video(
        frames, 25.0, max_kbps=0.0, model=model, key_period=4, decision="none", sei_packing=packing
    )
    (tmp_path / "s.266").write_bytes(stream)
    run = subprocess.run(
        [
            decoder_app,
            "-b",
            str(tmp_path / "s.266"),
            "-o",
            str(tmp_path / "rec.yuv"),
            f"--OutputDecodedSEIMessagesFilename={tmp_path / 'sei.txt'}",  # VTM wants one argument with '='
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    decoded = decode_stream(stream)
    assert (tmp_path / "sei.txt").read_text() == decoded.sei.trace_text()
    # VTM verifies the decoded picture hash SEI message of every key picture ("[MD5:Y,Cb,Cr,(OK)]").
    pocs = [line for line in run.stdout.splitlines() if line.startswith("POC")]
    assert decoded.picture_hash is not None and len(pocs) == decoded.picture_hash.verified > 0
    assert all("[MD5:" in line and "(OK)]" in line for line in pocs), "\n".join(pocs)
    assert np.fromfile(tmp_path / "rec.yuv", np.uint8).size > 0
