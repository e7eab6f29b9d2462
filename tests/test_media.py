"""Tests of refsw.media.frames and refsw.media.ffmpeg (the colour conversions are tested in
test_video_io.py, against OpenCV)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from refsw.codecs import CodecError
from refsw.media.colour import i420_to_rgb, rgb_to_i420
from refsw.media.ffmpeg import (
    FFmpegNotFoundError,
    ffmpeg_has_encoder,
    ffmpeg_has_filter,
    resolve_ffmpeg,
)
from refsw.media.frames import InputError, check_even_size, check_frames


class _OwnError(ValueError):
    pass


def test_check_frames_returns_size() -> None:
    assert check_frames(np.zeros((2, 6, 4, 3), np.uint8), "x") == (2, 6, 4)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((1, 4, 4, 3), np.float32), "x: frames must be a uint8 numpy array"),
        ([[[[0, 0, 0]]]], "x: frames must be a uint8 numpy array"),
        (np.zeros((4, 4, 3), np.uint8), r"x: frames must have shape \(N, H, W, 3\)"),
        (np.zeros((1, 4, 4, 4), np.uint8), r"x: frames must have shape \(N, H, W, 3\)"),
        (np.zeros((0, 4, 4, 3), np.uint8), "x: zero frames or empty frame size"),
        (np.zeros((1, 0, 4, 3), np.uint8), "x: zero frames or empty frame size"),
    ],
)
def test_check_frames_refuses(frames: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_frames(frames, "x")
    with pytest.raises(_OwnError, match=message):
        check_frames(frames, "x", error=_OwnError)


def test_check_even_size() -> None:
    check_even_size(4, 6, "x")
    with pytest.raises(InputError, match="x: 4:2:0 needs an even frame size, got 6x5"):
        check_even_size(5, 6, "x")
    with pytest.raises(_OwnError, match="even"):
        check_even_size(4, 7, "x", error=_OwnError)


def test_i420_planes_are_separate_contiguous_arrays() -> None:
    frames = np.random.default_rng(3).integers(0, 256, (3, 8, 10, 3), dtype=np.uint8)
    planes = rgb_to_i420(frames)
    assert [p.shape for p in planes] == [(3, 8, 10), (3, 4, 5), (3, 4, 5)]
    assert all(p.dtype == np.uint8 and p.flags.c_contiguous for p in planes)
    assert i420_to_rgb(*planes).shape == frames.shape
    with pytest.raises(InputError, match="chroma planes"):
        i420_to_rgb(planes[0], planes[2][:, :2], planes[2])


def test_resolve_ffmpeg_default_is_bundled_binary() -> None:
    exe = resolve_ffmpeg()
    assert os.path.isabs(exe) and os.access(exe, os.X_OK)
    assert resolve_ffmpeg(exe) == exe


def test_resolve_ffmpeg_missing(tmp_path: Path) -> None:
    missing = tmp_path / "no-ffmpeg"
    with pytest.raises(FFmpegNotFoundError, match="FFmpeg executable not found"):
        resolve_ffmpeg(missing)
    with pytest.raises(CodecError, match=f"^FFmpeg executable not found .*: {missing}$"):
        resolve_ffmpeg(missing, error=CodecError)
    with pytest.raises(_OwnError, match="^vmaf: FFmpeg executable not found"):
        resolve_ffmpeg(missing, what="vmaf", error=_OwnError)
    not_executable = tmp_path / "ffmpeg"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(FFmpegNotFoundError, match="not executable"):
        resolve_ffmpeg(not_executable)


def test_ffmpeg_capabilities() -> None:
    exe = resolve_ffmpeg()
    assert ffmpeg_has_encoder(exe, "libx264")
    assert not ffmpeg_has_encoder(exe, "no_such_encoder")
    assert ffmpeg_has_filter(exe, "scale")
    assert not ffmpeg_has_filter(exe, "no_such_filter")
