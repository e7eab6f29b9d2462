"""The encoder's rate cap (``EncoderConfig.max_kbps``, ``gfv-encode --max-kbps``; issue 15's 5 kbit/s bar).

A stream above the cap has its key pictures coded again at the lowest higher QP that brings the
whole stream within it; the capped stream is the fixed-QP stream at that QP, bit for bit; one QP
lower is above the cap; ``max_qp`` bounds the search and the summary says when the cap could not
be met; ``max_kbps 0`` is fixed QP, as the CTC runs. The payload cap (``max_payload_bits``) does
the same with sem3d's interpolation tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refsw.apps import encoder_app
from refsw.config import ConfigError, EncoderConfig
from refsw.encoder import encode_video
from refsw.train.data import load_clip

#: kptps with the analysed parameters as they are: the fastest model, two key pictures.
OPTIONS = {"model": "kptps", "decision": "none", "key_period": 20}


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> np.ndarray:
    """``(40, 256, 256, 3)`` uint8: 1.6 s of a talking head at 25 Hz."""
    return load_clip("lp_d19", data_dir=data_dir, max_frames=40).frames


@pytest.fixture(scope="module")
def fixed(frames: np.ndarray):
    """The stream at a fixed key-picture QP 32 (no cap)."""
    return encode_video(frames, 25.0, max_kbps=0.0, qp=32, **OPTIONS)


def test_fixed_qp_stream_is_above_the_cap_used_below(fixed) -> None:
    stream, summary = fixed
    assert summary.qp == 32 and summary.kbps > 8.0, summary.text()  # the cap below must bite
    assert "cap" not in summary.text().splitlines()[0]


def test_capped_stream_is_the_fixed_stream_at_the_lowest_qp_that_fits(frames: np.ndarray) -> None:
    cap = 8.0
    stream, summary = encode_video(frames, 25.0, max_kbps=cap, qp=32, **OPTIONS)
    assert summary.qp > 32 and summary.qp_requested == 32
    assert summary.kbps <= cap and len(stream) * 8 == summary.total_bits
    assert f"key QP {summary.qp} (raised from 32 by the 8 kbit/s cap)" in summary.text()
    same, _ = encode_video(frames, 25.0, max_kbps=0.0, qp=summary.qp, **OPTIONS)
    assert same == stream  # the cap chooses a QP, nothing else
    _, lower = encode_video(frames, 25.0, max_kbps=0.0, qp=summary.qp - 1, **OPTIONS)
    assert lower.kbps > cap  # the lowest QP that fits
    assert summary.as_dict()["qp_requested"] == 32 and summary.as_dict()["max_kbps"] == cap


def test_max_qp_bounds_the_cap_and_the_summary_says_so(frames: np.ndarray) -> None:
    _, summary = encode_video(frames, 25.0, max_kbps=1.0, qp=32, max_qp=36, **OPTIONS)
    assert summary.qp == 36 and summary.kbps > 1.0
    assert "still above it at the highest QP" in summary.text().splitlines()[0]
    _, unmoved = encode_video(frames, 25.0, max_kbps=1.0, qp=32, max_qp=30, **OPTIONS)
    assert unmoved.qp == 32 and "above the 1 kbit/s cap" in unmoved.text().splitlines()[0]


def test_stream_within_the_cap_is_left_alone(frames: np.ndarray, fixed) -> None:
    stream, summary = encode_video(frames, 25.0, max_kbps=fixed[1].kbps + 0.01, qp=32, **OPTIONS)
    assert stream == fixed[0] and summary.qp == 32


def test_bad_cap_values_are_named() -> None:
    with pytest.raises(ConfigError, match="max_kbps -1"):
        EncoderConfig(max_kbps=-1.0)
    with pytest.raises(ConfigError, match="max_qp 64"):
        EncoderConfig(max_qp=64)


def test_gfv_encode_applies_the_cap_by_default(data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "c.266"
    args = ["-i", str(data_dir / "lp_d19.mp4"), "-b", str(out), "-f", "75", "--quiet"]
    assert encoder_app.main(args) == 0
    text = capsys.readouterr().out
    assert f"by the {EncoderConfig().max_kbps:g} kbit/s cap" in text
    kbps = float(text.split(" bits, ")[-1].split(" kbit/s")[0])
    assert kbps <= EncoderConfig().max_kbps
    assert encoder_app.main([*args, "-y", "--max-kbps", "0"]) == 0
    assert "cap" not in capsys.readouterr().out.splitlines()[0]
    assert encoder_app.main([*args, "-y", "--max-kbps", "-2"]) == 1
    assert "max_kbps -2" in capsys.readouterr().err


def test_payload_cap_raises_the_interpolation_tolerance_of_sem3d(data_dir: Path) -> None:
    """The payload cap (issue 15's 60 bits per picture) acts through sem3d's parameter
    subsampling: the capped stream is the uncapped one at the tolerance it reports, and a
    lower cap than any tolerance reaches is reported as missed."""
    frames = load_clip("lp_d12", data_dir=data_dir, max_frames=40).frames
    fixed = {"model": "sem3d", "max_kbps": 0.0, "qp": 37}
    plain, free = encode_video(frames, 25.0, max_payload_bits=0.0, **fixed)
    per_picture = free.budget.gfv_payload / len(frames)
    cap = per_picture * 0.8
    stream, summary = encode_video(frames, 25.0, max_payload_bits=cap, **fixed)
    assert summary.interpolation_tolerance is not None and summary.interpolation_tolerance > 4.0
    assert summary.budget.gfv_payload <= cap * len(frames) < free.budget.gfv_payload
    assert f"raised from 4 by the {cap:g} payload bits/picture cap)" in summary.text()
    same, _ = encode_video(
        frames, 25.0, max_payload_bits=0.0, gfv_interpolation_tolerance=summary.interpolation_tolerance, **fixed
    )
    assert same == stream
    _, missed = encode_video(frames, 25.0, max_payload_bits=1.0, **fixed)
    assert missed.interpolation_tolerance == pytest.approx(4.0 * 1.25**4)
    assert "(still above it)" in missed.text()
    _, kptps = encode_video(frames[:6], 25.0, max_payload_bits=1.0, max_kbps=0.0, model="kptps")
    assert kptps.interpolation_tolerance is None  # a message every picture: nothing to subsample
