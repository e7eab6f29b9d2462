"""Tests of BD-rate / BD-metric (ctc.bdrate) and of the ``gfv-ctc bd-rate`` command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from ctc.bdrate import BDError, BDResult, average_bd, bd_metric, bd_rate
from ctc.cli import main

METHODS = ("pchip", "cubic")

# A typical 4-point anchor curve (kbit/s, PSNR dB) and a test curve with a different shape.
ANCHOR_KBPS = np.array([12.5, 21.0, 38.0, 71.0])
ANCHOR_PSNR = np.array([29.1, 31.4, 33.9, 36.2])
TEST_KBPS = np.array([8.0, 15.5, 27.0, 52.0])
TEST_PSNR = np.array([28.6, 31.2, 33.1, 35.9])


# --------------------------------------------------------------------------- independent reference


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson / Fritsch-Butland shape-preserving slopes (Moler, "Numerical Computing
    with MATLAB", sec. 3.4), written out independently of scipy."""
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    d = np.zeros(n)
    if n == 2:
        return np.full(2, delta[0])
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])

    def end(h0: float, h1: float, d0: float, d1: float) -> float:
        s = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
        if np.sign(s) != np.sign(d0):
            return 0.0
        if np.sign(d0) != np.sign(d1) and abs(s) > abs(3 * d0):
            return 3 * d0
        return s

    d[0] = end(h[0], h[1], delta[0], delta[1])
    d[-1] = end(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _hermite_eval(x: np.ndarray, y: np.ndarray, d: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolant with node slopes ``d`` evaluated at ``t``."""
    k = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
    h = x[k + 1] - x[k]
    s = (t - x[k]) / h
    h00 = 2 * s**3 - 3 * s**2 + 1
    h10 = s**3 - 2 * s**2 + s
    h01 = -2 * s**3 + 3 * s**2
    h11 = s**3 - s**2
    return h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]


def _reference_mean_diff(xa, ya, xt, yt, method: str) -> tuple[float, float, float]:
    """Mean difference of test and anchor interpolants over the overlap, by numerical
    integration: dense trapezoid sums for pchip, adaptive quadrature for the cubic fit."""
    oa, ot = np.argsort(xa), np.argsort(xt)
    xa, ya, xt, yt = xa[oa], ya[oa], xt[ot], yt[ot]
    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    if method == "pchip":
        grid = np.linspace(lo, hi, 100_001)
        fa = _hermite_eval(xa, ya, _pchip_slopes(xa, ya), grid)
        ft = _hermite_eval(xt, yt, _pchip_slopes(xt, yt), grid)
        diff = np.trapz(ft - fa, grid) / (hi - lo)
    else:
        pa, pt = np.polyfit(xa, ya, 3), np.polyfit(xt, yt, 3)
        integral, _ = quad(lambda v: np.polyval(pt, v) - np.polyval(pa, v), lo, hi, epsabs=1e-13)
        diff = integral / (hi - lo)
    return float(diff), float(lo), float(hi)


def _reference_bd_rate(ka, ma, kt, mt, method: str) -> float:
    diff, _, _ = _reference_mean_diff(np.asarray(ma, float), np.log10(ka), np.asarray(mt, float), np.log10(kt), method)
    return (10**diff - 1) * 100


def _reference_bd_metric(ka, ma, kt, mt, method: str) -> float:
    diff, _, _ = _reference_mean_diff(np.log10(ka), np.asarray(ma, float), np.log10(kt), np.asarray(mt, float), method)
    return diff


# ----------------------------------------------------------------------------------- known values


@pytest.mark.parametrize("method", METHODS)
def test_identical_curves_give_zero(method: str) -> None:
    r = bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS, ANCHOR_PSNR, method)
    assert r.value == pytest.approx(0.0, abs=1e-12)
    assert (r.anchor_overlap, r.test_overlap) == (1.0, 1.0)
    assert bd_metric(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS, ANCHOR_PSNR, method).value == (
        pytest.approx(0.0, abs=1e-12)
    )


@pytest.mark.parametrize("method", METHODS)
def test_half_rate_everywhere_is_minus_50_percent(method: str) -> None:
    r = bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS / 2, ANCHOR_PSNR, method)
    assert r.value == pytest.approx(-50.0, abs=1e-9)
    assert r.kind == "rate" and r.method == method
    assert (r.overlap_low, r.overlap_high) == (ANCHOR_PSNR[0], ANCHOR_PSNR[-1])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shift", [0.37, -1.25])
def test_metric_shift_gives_bd_metric_equal_to_shift(method: str, shift: float) -> None:
    r = bd_metric(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS, ANCHOR_PSNR + shift, method)
    assert r.value == pytest.approx(shift, abs=1e-12)
    assert r.kind == "metric"
    assert (r.overlap_low, r.overlap_high) == pytest.approx((ANCHOR_KBPS[0], ANCHOR_KBPS[-1]))


@pytest.mark.parametrize("method", METHODS)
def test_hand_derived_example_with_partial_overlap(method: str) -> None:
    """Anchor log10 R = 2 + 0.10 (P - 30) at P = 30, 32, 34, 36 dB; test log10 R = 1.95 + 0.08
    (P - 30) at P = 31, 33, 35, 37 dB. Both are straight lines, which both methods reproduce
    exactly. Overlap [31, 36] dB (5/6 of each 6 dB range); the log-rate difference is
    -0.05 - 0.02 (P - 30), whose mean over [31, 36] is -0.05 - 0.02 * 3.5 = -0.12, so
    BD-rate = 10**-0.12 - 1 = -24.1422 %."""
    pa = np.array([30.0, 32.0, 34.0, 36.0])
    pt = np.array([31.0, 33.0, 35.0, 37.0])
    r = bd_rate(10 ** (2 + 0.1 * (pa - 30)), pa, 10 ** (1.95 + 0.08 * (pt - 30)), pt, method)
    assert r.value == pytest.approx((10**-0.12 - 1) * 100, abs=1e-9)
    assert round(r.value, 4) == -24.1422
    assert (r.overlap_low, r.overlap_high) == (31.0, 36.0)
    assert r.anchor_overlap == pytest.approx(5 / 6) and r.test_overlap == pytest.approx(5 / 6)


def test_hand_derived_cubic_example() -> None:
    """log10 R_a = P^2 / 10 and log10 R_t = P^2 / 10 - P / 10 at P = 0..3 (quadratics, fitted
    exactly by the cubic): mean difference -0.1 * 1.5 = -0.15 over [0, 3], BD-rate = 10**-0.15 - 1
    = -29.2054 %."""
    p = np.array([0.0, 1.0, 2.0, 3.0])
    r = bd_rate(10 ** (p**2 / 10), p, 10 ** (p**2 / 10 - p / 10), p, "cubic")
    assert r.value == pytest.approx((10**-0.15 - 1) * 100, abs=1e-9)
    assert round(r.value, 4) == -29.2054


@pytest.mark.parametrize("method", METHODS)
def test_agrees_with_independent_numerical_integration(method: str) -> None:
    got = bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, TEST_KBPS, TEST_PSNR, method)
    want = _reference_bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, TEST_KBPS, TEST_PSNR, method)
    assert got.value == pytest.approx(want, abs=1e-7)
    got_m = bd_metric(ANCHOR_KBPS, ANCHOR_PSNR, TEST_KBPS, TEST_PSNR, method)
    want_m = _reference_bd_metric(ANCHOR_KBPS, ANCHOR_PSNR, TEST_KBPS, TEST_PSNR, method)
    assert got_m.value == pytest.approx(want_m, abs=1e-9)
    # The test curve needs fewer bits at equal PSNR and gives more PSNR at equal rate.
    assert got.value < 0 and got_m.value > 0


def test_pchip_and_cubic_differ_on_a_curved_rd_curve() -> None:
    rates = [10.0, 20.0, 40.0, 80.0, 160.0]
    anchor = [30.0, 33.5, 35.0, 35.8, 36.2]  # strongly saturating
    test = [30.5, 33.0, 35.2, 36.5, 37.0]
    p = bd_rate(rates, anchor, rates, test, "pchip").value
    c = bd_rate(rates, anchor, rates, test, "cubic").value
    assert p == pytest.approx(_reference_bd_rate(rates, anchor, rates, test, "pchip"), abs=1e-7)
    assert c == pytest.approx(_reference_bd_rate(rates, anchor, rates, test, "cubic"), abs=1e-7)
    assert abs(p - c) > 1e-3


def test_point_order_does_not_matter() -> None:
    order = [2, 0, 3, 1]
    for method in METHODS:
        a = bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, TEST_KBPS, TEST_PSNR, method).value
        b = bd_rate(ANCHOR_KBPS[order], ANCHOR_PSNR[order], TEST_KBPS[order], TEST_PSNR[order], method).value
        assert a == pytest.approx(b, abs=1e-12)


def test_small_metric_range_is_well_conditioned() -> None:
    """1-DISTS values span a few hundredths; the cubic fit must stay exact for a rate ratio."""
    q = np.array([0.9012, 0.9175, 0.9301, 0.9433])
    for method in METHODS:
        assert bd_rate(ANCHOR_KBPS, q, ANCHOR_KBPS * 0.8, q, method).value == pytest.approx(-20.0, abs=1e-8)


# ----------------------------------------------------------------------------- overlap and errors


@pytest.mark.parametrize("method", METHODS)
def test_partial_overlap_is_reported(method: str) -> None:
    # Test curve covers 33..39 dB, the anchor 29.1..36.2 dB.
    pt = np.array([33.0, 35.0, 37.0, 39.0])
    r = bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, [40.0, 60.0, 90.0, 140.0], pt, method)
    assert (r.overlap_low, r.overlap_high) == (33.0, 36.2)
    assert r.anchor_overlap == pytest.approx((36.2 - 33.0) / (36.2 - 29.1))
    assert r.test_overlap == pytest.approx((36.2 - 33.0) / 6.0)


@pytest.mark.parametrize("method", METHODS)
def test_no_overlap_raises(method: str) -> None:
    pt = np.array([36.5, 37.0, 38.0, 39.0])
    with pytest.raises(BDError, match="do not overlap in metric"):
        bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS, pt, method)
    with pytest.raises(BDError, match="do not overlap in rate"):
        bd_metric(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS * 100, ANCHOR_PSNR, method)


def test_touching_curves_have_no_overlap() -> None:
    with pytest.raises(BDError, match="do not overlap"):
        bd_rate([1, 2], [30, 32], [3, 4], [32, 34], "pchip")


def test_minimum_number_of_points_per_method() -> None:
    r = bd_rate([10, 20], [30, 33], [9, 18], [30, 33], "pchip")  # 2 points: straight line
    assert r.value == pytest.approx(-10.0)
    with pytest.raises(BDError, match="at least 2 points"):
        bd_rate([10], [30], [9, 18], [30, 33], "pchip")
    with pytest.raises(BDError, match="at least 4 points"):
        bd_rate([10, 20, 40], [30, 33, 35], [9, 18, 36], [30, 33, 35], "cubic")


@pytest.mark.parametrize(
    ("kbps", "metric", "match"),
    [
        ([10, 20, -40, 80], [30, 31, 32, 33], "positive"),
        ([10, 20, 40, 80], [30, 31, math.nan, 33], "finite"),
        ([10, 20, 40], [30, 31, 32, 33], "equal length"),
        ([10, 20, 40, 80], [30, 31, 31, 33], "distinct"),
        ([10, 20, 40, 80], ["a", 31, 32, 33], "numbers"),
    ],
)
def test_malformed_curves_raise(kbps, metric, match: str) -> None:
    with pytest.raises(BDError, match=match):
        bd_rate(kbps, metric, ANCHOR_KBPS, ANCHOR_PSNR, "pchip")


def test_unknown_method_raises() -> None:
    with pytest.raises(BDError, match="unknown BD method"):
        bd_rate(ANCHOR_KBPS, ANCHOR_PSNR, ANCHOR_KBPS, ANCHOR_PSNR, "linear")  # type: ignore[arg-type]


def test_non_monotone_curve_warns() -> None:
    r = bd_rate([10, 20, 40, 80], [30, 33, 32, 35], ANCHOR_KBPS, ANCHOR_PSNR, "pchip")
    assert len(r.warnings) == 1 and "anchor" in r.warnings[0]


# ------------------------------------------------------------------------------------ properties


curve_steps = st.lists(st.floats(0.2, 3.0), min_size=4, max_size=7)


@settings(max_examples=60, deadline=None)
@given(
    steps=curve_steps,
    rate_steps=st.lists(st.floats(0.1, 1.0), min_size=7, max_size=7),
    factor=st.floats(0.2, 5.0),
    method=st.sampled_from(METHODS),
)
def test_constant_rate_factor_property(steps, rate_steps, factor, method) -> None:
    metric = 30 + np.cumsum(steps)
    kbps = 10 * 10 ** np.cumsum(rate_steps[: len(steps)])
    r = bd_rate(kbps, metric, kbps * factor, metric, method)
    assert r.value == pytest.approx((factor - 1) * 100, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    a_steps=curve_steps,
    t_steps=curve_steps,
    offset=st.floats(-1.0, 1.0),
    method=st.sampled_from(METHODS),
)
def test_swapping_anchor_and_test_inverts_the_rate_ratio(a_steps, t_steps, offset, method) -> None:
    ma = 30 + np.cumsum(a_steps)
    mt = 30 + offset + np.cumsum(t_steps)
    ka = 10 * 10 ** (0.3 * np.arange(len(ma)))
    kt = 9 * 10 ** (0.25 * np.arange(len(mt)))
    try:
        fwd = bd_rate(ka, ma, kt, mt, method)
    except BDError:
        return  # no overlap for this draw
    back = bd_rate(kt, mt, ka, ma, method)
    assert (1 + fwd.value / 100) * (1 + back.value / 100) == pytest.approx(1.0, rel=1e-9)
    assert fwd.value == pytest.approx(_reference_bd_rate(ka, ma, kt, mt, method), abs=1e-6)


# ------------------------------------------------------------------------------------- averaging


def test_average_bd_per_class_and_overall() -> None:
    res = {
        "VOX_1": BDResult(-10.0, "rate", "pchip", 0, 1, 1, 1),
        "VOX_2": BDResult(-20.0, "rate", "pchip", 0, 1, 1, 1),
        "CFVQA_1": BDResult(-40.0, "rate", "pchip", 0, 1, 1, 1),
    }
    avg = average_bd(res, {"VoxCeleb": ["VOX_1", "VOX_2"], "CFVQA": ["CFVQA_1"]})
    assert avg.per_class == {"VoxCeleb": -15.0, "CFVQA": -40.0}
    assert avg.overall == pytest.approx(-70.0 / 3)  # mean over sequences, not over classes
    assert avg.counts == {"VoxCeleb": 2, "CFVQA": 1} and avg.overall_count == 3
    only_vox = average_bd(res, {"VoxCeleb": ["VOX_1", "VOX_2"], "CFVQA": ["CFVQA_1"]}, overall_classes=["VoxCeleb"])
    assert only_vox.overall == -15.0
    assert average_bd({"a": 1.0, "b": 3.0}, {"all": ["a", "b"]}).overall == 2.0


def test_average_bd_errors() -> None:
    with pytest.raises(BDError, match="no BD result for sequence 'b'"):
        average_bd({"a": 1.0}, {"all": ["a", "b"]})
    with pytest.raises(BDError, match="no sequences"):
        average_bd({"a": 1.0}, {"empty": []})
    with pytest.raises(BDError, match="not finite"):
        average_bd({"a": math.nan}, {"all": ["a"]})
    with pytest.raises(BDError, match="unknown classes"):
        average_bd({"a": 1.0}, {"all": ["a"]}, overall_classes=["other"])
    mixed = {
        "a": BDResult(1.0, "rate", "pchip", 0, 1, 1, 1),
        "b": BDResult(1.0, "metric", "pchip", 0, 1, 1, 1),
    }
    with pytest.raises(BDError, match="mixed|together"):
        average_bd(mixed, {"all": ["a", "b"]})


# ------------------------------------------------------------------------------------------- CLI


def _write_csv(path: Path, kbps, values, metric: str = "psnr_yuv") -> Path:
    lines = [f"kbps, {metric},extra"] + [f"{k!r},{v!r},x" for k, v in zip(kbps, values)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("method", METHODS)
def test_cli_bd_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str) -> None:
    a = _write_csv(tmp_path / "a.csv", ANCHOR_KBPS.tolist(), ANCHOR_PSNR.tolist())
    t = _write_csv(tmp_path / "t.csv", (ANCHOR_KBPS / 2).tolist(), ANCHOR_PSNR.tolist())
    argv = ["bd-rate", "--anchor", str(a), "--test", str(t), "--metric", "psnr_yuv"]
    assert main([*argv, "--method", method]) == 0
    out = capsys.readouterr().out
    assert "bd_rate_percent: -50.0000" in out
    assert "overlap_low: 29.1" in out and "overlap_high: 36.2" in out
    assert "anchor_overlap_percent: 100.0" in out
    assert main([*argv, "--method", method, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bd_rate_percent"] == pytest.approx(-50.0)
    assert data["method"] == method and data["test_overlap"] == pytest.approx(1.0)


def test_cli_errors_are_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _write_csv(tmp_path / "a.csv", ANCHOR_KBPS.tolist(), ANCHOR_PSNR.tolist())
    far = _write_csv(tmp_path / "far.csv", ANCHOR_KBPS.tolist(), (ANCHOR_PSNR + 20).tolist())
    cases = [
        [
            "bd-rate",
            "--anchor",
            str(a),
            "--test",
            str(tmp_path / "missing.csv"),
            "--metric",
            "psnr_yuv",
        ],
        ["bd-rate", "--anchor", str(a), "--test", str(a), "--metric", "vmaf"],
        ["bd-rate", "--anchor", str(a), "--test", str(far), "--metric", "psnr_yuv"],
        [
            "bd-rate",
            "--anchor",
            str(a),
            "--test",
            str(a),
            "--metric",
            "psnr_yuv",
            "--method",
            "linear",
        ],
        ["bd-rate", "--anchor", str(a)],
        ["no-such-command"],
    ]
    for argv in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("gfv-ctc: error: ") and err.count("\n") == 1, err


def test_cli_bad_value_names_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("kbps,psnr\n10,30\n20,abc\n")
    assert main(["bd-rate", "--anchor", str(bad), "--test", str(bad), "--metric", "psnr"]) == 1
    assert "row 3" in capsys.readouterr().err


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "bd-rate" in capsys.readouterr().out


def test_cli_has_every_subcommand_and_stays_light(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """One parser for every subcommand; bd-rate runs without importing the runner or the models."""
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("bd-rate", "run", "prepare"))
    code = (
        "import sys; from ctc.cli import main; "
        f"rc = main(['bd-rate', '--anchor', {str(tmp_path / 'a.csv')!r}, '--test', {str(tmp_path / 'a.csv')!r}, "
        "'--metric', 'psnr_yuv']); print(rc, 'ctc.runner' in sys.modules, 'torch' in sys.modules)"
    )
    _write_csv(tmp_path / "a.csv", ANCHOR_KBPS.tolist(), ANCHOR_PSNR.tolist())
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.split()[-3:] == ["0", "False", "False"], run.stdout + run.stderr


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run"]) == 1
    assert "the following arguments are required: config" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gfv-ctc: error: ") and err.count("\n") == 1
