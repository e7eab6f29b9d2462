"""Tests of the CTC quality metrics (refsw.metrics) on a real talking-head clip at 256x256."""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from refsw.media.colour import rgb_to_i420
from refsw.metrics import (
    MetricError,
    MetricInputError,
    MetricRegistryError,
    available_metrics,
    get_metric,
    msssim_per_frame,
    psnr_i420_per_frame,
    psnr_rgb_per_frame,
    psnr_yuv_per_frame,
    register_metric,
    vmaf_per_frame,
    vmaf_per_frame_i420,
)

CTC_SIZE = 256
NUM_FRAMES = 5


@pytest.fixture(scope="module")
def clip(data_dir: Path) -> np.ndarray:
    """``(5, 256, 256, 3)`` uint8 RGB: the first frames of lp_d19.mp4, centre square, resized."""
    path = data_dir / "lp_d19.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            h, w, _ = rgb.shape
            side = min(h, w)
            square = rgb[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
            frames.append(cv2.resize(square, (CTC_SIZE, CTC_SIZE), interpolation=cv2.INTER_AREA))
            if len(frames) == NUM_FRAMES:
                break
    return np.stack(frames)


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def _noisy(frames: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, std, frames.shape)
    return np.clip(np.rint(frames + noise), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def distorted(clip: np.ndarray) -> dict[str, np.ndarray]:
    """Copies of ``clip`` with increasing blur and noise."""
    return {
        "blur1": _blur(clip, 1.0),
        "blur2": _blur(clip, 2.0),
        "noise3": _noisy(clip, 3.0),
        "noise10": _noisy(clip, 10.0),
    }


# --------------------------------------------------------------------------- registry


def test_registry_names_and_refusals(clip: np.ndarray) -> None:
    assert set(available_metrics()) == {
        "psnr_rgb", "psnr_y", "psnr_yuv", "ssim_rgb", "ssim_y", "ssim_yuv", "msssim",
        "lpips", "lpips_alex", "dists", "vmaf", "xpsnr_y", "xpsnr_yuv", "akd", "pose_err",
    }  # fmt: skip
    assert get_metric("psnr_rgb") is psnr_rgb_per_frame
    with pytest.raises(MetricRegistryError, match="already registered"):
        register_metric("psnr_rgb", psnr_rgb_per_frame)
    with pytest.raises(MetricRegistryError, match="unknown metric"):
        get_metric("no_such_metric")
    values = get_metric("psnr_yuv")(clip, _noisy(clip, 3.0))
    assert values.shape == (NUM_FRAMES,) and values.dtype == np.float64


# --------------------------------------------------------------------------- PSNR


def test_psnr_rgb_known_value() -> None:
    ref = np.zeros((1, 2, 2, 3), np.uint8)
    dist = ref.copy()
    dist[0, 0, 0, 0] = 10  # one error of 10 over 12 samples: MSE = 100 / 12
    expected = 10 * math.log10(255**2 * 12 / 100)
    assert expected == pytest.approx(38.92262, abs=1e-5)
    assert psnr_rgb_per_frame(ref, dist)[0] == pytest.approx(expected, rel=1e-12)


def test_psnr_yuv_known_value() -> None:
    y = np.zeros((1, 4, 4), np.uint8)
    u = np.zeros((1, 2, 2), np.uint8)
    v = np.zeros((1, 2, 2), np.uint8)
    y_d = y + 2  # MSE_Y = 4
    u_d = u.copy()
    u_d[0, 0, 0] = 4  # MSE_U = 16 / 4 = 4
    res = psnr_i420_per_frame((y, u, v), (y_d, u_d, v))
    assert res.y[0] == pytest.approx(10 * math.log10(255**2 / 4), rel=1e-12)
    assert res.u[0] == pytest.approx(10 * math.log10(255**2 / 4), rel=1e-12)
    assert res.v[0] == math.inf
    # (4 * 4 + 4 + 0) / 6 = 10 / 3
    assert res.yuv[0] == pytest.approx(10 * math.log10(255**2 * 3 / 10), rel=1e-12)
    assert res.yuv[0] == pytest.approx(42.90202, abs=1e-5)


def test_psnr_ten_bit_scaled_variant_gives_identical_db(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    eight = psnr_yuv_per_frame(clip, distorted["blur1"])
    ten = psnr_yuv_per_frame(clip, distorted["blur1"], ten_bit_scaled=True)
    assert (eight.peak, ten.peak) == (255.0, 1020.0)
    np.testing.assert_array_equal(ten.mse_y, 16 * eight.mse_y)
    for name in ("y", "u", "v", "yuv"):
        np.testing.assert_array_equal(getattr(ten, name), getattr(eight, name))
    assert ten.sequence_yuv_db() == eight.sequence_yuv_db()


def test_psnr_identical_is_infinite_or_capped(clip: np.ndarray) -> None:
    assert np.all(np.isinf(psnr_rgb_per_frame(clip, clip)))
    assert np.all(psnr_rgb_per_frame(clip, clip, max_db=99.99) == 99.99)
    res = psnr_yuv_per_frame(clip, clip, max_db=100.0)
    assert np.all(res.yuv == 100.0) and res.sequence_yuv_db(max_db=100.0) == 100.0
    assert np.all(np.isinf(psnr_yuv_per_frame(clip, clip).y))


def test_psnr_decreases_with_distortion(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    for fn in (psnr_rgb_per_frame, lambda r, d: psnr_yuv_per_frame(r, d).yuv):
        assert np.all(fn(clip, distorted["blur1"]) > fn(clip, distorted["blur2"]))
        assert np.all(fn(clip, distorted["noise3"]) > fn(clip, distorted["noise10"]))
    # Gaussian noise of std 10 (clipped, rounded): RGB PSNR close to 20 log10(255 / 10).
    assert psnr_rgb_per_frame(clip, distorted["noise10"]) == pytest.approx(28.1, abs=0.3)


def test_psnr_input_errors(clip: np.ndarray) -> None:
    with pytest.raises(MetricInputError, match="differ in shape"):
        psnr_rgb_per_frame(clip, clip[:2])
    with pytest.raises(MetricInputError, match="uint8"):
        psnr_rgb_per_frame(clip.astype(np.float32), clip.astype(np.float32))
    with pytest.raises(MetricInputError, match="even"):
        psnr_yuv_per_frame(clip[:, :255], clip[:, :255])


# --------------------------------------------------------------------------- MS-SSIM


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _msssim_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """MS-SSIM of one RGB frame from Wang et al. 2003, in float64 (numpy + OpenCV filtering).

    Per channel: 11x11 Gaussian (sigma 1.5) 'valid' statistics, K1 = 0.01, K2 = 0.03, L = 255;
    contrast-structure terms at scales 1-4, full SSIM at scale 5, 2x2 mean pooling between
    scales, exponents (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); mean over R, G, B.
    """
    weights = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_window()
    half = len(g) // 2

    def filt(img: np.ndarray) -> np.ndarray:
        out = cv2.sepFilter2D(img, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT)
        return out[half:-half, half:-half]

    def pool(img: np.ndarray) -> np.ndarray:
        h, w = img.shape
        return img.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    per_channel = []
    for c in range(3):
        a = ref[..., c].astype(np.float64)
        b = dist[..., c].astype(np.float64)
        terms = []
        for level in range(5):
            mu_a, mu_b = filt(a), filt(b)
            var_a = filt(a * a) - mu_a**2
            var_b = filt(b * b) - mu_b**2
            cov = filt(a * b) - mu_a * mu_b
            cs = (2 * cov + c2) / (var_a + var_b + c2)
            if level < 4:
                terms.append(max(cs.mean(), 0.0))
                a, b = pool(a), pool(b)
            else:
                lum = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
                terms.append(max((lum * cs).mean(), 0.0))
        per_channel.append(np.prod(np.array(terms) ** weights))
    return float(np.mean(per_channel))


def test_msssim_identical_is_one(clip: np.ndarray) -> None:
    np.testing.assert_allclose(msssim_per_frame(clip, clip), 1.0, atol=1e-6)


def test_msssim_matches_independent_implementation(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    for name in ("blur2", "noise10"):
        ours = msssim_per_frame(clip[:2], distorted[name][:2])
        pairs = zip(clip[:2], distorted[name][:2], strict=True)
        expected = [_msssim_reference(r, d) for r, d in pairs]
        np.testing.assert_allclose(ours, expected, atol=2e-5)


def test_msssim_per_frame_equals_batched(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    batched = msssim_per_frame(clip, distorted["noise3"])
    one_by_one = msssim_per_frame(clip, distorted["noise3"], batch_size=1)
    assert batched.shape == (NUM_FRAMES,) and batched.dtype == np.float64
    np.testing.assert_allclose(batched, one_by_one, atol=1e-6)


def test_msssim_decreases_with_distortion(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    blur1, blur2 = (msssim_per_frame(clip, distorted[k]) for k in ("blur1", "blur2"))
    noise3, noise10 = (msssim_per_frame(clip, distorted[k]) for k in ("noise3", "noise10"))
    assert np.all(blur1 < 1.0) and np.all(blur1 > blur2)
    assert np.all(noise3 < 1.0) and np.all(noise3 > noise10)


def test_msssim_refuses_small_frames(clip: np.ndarray) -> None:
    with pytest.raises(MetricInputError, match="too small"):
        msssim_per_frame(clip[:, :160, :160], clip[:, :160, :160])


# --------------------------------------------------------------------------- VMAF


def test_vmaf_identical_is_high(clip: np.ndarray) -> None:
    scores = vmaf_per_frame(clip, clip)
    assert scores.shape == (NUM_FRAMES,) and scores.dtype == np.float64
    assert np.all(scores > 95.0)


def test_vmaf_decreases_with_distortion(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    identical = vmaf_per_frame(clip, clip)
    blur1, blur2 = (vmaf_per_frame(clip, distorted[k]) for k in ("blur1", "blur2"))
    noise10 = vmaf_per_frame(clip, distorted["noise10"])
    assert np.all(identical > blur1) and np.all(blur1 > blur2)
    assert np.all(identical > noise10)


def test_vmaf_from_planes_equals_rgb_path(clip: np.ndarray, distorted: dict[str, np.ndarray]) -> None:
    from_rgb = vmaf_per_frame(clip, distorted["blur1"], n_threads=1)
    from_planes = vmaf_per_frame_i420(rgb_to_i420(clip), rgb_to_i420(distorted["blur1"]), n_threads=1)
    np.testing.assert_array_equal(from_rgb, from_planes)


def test_vmaf_errors(clip: np.ndarray, tmp_path: Path) -> None:
    with pytest.raises(MetricInputError, match="differ in shape"):
        vmaf_per_frame(clip, clip[:3])
    with pytest.raises(MetricError, match="not found"):
        vmaf_per_frame(clip, clip, ffmpeg=tmp_path / "no-ffmpeg")
    # An "FFmpeg" without the libvmaf filter.
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Filters:'\necho ' .. scale  V->V  Scale the input video.'\n")
    fake.chmod(0o755)
    with pytest.raises(MetricError, match="no libvmaf filter") as info:
        vmaf_per_frame(clip, clip, ffmpeg=fake)
    assert "\n" not in str(info.value)
    with pytest.raises(MetricError, match="return code"):
        vmaf_per_frame(clip, clip, model="version=no_such_model")
