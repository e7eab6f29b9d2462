"""Bjontegaard delta rate (BD-rate) and delta metric (BD-metric) between two RD curves.

Sources:
    G. Bjontegaard, "Calculation of average PSNR differences between RD-curves", ITU-T SG16
    Q.6 (VCEG) document VCEG-M33, Austin, April 2001: fit a cubic polynomial through the
    points of each curve, integrate over the common interval, divide by its width.
    G. Bjontegaard, "Improvements of the BD-PSNR model", VCEG-AI11, Berlin, July 2008:
    piecewise cubic interpolation instead of one cubic fit, the method of the JCT-VC/JVET
    CTC Excel template.

Both curves are given as rates in kbit/s and one quality metric for which higher is better
(PSNR in dB, SSIM, VMAF, 1-DISTS, 1-LPIPS, ...). The rate axis is logarithmic (base 10; the
base cancels out of the result).

BD-rate (:func:`bd_rate`), with ``r = log10(kbps)`` and ``m`` the metric::

    r_a(m), r_t(m)  interpolated log-rates of anchor and test as functions of the metric
    [lo, hi]        = [max(min m_a, min m_t), min(max m_a, max m_t)]   (metric overlap)
    d               = (1 / (hi - lo)) * integral_lo^hi (r_t(m) - r_a(m)) dm
    BD-rate         = (10**d - 1) * 100  percent   (negative: the test needs fewer bits)

BD-metric (:func:`bd_metric`) swaps the axes: the metrics ``m_a(r)``, ``m_t(r)`` are
interpolated over the log-rate overlap and the result is the mean of ``m_t - m_a`` in metric
units (positive: the test is better).

Methods:

* ``"pchip"``: piecewise cubic Hermite interpolation through the points (Fritsch-Carlson
  monotone slopes, :class:`scipy.interpolate.PchipInterpolator`), integrated exactly. This
  is the VCEG-AI11 method; the JVET spreadsheet macro uses its own slope rule, so results can
  differ from it in the last reported digit. At least 2 points per curve (2 points give a
  straight line).
* ``"cubic"``: least-squares cubic polynomial (exact interpolation with 4 points) as in
  VCEG-M33, integrated exactly. At least 4 points per curve.

The points of a curve may come in any order; they are sorted along the interpolation axis,
whose values must be distinct. A curve whose metric does not increase with the rate is
accepted with a warning in :attr:`BDResult.warnings` (the Bjontegaard model assumes
monotone curves).

Per-class and overall averages (:func:`average_bd`) are arithmetic means of per-sequence
values, as in the JVET CTC spreadsheet; the GFVC CTC reports the VoxCeleb and CFVQA classes
separately (JVET-AG2035).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.interpolate import PchipInterpolator

logger = logging.getLogger(__name__)

__all__ = [
    "METHODS",
    "MIN_POINTS",
    "BDAverage",
    "BDError",
    "BDResult",
    "Method",
    "average_bd",
    "bd_metric",
    "bd_rate",
]

Method = Literal["pchip", "cubic"]
#: Interpolation methods, see the module docstring.
METHODS: tuple[str, ...] = ("pchip", "cubic")
#: Fewest points per curve for each method.
MIN_POINTS: dict[str, int] = {"pchip": 2, "cubic": 4}


class BDError(ValueError):
    """A BD value cannot be computed: malformed points, too few points, or no overlap."""


@dataclass(frozen=True)
class BDResult:
    """One BD-rate or BD-metric value and the overlap of the two curves it was computed on.

    Attributes:
        value: BD-rate in percent (``kind == "rate"``) or BD-metric in metric units
            (``kind == "metric"``).
        kind: ``"rate"`` or ``"metric"``.
        method: ``"pchip"`` or ``"cubic"``.
        overlap_low, overlap_high: the interval integrated over; metric units for BD-rate,
            kbit/s for BD-metric.
        anchor_overlap, test_overlap: width of that interval as a fraction (0..1] of the
            anchor's and the test's own range on the same axis (metric for BD-rate, log-rate
            for BD-metric). 1 means the whole curve was used.
        warnings: human-readable notes, e.g. a non-monotone curve.
    """

    value: float
    kind: Literal["rate", "metric"]
    method: Method
    overlap_low: float
    overlap_high: float
    anchor_overlap: float
    test_overlap: float
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class BDAverage:
    """Averages of per-sequence BD values.

    Attributes:
        per_class: class name -> arithmetic mean over its sequences.
        overall: arithmetic mean over every sequence of the classes taken into the overall
            value (each sequence once).
        counts: class name -> number of sequences averaged.
        overall_count: number of sequences in :attr:`overall`.
    """

    per_class: dict[str, float]
    overall: float
    counts: dict[str, int]
    overall_count: int


def _curve(
    kbps: Sequence[float] | np.ndarray, metric: Sequence[float] | np.ndarray, name: str, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check one curve and return ``(log10 kbps, metric)`` as float64 arrays."""
    if method not in METHODS:
        raise BDError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    try:
        rate = np.asarray(kbps, dtype=np.float64)
        qual = np.asarray(metric, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BDError(f"{name}: rates and metric values must be numbers ({exc})") from None
    if rate.ndim != 1 or qual.ndim != 1 or rate.shape != qual.shape:
        raise BDError(
            f"{name}: rates and metric values must be 1-D of equal length, got shapes {rate.shape} and {qual.shape}"
        )
    need = MIN_POINTS[method]
    if rate.size < need:
        raise BDError(f"{name}: method {method!r} needs at least {need} points, got {rate.size}")
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(qual))):
        raise BDError(f"{name}: rates and metric values must be finite")
    if np.any(rate <= 0):
        raise BDError(f"{name}: rates must be positive (kbit/s)")
    return np.log10(rate), qual


def _sorted_axis(x: np.ndarray, y: np.ndarray, name: str, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """Sort ``(x, y)`` by ``x`` and require distinct ``x`` values."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    if np.any(np.diff(xs) <= 0):
        raise BDError(f"{name}: {axis} values must be distinct to interpolate over them")
    return xs, ys


def _monotone_warning(log_rate: np.ndarray, metric: np.ndarray, name: str) -> list[str]:
    """A warning when the metric does not strictly increase with the rate."""
    order = np.argsort(log_rate, kind="stable")
    if np.all(np.diff(metric[order]) > 0):
        return []
    msg = f"{name}: the metric does not increase strictly with the rate (non-monotone RD curve)"
    logger.warning(msg)
    return [msg]


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Exact integral over ``[lo, hi]`` of the interpolant of ``y(x)`` (``x`` increasing)."""
    if method == "pchip":
        return float(PchipInterpolator(x, y, extrapolate=False).integrate(lo, hi))
    # Fit in centred, scaled coordinates u = (x - c) / s for conditioning; the least-squares
    # cubic is the same polynomial, and integral dx = s * integral du.
    c = 0.5 * (x[0] + x[-1])
    s = 0.5 * (x[-1] - x[0])
    coef = np.polyfit((x - c) / s, y, 3)
    prim = np.polyint(coef)
    return float(s * (np.polyval(prim, (hi - c) / s) - np.polyval(prim, (lo - c) / s)))


def _overlap(xa: np.ndarray, xt: np.ndarray, axis: str) -> tuple[float, float, float, float]:
    """``(lo, hi, anchor fraction, test fraction)`` of the common interval of two sorted axes."""
    lo = max(xa[0], xt[0])
    hi = min(xa[-1], xt[-1])
    if not hi > lo:
        raise BDError(
            f"the curves do not overlap in {axis}: anchor [{xa[0]:.6g}, {xa[-1]:.6g}], test [{xt[0]:.6g}, {xt[-1]:.6g}]"
        )
    return lo, hi, (hi - lo) / (xa[-1] - xa[0]), (hi - lo) / (xt[-1] - xt[0])


def _mean_difference(
    anchor: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    axis: str,
    method: str,
) -> tuple[float, float, float, float, float]:
    """Mean of ``y_test - y_anchor`` over the overlap of the ``x`` axes, and that overlap."""
    xa, ya = _sorted_axis(*anchor, "anchor", axis)
    xt, yt = _sorted_axis(*test, "test", axis)
    lo, hi, fa, ft = _overlap(xa, xt, axis)
    diff = (_integral(xt, yt, lo, hi, method) - _integral(xa, ya, lo, hi, method)) / (hi - lo)
    return diff, lo, hi, fa, ft


def bd_rate(
    anchor_kbps: Sequence[float] | np.ndarray,
    anchor_metric: Sequence[float] | np.ndarray,
    test_kbps: Sequence[float] | np.ndarray,
    test_metric: Sequence[float] | np.ndarray,
    method: Method = "pchip",
) -> BDResult:
    """Bjontegaard delta rate of ``test`` against ``anchor`` at equal quality.

    Args:
        anchor_kbps: anchor rates in kbit/s, > 0, one per RD point.
        anchor_metric: anchor quality per point, higher is better.
        test_kbps: test rates in kbit/s.
        test_metric: test quality per point, same metric as the anchor.
        method: ``"pchip"`` (VCEG-AI11, >= 2 points) or ``"cubic"`` (VCEG-M33, >= 4 points).

    Returns:
        :class:`BDResult` with ``value`` in percent (negative: the test saves rate) and the
        overlap in metric units.

    Raises:
        BDError: unknown method, too few points, non-finite or non-positive values,
            repeated metric values within a curve, or no metric overlap.
    """
    ra, ma = _curve(anchor_kbps, anchor_metric, "anchor", method)
    rt, mt = _curve(test_kbps, test_metric, "test", method)
    warnings = _monotone_warning(ra, ma, "anchor") + _monotone_warning(rt, mt, "test")
    diff, lo, hi, fa, ft = _mean_difference((ma, ra), (mt, rt), "metric", method)
    value = (math.pow(10.0, diff) - 1.0) * 100.0
    return BDResult(value, "rate", method, lo, hi, fa, ft, tuple(warnings))


def bd_metric(
    anchor_kbps: Sequence[float] | np.ndarray,
    anchor_metric: Sequence[float] | np.ndarray,
    test_kbps: Sequence[float] | np.ndarray,
    test_metric: Sequence[float] | np.ndarray,
    method: Method = "pchip",
) -> BDResult:
    """Bjontegaard delta metric (e.g. BD-PSNR) of ``test`` against ``anchor`` at equal rate.

    Args:
        anchor_kbps: anchor rates in kbit/s, > 0.
        anchor_metric: anchor quality per point, higher is better.
        test_kbps: test rates in kbit/s.
        test_metric: test quality per point.
        method: ``"pchip"`` (>= 2 points) or ``"cubic"`` (>= 4 points).

    Returns:
        :class:`BDResult` with ``value`` in metric units (positive: the test is better) and
        the overlap in kbit/s (fractions measured on the log-rate axis).

    Raises:
        BDError: unknown method, too few points, non-finite or non-positive values,
            repeated rates within a curve, or no rate overlap.
    """
    ra, ma = _curve(anchor_kbps, anchor_metric, "anchor", method)
    rt, mt = _curve(test_kbps, test_metric, "test", method)
    warnings = _monotone_warning(ra, ma, "anchor") + _monotone_warning(rt, mt, "test")
    diff, lo, hi, fa, ft = _mean_difference((ra, ma), (rt, mt), "rate", method)
    return BDResult(diff, "metric", method, 10.0**lo, 10.0**hi, fa, ft, tuple(warnings))


def average_bd(
    results_by_sequence: Mapping[str, BDResult | float],
    classes: Mapping[str, Iterable[str]],
    *,
    overall_classes: Iterable[str] | None = None,
) -> BDAverage:
    """Per-class and overall arithmetic means of per-sequence BD values.

    Args:
        results_by_sequence: sequence name -> :class:`BDResult` or a plain BD value. Results
            must all be of one kind (all BD-rate or all BD-metric).
        classes: class name -> names of its sequences (e.g. ``{"VoxCeleb": [...],
            "CFVQA": [...]}``).
        overall_classes: classes whose sequences enter the overall mean; all by default.

    Returns:
        :class:`BDAverage`.

    Raises:
        BDError: an empty class, a sequence without a result, an unknown class in
            ``overall_classes``, a non-finite value, or results of mixed kinds.
    """
    kinds = {r.kind for r in results_by_sequence.values() if isinstance(r, BDResult)}
    if len(kinds) > 1:
        raise BDError("cannot average BD-rate and BD-metric results together")

    def value(seq: str) -> float:
        if seq not in results_by_sequence:
            raise BDError(f"no BD result for sequence {seq!r}")
        res = results_by_sequence[seq]
        v = res.value if isinstance(res, BDResult) else float(res)
        if not math.isfinite(v):
            raise BDError(f"BD value of sequence {seq!r} is not finite: {v}")
        return v

    members = {name: list(dict.fromkeys(seqs)) for name, seqs in classes.items()}
    per_class: dict[str, float] = {}
    for name, seqs in members.items():
        if not seqs:
            raise BDError(f"class {name!r} has no sequences")
        per_class[name] = float(np.mean([value(s) for s in seqs]))
    chosen = list(members) if overall_classes is None else list(overall_classes)
    unknown = [c for c in chosen if c not in members]
    if unknown:
        raise BDError(f"overall_classes names unknown classes: {', '.join(unknown)}")
    everyone = list(dict.fromkeys(s for c in chosen for s in members[c]))
    if not everyone:
        raise BDError("no sequences for the overall average")
    return BDAverage(
        per_class=per_class,
        overall=float(np.mean([value(s) for s in everyone])),
        counts={name: len(seqs) for name, seqs in members.items()},
        overall_count=len(everyone),
    )
