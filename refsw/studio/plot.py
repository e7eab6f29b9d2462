"""The studio's parameter plot: the decoded per-picture parameters over time, as a PNG drawn by
matplotlib (Agg, no display), with where the axes lie so the page can draw its cursor.

For ``sem3d`` streams the curves are the semantics (``refsw.models.sem3d``) in the units and signs
of the edit keys (:mod:`refsw.decoder.edits`), so a slider's edit shifts its curve by its value:
yaw, pitch and roll in degrees from the carried head rotation (intrinsic Y-X-Z angles,
:func:`refsw.metrics.face68.rotation_to_euler`, with yaw and pitch negated: +yaw turns the face to
the picture's right, +pitch up, +roll clockwise), the zoom relative to the first picture and the
translation in picture widths / heights from the type-5 matrix, eye openness and mouth opening
(ratios) from types 3 and 2. Other models show their first parameters as they are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from refsw.metrics.face68 import rotation_to_euler
from refsw.models.sem3d import EYES, MOUTH, ROT, TRANS

#: Raw parameters drawn for a model without named curves.
MAX_RAW_CURVES = 8


@dataclass(frozen=True)
class PlotImage:
    """A rendered plot.

    Attributes:
        png: the PNG file's bytes.
        axes: ``(left, right)`` of the time axis as fractions of the image width, and
            ``(first, last)`` picture index at those two edges: the page maps a picture index
            to an x position with them.
    """

    png: bytes
    axes: tuple[float, float]
    span: tuple[float, float]


def named_curves(
    params: np.ndarray, generator: str | None, zoom_reference: float | None = None
) -> dict[str, tuple[np.ndarray, str]]:
    """Curves to draw from per-picture parameters ``params`` ``(N, D)`` float64 (NaN rows: no
    generator), by label: ``(values (N,), panel)``, panel ``"pose"`` (degrees), ``"zoom"``
    (factor against ``zoom_reference``, a ln(scale); default: the first picture's),
    ``"translation"`` (picture widths / heights) or ``"face"`` (ratios)."""
    n = len(params)
    if params.shape[1] == 0:
        return {}
    if generator != "sem3d":
        return {f"p{i}": (params[:, i], "face") for i in range(min(MAX_RAW_CURVES, params.shape[1]))}
    euler = np.full((n, 3), np.nan)
    for i, row in enumerate(params):
        if np.all(np.isfinite(row[ROT])):
            u, _, vt = np.linalg.svd(row[ROT].reshape(3, 3))
            euler[i] = rotation_to_euler(u @ vt)
    t = params[:, TRANS]
    log_scale = t[:, 2]
    if zoom_reference is None:
        zoom_reference = first_log_scale(params)
    return {
        "yaw": (-euler[:, 0], "pose"),
        "pitch": (-euler[:, 1], "pose"),
        "roll": (euler[:, 2], "pose"),
        "zoom": (np.exp(log_scale - zoom_reference), "zoom"),
        "tx": (t[:, 0] / 2, "translation"),  # normalised units span 2 across the picture
        "ty": (t[:, 1] / 2, "translation"),
        "eye_left": (params[:, EYES.start], "face"),
        "eye_right": (params[:, EYES.start + 1], "face"),
        "mouth": (params[:, MOUTH.start], "face"),
    }


def parameter_table(params: Sequence[np.ndarray | None]) -> np.ndarray:
    """``(N, D)`` float64: each picture's parameters (:attr:`refsw.decoder.DecodedVideo.params`)
    flattened into a row (kptps' ``(K, 2)`` keypoints: ``2K`` values); NaN rows for ``None``."""
    dim = max((np.size(p) for p in params if p is not None), default=0)
    table = np.full((len(params), dim), np.nan)
    for i, p in enumerate(params):
        if p is not None:
            table[i] = np.ravel(p)
    return table


def first_log_scale(params: np.ndarray) -> float:
    """The ln(scale) of the first sem3d picture with parameters (0 when none has)."""
    log_scale = params[:, TRANS.stop - 1] if params.shape[1] >= TRANS.stop else np.zeros(0)
    finite = log_scale[np.isfinite(log_scale)]
    return float(finite[0]) if len(finite) else 0.0


PANEL_TITLES = {
    "pose": "head pose (degrees)",
    "zoom": "zoom (x picture 0)",
    "translation": "translation (picture widths, heights)",
    "face": "eyes, mouth (ratios)",
}


def parameter_plot(
    params: np.ndarray,
    generator: str | None,
    kinds: list[str],
    edited: np.ndarray | None = None,
    width_px: int = 900,
) -> PlotImage:
    """The parameter plot of a stream.

    Args:
        params: ``(N, D)`` float64 decoded parameters per output picture
            (:func:`parameter_table` of :attr:`refsw.decoder.DecodedVideo.params`).
        generator: the stream's model name (``DecodedVideo.generator``).
        kinds: ``(N,)`` picture kinds (``PictureLog.kind``): key pictures get a vertical line.
        edited: ``(N, D)`` parameters of the edited rendering, drawn dashed, or ``None``.
        width_px: image width in pixels (height follows).

    Returns:
        :class:`PlotImage`.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    curves = named_curves(params, generator)
    reference = first_log_scale(params) if generator == "sem3d" else None
    edited_curves = named_curves(edited, generator, reference) if edited is not None else {}
    panels = [p for p in PANEL_TITLES if any(panel == p for _, panel in curves.values())] or ["face"]
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, 1.25 * len(panels) + 0.5), dpi=dpi)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    x = np.arange(len(params))
    for ax, panel in zip(axes, panels, strict=True):
        for label, (values, where) in curves.items():
            if where != panel:
                continue
            (line,) = ax.plot(x, values, label=label, linewidth=1.2)
            if label in edited_curves:
                ax.plot(x, edited_curves[label][0], linestyle="--", linewidth=1.0, color=line.get_color())
        for i, kind in enumerate(kinds):
            if kind == "key":
                ax.axvline(i, color="0.6", linewidth=0.8, linestyle=":")
        ax.set_title(PANEL_TITLES[panel], fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if curves:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    axes[-1].set_xlabel("picture (dotted: key pictures; dashed: edited)", fontsize=8)
    last = max(len(params) - 1, 1)
    axes[-1].set_xlim(0, last)
    fig.subplots_adjust(left=0.07, right=0.86, top=0.95, bottom=0.12, hspace=0.45)
    box = axes[-1].get_position()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return PlotImage(buf.getvalue(), (float(box.x0), float(box.x1)), (0.0, float(last)))
