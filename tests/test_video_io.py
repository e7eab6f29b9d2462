"""Tests of refsw.media.video_io (and refsw.media.colour) on real talking-head clips."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from av.video.reformatter import ColorRange
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from refsw.media import video_io
from refsw.media.colour import i420_to_rgb, rgb_to_i420
from refsw.media.video_io import InputError, OutputError, Video, read_video, write_video


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _through_i420(frames: np.ndarray) -> np.ndarray:
    return i420_to_rgb(*rgb_to_i420(frames))


@pytest.fixture(scope="module")
def clip(data_dir: Path) -> np.ndarray:
    """4 real frames, cut to a non-square 128x160 face region (fast to encode)."""
    frames = read_video(data_dir / "lp_d0.mp4", max_frames=4).frames
    return np.ascontiguousarray(frames[:, 200:328, 180:340])


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("name", "shape", "fps"),
    [
        ("lp_d0.mp4", (512, 512), 25.0),
        ("lp_d3.mp4", (512, 512), 30.0),
        ("lp_d19.mp4", (480, 480), 30.0),
        ("tpsmm_driving.mp4", (412, 410), 25.0),
    ],
)
def test_read_mp4(data_dir: Path, name: str, shape: tuple[int, int], fps: float) -> None:
    video = read_video(data_dir / name, max_frames=3)
    assert video.frames.shape == (3, *shape, 3)
    assert video.frames.dtype == np.uint8
    assert video.fps == fps
    assert video.source == str(data_dir / name)
    assert 40 < video.frames.mean() < 220  # real picture content, not black/blank


def test_max_frames_respected(data_dir: Path) -> None:
    short = read_video(data_dir / "lp_d0.mp4", max_frames=5)
    assert len(short.frames) == 5
    full = read_video(data_dir / "lp_d0.mp4")
    assert len(full.frames) == 78  # the clip's length (78 pictures)
    np.testing.assert_array_equal(short.frames, full.frames[:5])
    # max_frames beyond the end reads everything that is there
    assert len(read_video(data_dir / "lp_d0.mp4", max_frames=1000).frames) == 78


def test_fps_override(data_dir: Path) -> None:
    assert read_video(data_dir / "lp_d0.mp4", max_frames=1, fps=50).fps == 50.0


def test_size_mismatch_for_container(data_dir: Path) -> None:
    with pytest.raises(InputError, match="512x512"):
        read_video(data_dir / "lp_d0.mp4", max_frames=1, width=256, height=256)


def _pyav_reference(path: Path, max_frames: int) -> np.ndarray:
    """The frames as the reader decoded them with PyAV and OpenCV before it used imageio.

    8-bit 4:2:0 BT.601 (or untagged) limited-range (or untagged) even-sized frames through
    ``cv2.COLOR_YUV2RGB_I420``, every other frame through swscale with its own range.
    """
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if (
                frame.format.name == "yuv420p"
                and frame.height % 2 == 0
                and frame.width % 2 == 0
                and frame.colorspace in (2, 5, 6)
                and frame.color_range in (0, 1)
            ):
                frames.append(cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2RGB_I420))
            else:
                full = frame.color_range == 2 or frame.format.name.startswith("yuvj")
                src_range = ColorRange.JPEG if full else ColorRange.MPEG
                frames.append(frame.to_ndarray(format="rgb24", src_color_range=src_range))
            if len(frames) == max_frames:
                break
    return np.stack(frames)


@pytest.mark.parametrize("name", ["lp_d0.mp4", "lp_d10.mp4", "lp_d12.mp4", "tpsmm_driving.mp4", "dpe_d.mp4"])
def test_container_frames_as_pyav_and_opencv(data_dir: Path, name: str) -> None:
    # untagged, BT.709, BT.601-tagged, limited-range-tagged (non-square) H.264, and MPEG-4 Part 2
    video = read_video(data_dir / name, max_frames=6)
    np.testing.assert_array_equal(video.frames, _pyav_reference(data_dir / name, 6))


@pytest.mark.parametrize(("ext", "args"), [
    (".mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-color_range", "pc"]),  # full range
    (".mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-colorspace", "bt709"]),
    (".mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv444p"]),
    (".mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv420p", "-vf", "crop=158:126"]),  # odd 4:2:0 size
    (".mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]),
    (".mkv", ["-c:v", "ffv1", "-pix_fmt", "gray"]),
    (".avi", ["-c:v", "mjpeg"]),  # full-range 4:2:0 JPEG
    (".mov", ["-c:v", "png"]),  # RGB
    (".y4m", ["-pix_fmt", "yuv444p"]),
])  # fmt: skip
def test_other_pixel_formats_as_pyav(clip: np.ndarray, tmp_path: Path, ext: str, args: list[str]) -> None:
    source = tmp_path / "clip.y4m"
    write_video(source, clip, 25)
    other = tmp_path / f"other{ext}"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(source), *args,
         str(other)],
        check=True,
    )  # fmt: skip
    video = read_video(other)
    np.testing.assert_array_equal(video.frames, _pyav_reference(other, len(clip)))


def _cv2_imread_rgb(path: Path) -> np.ndarray:
    """OpenCV's reading of a picture file, which the PNG reader replaced."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("kind", [
    "RGB", "RGBA", "L", "LA", "1", "P", "P_transparent", "I;16", "RGB16", "exif_rotated",
])  # fmt: skip
def test_png_kinds_as_opencv(clip: np.ndarray, tmp_path: Path, kind: str) -> None:
    rgb = clip[0]
    path = tmp_path / "picture.png"
    if kind == "RGB16":
        bgr16 = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257 + 77
        cv2.imwrite(str(path), bgr16)
    elif kind == "I;16":
        gray16 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257 + 130
        Image.fromarray(gray16).save(path)
    elif kind == "exif_rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise
        Image.fromarray(rgb).save(path, exif=exif)
    elif kind.startswith("P"):
        picture = Image.fromarray(rgb).quantize(64)
        if kind == "P_transparent":
            picture.info["transparency"] = bytes(range(0, 256, 4))
        picture.save(path, **({"transparency": picture.info["transparency"]}
                              if kind == "P_transparent" else {}))  # fmt: skip
    else:
        Image.fromarray(rgb).convert(kind).save(path)
    expected = _cv2_imread_rgb(path)
    if kind == "exif_rotated":
        assert expected.shape == (rgb.shape[1], rgb.shape[0], 3)
    video = read_video(path)
    np.testing.assert_array_equal(video.frames[0], expected)


def test_png_not_a_picture(tmp_path: Path) -> None:
    (tmp_path / "0000.png").write_bytes(b"not a png" * 10)
    with pytest.raises(InputError, match="0000.png: cannot read as an image"):
        read_video(tmp_path)


# --------------------------------------------------------------------------- colour conversion


def _cv2_i420(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = frame.shape[:2]
    packed = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).ravel()
    q = h * w // 4
    return (
        packed[: h * w].reshape(h, w),
        packed[h * w : h * w + q].reshape(h // 2, w // 2),
        packed[h * w + q :].reshape(h // 2, w // 2),
    )


def test_rgb_i420_equals_cv2_on_real_frames(clip: np.ndarray) -> None:
    y, u, v = rgb_to_i420(clip)
    assert y.shape == clip.shape[:3] and u.shape == v.shape == (4, 64, 80)
    for i, frame in enumerate(clip):
        ry, ru, rv = _cv2_i420(frame)
        np.testing.assert_array_equal(y[i], ry)
        np.testing.assert_array_equal(u[i], ru)
        np.testing.assert_array_equal(v[i], rv)
        packed = np.concatenate((ry.ravel(), ru.ravel(), rv.ravel())).reshape(192, 160)
        np.testing.assert_array_equal(i420_to_rgb(y, u, v)[i], cv2.cvtColor(packed, cv2.COLOR_YUV2RGB_I420))


@settings(max_examples=25, deadline=None)
@given(
    h2=st.integers(1, 12),
    w2=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_rgb_i420_equals_cv2_random(h2: int, w2: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (2, 2 * h2, 2 * w2, 3), dtype=np.uint8)
    y, u, v = rgb_to_i420(frames)
    for i in range(2):
        for got, ref in zip((y[i], u[i], v[i]), _cv2_i420(frames[i])):
            np.testing.assert_array_equal(got, ref)
    planes = rng.integers(0, 256, (2, 3 * h2, 2 * w2), dtype=np.uint8)
    ys = planes[:, : 2 * h2]
    us = planes[:, 2 * h2 :].reshape(2, 2, h2, w2)[:, 0]
    vs = planes[:, 2 * h2 :].reshape(2, 2, h2, w2)[:, 1]
    rgb = i420_to_rgb(np.ascontiguousarray(ys), us, vs)
    for i in range(2):
        np.testing.assert_array_equal(rgb[i], cv2.cvtColor(planes[i], cv2.COLOR_YUV2RGB_I420))


def test_i420_odd_size_rejected() -> None:
    with pytest.raises(InputError, match="even"):
        rgb_to_i420(np.zeros((1, 15, 16, 3), np.uint8))


# --------------------------------------------------------------------------- round trips


def test_roundtrip_rgb_exact(clip: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "clip_160x128_30_8bit_444.rgb"
    write_video(path, clip, 30)
    assert path.stat().st_size == clip.size
    video = read_video(path)
    np.testing.assert_array_equal(video.frames, clip)
    assert video.fps == 30.0


@pytest.mark.parametrize("name", ["clip_160x128_25_8bit_420.yuv", "clip_160x128.y4m"])
def test_roundtrip_420(clip: np.ndarray, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    write_video(path, clip, 30000 / 1001)
    video = read_video(path)
    np.testing.assert_array_equal(video.frames, _through_i420(clip))
    # luma survives RGB -> I420 -> RGB -> I420 within +-2 levels
    diff = rgb_to_i420(video.frames)[0].astype(int) - rgb_to_i420(clip)[0].astype(int)
    assert np.abs(diff).max() <= 2
    expected_fps = 30000 / 1001 if name.endswith(".y4m") else 25.0
    assert video.fps == pytest.approx(expected_fps, rel=1e-9)


def test_roundtrip_mp4(clip: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, clip, 30)
    video = read_video(path)
    assert video.frames.shape == clip.shape
    assert video.fps == 30.0
    assert _psnr(video.frames, _through_i420(clip)) > 40.0
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize(("ext", "args"), [
    (".mkv", ["-c", "copy"]),
    (".mov", ["-c", "copy"]),
    (".avi", ["-c", "copy"]),
    (".y4m", ["-f", "yuv4mpegpipe"]),
])  # fmt: skip
def test_read_other_containers(clip: np.ndarray, tmp_path: Path, ext: str, args: list[str]) -> None:
    mp4 = tmp_path / "clip.mp4"
    write_video(mp4, clip, 25)
    other = tmp_path / f"clip{ext}"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(mp4), *args, str(other)],
        check=True,
    )
    reference = read_video(mp4)
    video = read_video(other)
    np.testing.assert_array_equal(video.frames, reference.frames)
    assert video.fps == 25.0


def test_png_directory_and_pattern(clip: np.ndarray, tmp_path: Path) -> None:
    for i, frame in enumerate(clip):
        cv2.imwrite(str(tmp_path / f"{i + 1:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    by_dir = read_video(tmp_path)
    np.testing.assert_array_equal(by_dir.frames, clip)
    assert by_dir.fps == 25.0
    by_pattern = read_video(tmp_path / "%04d.png", max_frames=3, fps=30)
    np.testing.assert_array_equal(by_pattern.frames, clip[:3])
    assert by_pattern.fps == 30.0
    assert len(read_video(tmp_path, max_frames=2).frames) == 2


def test_png_size_mismatch(clip: np.ndarray, tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), clip[0])
    cv2.imwrite(str(tmp_path / "b.png"), clip[0, :64])
    with pytest.raises(InputError, match="b.png"):
        read_video(tmp_path)


@pytest.mark.parametrize(
    ("name", "kwargs", "size", "fps"),
    [
        ("a_160x128_50_8bit_420.yuv", {}, (128, 160), 50.0),
        ("a_160x128_24.yuv", {}, (128, 160), 24.0),
        ("a_160x128.yuv", {}, (128, 160), 25.0),
        ("plain.yuv", {"width": 160, "height": 128, "fps": 30.0}, (128, 160), 30.0),
        ("a_160x128_60_8bit_444.rgb", {}, (128, 160), 60.0),
        ("a_64x80_60_8bit_444.rgb", {"width": 160, "height": 128}, (128, 160), 60.0),
    ],
)
def test_raw_names(
    clip: np.ndarray,
    tmp_path: Path,
    name: str,
    kwargs: dict[str, float],
    size: tuple[int, int],
    fps: float,
) -> None:
    path = tmp_path / name
    write_video(path, clip, 25)
    video = read_video(path, max_frames=3, **kwargs)
    assert video.frames.shape == (3, *size, 3)
    assert video.fps == fps
    expected = clip if name.endswith(".rgb") else _through_i420(clip)
    np.testing.assert_array_equal(video.frames, expected[:3])


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_video(tmp_path / "missing.mp4")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(InputError, match="cannot decode"):
        read_video(path)


@pytest.mark.parametrize("name", ["empty.mp4", "empty_16x16.yuv", "empty_16x16_25_8bit_444.rgb"])
def test_zero_length_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.touch()
    with pytest.raises(InputError, match="empty file"):
        read_video(path)


def test_raw_size_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "x_16x16_25_8bit_420.yuv"
    path.write_bytes(bytes(16 * 16 * 3 // 2 * 2 + 7))
    with pytest.raises(InputError, match="whole number"):
        read_video(path)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("noname.yuv", "unknown raw frame size"),
        ("x_15x16.yuv", "even frame size"),
        ("x_16x16_25_10bit_420.yuv", "8-bit"),
        ("x_16x16_25_8bit_444.yuv", "444"),
        ("x_16x16_25_8bit_420.rgb", "420"),
    ],
)
def test_raw_bad_names(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(bytes(16 * 16 * 3))
    with pytest.raises(InputError, match=message):
        read_video(path)


def test_no_png_in_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no .png"):
        read_video(tmp_path)
    with pytest.raises(InputError, match="no file matches"):
        read_video(tmp_path / "%04d.png")


def test_bad_arrays(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        Video(frames=np.zeros((2, 8, 8, 3), np.float32), fps=25.0, source="x")
    with pytest.raises(InputError):
        Video(frames=np.zeros((0, 8, 8, 3), np.uint8), fps=25.0, source="x")
    with pytest.raises(InputError, match="fps"):
        write_video(tmp_path / "a.yuv", np.zeros((1, 8, 8, 3), np.uint8), 0)
    with pytest.raises(InputError, match="even"):
        write_video(tmp_path / "a.mp4", np.zeros((1, 9, 8, 3), np.uint8), 25)
    with pytest.raises(InputError, match="cannot write '.avi'"):
        write_video(tmp_path / "a.avi", np.zeros((1, 8, 8, 3), np.uint8), 25)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- bad output


def test_output_dir_missing_or_not_a_directory(clip: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write to"):
        write_video(tmp_path / "missing" / "out.yuv", clip, 25)
    blocker = tmp_path / "file"
    blocker.touch()
    with pytest.raises(OutputError, match="cannot write to"):
        write_video(blocker / "out.mp4", clip, 25)


def test_output_dir_read_only(clip: np.ndarray, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running with privileges that ignore directory permissions")
        with pytest.raises(OutputError, match="cannot write to"):
            write_video(locked / "out.rgb", clip, 25)
    finally:
        locked.chmod(0o755)


def test_failure_leaves_no_partial_output(clip: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.yuv"
    target.write_bytes(b"previous content")

    def failing(dst, chunks):  # type: ignore[no-untyped-def]
        dst.write(next(iter(chunks)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video_io, "_write_chunks", failing)
    with pytest.raises(OutputError, match="No space left"):
        write_video(target, clip, 25)
    assert [p.name for p in tmp_path.iterdir()] == ["out.yuv"]
    assert target.read_bytes() == b"previous content"
