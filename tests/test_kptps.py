"""The kptps model: keypoint carriage is exact on the quantisation grid, the TPS generator is the
identity for unchanged keypoints, and the encoder's choice never synthesises a picture worse
than the key picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refsw.encoder.decision import choose_keypoints
from refsw.encoder.gfv_sei import gfv_messages
from refsw.media.face_crop import prepare_ctc
from refsw.media.video_io import read_video
from refsw.metrics.ssim import luma as _luma
from refsw.metrics.ssim import ssim_luma
from refsw.models import find_by_uri, get_model
from refsw.models.tps import TPSWarpGenerator
from sei.context import DecodingContext
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, parse_payload, reconstruct


@pytest.fixture(scope="module")
def clip(data_dir: Path) -> np.ndarray:
    frames, _ = prepare_ctc(read_video(data_dir / "lp_d0.mp4", max_frames=12).frames, force=True)
    return frames


@pytest.fixture(scope="module")
def tracked(clip: np.ndarray) -> np.ndarray:
    kps, found = get_model("kptps").make_analyser().analyse(clip)
    assert found.all()
    return np.round(kps / 2.0**-7) * 2.0**-7


def test_registry_finds_model_by_uri() -> None:
    spec = get_model("kptps")
    assert find_by_uri(spec.uri) is spec
    assert find_by_uri("urn:someone-else:generator") is None
    with pytest.raises(KeyError, match="unknown model"):
        get_model("nope")


def test_keypoints_on_grid_round_trip_exactly(tracked: np.ndarray) -> None:
    spec = get_model("kptps")
    mapping = spec.make_layout(coordinate_precision_factor=7)
    enc = DecodingContext()
    payloads = gfv_messages(mapping, tracked, np.zeros(len(tracked), bool), enc, gfv_id=3)
    dec = DecodingContext()
    for cnt, (payload, _) in enumerate(payloads):
        msg = SEIMessage(PayloadType.GENERATIVE_FACE_VIDEO, len(payload), payload)
        parse_payload(msg, dec)
        reconstruct(msg, dec)
        assert msg.values["gfv_cnt"] == cnt and msg.values["gfv_id"] == 3
        np.testing.assert_array_equal(mapping.keypoints(msg.recon), tracked[cnt])
    assert payloads[0][1]["gfv_uri"] == spec.uri


def test_tps_identity_for_unchanged_keypoints(clip: np.ndarray, tracked: np.ndarray) -> None:
    gen = TPSWarpGenerator()
    gen.set_key_picture(clip[0], tracked[0])
    np.testing.assert_array_equal(gen.generate(tracked[0]), clip[0])
    moved = gen.generate(tracked[0] + np.array([0.05, 0.0]))
    assert np.abs(moved.astype(int) - clip[0]).mean() > 1.0


def test_search_never_worse_than_key_picture(clip: np.ndarray, tracked: np.ndarray) -> None:
    gen = TPSWarpGenerator()
    gen.set_key_picture(clip[0], tracked[0])
    chosen = choose_keypoints(clip, tracked, gen, step=2.0**-7)
    np.testing.assert_array_equal(chosen[0], tracked[0])
    for i in range(1, len(clip)):
        synth = ssim_luma(_luma(gen.generate(chosen[i])), _luma(clip[i]))
        frozen = ssim_luma(_luma(clip[0]), _luma(clip[i]))
        assert synth >= frozen
    assert not np.array_equal(chosen[1:], np.broadcast_to(tracked[0], chosen[1:].shape))
