"""Generative face video enhancement (GFVE) SEI message, payloadType 224: state,
reconstruction, writer-side quantisation and the derived lines of VTM's SEI dump.

Syntax: :mod:`bitstream_spec.gfve`. Semantics as implemented by VTM-23.13 (JVET-AK0239;
``docs/gfv_sei.md#gfve-reconstruction``). In ``vtm`` mode the state reproduces the VTM decoder (one
global state; the base matrix dimension lists are appended by every base message and never
cleared, so the first base message's dimensions win); in ``spec`` mode the state is per
``gfve_id`` and a new base message replaces the base dimensions.

Pupil coordinates are normalised like the GFV keypoints (JVET convention, about [-1, 1]);
matrix elements are plain numbers; all values are float64 Python floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bitstream_spec import gfve as gfve_table

from ..engine import compile_syntax
from ..registry import MessageType, PayloadType, register

#: Order of the pupil coordinates in the state and in ``gfve_PupilCoordinate``.
PUPIL_ORDER = ("left_x", "left_y", "right_x", "right_y")


@dataclass
class GFVEState:
    """Parse and reconstruction state carried between GFVE messages (VTM ``SEIReader`` members
    ``gfveBase*``, ``gfvePrev*``, ``checkBasePicPupilPresentIdx``).

    Attributes:
        base_matrix_prec: ``MatrixPrec`` of the last base message with non-predicted matrices.
        base_num_matrices: its ``NumMatrices``.
        base_matrix_height / base_matrix_width: per-matrix dimensions (rows, columns).
        base_matrix / prev_matrix: reconstructed matrices ``[j][k][m]`` of the base / previous
            matrix message (prediction references).
        pupil_base_seen: ``PupilBaseSeen``: a base message with
            ``gfve_pupil_coordinate_present_idx`` != 0 has been received (sticky).
        base_pupil_prec: pupil precision factor ``Pp`` of that base message.
        base_pupil / prev_pupil: ``[left_x, left_y, right_x, right_y]`` references.
    """

    base_matrix_prec: int | None = None
    base_num_matrices: int | None = None
    base_matrix_height: list[int] = field(default_factory=list)
    base_matrix_width: list[int] = field(default_factory=list)
    base_matrix: list[list[list[float]]] = field(default_factory=list)
    prev_matrix: list[list[list[float]]] = field(default_factory=list)
    pupil_base_seen: bool = False
    base_pupil_prec: int | None = None
    base_pupil: list[float] = field(default_factory=lambda: [0.0] * 4)
    prev_pupil: list[float] = field(default_factory=lambda: [0.0] * 4)


def _update_parse_state(v: dict, state: GFVEState, ctx: Any) -> None:
    """Stores the values later messages need to be parsed (hook at the end of the syntax)."""
    base = bool(v["BasePic"])
    if base and v["gfve_matrix_present_flag"] and not v["gfve_matrix_pred_flag"]:
        n = v["NumMatrices"]
        heights = [v["MatrixHeight"][j] for j in range(n)]
        widths = [v["MatrixWidth"][j] for j in range(n)]
        state.base_matrix_prec = v["MatrixPrec"]
        state.base_num_matrices = n
        if getattr(ctx, "mode", "vtm") == "vtm":
            # VTM appends to the base dimension lists and never clears them
            # (docs/gfv_sei.md#gfve-reconstruction).
            state.base_matrix_height += heights
            state.base_matrix_width += widths
        else:
            state.base_matrix_height, state.base_matrix_width = heights, widths
    if base and v["gfve_pupil_coordinate_present_idx"]:
        state.pupil_base_seen = True
        state.base_pupil_prec = v["PupilPrec"]


def reference_element(ref: list, j: int, k: int, m: int) -> float:
    """Reference element for prediction; a missing reference (no earlier message) is 0."""
    try:
        return ref[j][k][m]
    except IndexError:
        return 0.0


def pupil_references(base: bool, cnt: int, state: GFVEState) -> list[float]:
    """References of the four pupil coordinates before decoding
    (``docs/gfv_sei.md#gfve-reconstruction``): 0 in a base message, the base pupils for a non-base
    message with ``gfve_gfv_cnt`` 0, else the previous message's pupils."""
    if cnt == 0:
        return [0.0] * 4 if base else list(state.base_pupil)
    return list(state.prev_pupil)


def reconstruct(v: dict, state: GFVEState, mode: str) -> dict:
    """Dequantises and predicts one parsed GFVE message (``docs/gfv_sei.md#gfve-reconstruction``,
    exact VTM expressions).

    Args:
        v: values from the GFVE reader (syntax elements and derived variables).
        state: the :class:`GFVEState` of this message's context (updated in place).
        mode: ``"vtm"`` or ``"spec"`` (the reconstruction itself is the same in both).

    Returns:
        ``{"matrices": [[[...]]] ([j][k][m]), "MatrixElement": flat list, "dims": [(W, H)],
        "pupil": [left_x, left_y, right_x, right_y] or None when no pupil state exists yet}``.
    """
    base = bool(v["BasePic"])
    cnt = v["gfve_gfv_cnt"]
    out: dict[str, Any] = {"matrices": [], "MatrixElement": [], "dims": [], "pupil": None}
    if v["gfve_matrix_present_flag"]:
        p = 1 << v["MatrixPrec"]
        pred = v["gfve_matrix_pred_flag"]
        ref = state.base_matrix if cnt == 0 else state.prev_matrix
        pre = "gfve_matrix_delta_element" if pred else "gfve_matrix_element"
        ints, decs, signs = v[pre + "_int"], v[pre + "_dec"], v[pre + "_sign_flag"]
        mats = []
        for j in range(v["NumMatrices"]):
            rows = []
            for k in range(v["MatrixHeight"][j]):
                row = []
                for m in range(v["MatrixWidth"][j]):
                    key = (j, k, m)
                    mag = decs[key] / p + ints[key]
                    val = -mag if signs.get(key) else mag
                    if pred:
                        val = val + reference_element(ref, j, k, m)
                    row.append(val)
                rows.append(row)
            mats.append(rows)
        out["matrices"] = mats
        out["MatrixElement"] = [x for mat in mats for row in mat for x in row]
        out["dims"] = [(v["MatrixWidth"][j], v["MatrixHeight"][j]) for j in range(v["NumMatrices"])]
        state.prev_matrix = mats
        if base:
            state.base_matrix = mats
    if v["PupilBaseSeen"]:
        idx = v["gfve_pupil_coordinate_present_idx"]
        scale = 1 << v["PupilPrec"] if idx else 1
        refs = pupil_references(base, cnt, state)
        vals = list(refs)
        for eye, first in (("left", 0), ("right", 2)):
            if eye == "right" and base:
                # In a base message the right eye is predicted from the decoded left eye.
                refs[2], refs[3] = vals[0], vals[1]
                vals[2], vals[3] = vals[0], vals[1]
            if idx in ((1, 3) if eye == "left" else (2, 3)):
                for a, axis in enumerate("xy"):
                    name = f"gfve_pupil_{eye}_eye_d{axis}_coordinate"
                    mag = v[f"{name}_abs"] / scale
                    vals[first + a] = (-mag if v.get(f"{name}_sign_flag") else mag) + refs[first + a]
        if base:
            state.base_pupil = list(vals)
        state.prev_pupil = list(vals)
        out["pupil"] = vals
    return out


def derived(label: str, v: dict, recon: dict | None) -> Any:
    """Value of a derived line of VTM's SEI dump (``docs/gfv_sei.md#vtm-sei-dump-format``)."""
    recon = recon or {}
    if label == "gfveMatrixNumber":
        return v["NumMatrices"]
    if label == "gfveMatrixWidthXHeight":
        return [f"{w}x{h}" for w, h in recon.get("dims", [])]
    if label == "gfveMatrixElement":
        return recon.get("MatrixElement", [])
    if label == "gfve_PupilCoordinate":
        return recon.get("pupil") or []
    raise KeyError(f"unknown derived GFVE trace line {label!r}")


GFVE = register(
    MessageType(
        payload_type=PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT,
        short_name="gfve",
        dump_name="Generative face video enhancement",
        syntax={"": compile_syntax(gfve_table.syntax(), {"update_parse_state": _update_parse_state})},
        new_state=GFVEState,
        reconstruct=reconstruct,
        derived=derived,
        prefix_ok=False,
    )
)
