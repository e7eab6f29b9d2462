"""VTM's writer-side quantisation of the GFV and GFVE SEI messages: absolute values (normalised
coordinates, matrix elements, pupil positions) -> syntax element values, with the prediction
references the decoder will reconstruct (``docs/gfv_sei.md#gfv-writer-quantisation``,
``#gfve-writer-quantisation``).

The writer state is the decoder's state object of each message (:class:`sei.messages.gfv.GFVState`,
:class:`sei.messages.gfve.GFVEState`), kept in an encoder-side :class:`sei.context.DecodingContext`,
so that every prediction reference is the decoder's reconstruction (closed loop, no drift).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from sei.messages.gfv import AXES, GFVState, element_keys, reference_value
from sei.messages.gfve import GFVEState, pupil_references, reference_element


def vtm_element(d: float, scale: int, clip: bool, carry: bool) -> tuple[int, int, float]:
    """One matrix element (or delta) ``d`` as VTM's writer codes it: ``ip = (int)|d|``,
    ``dp = (int)((|d| - ip) * 2^P + 0.5)`` with ``scale`` = 2^P.

    Args:
        d: the value (absolute, or the difference to its prediction reference).
        scale: 2^P, P the matrix element precision factor.
        clip: ``dp`` is coded with u(P): clip it to 2^P - 1 (VTM, non-predicted elements).
        carry: a ``dp`` that rounds to 2^P is carried into ``ip`` (``ip + 1``, ``dp = 0``): the
            exact value VTM's GFVE writer cannot code (it aborts).

    Returns:
        ``(ip, dp, signed reconstructed value)``; the sign is coded when ``ip`` or ``dp`` is
        non-zero.
    """
    a = math.fabs(d)
    ip = int(a)
    dp = int((a - ip) * scale + 0.5)
    if clip:
        dp = min(max(dp, 0), scale - 1)
    elif carry and dp == scale:
        ip, dp = ip + 1, 0
    mag = dp / scale + ip
    return ip, dp, -mag if d < 0 else mag


# --------------------------------------------------------------------------- GFV
def quantise_coordinates(v: dict, coords: Sequence[Sequence[float]], state: GFVState, rounding: str = "vtm") -> None:
    """Fills the coordinate syntax elements of ``v`` from absolute normalised coordinates, the
    reference of a predicted value being the writer's reconstruction.

    ``rounding="vtm"`` is VTM's writer quantisation (``docs/gfv_sei.md#gfv-writer-quantisation``):
    ``q = (int)(x * 2^Q + 0.5)`` with C truncation, so a negative value can be off by a whole step
    (-3.0 gives -2); ``"nearest"`` rounds to the nearest step (``floor(x * 2^Q + 0.5)``), which our
    encoder uses: a coordinate already on the 2^-Q grid is then reconstructed exactly.

    Args:
        v: syntax values being built; must already hold ``gfv_cnt``, ``gfv_base_picture_flag``,
            ``gfv_kps_pred_flag`` and, when coded, the precision / number / z fields.
        coords: ``[xs, ys]`` or ``[xs, ys, zs]``, each ``NumKps`` floats.
        state: writer-side :class:`GFVState` (reconstructions are stored as the decoder will).
    """
    base = bool(v.get("gfv_base_picture_flag", 0)) and v["gfv_cnt"] == 0
    pred = v["gfv_kps_pred_flag"]
    if base or not pred:
        coordinate_precision_factor = v["gfv_coordinate_precision_factor_minus1"] + 1
        z = v["gfv_coordinate_z_present_flag"]
    else:
        coordinate_precision_factor, z = state.base_coord_prec, state.base_z_present
    scale = 1 << coordinate_precision_factor
    axes = 3 if z else 2
    if base:
        state.base_xyz = [[], [], []]
        state.prev_xyz = [[], [], []]
    for a in range(axes):
        name = f"gfv_coordinate_{'d' if pred else ''}{AXES[a]}"
        mags: dict[int, int] = {}
        signs: dict[int, int] = {}
        rec: list[float] = []
        for i, x in enumerate(coords[a]):
            if pred:
                if base:
                    ref = rec[i - 1] if i else 0.0
                elif v["gfv_cnt"] == 0:
                    ref = reference_value(state.base_xyz[a], i)
                else:
                    ref = reference_value(state.prev_xyz[a], i)
            else:
                ref = 0.0
            scaled = (x - ref) * scale if pred else x * scale
            q = int(scaled + 0.5) if rounding == "vtm" else int(math.floor(scaled + 0.5))
            mags[i] = abs(q)
            if q:
                signs[i] = 1 if q <= 0 else 0
            rec.append(q / scale + ref if pred else q / scale)
        v[name + "_abs"] = mags
        v[name + "_sign_flag"] = signs
        if base:
            state.base_xyz[a] = list(rec)
        state.prev_xyz[a] = list(rec)


def quantise_matrices(
    v: dict,
    elements: Sequence[float],
    matrix_element_precision_factor: int,
    state: GFVState,
    mode: str = "vtm",
    num_kps: int = 0,
) -> None:
    """Fills the matrix element syntax of ``v`` from absolute elements (flattened in syntax
    order: type, matrix, row, column) with VTM's writer quantisation
    (``docs/gfv_sei.md#gfv-writer-quantisation``).

    Non-predicted: integer part ``ue(v)``, decimal part ``u(P)`` clipped to 2^P - 1; predicted:
    both parts of the delta ``ue(v)`` (no clip), the reference being the reconstruction.
    """
    scale = 1 << matrix_element_precision_factor
    pred = v.get("gfv_matrix_pred_flag", 0)
    base = bool(v.get("gfv_base_picture_flag", 0)) and v["gfv_cnt"] == 0
    ref_list = state.base_matrix if v["gfv_cnt"] == 0 else state.prev_matrix
    keys = element_keys(v, state, num_kps)
    pre = "gfv_matrix_delta_element" if pred else "gfv_matrix_element"
    ints: dict = {}
    decs: dict = {}
    signs: dict = {}
    rec: list[float] = []
    for n, (key, val) in enumerate(zip(keys, elements, strict=True)):
        ref = reference_value(ref_list, n) if pred else 0.0
        d = val - ref
        ip, dp, value = vtm_element(d, scale, clip=not pred, carry=False)
        ints[key], decs[key] = ip, dp
        if ip or dp:
            signs[key] = 1 if d < 0 else 0
        rec.append(value + ref)
    v[pre + "_int"], v[pre + "_dec"], v[pre + "_sign_flag"] = ints, decs, signs
    state.prev_matrix = list(rec)
    if base or mode == "vtm":
        state.base_matrix = list(rec)


# --------------------------------------------------------------------------- GFVE
def quantise_gfve_matrices(v: dict, matrices: Sequence[Sequence[Sequence[float]]], state: GFVEState) -> None:
    """Fills the matrix element syntax of ``v`` from absolute elements ``[j][k][m]`` (rows,
    columns) with VTM's writer quantisation (``SEIWriter::xWriteSEIGenerativeFaceVideoEnhancement``,
    ``docs/gfv_sei.md#gfve-writer-quantisation``): ``ip = (int)|d|``,
    ``dp = (int)((|d| - ip) * 2^P + 0.5)``, the sign of ``d`` coded when ``ip`` or ``dp`` is
    non-zero.

    Non-predicted elements clip ``dp`` to 2^P - 1 (as VTM). For predicted elements VTM writes
    ``dp`` with u(P) unclipped and aborts when it rounds to 2^P; this writer carries it into
    the integer part instead (``ip + 1``, ``dp = 0``), which is the exact value VTM could not
    code. The reference of a predicted element is the writer's reconstruction of the base
    message (``gfve_gfv_cnt`` 0) or of the previous matrix message.

    Args:
        v: syntax values being built; must hold ``gfve_gfv_cnt``, ``gfve_base_picture_flag``
            (when cnt is 0), ``gfve_matrix_pred_flag`` and, when not predicted,
            ``gfve_matrix_element_precision_factor_minus1``.
        matrices: one nested ``[row][column]`` list of floats per matrix.
        state: writer-side :class:`GFVEState` (its base values must come from the base message).
    """
    cnt = v["gfve_gfv_cnt"]
    base = cnt == 0 and bool(v.get("gfve_base_picture_flag", 0))
    pred = v.get("gfve_matrix_pred_flag", 0)
    # predicted: base_matrix_prec is set (state's base values come from the base message, see Args)
    matrix_element_precision_factor = (
        cast(int, state.base_matrix_prec) if pred else v["gfve_matrix_element_precision_factor_minus1"] + 1
    )
    scale = 1 << matrix_element_precision_factor
    ref = state.base_matrix if cnt == 0 else state.prev_matrix
    pre = "gfve_matrix_delta_element" if pred else "gfve_matrix_element"
    ints: dict = {}
    decs: dict = {}
    signs: dict = {}
    rec: list[list[list[float]]] = []
    for j, mat in enumerate(matrices):
        rows = []
        for k, row in enumerate(mat):
            out_row = []
            for m, val in enumerate(row):
                r = reference_element(ref, j, k, m) if pred else 0.0
                d = val - r
                ip, dp, value = vtm_element(d, scale, clip=not pred, carry=bool(pred))
                key = (j, k, m)
                ints[key], decs[key] = ip, dp
                if ip or dp:
                    signs[key] = 1 if d < 0 else 0
                out_row.append(value + r)
            rows.append(out_row)
        rec.append(rows)
    v[pre + "_int"], v[pre + "_dec"], v[pre + "_sign_flag"] = ints, decs, signs
    state.prev_matrix = rec
    if base:
        state.base_matrix = rec


def quantise_pupils(
    v: dict,
    left: Sequence[float] | None,
    right: Sequence[float] | None,
    pupil_coordinate_precision_factor: int,
    state: GFVEState,
) -> None:
    """Fills the pupil syntax of ``v`` from absolute pupil coordinates ``(x, y)`` with VTM's
    writer quantisation (``SEIWriter::xWriteSEIPupilCoordinate``,
    ``docs/gfv_sei.md#gfve-writer-quantisation``): ``a = (int)(|c - Ref| * 2^Pp + 0.5)``, sign
    ``(c - Ref) < 0`` coded when ``a`` != 0, the reference being the writer's reconstruction (0 in
    a base message, whose right eye is predicted from its reconstructed left eye; else the base or
    previous message's pupils).

    Args:
        v: syntax values being built; must hold ``gfve_gfv_cnt``, ``gfve_base_picture_flag``
            (when cnt is 0) and ``gfve_pupil_coordinate_present_idx``.
        left / right: the eyes coded in this message (``None`` for an absent eye).
        pupil_coordinate_precision_factor: ``Pp``. VTM's writer uses the precision configured
            for *this* message, also in non-base messages where the reader uses the base
            message's; pass the same value to stay decodable.
        state: writer-side :class:`GFVEState`; ``pupil_base_seen`` and the references are
            updated as the reader will.
    """
    cnt = v["gfve_gfv_cnt"]
    base = cnt == 0 and bool(v.get("gfve_base_picture_flag", 0))
    idx = v["gfve_pupil_coordinate_present_idx"]
    if idx and base:
        state.pupil_base_seen = True
        state.base_pupil_prec = pupil_coordinate_precision_factor
    if not state.pupil_base_seen:
        return
    scale = 1 << pupil_coordinate_precision_factor
    refs = pupil_references(base, cnt, state)
    vals = list(refs)
    for eye, coords, first in (("left", left, 0), ("right", right, 2)):
        if eye == "right" and base:
            refs[2], refs[3] = vals[0], vals[1]
            vals[2], vals[3] = vals[0], vals[1]
        if idx not in ((1, 3) if eye == "left" else (2, 3)):
            continue
        if coords is None:
            raise ValueError(f"gfve_pupil_coordinate_present_idx {idx} needs the {eye} eye coordinates")
        for a, axis in enumerate("xy"):
            name = f"gfve_pupil_{eye}_eye_d{axis}_coordinate"
            d = coords[a] - refs[first + a]
            q = int(math.fabs(d) * scale + 0.5)
            v[f"{name}_abs"] = q
            if q:
                v[f"{name}_sign_flag"] = 1 if d < 0 else 0
            else:
                v.pop(f"{name}_sign_flag", None)
            vals[first + a] = (-(q / scale) if d < 0 else q / scale) + refs[first + a]
    if base:
        state.base_pupil = list(vals)
    state.prev_pupil = list(vals)
