"""Generative face video (GFV) SEI message, payloadType 223: state, reconstruction and the derived
lines of VTM's SEI dump (the writer's quantisation is the encoder's: :mod:`refsw.encoder.quantise`).

Syntax: :mod:`bitstream_spec.gfv`. Semantics as implemented by VTM-23.13 (JVET-AJ0207, JVET-AK0238,
JVET-AM0334; ``docs/gfv_sei.md#gfv-reconstruction`` to ``#gfv-decoder-state``). In ``vtm`` mode the
state reproduces the VTM decoder exactly (one global state, base matrices overwritten by every
matrix message, base matrix dimensions appended and never cleared); in ``spec`` mode the state is
per ``gfv_id`` and base values change only with base messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from bitstream_spec import gfv as gfv_table

from ..compact import ElementArray
from ..engine import compile_syntax
from ..registry import MessageType, PayloadType, register

#: VTM's decoder defaults printed when no chroma key value / threshold is signalled (Variant C).
DEFAULT_CHROMA_KEY = (50, 220, 100)
DEFAULT_THR_LOWER = 48
DEFAULT_THR_UPPER_DELTA_MINUS1 = 26


@dataclass
class GFVState:
    """Parse and reconstruction state carried between GFV messages (VTM ``SEIReader`` members).

    Coordinates are normalised (the JVET convention: [-1, 1] across the picture), matrix
    elements are plain numbers; all lists are float64 Python floats.
    """

    base_coord_prec: int | None = None
    base_num_kps: int | None = None
    base_z_present: int | None = None
    base_z_max: int | None = None
    base_matrix_prec: int | None = None
    base_num_matrix_types: int | None = None
    base_num_matrices: list[int] = field(default_factory=list)
    base_matrix_height: list[int] = field(default_factory=list)
    base_matrix_width: list[int] = field(default_factory=list)
    base_matrix_type_idx: list[int] = field(default_factory=list)
    base_xyz: list[list[float]] = field(default_factory=lambda: [[], [], []])
    prev_xyz: list[list[float]] = field(default_factory=lambda: [[], [], []])
    base_matrix: list[float] = field(default_factory=list)
    prev_matrix: list[float] = field(default_factory=list)
    mode: str = "vtm"


def _update_parse_state(v: dict, state: GFVState, ctx: Any) -> None:
    """Stores the values later messages need to be parsed (hook at the end of the syntax)."""
    if not v["BasePic"]:
        return
    if v["gfv_coordinate_present_flag"]:
        state.base_coord_prec = v["CoordPrec"]
        state.base_num_kps = v["NumKps"]
        state.base_z_present = v["ZPresent"]
        state.base_z_max = v.get("gfv_coordinate_z_max_value_minus1", -1) + 1
    if v["gfv_matrix_present_flag"] and not v["gfv_matrix_pred_flag"]:
        state.base_matrix_prec = v["MatrixPrec"]
        state.base_num_matrix_types = v["NumMatrixTypes"]
        n = v["NumMatrixTypes"]
        dims = (
            [v["NumMatrices"][i] for i in range(n)],
            [v["MatrixHeight"][i] for i in range(n)],
            [v["MatrixWidth"][i] for i in range(n)],
        )
        types = [v["gfv_matrix_type_idx"][i] for i in range(n)]
        if getattr(ctx, "mode", "vtm") == "vtm":
            # VTM appends to the base dimension lists and never clears them
            # (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 4).
            state.base_num_matrices += dims[0]
            state.base_matrix_height += dims[1]
            state.base_matrix_width += dims[2]
            state.base_matrix_type_idx += types
        else:
            state.base_num_matrices, state.base_matrix_height, state.base_matrix_width = dims
            state.base_matrix_type_idx = types


AXES = ("x", "y", "z")


def reconstruct(v: dict, state: GFVState, mode: str) -> dict:
    """Dequantises and predicts one parsed GFV message (``docs/gfv_sei.md#gfv-reconstruction``,
    exact VTM expressions).

    Args:
        v: values from the GFV reader (syntax elements and derived variables; indexed elements
            in syntax order, as the reader stores them).
        state: the :class:`GFVState` of this message's context (updated in place).
        mode: ``"vtm"`` or ``"spec"``.

    Returns:
        ``{"X": [...], "Y": [...], "Z": [...], "matrices": [(type_idx, nested [j][k][m] list), ...],
        "MatrixElement": [...]}``; coordinates normalised, float64; absent parts are empty lists.
    """
    base = bool(v["BasePic"])
    cnt = v["gfv_cnt"]
    out: dict[str, Any] = {"X": [], "Y": [], "Z": [], "matrices": [], "MatrixElement": []}
    if v["gfv_coordinate_present_flag"]:
        _reconstruct_coordinates(v, state, base, cnt, out)
    if v["gfv_matrix_present_flag"]:
        flat = _reconstruct_matrix_elements(v, state.base_matrix if cnt == 0 else state.prev_matrix)
        pred = v["gfv_matrix_pred_flag"]
        types, nums, heights, widths = v["gfv_matrix_type_idx"], v["NumMatrices"], v["MatrixHeight"], v["MatrixWidth"]
        pos = 0
        for i in range(v["NumMatrixTypes"]):
            n, h, w = nums[i], heights[i], widths[i]
            rows = [flat[o : o + w] for o in range(pos, pos + n * h * w, w)]
            mats = [rows[o : o + h] for o in range(0, n * h, h)]
            pos += n * h * w
            out["matrices"].append((state.base_matrix_type_idx[i] if pred else types[i], mats))
        out["MatrixElement"] = flat
        state.prev_matrix = list(flat)
        if mode == "vtm" or base:
            # VTM overwrites the base matrices after every matrix message
            # (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 3).
            state.base_matrix = list(flat)
    return out


def _reconstruct_coordinates(v: dict, state: GFVState, base: bool, cnt: int, out: dict) -> None:
    """``X``/``Y``/``Z`` (``docs/gfv_sei.md#gfv-reconstruction``): ``s * abs / 2^Q``, plus the
    reference when predicted (previous keypoint of a base message, else the base or previous
    message)."""
    q = 1 << v["CoordPrec"]
    num = v["NumKps"]
    pred = v["gfv_kps_pred_flag"]
    if base:
        state.base_xyz = [[], [], []]
        state.prev_xyz = [[], [], []]
    for a in range(3 if v["ZPresent"] else 2):
        name = f"gfv_coordinate_{'d' if pred else ''}{AXES[a]}"
        mags = v[name + "_abs"]
        signs = v[name + "_sign_flag"]
        vals = [(-(mag / q) if signs[i] else mag / q) if mag else 0.0 for i, mag in mags.items()]
        if pred:
            if base:
                for i in range(1, num):
                    vals[i] = vals[i] + vals[i - 1]
                vals[0] = vals[0] + 0.0
            else:
                ref = state.base_xyz[a] if cnt == 0 else state.prev_xyz[a]
                known = min(len(ref), num)
                vals = [x + r for x, r in zip(vals, ref)] + [x + 0.0 for x in vals[known:]]
        if base:
            state.base_xyz[a] = list(vals)
        state.prev_xyz[a] = list(vals)
        out["XYZ"[a]] = vals


def _reconstruct_matrix_elements(v: dict, ref: list[float]) -> list[float]:
    """All matrix elements of a message in syntax order (type, matrix, row, column):
    ``s * (dec / 2^P + int)``, plus the reference element when predicted."""
    # A float divisor gives the same correctly rounded quotient as VTM's (double)dec / (1 << P)
    # (dec < 2^53, the divisor a power of two) and is cheaper than int / int.
    p = float(1 << v["MatrixPrec"])
    pre = "gfv_matrix_delta_element" if v["gfv_matrix_pred_flag"] else "gfv_matrix_element"
    ints, decs, signs = v[pre + "_int"], v[pre + "_dec"], v[pre + "_sign_flag"]
    packed = ints.to_numpy() if isinstance(ints, ElementArray) else None
    if packed is not None and isinstance(decs, ElementArray) and isinstance(signs, ElementArray):
        # Millions of elements: the same IEEE operations as below, on arrays.
        keys, ip = packed
        dec = cast(tuple, decs.to_numpy())[1]
        mag = dec.astype(np.float64) / p + ip.astype(np.float64)
        negative = np.zeros(len(keys), dtype=bool)
        sign_arrays = signs.to_numpy()
        if sign_arrays is not None:
            negative[np.searchsorted(keys, sign_arrays[0][sign_arrays[1] != 0])] = True
        else:
            negative[[ints.position(key) for key, s in signs.items() if s]] = True
        return _predict(np.where(negative, -mag, mag).tolist(), v, ref)
    ints, decs, signs = (a.plain or {} if isinstance(a, ElementArray) else a for a in (ints, decs, signs))
    sign = signs.get
    # The reader fills the _int and _dec dicts in the same loop, so their orders agree:
    # s * (dec / 2^P + int), VTM's (double)dec / (1 << P) + int.
    flat = [-(d / p + i) if sign(key) else d / p + i for (key, i), d in zip(ints.items(), decs.values())]
    return _predict(flat, v, ref)


def _predict(flat: list[float], v: dict, ref: list[float]) -> list[float]:
    """``flat`` plus the reference elements when the message's matrices are predicted."""
    if v["gfv_matrix_pred_flag"]:
        known = min(len(ref), len(flat))
        flat = [x + r for x, r in zip(flat, ref)] + [x + 0.0 for x in flat[known:]]
    return flat


def reference_value(values: list[float], i: int) -> float:
    """Reference value for prediction; a missing reference (no earlier message) is 0."""
    return values[i] if i < len(values) else 0.0


def derived(label: str, v: dict, recon: dict | None) -> Any:
    """Value of a derived line of VTM's SEI dump (``docs/gfv_sei.md#vtm-sei-dump-format``)."""
    if label == "gfv_chroma_key_value":
        present = [v["gfv_chroma_key_value"][c] for c in range(3) if v["gfv_chroma_key_value_present_flag"].get(c)]
        return present or list(DEFAULT_CHROMA_KEY)
    if label == "gfv_chroma_key_thr_lower":
        return (
            v.get("gfv_chroma_key_thr_lower", DEFAULT_THR_LOWER)
            if v.get("gfv_chroma_key_thr_present_flag")
            else DEFAULT_THR_LOWER
        )
    if label == "gfv_chroma_key_thr_upper_delta_minus1":
        return (
            v.get("gfv_chroma_key_thr_upper_delta_minus1")
            if v.get("gfv_chroma_key_thr_present_flag")
            else DEFAULT_THR_UPPER_DELTA_MINUS1
        )
    if label == "gfv_chroma_key_thr_value":
        defaults = (48, 75)
        return [
            v["gfv_chroma_key_thr_value"][c] if v["gfv_chroma_key_thr_present_flag"].get(c) else defaults[c]
            for c in range(2)
        ]
    recon = recon or {}
    if label == "gfv_coordinate_Xtensor":
        return recon.get("X", [])
    if label == "gfv_coordinate_Ytensor":
        return recon.get("Y", [])
    if label == "gfv_coordinate_Ztensor":
        return recon.get("Z", [])
    if label == "gfv_MatrixElement":
        return recon.get("MatrixElement", [])
    raise KeyError(f"unknown derived GFV trace line {label!r}")


def element_keys(v: dict, state: GFVState, num_kps: int) -> list[tuple[int, int, int, int]]:
    """Matrix element index tuples ``(i, j, k, m)`` (type entry, matrix, row, column) of a
    message in syntax order, from its syntax values or, when predicted, the base message's
    dimensions in ``state``."""
    z_present = 0
    if v.get("gfv_coordinate_present_flag", 0):
        base = bool(v.get("gfv_base_picture_flag", 0)) and v["gfv_cnt"] == 0
        coded = base or not v.get("gfv_kps_pred_flag", 0)
        z_present = v.get("gfv_coordinate_z_present_flag", 0) if coded else (state.base_z_present or 0)
    if v.get("gfv_matrix_pred_flag", 0):
        dims = list(zip(state.base_num_matrices, state.base_matrix_height, state.base_matrix_width))
        dims = dims[: state.base_num_matrix_types]
    else:
        dims = [matrix_dims(v, i, num_kps, z_present) for i in range(v["gfv_num_matrix_types_minus1"] + 1)]
    return [(i, j, k, m) for i, (nm, h, w) in enumerate(dims) for j in range(nm) for k in range(h) for m in range(w)]


def matrix_dims(v: dict, i: int, num_kps: int, z_present: int) -> tuple[int, int, int]:
    """``(NumMatrices[i], MatrixHeight[i], MatrixWidth[i])`` of matrix type entry ``i`` of a
    non-predicted message (``docs/gfv_sei.md#gfv-matrix-types``), from its syntax values and the
    message's ``NumKps`` / ``ZPresent``."""
    t = v["gfv_matrix_type_idx"][i]
    coords = v.get("gfv_coordinate_present_flag", 0)
    space3d = z_present if coords else v.get("gfv_matrix_3d_space_flag", {}).get(i, 0)
    if t <= 1:
        if v["gfv_num_matrices_equal_to_num_kps_flag"][i]:
            nm = num_kps
        else:
            info = v["gfv_num_matrices_info"][i]
            nm = info + 1 if info < num_kps - 1 else info + 2
        return nm, space3d + 2, space3d + 2
    if t in (2, 3) or t >= 7:
        nm = v["gfv_num_matrices_minus1"][i] + 1 if t >= 7 else 1
        return nm, v["gfv_matrix_height_minus1"][i] + 1, v["gfv_matrix_width_minus1"][i] + 1
    return 1, space3d + 2, 1 if t in (5, 6) else space3d + 2


GFV = register(
    MessageType(
        payload_type=PayloadType.GENERATIVE_FACE_VIDEO,
        short_name="gfv",
        dump_name="Generative face video",
        syntax={
            var: compile_syntax(gfv_table.syntax(var), {"update_parse_state": _update_parse_state})
            for var in ("C", "B")
        },
        new_state=GFVState,
        reconstruct=reconstruct,
        derived=derived,
        prefix_ok=False,
    )
)
