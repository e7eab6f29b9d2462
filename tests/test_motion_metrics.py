"""Tests of the motion-fidelity metrics (refsw.metrics.motion, .face68) on real clips, and of the
per-clip metrics in the CTC runner and report."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from refsw.metrics import (
    AVAILABLE,
    MetricInputError,
    MetricRegistryError,
    available_clip_metrics,
    get_clip_metric,
    get_metric,
    is_clip_metric,
    metric_status,
    motion_fidelity,
    register_clip_metric,
)
from refsw.metrics.face68 import face68_status, head_pose_status, load_template
from refsw.metrics.motion import BLINK_RATIO, TALK_STD, input_activity, pearson

PICTURES = 40


def _clip(data_dir: Path, name: str, pictures: int = PICTURES, start: int = 0) -> tuple[np.ndarray, float]:
    """Pictures ``start`` to ``start + pictures`` of a shared clip, prepared (256x256) and cached."""
    from refsw.train.data import load_clip

    if not (data_dir / f"{name}.mp4").is_file():
        pytest.skip(f"{name}.mp4 not in {data_dir}")
    clip = load_clip(name, data_dir=data_dir, max_frames=start + pictures)
    return np.ascontiguousarray(clip.frames[start:]), clip.fps


@pytest.fixture(scope="module")
def lp_d0(data_dir: Path) -> tuple[np.ndarray, float]:
    """Man, smiling, head motion: pictures 38-77 at 256x256 (a blink at 64-68)."""
    return _clip(data_dir, "lp_d0", start=38)


@pytest.fixture(scope="module")
def head_turn(data_dir: Path) -> tuple[np.ndarray, float]:
    """st_furious_talk2_clip1 ('head turns'), all 60 pictures."""
    return _clip(data_dir, "st_furious_talk2_clip1", 60)


# --------------------------------------------------------------------------- AKD / MKR / traces


def test_identity_is_perfect_and_frozen_picture_is_not(lp_d0: tuple[np.ndarray, float]) -> None:
    frames, fps = lp_d0
    same = motion_fidelity(frames, frames, fps)
    assert same.pictures == PICTURES and same.missing == 0 and same.mkr == 0.0
    assert same.akd == 0.0 and same.pose_err_deg["mean"] == 0.0
    assert same.eye_corr.value == pytest.approx(1.0) and same.mouth_corr.value == pytest.approx(1.0)
    assert same.activity.blinks and same.activity.talks
    assert same.akd_per_picture.shape == (PICTURES,) and same.akd_per_picture.dtype == np.float64
    assert same.reference.points.shape == (PICTURES, 68, 2) and same.reference.pose.shape == (PICTURES, 3)

    frozen = motion_fidelity(frames, np.repeat(frames[:1], PICTURES, axis=0), fps)
    assert frozen.akd > 0.015  # 0.029 measured (0.058 over pictures 0-74)
    assert frozen.akd_per_picture[0] == 0.0 and np.all(frozen.akd_per_picture[10:] > 0)
    assert frozen.pose_err_deg["mean"] > 0.5
    assert math.isnan(frozen.mouth_corr.value) and frozen.mouth_corr.reason == "the decoded trace is constant"
    still = input_activity(frozen.decoded.eye, frozen.decoded.mouth)
    assert not still.blinks and not still.talks and still.eye_dip == 1.0


def test_eye_correlation_drops_on_a_time_reversed_copy(data_dir: Path) -> None:
    frames, fps = _clip(data_dir, "lp_d19")
    reversed_ = motion_fidelity(frames, frames[::-1].copy(), fps)
    assert reversed_.reference.eye.std() > 0.01  # the clip blinks: there is something to follow
    assert reversed_.eye_corr.value < 0.5 and reversed_.mouth_corr.value < 0.5
    assert reversed_.akd > 0.01


def test_missing_face_is_nan_and_counted(lp_d0: tuple[np.ndarray, float]) -> None:
    frames, fps = lp_d0
    decoded = frames[:6].copy()
    decoded[2] = 128  # a grey picture: no face
    akd = get_metric("akd")(frames[:6], decoded)
    assert akd.shape == (6,) and np.isnan(akd[2]) and np.isfinite(np.delete(akd, 2)).all()
    result = motion_fidelity(frames[:6], decoded, fps)
    assert result.missing == 1 and result.mkr == pytest.approx(1 / 6)
    assert np.isfinite(result.akd) and np.isnan(result.pose_err_per_picture[2]).all()


# --------------------------------------------------------------------------- head pose


def test_head_turn_and_mirrored_pose(head_turn: tuple[np.ndarray, float]) -> None:
    frames, fps = head_turn
    flipped = motion_fidelity(frames, frames[:, :, ::-1].copy(), fps)
    yaw, pitch, roll = flipped.reference.pose.T
    assert np.ptp(yaw) > 15.0  # 24.7 degrees measured (MediaPipe: 31)
    # a mirrored picture: yaw and roll change sign, pitch stays (the template is symmetric)
    assert np.abs(yaw + flipped.decoded.pose[:, 0]).mean() < 2.0
    assert np.abs(roll + flipped.decoded.pose[:, 2]).mean() < 2.0
    assert np.abs(pitch - flipped.decoded.pose[:, 1]).mean() < 2.0
    assert flipped.pose_err_deg["yaw"] == pytest.approx(2 * np.abs(yaw).mean(), abs=2.0)
    assert flipped.pose_err_deg["yaw"] > 5.0
    per_picture = get_metric("pose_err")(frames[:5], frames[:5])
    assert per_picture.shape == (5,) and np.all(per_picture == 0.0)


def test_template_is_mirror_symmetric_and_normalised() -> None:
    t = load_template()
    assert t.shape == (68, 3)
    assert np.linalg.norm(t[45] - t[36]) == pytest.approx(1.0, abs=1e-6)
    assert t[30, 2] < t[36, 2]  # nose tip nearer the camera than the eye corners
    assert t[36, 0] == pytest.approx(-t[45, 0]) and t[36, 1:] == pytest.approx(t[45, 1:])


# --------------------------------------------------------------------------- helpers, errors


def test_pearson_and_activity_thresholds() -> None:
    t = np.linspace(0, 6, 50)
    assert pearson(np.sin(t), np.sin(t)).value == pytest.approx(1.0)
    assert pearson(np.sin(t), -np.sin(t)).value == pytest.approx(-1.0)
    const = pearson(np.sin(t), np.ones(50))
    assert math.isnan(const.value) and const.reason == "the decoded trace is constant"
    few = pearson(np.array([1.0, np.nan, 2.0]), np.array([1.0, 2.0, np.nan]))
    assert math.isnan(few.value) and few.pictures == 1
    eye = np.full(50, 0.3)
    eye[20] = 0.3 * (BLINK_RATIO - 0.05)
    mouth = 0.2 + 2 * TALK_STD * np.sin(t)
    act = input_activity(eye, mouth)
    assert act.blinks and act.talks
    eye[20] = 0.3 * (BLINK_RATIO + 0.05)
    assert not input_activity(eye, np.full(50, 0.2)).blinks


def test_bad_input_is_refused(lp_d0: tuple[np.ndarray, float]) -> None:
    frames, fps = lp_d0
    with pytest.raises(MetricInputError, match="differ in shape"):
        motion_fidelity(frames[:3], frames[:4], fps)
    with pytest.raises(MetricInputError, match="uint8"):
        motion_fidelity(frames[:3].astype(np.float32), frames[:3], fps)
    with pytest.raises(MetricInputError, match="fps"):
        motion_fidelity(frames[:3], frames[:3], 0.0)
    with pytest.raises(MetricInputError, match="shape"):
        get_metric("akd")(frames[0], frames[0])


def test_clip_metric_registry(lp_d0: tuple[np.ndarray, float]) -> None:
    frames, fps = lp_d0
    assert set(available_clip_metrics()) >= {"eye_corr", "mouth_corr", "mkr"}
    assert is_clip_metric("eye_corr") and not is_clip_metric("akd")
    assert face68_status() is None and head_pose_status() is None  # dlib-bin, face-recognition-models
    assert metric_status("eye_corr") == AVAILABLE and metric_status("pose_err") == AVAILABLE
    assert get_clip_metric("eye_corr")(frames, frames, fps) == pytest.approx(1.0)
    assert get_clip_metric("mkr")(frames, frames, fps) == 0.0
    with pytest.raises(MetricRegistryError, match="already registered"):
        register_clip_metric("akd", lambda r, d, f: 0.0)
    with pytest.raises(MetricRegistryError, match="unknown clip metric"):
        get_clip_metric("psnr_yuv")


# --------------------------------------------------------------------------- CTC


def test_ctc_measures_and_reports_clip_metrics(lp_d0: tuple[np.ndarray, float], tmp_path: Path) -> None:
    from ctc.config import ConfigError, load_config
    from ctc.jobs import _measure
    from ctc.report import PER_CLIP, bd_tables, write_summary

    frames, _ = lp_d0
    decoded = frames[:8].copy()
    decoded[3] = 128
    measured = _measure(("akd", "eye_corr", "psnr_rgb"), frames[:8], decoded, 25.0)
    assert measured["akd"]["missing"] == 1 and measured["akd"]["per_frame"][3] is None
    assert math.isfinite(measured["akd"]["mean"])
    assert measured["eye_corr"]["kind"] == "clip" and -1 <= measured["eye_corr"]["mean"] <= 1

    text = """name: motion
frames: 8
sequences: [{name: S, source: x.mp4, class: A}]
codecs:
  - {name: T, type: video, role: test, backend: vvenc, qps: [32, 37]}
  - {name: A, type: video, role: anchor, backend: vvenc, qps: [32, 37]}
anchor: A
"""
    path = tmp_path / "motion.yaml"
    path.write_text(text + "metrics: [psnr_rgb, akd, eye_corr]\n")
    cfg = load_config(path)
    records = [
        {"sequence": "S", "class": "A", "codec": codec, "qp": qp, "kbps": kbps, "encode_s": 1.0,
         "decode_s": 1.0, "metrics": {
             "psnr_rgb": {"status": "ok", "mean": psnr},
             "akd": {"status": "ok", "mean": akd},
             "eye_corr": {"status": "ok", "kind": "clip", "mean": corr}}}
        for codec, qp, kbps, psnr, akd, corr in (
            ("T", 32, 10.0, 36.0, 0.02, 0.9), ("T", 37, 5.0, 33.0, 0.04, math.nan),
            ("A", 32, 20.0, 36.5, 0.015, 0.95), ("A", 37, 10.0, 33.5, 0.03, 0.8),
        )
    ]  # fmt: skip
    (table,) = bd_tables(records, cfg)
    assert table.cells[("S", "eye_corr")] == PER_CLIP and "eye_corr" not in table.overall
    assert table.overall["akd"][0] < 0 and table.overall["psnr_rgb"][0] < 0  # test needs fewer bits
    summary = write_summary(records, cfg, tmp_path / "summary.md").read_text()
    assert "1-akd" in summary and "Per-clip metrics" in summary and PER_CLIP in summary
    path.write_text(text + "metrics: [psnr_rgb, eye_corrr]\n")
    with pytest.raises(ConfigError, match="unknown metric"):
        load_config(path)
