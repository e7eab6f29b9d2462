"""Reference tests of the SSIM, LPIPS, DISTS and XPSNR metrics and of metric availability."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from pytorch_msssim import ssim as reference_ssim

from refsw.media.colour import rgb_to_i420
from refsw.metrics import (
    AVAILABLE,
    MetricError,
    MetricInputError,
    MetricRegistryError,
    MetricUnavailable,
    get_metric,
    metric_status,
    psnr_rgb_per_frame,
)
from refsw.metrics.backbones import (
    ALEXNET_CHANNELS,
    VGG16_CHANNELS,
    AlexNetFeatures,
    L2Pool2d,
    Vgg16Features,
)
from refsw.metrics.dists import Dists, dists_per_frame
from refsw.metrics.lpips import Lpips, lpips_per_frame
from refsw.metrics.ssim import (
    K1,
    K2,
    gaussian_window_1d,
    ssim_i420_per_frame,
    ssim_plane,
    ssim_rgb_per_frame,
    ssim_yuv_per_frame,
)
from refsw.metrics.weights import (
    ALEXNET_FILE,
    DISTS_FILE,
    ENV_VAR,
    LPIPS_ALEX_FILE,
    LPIPS_VGG_FILE,
    VGG16_FILE,
)
from refsw.metrics.xpsnr import xpsnr_per_frame, xpsnr_per_frame_i420

C1 = (K1 * 255) ** 2
C2 = (K2 * 255) ** 2


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    """The test images are tiny: one thread avoids thread-pool overhead on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _textured(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``(n, h, w, 3)`` uint8 smooth random texture (a face-like mix of low and high detail)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    frames = []
    for i in range(n):
        base = 128 + 60 * np.sin(6 * xx + i * 0.3)[..., None] * np.cos(4 * yy)[..., None]
        frames.append(base + rng.normal(0, 12, (h, w, 3)) + np.array([10.0, -5.0, 0.0]))
    return np.clip(np.rint(np.stack(frames)), 0, 255).astype(np.uint8)


def _noisy(frames: np.ndarray, std: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, std, frames.shape)
    return np.clip(np.rint(frames + noise), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------ SSIM


def _brute_force_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM written out window by window (Wang et al. 2004, eqs. 14-16 with Gaussian weights)."""
    g = gaussian_window_1d()
    win = np.outer(g, g)
    assert win.sum() == pytest.approx(1.0)
    x, y = x.astype(np.float64), y.astype(np.float64)
    vals = []
    for r in range(x.shape[0] - 10):
        for c in range(x.shape[1] - 10):
            px, py = x[r : r + 11, c : c + 11], y[r : r + 11, c : c + 11]
            mx, my = (win * px).sum(), (win * py).sum()
            vx = (win * (px - mx) ** 2).sum()
            vy = (win * (py - my) ** 2).sum()
            cxy = (win * (px - mx) * (py - my)).sum()
            vals.append(((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx**2 + my**2 + C1) * (vx + vy + C2)))
    return float(np.mean(vals))


def test_gaussian_window_matches_fspecial() -> None:
    """fspecial('gaussian', 11, 1.5): exp(-(i^2 + j^2) / (2 sigma^2)) normalised to unit sum;
    its centre tap is 1 / 3.759232^2 = 0.070762."""
    g = gaussian_window_1d()
    i = np.arange(-5, 6)
    direct = np.exp(-(i[:, None] ** 2 + i[None, :] ** 2) / (2 * 1.5**2))
    np.testing.assert_allclose(np.outer(g, g), direct / direct.sum(), rtol=0, atol=1e-15)
    assert np.outer(g, g)[5, 5] == pytest.approx(0.070762, abs=1e-6)


def test_ssim_plane_equals_brute_force_window_sums() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (17, 23)).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 25, x.shape), 0, 255).astype(np.uint8)
    assert ssim_plane(x, y) == pytest.approx(_brute_force_ssim(x, y), abs=1e-12)


def test_ssim_constant_planes_known_value() -> None:
    """Flat planes a and b: variances and covariance vanish, SSIM = (2ab + C1)/(a^2 + b^2 + C1);
    for a = 100, b = 110: 22006.5025 / 22106.5025 = 0.995476."""
    x = np.full((16, 16), 100, np.uint8)
    y = np.full((16, 16), 110, np.uint8)
    assert ssim_plane(x, y) == pytest.approx((22000 + C1) / (22100 + C1), abs=1e-12)
    assert round(ssim_plane(x, y), 6) == 0.995476


def test_ssim_rgb_matches_pytorch_msssim() -> None:
    ref = _textured(3, 48, 40)
    dist = _noisy(ref, 15.0)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).permute(0, 3, 1, 2).double()

    want = reference_ssim(t(ref), t(dist), data_range=255, size_average=False).numpy()
    got = ssim_rgb_per_frame(ref, dist)
    assert got.shape == (3,) and got.dtype == np.float64
    # pytorch_msssim builds its Gaussian taps in float32, hence the 1e-5 tolerance; the
    # brute-force test above checks the formula to 1e-12.
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(ssim_rgb_per_frame(ref, ref), np.ones(3))


def test_ssim_yuv_planes_and_weighting() -> None:
    ref = _textured(2, 48, 64)
    dist = _noisy(ref, 10.0)
    res = ssim_yuv_per_frame(ref, dist)
    y, u, v = rgb_to_i420(ref)
    yd, ud, _ = rgb_to_i420(dist)
    assert res.y[1] == pytest.approx(ssim_plane(y[1], yd[1]), abs=1e-15)
    assert res.u[0] == pytest.approx(ssim_plane(u[0], ud[0]), abs=1e-15)
    np.testing.assert_allclose(res.yuv, (4 * res.y + res.u + res.v) / 6, rtol=0, atol=1e-15)
    assert np.all(res.yuv < 1)
    same = ssim_yuv_per_frame(ref, ref)
    np.testing.assert_array_equal(same.yuv, np.ones(2))
    # A chroma-only change leaves SSIM_Y at 1.
    ud2 = ud.copy()
    ud2[:, ::2] = np.clip(ud2[:, ::2].astype(int) + 6, 0, 255).astype(np.uint8)
    chroma_only = ssim_i420_per_frame((y, u, v), (y, ud2, v))
    assert np.all(chroma_only.y == 1) and np.all(chroma_only.u < 1) and np.all(chroma_only.v == 1)
    assert get_metric("ssim_yuv")(ref, dist) == pytest.approx(res.yuv)
    assert get_metric("ssim_y")(ref, dist) == pytest.approx(res.y)


def test_ssim_errors() -> None:
    small = np.zeros((1, 10, 30, 3), np.uint8)
    with pytest.raises(MetricInputError, match="window"):
        ssim_rgb_per_frame(small, small)
    odd = np.zeros((1, 31, 30, 3), np.uint8)
    with pytest.raises(MetricInputError, match="even"):
        ssim_yuv_per_frame(odd, odd)
    tiny_chroma = np.zeros((1, 20, 40, 3), np.uint8)
    with pytest.raises(MetricInputError, match="chroma"):
        ssim_yuv_per_frame(tiny_chroma, tiny_chroma)


# ------------------------------------------------------------------------- LPIPS / DISTS weights


@pytest.fixture()
def no_weights_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights directory with randomly initialised backbones and layers in the published
    formats (torchvision ``features.<i>`` checkpoints with a classifier entry, lpips-style
    ``lin<k>.model.1.weight`` tensors, DISTS ``alpha`` / ``beta``)."""
    root = tmp_path_factory.mktemp("metric_weights")
    torch.manual_seed(0)
    for module, name in ((Vgg16Features(), VGG16_FILE), (AlexNetFeatures(), ALEXNET_FILE)):
        state = {f"features.{k}": v for k, v in module.features.state_dict().items()}
        state["classifier.0.weight"] = torch.zeros(4, 4)  # must be ignored
        torch.save(state, root / name)
    for channels, name in ((VGG16_CHANNELS, LPIPS_VGG_FILE), (ALEXNET_CHANNELS, LPIPS_ALEX_FILE)):
        torch.save(
            {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(channels)},
            root / name,
        )
    total = 3 + sum(VGG16_CHANNELS)
    torch.save(
        {"alpha": torch.rand(1, total, 1, 1) * 0.1, "beta": torch.rand(1, total, 1, 1) * 0.1},
        root / DISTS_FILE,
    )
    return root


@pytest.mark.usefixtures("no_weights_env")
def test_learned_metrics_unavailable_without_weights() -> None:
    frames = _textured(1, 32, 32)
    for name in ("lpips", "lpips_alex", "dists"):
        status = metric_status(name)
        assert status.startswith("not available: ") and ENV_VAR in status
        with pytest.raises(MetricUnavailable, match=ENV_VAR):
            get_metric(name)(frames, frames)
    with pytest.raises(MetricUnavailable):
        lpips_per_frame(frames, frames)
    with pytest.raises(MetricUnavailable):
        dists_per_frame(frames, frames)
    assert metric_status("psnr_rgb") == AVAILABLE and metric_status("ssim_yuv") == AVAILABLE
    with pytest.raises(MetricRegistryError):
        metric_status("no_such_metric")


def test_missing_weight_file_is_named(tmp_path: Path, random_weights: Path) -> None:
    frames = _textured(1, 32, 32)
    (tmp_path / VGG16_FILE).write_bytes((random_weights / VGG16_FILE).read_bytes())
    with pytest.raises(MetricUnavailable, match=LPIPS_VGG_FILE):
        lpips_per_frame(frames, frames, weights_dir=tmp_path)
    with pytest.raises(MetricUnavailable, match=DISTS_FILE):
        dists_per_frame(frames, frames, weights_dir=tmp_path)
    with pytest.raises(MetricUnavailable, match="does not exist"):
        dists_per_frame(frames, frames, weights_dir=tmp_path / "nowhere")


def test_weights_from_environment_variable(random_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(random_weights))
    frames = _textured(2, 32, 40)
    for name in ("lpips", "lpips_alex", "dists"):
        assert metric_status(name) == AVAILABLE
        values = get_metric(name)(frames, _noisy(frames, 20.0))
        assert values.shape == (2,) and values.dtype == np.float64 and np.all(values > 0)


@pytest.mark.parametrize("net", ["vgg", "alex"])
def test_lpips_random_weights_identical_zero_and_shapes(random_weights: Path, net: str) -> None:
    ref = _textured(3, 40, 48)
    same = lpips_per_frame(ref, ref, net=net, weights_dir=random_weights)
    assert same.shape == (3,) and same.dtype == np.float64
    np.testing.assert_array_equal(same, np.zeros(3))
    d1 = lpips_per_frame(ref, _noisy(ref, 8.0), net=net, weights_dir=random_weights)
    d2 = lpips_per_frame(ref, _noisy(ref, 40.0), net=net, weights_dir=random_weights)
    assert np.all(d1 > 0) and np.all(np.isfinite(d1)) and np.all(d2 > d1)
    one_by_one = lpips_per_frame(ref, _noisy(ref, 8.0), net=net, weights_dir=random_weights, batch_size=1)
    np.testing.assert_allclose(one_by_one, d1, rtol=1e-5)


def test_lpips_equals_formula_on_backbone_features(random_weights: Path) -> None:
    """Recompute eq. 1 of Zhang et al. in numpy from the loaded backbone's activations."""
    ref, dist = _textured(2, 32, 32), _textured(2, 32, 32, seed=5)
    got = lpips_per_frame(ref, dist, weights_dir=random_weights)
    model = Lpips("vgg", "imagenet")
    model.load_weights(torch.load(random_weights / VGG16_FILE), torch.load(random_weights / LPIPS_VGG_FILE))
    mean = np.array([0.485, 0.456, 0.406])[None, :, None, None]
    std = np.array([0.229, 0.224, 0.225])[None, :, None, None]
    x = (ref.transpose(0, 3, 1, 2) / 255.0 - mean) / std
    y = (dist.transpose(0, 3, 1, 2) / 255.0 - mean) / std
    with torch.no_grad():
        fx = [f.double().numpy() for f in model.backbone(torch.from_numpy(x).float())]
        fy = [f.double().numpy() for f in model.backbone(torch.from_numpy(y).float())]
    lin = torch.load(random_weights / LPIPS_VGG_FILE)
    want = np.zeros(2)
    for k, (a, b) in enumerate(zip(fx, fy)):
        a = a / (np.sqrt((a**2).sum(1, keepdims=True)) + 1e-10)
        b = b / (np.sqrt((b**2).sum(1, keepdims=True)) + 1e-10)
        w = lin[f"lin{k}.model.1.weight"].double().numpy().reshape(1, -1, 1, 1)
        want += (w * (a - b) ** 2).sum(1).mean(axis=(1, 2))
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_lpips_linear_layers_matched_by_name_not_file_order(random_weights: Path) -> None:
    lin = torch.load(random_weights / LPIPS_VGG_FILE)
    shuffled = {k: lin[k] for k in reversed(list(lin))}
    backbone = torch.load(random_weights / VGG16_FILE)
    a, b = Lpips("vgg"), Lpips("vgg")
    a.load_weights(backbone, lin)
    b.load_weights(backbone, shuffled)
    for pa, pb in zip(a.linear, b.linear):
        assert torch.equal(pa, pb)
    with pytest.raises(MetricError, match="linear layer"):
        a.load_weights(backbone, {f"lin{k}": torch.ones(3) for k in range(5)})
    with pytest.raises(MetricError, match="backbone"):
        a.load_weights({"features.0.weight": torch.ones(1)}, lin)


def test_lpips_input_checks(random_weights: Path) -> None:
    small = _textured(1, 16, 24)
    lpips_per_frame(small, small, weights_dir=random_weights)  # VGG: 16 pixels suffice
    with pytest.raises(MetricInputError, match="smaller than 31"):
        lpips_per_frame(small, small, net="alex", weights_dir=random_weights)
    with pytest.raises(MetricInputError, match="net"):
        lpips_per_frame(small, small, net="resnet", weights_dir=random_weights)  # type: ignore[arg-type]
    with pytest.raises(MetricInputError):
        lpips_per_frame(small, small[:, :, :20], weights_dir=random_weights)


def test_l2pool_against_numpy() -> None:
    x = torch.rand(1, 2, 7, 6, dtype=torch.float64)
    got = L2Pool2d()(x).numpy()
    g = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    pad = np.pad(x.numpy() ** 2, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((1, 2, 4, 3))
    for i in range(4):
        for j in range(3):
            want[..., i, j] = np.sqrt((pad[..., 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] * g).sum((2, 3)))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_dists_random_weights_identical_zero_and_formula(random_weights: Path) -> None:
    ref = _textured(2, 32, 40)
    same = dists_per_frame(ref, ref, weights_dir=random_weights)
    assert same.shape == (2,) and same.dtype == np.float64
    np.testing.assert_allclose(same, 0.0, atol=1e-6)
    dist = _noisy(ref, 25.0)
    got = dists_per_frame(ref, dist, weights_dir=random_weights)
    assert np.all(got > 1e-4) and np.all(got <= 1.0)
    # Eqs. 6-10 of Ding et al. recomputed in numpy on the model's own features.
    model = Dists()
    ab = torch.load(random_weights / DISTS_FILE)
    model.load_weights(torch.load(random_weights / VGG16_FILE), ab)
    x = torch.from_numpy(ref).permute(0, 3, 1, 2).float() / 255
    y = torch.from_numpy(dist).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        fx = [x.double().numpy()] + [f.double().numpy() for f in model.backbone((x - model.mean) / model.std)]
        fy = [y.double().numpy()] + [f.double().numpy() for f in model.backbone((y - model.mean) / model.std)]
    alpha = ab["alpha"].double().numpy().ravel()
    beta = ab["beta"].double().numpy().ravel()
    alpha, beta = alpha / (alpha.sum() + beta.sum()), beta / (alpha.sum() + beta.sum())
    sim = np.zeros(2)
    start = 0
    for a, b in zip(fx, fy):
        c = a.shape[1]
        a, b = a.reshape(2, c, -1), b.reshape(2, c, -1)
        ma, mb = a.mean(-1), b.mean(-1)
        va, vb = a.var(-1), b.var(-1)
        cov = ((a - ma[..., None]) * (b - mb[..., None])).mean(-1)
        tex = (2 * ma * mb + 1e-6) / (ma**2 + mb**2 + 1e-6)
        st = (2 * cov + 1e-6) / (va + vb + 1e-6)
        sim += (tex * alpha[start : start + c]).sum(1) + (st * beta[start : start + c]).sum(1)
        start += c
    np.testing.assert_allclose(got, 1 - sim, rtol=1e-4, atol=1e-6)


def test_dists_weight_errors() -> None:
    model = Dists()
    backbone = {f"features.{k}": v for k, v in Vgg16Features().features.state_dict().items()}
    with pytest.raises(MetricError, match="beta"):
        model.load_weights(backbone, {"alpha": torch.ones(1475)})
    with pytest.raises(MetricError, match="1475"):
        model.load_weights(backbone, {"alpha": torch.ones(10), "beta": torch.ones(10)})
    with pytest.raises(MetricError, match="non-negative"):
        model.load_weights(backbone, {"alpha": -torch.ones(1475), "beta": torch.ones(1475)})


def test_corrupt_weight_file_is_a_metric_error(tmp_path: Path, random_weights: Path) -> None:
    (tmp_path / VGG16_FILE).write_bytes(b"not a checkpoint")
    (tmp_path / DISTS_FILE).write_bytes((random_weights / DISTS_FILE).read_bytes())
    frames = _textured(1, 32, 32)
    with pytest.raises(MetricError, match="cannot load weights") as info:
        dists_per_frame(frames, frames, weights_dir=tmp_path)
    assert not isinstance(info.value, MetricUnavailable)


# ----------------------------------------------------------------------------------------- XPSNR


def test_xpsnr_identical_is_inf_and_decreases_with_noise() -> None:
    ref = _textured(4, 64, 64)
    same = xpsnr_per_frame(ref, ref)
    assert same.y.shape == (4,) and np.all(np.isinf(same.y)) and np.all(np.isinf(same.yuv))
    low, high = (xpsnr_per_frame(ref, _noisy(ref, s)) for s in (3.0, 12.0))
    assert np.all(np.isfinite(low.y)) and np.all(low.y > high.y)
    assert np.all(low.yuv > high.yuv)
    np.testing.assert_allclose(get_metric("xpsnr_y")(ref, _noisy(ref, 3.0)), low.y)
    assert metric_status("xpsnr_yuv") == AVAILABLE


def test_xpsnr_weights_errors_by_reference_activity() -> None:
    """The defining property of XPSNR (Helmrich et al. 2020): the same error counts more in a
    flat region of the reference than in a textured one, while PSNR cannot tell them apart."""
    n, h, w = 3, 64, 64
    rng = np.random.default_rng(7)
    ref = np.full((n, h, w, 3), 120, np.uint8)
    ref[:, :, w // 2 :] = rng.integers(40, 210, (n, h, w // 2, 3))
    noise = rng.choice(np.array([-6, 6]), (n, h, w // 2, 3))
    in_flat, in_texture = ref.astype(int), ref.astype(int)
    in_flat[:, :, : w // 2] += noise
    in_texture[:, :, w // 2 :] += noise
    in_flat = np.clip(in_flat, 0, 255).astype(np.uint8)
    in_texture = np.clip(in_texture, 0, 255).astype(np.uint8)
    np.testing.assert_allclose(psnr_rgb_per_frame(ref, in_flat), psnr_rgb_per_frame(ref, in_texture), atol=0.05)
    assert np.all(xpsnr_per_frame(ref, in_flat).y < xpsnr_per_frame(ref, in_texture).y - 1.0)


def test_xpsnr_yuv_combination_and_plane_input() -> None:
    ref = _textured(2, 32, 48)
    dist = _noisy(ref, 6.0)
    res = xpsnr_per_frame(ref, dist)
    planes = xpsnr_per_frame_i420(rgb_to_i420(ref), rgb_to_i420(dist))
    np.testing.assert_array_equal(res.y, planes.y)
    mse = [255.0**2 * 10 ** (-p / 10) for p in (res.y, res.u, res.v)]
    want = 10 * np.log10(255.0**2 / ((4 * mse[0] + mse[1] + mse[2]) / 6))
    np.testing.assert_allclose(res.yuv, want, rtol=1e-12)
    assert np.all(np.minimum(res.y, np.minimum(res.u, res.v)) <= res.yuv + 1e-9)


def test_xpsnr_errors(tmp_path: Path) -> None:
    ref = _textured(1, 32, 32)
    with pytest.raises(MetricInputError, match="even"):
        xpsnr_per_frame(ref[:, :31], ref[:, :31])
    with pytest.raises(MetricError, match="not found"):
        xpsnr_per_frame(ref, ref, ffmpeg=tmp_path / "no-ffmpeg")
    with pytest.raises(MetricInputError, match="fps"):
        xpsnr_per_frame(ref, ref, fps=math.nan)
