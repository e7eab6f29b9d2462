"""Parameter subsampling: the encoder leaves out the GFV messages of pictures the decoder rebuilds
by interpolation (``gfv_cnt`` skips them); a still face costs one message every
``gfv_max_interval`` pictures, a moving one keeps its messages, and the decoded clip keeps every
picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.encoder.subsample import choose_sent, interpolate
from refsw.train.data import load_clip
from sei.checker import check_stream
from sei.registry import PayloadType


def test_still_parameters_cost_one_message_per_interval() -> None:
    still = np.zeros((20, 5))
    np.testing.assert_array_equal(choose_sent(still, 0.01, 6), [0, 6, 12, 18, 19])
    np.testing.assert_array_equal(choose_sent(still, 0.01, 1), np.arange(20))


def test_interpolation_error_decides() -> None:
    t = np.arange(13, dtype=float)[:, None]
    ramp = np.hstack([t, 2 * t])  # linear motion: interpolation is exact
    np.testing.assert_array_equal(choose_sent(ramp, 1e-9, 4), [0, 4, 8, 12])
    jitter = ramp.copy()
    jitter[5, 0] += 0.5  # one picture off the line by half a unit
    sent = choose_sent(jitter, 0.25, 4)
    assert 5 in sent and sent[0] == 0 and sent[-1] == 12
    for a, b in zip(sent, sent[1:]):  # every left-out picture within the tolerance
        for c in range(a + 1, b):
            assert np.abs(interpolate(jitter[a], jitter[b], (c - a) / (b - a)) - jitter[c]).max() <= 0.25
    with pytest.raises(ValueError, match="at least 1"):
        choose_sent(ramp, 0.1, 0)


@pytest.mark.shared
def test_subsampled_stream_decodes_every_picture(shared_dir: Path) -> None:
    frames = load_clip("lp_d19", data_dir=shared_dir / "data", max_frames=30).frames
    every, _ = encode_video(frames, 25.0, max_kbps=0.0, gfv_max_interval=1)
    fewer, summary = encode_video(frames, 25.0, max_kbps=0.0, gfv_max_interval=6, gfv_interpolation_tolerance=3.0)
    full, sub = decode_stream(every), decode_stream(fewer)
    cnts = [m.values["gfv_cnt"] for _, m in sub.sei.messages if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO]
    assert len(cnts) < 20 and cnts[0] == 0 and cnts[-1] == 29 and max(np.diff(cnts)) <= 6
    assert len(sub.frames) == len(full.frames) == 30
    assert {p.kind for p in sub.pictures} == {"key", "generated", "interpolated"}
    assert check_stream(fewer).conformant
    assert len(fewer) < len(every)
    # the interpolated pictures stay close to those decoded from every message
    diff = np.abs(sub.frames.astype(float) - full.frames).mean(axis=(1, 2, 3))
    assert diff.max() < 4.0, diff
