"""Reports of a CTC run: the results CSV, a markdown summary in the JVET layout, RD plots.

* ``results.csv``: one row per sequence x codec x rate point: bits, kbit/s, the mean over the
  pictures of every metric (``not available`` when the metric cannot be computed here), encode,
  decode and metric time in seconds.
* ``summary.md``: for each test codec, the BD-rate against the anchor for each metric, per
  sequence, per class and overall (arithmetic means of per-sequence values, as in the JVET CTC
  spreadsheets), each with the overlap of the two curves; then the rate points averaged per
  class, then per sequence.
* ``plots/rd_<metric>.png``: RD curves (kbit/s on a log axis against the metric), one panel per
  sequence, per class mean and overall mean.

BD-rate is :func:`ctc.bdrate.bd_rate` over log10 kbit/s. Distortion metrics for which lower is
better (LPIPS, DISTS, and the motion metrics AKD, pose error, MKR) enter BD-rate and the plots
as ``1 - value``, as in the GFVC CTC (JVET-AG2035 reports 1-DISTS and 1-LPIPS); ``1 - x`` is
monotone, so the BD-rate is that of ``x`` itself. Per-clip metrics
(:func:`refsw.metrics.is_clip_metric`: correlations of traces, MKR) get no BD-rate (a
statistic of the whole clip, not a quality averaged over pictures); their values appear in the
rate-point tables and plots. Means over sequences skip NaN values (an undefined correlation).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refsw.metrics import is_clip_metric

from .bdrate import BDError, BDResult, average_bd, bd_rate
from .config import CtcConfig
from .jobs import NOT_AVAILABLE

logger = logging.getLogger(__name__)

__all__ = [
    "CSV_COLUMNS",
    "LOWER_IS_BETTER",
    "PER_CLIP",
    "BDTable",
    "bd_tables",
    "csv_rows",
    "metric_label",
    "plot_rd",
    "write_csv",
    "write_report",
    "write_summary",
]

#: Metrics for which lower is better; reported as ``1 - value`` in BD-rates and plots.
LOWER_IS_BETTER = frozenset({"lpips", "dists", "akd", "pose_err", "mkr"})
#: BD-rate cell of a per-clip metric.
PER_CLIP = "per clip: no BD-rate"
#: Columns before the metric columns, and after them.
CSV_COLUMNS = (
    "sequence", "class", "codec", "role", "backend", "qp", "frames", "fps", "bits", "kbps",
    "bits_key", "bits_gfv", "bits_other",
)  # fmt: skip
CSV_TIME_COLUMNS = ("encode_s", "decode_s", "metrics_s")


def _flipped(name: str) -> bool:
    """Whether ``name`` enters BD-rates and plots as ``1 - value`` (per-picture metrics only)."""
    return name in LOWER_IS_BETTER and not is_clip_metric(name)


def metric_label(name: str) -> str:
    """Name of the higher-is-better quantity used for ``name`` (``"1-dists"`` for DISTS; a
    per-clip metric keeps its name)."""
    return f"1-{name}" if _flipped(name) else name


def _oriented(name: str, value: float) -> float:
    return 1.0 - value if _flipped(name) else value


def _metric_mean(record: dict[str, Any], name: str) -> float | None:
    entry = record["metrics"].get(name)
    return entry["mean"] if entry and entry.get("status") == "ok" else None


def _sorted(records: Iterable[dict[str, Any]], cfg: CtcConfig) -> list[dict[str, Any]]:
    seq_order = {s.name: i for i, s in enumerate(cfg.sequences)}
    codec_order = {c.name: i for i, c in enumerate(cfg.codecs)}
    return sorted(
        records,
        key=lambda r: (
            seq_order.get(r["sequence"], 1 << 30),
            codec_order.get(r["codec"], 1 << 30),
            cfg.codec(r["codec"]).qps.index(r["qp"]) if r["codec"] in codec_order else r["qp"],
        ),
    )


def csv_rows(records: Iterable[dict[str, Any]], cfg: CtcConfig) -> list[dict[str, Any]]:
    """One CSV row (column -> value) per job record, in configuration order.

    Metric cells hold the mean over the pictures, or ``"not available"``.
    """
    rows = []
    for r in _sorted(records, cfg):
        row: dict[str, Any] = {c: r.get(c) for c in CSV_COLUMNS}
        for name in cfg.metrics:
            entry = r["metrics"].get(name, {})
            row[name] = entry["mean"] if entry.get("status") == "ok" else NOT_AVAILABLE
        for c in CSV_TIME_COLUMNS:
            row[c] = r.get(c)
        rows.append(row)
    return rows


def _fmt_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def write_csv(records: Iterable[dict[str, Any]], cfg: CtcConfig, path: Path) -> Path:
    """Write ``results.csv`` (see the module docstring) and return its path."""
    rows = csv_rows(records, cfg)
    columns = [*CSV_COLUMNS, *cfg.metrics, *CSV_TIME_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt_cell(row[c]) for c in columns])
    return path


# --------------------------------------------------------------------------- BD-rates


@dataclass
class BDTable:
    """BD-rates of one test codec against the anchor.

    Attributes:
        test: test codec name.
        anchor: anchor codec name.
        cells: ``(sequence, metric) -> BDResult``, or a string saying why there is none
            (``"not available"``, ``"incomplete"``, the BDError message).
        class_means: ``(class, metric) -> (mean, sequences used, sequences in class)``.
        overall: ``metric -> (mean, sequences used, sequences)``.
    """

    test: str
    anchor: str
    cells: dict[tuple[str, str], BDResult | str]
    class_means: dict[tuple[str, str], tuple[float, int, int]]
    overall: dict[str, tuple[float, int, int]]


def _curve(
    by_key: dict[tuple[str, str, int], dict[str, Any]], seq: str, codec: str, qps: Sequence[int],
    metric: str,
) -> tuple[list[float], list[float]] | str:  # fmt: skip
    kbps, values = [], []
    for qp in qps:
        rec = by_key.get((seq, codec, qp))
        if rec is None:
            return "incomplete"
        entry = rec["metrics"].get(metric, {})
        if entry.get("status") != "ok":
            return NOT_AVAILABLE
        kbps.append(rec["kbps"])
        values.append(_oriented(metric, entry["mean"]))
    return kbps, values


def bd_tables(records: Iterable[dict[str, Any]], cfg: CtcConfig) -> list[BDTable]:
    """BD-rate of every test codec against the anchor, per sequence, class and overall."""
    by_key = {(r["sequence"], r["codec"], r["qp"]): r for r in records}
    anchor = cfg.codec(cfg.anchor)
    classes: dict[str, list[str]] = {}
    for s in cfg.sequences:
        classes.setdefault(s.cls, []).append(s.name)
    tables = []
    for test in (c for c in cfg.codecs if c.role == "test"):
        if not any(k[1] == test.name for k in by_key):
            continue
        cells: dict[tuple[str, str], BDResult | str] = {}
        for s in cfg.sequences:
            for m in cfg.metrics:
                if is_clip_metric(m):
                    cells[(s.name, m)] = PER_CLIP
                    continue
                a = _curve(by_key, s.name, anchor.name, anchor.qps, m)
                t = _curve(by_key, s.name, test.name, test.qps, m)
                if isinstance(a, str):
                    cells[(s.name, m)] = a
                    continue
                if isinstance(t, str):
                    cells[(s.name, m)] = t
                    continue
                try:
                    cells[(s.name, m)] = bd_rate(*a, *t, method=cfg.bd_method)  # type: ignore[arg-type]
                except BDError as exc:
                    cells[(s.name, m)] = str(exc).splitlines()[0]
        class_means: dict[tuple[str, str], tuple[float, int, int]] = {}
        overall: dict[str, tuple[float, int, int]] = {}
        for m in cfg.metrics:
            ok = {s: r for (s, mm), r in cells.items() if mm == m and isinstance(r, BDResult)}
            used = {c: [s for s in seqs if s in ok] for c, seqs in classes.items()}
            used = {c: seqs for c, seqs in used.items() if seqs}
            if not used:
                continue
            avg = average_bd(ok, used)
            for c, seqs in used.items():
                class_means[(c, m)] = (avg.per_class[c], len(seqs), len(classes[c]))
            overall[m] = (avg.overall, avg.overall_count, len(cfg.sequences))
        tables.append(BDTable(test.name, anchor.name, cells, class_means, overall))
    return tables


def _bd_cell(cell: BDResult | str) -> str:
    if isinstance(cell, str):
        return "no overlap" if "overlap" in cell else cell
    text = f"{cell.value:+.1f} % [{100 * cell.anchor_overlap:.0f}/{100 * cell.test_overlap:.0f}]"
    return text + (" ⚠" if cell.warnings else "")


def _mean_cell(entry: tuple[float, int, int] | None, unavailable: bool) -> str:
    if entry is None:
        return NOT_AVAILABLE if unavailable else "–"
    value, used, total = entry
    return f"**{value:+.1f} %**" + (f" ({used}/{total})" if used != total else "")


# --------------------------------------------------------------------------- summary


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _num(value: float | None, digits: int) -> str:
    return NOT_AVAILABLE if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


_DIGITS = {"psnr_yuv": 2, "psnr_y": 2, "psnr_rgb": 2, "vmaf": 2, "pose_err": 2}


def _unavailable(records: Iterable[dict[str, Any]], cfg: CtcConfig) -> dict[str, str]:
    """metric -> reason, for metrics not available in at least one job."""
    out: dict[str, str] = {}
    for r in records:
        for m in cfg.metrics:
            entry = r["metrics"].get(m, {})
            if entry.get("status") == NOT_AVAILABLE:
                out.setdefault(m, entry.get("reason", ""))
    return out


def _codec_text(cfg: CtcConfig, name: str) -> str:
    c = cfg.codec(name)
    qps = "/".join(map(str, c.qps))
    if c.type == "gfvc":
        model = c.encoder.model if c.encoder else None
        return f"`{c.name}`: GFV codec, model {model}, key picture {c.backend} at QP {qps}"
    gop = "low delay" if c.low_delay else "random access"
    return f"`{c.name}`: {c.backend}, {gop}, QP {qps}"


def write_summary(
    records: Sequence[dict[str, Any]],
    cfg: CtcConfig,
    path: Path,
    *,
    run_info: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write ``summary.md`` (see the module docstring) and return its path."""
    records = _sorted(records, cfg)
    unavailable = _unavailable(records, cfg)
    labels = [metric_label(m) for m in cfg.metrics]
    lines = [f"# CTC results: {cfg.name}", ""]
    if cfg.description:
        lines += [cfg.description.strip(), ""]
    lines.append(f"* Anchor: {_codec_text(cfg, cfg.anchor)}.")
    ran = {r["codec"] for r in records}
    for c in cfg.codecs:
        if c.role == "test":
            status = "" if c.name in ran else " (not run, see the notes)"
            lines.append(f"* Test: {_codec_text(cfg, c.name)}{status}.")
    frames = sorted({s.frames for s in cfg.sequences})
    rates = sorted({s.fps for s in cfg.sequences})
    lines.append(
        f"* {len(cfg.sequences)} sequence(s), {cfg.size}x{cfg.size}, "
        f"{'/'.join(map(str, rates))} Hz, {'/'.join(map(str, frames))} pictures each; classes: "
        + ", ".join(
            f"{c} ({', '.join(s.name for s in cfg.sequences if s.cls == c)})"
            for c in dict.fromkeys(s.cls for s in cfg.sequences)
        )
        + "."
    )
    lines.append(
        f"* Metrics (mean over pictures): {', '.join(cfg.metrics)}. BD-rate: {cfg.bd_method} "
        "interpolation of log10 kbit/s over the common quality range (ctc/bdrate.py); negative = "
        "the test needs fewer bits. `[a/t]`: share (%) of the anchor's / the test's quality "
        "range inside that common range; `(n/N)` after a mean: only n of the N sequences have a "
        "BD value (the others' curves do not overlap). Lower-is-better metrics enter as 1 - value."
    )
    per_clip = [m for m in cfg.metrics if is_clip_metric(m)]
    if per_clip:
        lines.append(
            f"* Per-clip metrics (one value per clip, no BD-rate; class means skip undefined values): "
            f"{', '.join(per_clip)}."
        )
    for m, reason in unavailable.items():
        lines.append(f"* **{m}: {NOT_AVAILABLE}** ({reason}).")
    if run_info:
        lines.append(
            "* Run: "
            + ", ".join(f"{k} {v}" for k, v in run_info.items() if v is not None)
            + " (details in provenance.json)."
        )
    lines += [f"* Note: {n}" for n in notes]
    lines.append("")

    for t in bd_tables(records, cfg):
        lines += [f"## BD-rate of `{t.test}` against `{t.anchor}`", ""]
        rows: list[list[str]] = []
        for cls in dict.fromkeys(s.cls for s in cfg.sequences):
            for s in (s for s in cfg.sequences if s.cls == cls):
                rows.append([cls, s.name] + [_bd_cell(t.cells[(s.name, m)]) for m in cfg.metrics])
            rows.append(
                [cls, f"**Class {cls}**"]
                + [_mean_cell(t.class_means.get((cls, m)), m in unavailable) for m in cfg.metrics]
            )
        rows.append(["", "**Overall**"] + [_mean_cell(t.overall.get(m), m in unavailable) for m in cfg.metrics])
        lines += _table(["Class", "Sequence", *labels], rows)
        warned = sorted({s for (s, _), c in t.cells.items() if isinstance(c, BDResult) and c.warnings})
        if warned:
            lines += ["", f"⚠ non-monotone RD curve (BD-rate less reliable): {', '.join(warned)}"]
        lines.append("")

    lines += ["## Rate points (mean over the sequences of each class)", ""]
    rows = []
    for cls in dict.fromkeys(s.cls for s in cfg.sequences):
        members = {s.name for s in cfg.sequences if s.cls == cls}
        for c in cfg.codecs:
            for qp in c.qps:
                group = [
                    r for r in records
                    if r["sequence"] in members and r["codec"] == c.name and r["qp"] == qp
                ]  # fmt: skip
                if not group:
                    continue
                vals = []
                for m in cfg.metrics:
                    means = [_metric_mean(r, m) for r in group]
                    ok = [v for v in means if v is not None and math.isfinite(v)]
                    vals.append(_num(float(np.mean(ok)) if ok else None, _DIGITS.get(m, 4)))
                n = f" ({len(group)}/{len(members)})" if len(group) != len(members) else ""
                rows.append(
                    [cls + n, c.name, str(qp), f"{np.mean([r['kbps'] for r in group]):.3f}", *vals,
                     f"{np.mean([r['encode_s'] for r in group]):.1f}",
                     f"{np.mean([r['decode_s'] for r in group]):.1f}"]
                )  # fmt: skip
    lines += _table(["Class", "Codec", "QP", "kbit/s", *cfg.metrics, "enc s", "dec s"], rows)
    lines += ["", "## Rate points per sequence", ""]
    rows = [
        [r["sequence"], r["class"], r["codec"], str(r["qp"]), f"{r['kbps']:.3f}",
         *[_num(_metric_mean(r, m), _DIGITS.get(m, 4)) for m in cfg.metrics],
         f"{r['encode_s']:.1f}", f"{r['decode_s']:.1f}"]
        for r in records
    ]  # fmt: skip
    lines += _table(["Sequence", "Class", "Codec", "QP", "kbit/s", *cfg.metrics, "enc s", "dec s"], rows)
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- plots


def plot_rd(records: Sequence[dict[str, Any]], cfg: CtcConfig, out_dir: Path) -> list[Path]:
    """Write ``rd_<metric>.png`` per available metric; returns the written paths.

    Panels: each sequence, then the mean curve of each class (when a class has more than one
    sequence) and the overall mean (when there is more than one class or sequence).
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"RD plots need matplotlib ({exc}); pip install 'gfv-refsw[ctc]'") from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    out_dir.mkdir(parents=True, exist_ok=True)
    by_key = {(r["sequence"], r["codec"], r["qp"]): r for r in records}
    panels: list[tuple[str, list[str]]] = [(s.name, [s.name]) for s in cfg.sequences]
    classes = list(dict.fromkeys(s.cls for s in cfg.sequences))
    for c in classes:
        members = [s.name for s in cfg.sequences if s.cls == c]
        if len(members) > 1 and len(classes) > 1:
            panels.append((f"class {c} (mean)", members))
    if len(cfg.sequences) > 1:
        panels.append(("all (mean)", [s.name for s in cfg.sequences]))
    unavailable = _unavailable(records, cfg)
    written = []
    for m in cfg.metrics:
        if m in unavailable:
            continue
        ncols = min(4, len(panels))
        nrows = math.ceil(len(panels) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.0 * nrows), squeeze=False)
        for ax, (title, members) in zip(axes.flat, panels):
            for codec in cfg.codecs:
                xs, ys = [], []
                for qp in codec.qps:
                    recs = [by_key.get((s, codec.name, qp)) for s in members]
                    found = [r for r in recs if r is not None]
                    vals = [v for v in (_metric_mean(r, m) for r in found) if v is not None]
                    if len(vals) != len(members):
                        continue
                    xs.append(float(np.mean([r["kbps"] for r in found])))
                    ys.append(_oriented(m, float(np.mean(vals))))
                if xs:
                    style = "s--" if codec.role == "anchor" else "o-"
                    ax.plot(xs, ys, style, label=codec.name, markersize=4)
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("kbit/s", fontsize=8)
            ax.set_ylabel(metric_label(m), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="both", alpha=0.3)
        for ax in axes.flat[len(panels) :]:
            ax.axis("off")
        handles, names = axes.flat[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8)
        fig.suptitle(f"{cfg.name}: {metric_label(m)} vs rate", fontsize=10)
        fig.tight_layout(rect=(0, 0.05, 1, 0.97))
        path = out_dir / f"rd_{m}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def interop_matrix(
    records: Sequence[dict[str, Any]], cfg: CtcConfig, metric: str
) -> tuple[list[str], list[str], np.ndarray] | None:
    """The A-to-B matrix of the interoperability study (issue 17): ``(encoder models A, decoder
    models B, values (len(A), len(B)))``, each value the mean of ``metric`` over the sequences and
    rate points of the gfvc codec that encodes with A and decodes with B (``translate_to``, or A
    itself); NaN where there is no such codec or no value. ``None`` when the test has no
    translated codec."""
    cells: dict[tuple[str, str], str] = {}
    for c in cfg.codecs:
        if c.type == "gfvc" and c.encoder is not None and not c.frozen:
            cells[(c.encoder.model, c.translate_to or c.encoder.model)] = c.name
    if not any(a != b for a, b in cells):
        return None
    sources = list(dict.fromkeys(a for a, _ in cells))
    targets = list(dict.fromkeys(b for _, b in cells))
    values = np.full((len(sources), len(targets)), np.nan)
    for (a, b), name in cells.items():
        recs = [r for r in records if r["codec"] == name]
        found = [r["kbps"] for r in recs] if metric == "kbps" else [_metric_mean(r, metric) for r in recs]
        vals = [float(v) for v in found if v is not None]
        if vals:
            values[sources.index(a), targets.index(b)] = float(np.mean(vals))
    return sources, targets, values


def plot_interop(records: Sequence[dict[str, Any]], cfg: CtcConfig, out_dir: Path) -> list[Path]:
    """Write ``interop_<metric>.png`` per available metric and for the rate: a heat map of
    :func:`interop_matrix` (rows: encoder model A, columns: decoder model B, the diagonal the
    native decodes), each cell annotated; nothing for a test without a translated codec."""
    if not any(c.translate_to for c in cfg.codecs):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    unavailable = _unavailable(records, cfg)
    written = []
    for m in ["kbps"] + [x for x in cfg.metrics if x not in unavailable]:
        found = interop_matrix(records, cfg, m)
        if found is None:
            continue
        sources, targets, values = found
        fig, ax = plt.subplots(figsize=(1.2 * len(targets) + 2.0, 1.0 * len(sources) + 1.5))
        image = ax.imshow(values, cmap="viridis_r" if m == "kbps" or _flipped(m) else "viridis")
        for i in range(len(sources)):
            for j in range(len(targets)):
                if not np.isnan(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.3g}", ha="center", va="center", color="white", fontsize=8)
        ax.set_xticks(range(len(targets)), targets)
        ax.set_yticks(range(len(sources)), sources)
        ax.set_xlabel("decoder model B (generator)")
        ax.set_ylabel("encoder model A (stream)")
        label = "rate of A's stream (kbit/s)" if m == "kbps" else metric_label(m)
        ax.set_title(f"{cfg.name}: {label}, A decoded by B", fontsize=10)
        fig.colorbar(image, ax=ax)
        fig.tight_layout()
        path = out_dir / f"interop_{m}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def write_report(
    records: Sequence[dict[str, Any]],
    cfg: CtcConfig,
    out_dir: Path,
    *,
    run_info: dict[str, Any] | None = None,
    notes: Sequence[str] = (),
) -> list[Path]:
    """Write ``results.csv``, ``summary.md``, ``plots/rd_*.png`` and, for an interoperability
    test, ``plots/interop_*.png`` (:func:`plot_interop`) into ``out_dir``."""
    return [
        write_csv(records, cfg, out_dir / "results.csv"),
        write_summary(records, cfg, out_dir / "summary.md", run_info=run_info, notes=notes),
        *plot_rd(records, cfg, out_dir / "plots"),
        *plot_interop(records, cfg, out_dir / "plots"),
    ]
