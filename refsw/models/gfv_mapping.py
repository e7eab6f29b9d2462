"""Mapping of a model's per-picture parameter vector onto GFV SEI syntax values (and back).

A :class:`GFVLayout` says which slices of the flat parameter vector ``(D,)`` float64 are sent as
GFV coordinates (2-D or 3-D keypoints) and which as matrices of a given ``gfv_matrix_type_idx``
(``docs/gfv_sei.md#gfv-matrix-types``). :class:`LayoutMapping` writes one GFV message per picture:
the base message (``gfv_cnt`` 0) describes everything (precision factors, number of keypoints,
matrix types and sizes) and names the generator (``gfv_nn_present_flag`` 1, ``gfv_nn_mode_idc``
1, ``gfv_uri``); every other message predicts coordinates and matrix elements from the previous
message's reconstruction (``gfv_kps_pred_flag`` = ``gfv_matrix_pred_flag`` = 1) unless the layout
says otherwise. The reference of each prediction is the decoder's reconstruction, so the
encoder and the decoder never drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sei.context import DecodingContext

from .interface import URI_TAG, ModelError, RepresentationMismatch

#: Largest precision factor written (``gfv_*_precision_factor_minus1`` + 1).
MAX_PRECISION_FACTOR = 31
from sei.messages.gfv import quantise_coordinates, quantise_matrices
from sei.registry import PayloadType
from sei.sei_message import write_payload


@dataclass(frozen=True)
class MatrixEntry:
    """One ``gfv_matrix_type_idx`` entry.

    Attributes:
        type_idx: ``gfv_matrix_type_idx`` (0 Jacobian per keypoint, 4 head rotation,
            5 head translation, 7 compact feature...).
        num: number of matrices (type 0/1: must equal the number of keypoints, sent with
            ``gfv_num_matrices_equal_to_num_kps_flag`` = 1).
        height / width: rows / columns of each matrix.
        start: first index of its elements in the parameter vector (row-major per matrix).
    """

    type_idx: int
    num: int
    height: int
    width: int
    start: int

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.num * self.height * self.width


@dataclass(frozen=True)
class GFVLayout:
    """Where the parameters go in the GFV message.

    Attributes:
        dim: length D of the parameter vector.
        num_kps: keypoints sent as GFV coordinates (0: none).
        z: the keypoints are 3-D (``gfv_coordinate_z_present_flag`` 1).
        coord_start: index of the first coordinate in the parameter vector; keypoint ``i`` axis
            ``a`` is at ``coord_start + i * (2 + z) + a``.
        matrices: matrix type entries in syntax order.
        coordinate_precision_factor: ``gfv_coordinate_precision_factor_minus1`` + 1 (step 2^-Q
            in normalised units), 1..31.
        matrix_element_precision_factor: ``gfv_matrix_element_precision_factor_minus1`` + 1
            (step 2^-P), 1..31.

    Raises:
        ModelError: a precision factor outside 1..31 (the syntax allows 32, where VTM's
            ``1 << 32`` is undefined behaviour: ``docs/gfv_sei.md``).
        kps_pred: ``gfv_kps_pred_flag`` of the base and the other messages.
        matrix_pred: ``gfv_matrix_pred_flag`` of the non-base messages.
    """

    dim: int
    num_kps: int = 0
    z: bool = False
    coord_start: int = 0
    matrices: tuple[MatrixEntry, ...] = field(default_factory=tuple)
    coordinate_precision_factor: int = 7
    matrix_element_precision_factor: int = 7
    kps_pred: bool = True
    matrix_pred: bool = True

    def __post_init__(self) -> None:
        for name in ("coordinate_precision_factor", "matrix_element_precision_factor"):
            if not 1 <= getattr(self, name) <= MAX_PRECISION_FACTOR:
                raise ModelError(f"{name} {getattr(self, name)} outside 1..{MAX_PRECISION_FACTOR}")

    def with_precision(self, coord: int | None = None, matrix: int | None = None) -> GFVLayout:
        """A copy with other precision factors."""
        from dataclasses import replace

        return replace(self, coordinate_precision_factor=coord or self.coordinate_precision_factor,
                       matrix_element_precision_factor=matrix or self.matrix_element_precision_factor)

    def quantise(self, params: np.ndarray) -> np.ndarray:
        """``params`` ``(..., D)`` rounded to the nearest point of the coordinate / matrix grids.
        Values on the grids are sent exactly (:meth:`LayoutMapping.snap` clips coordinates to
        [-1, 1] first); off-grid values may be written one step away (VTM's writer clips the
        fractional part instead of carrying)."""
        out = np.array(params, dtype=np.float64, copy=True)
        axes = 3 if self.z else 2
        if self.num_kps:
            s = slice(self.coord_start, self.coord_start + self.num_kps * axes)
            out[..., s] = np.floor(out[..., s] * 2 ** self.coordinate_precision_factor + 0.5) / 2 ** self.coordinate_precision_factor
        for m in self.matrices:
            s = slice(m.start, m.start + m.size)
            out[..., s] = np.round(out[..., s] * 2 ** self.matrix_element_precision_factor) / 2 ** self.matrix_element_precision_factor
        return out


class LayoutMapping:
    """Parameter vectors <-> GFV messages for one :class:`GFVLayout`.

    Args:
        layout: the layout.
        uri_tag / uri: ``gfv_uri_tag`` / ``gfv_uri`` of the base message (the generator).
    """

    def __init__(self, layout: GFVLayout, uri: str, uri_tag: str = URI_TAG) -> None:
        self.layout = layout
        self.uri_tag = uri_tag
        self.uri = uri

    def messages(self, params: np.ndarray, low_confidence: np.ndarray, ctx: DecodingContext,
                 gfv_id: int = 0) -> list[tuple[bytes, dict]]:
        """GFV payloads of one key-picture segment.

        Args:
            params: ``(N, D)`` float64; row 0 belongs to the key picture (base message).
            low_confidence: ``(N,)`` bool (``gfv_low_confidence_face_parameter_flag``).
            ctx: encoder-side context (writer prediction state).
            gfv_id: ``gfv_id`` of every message.

        Returns:
            ``(payload_bytes, syntax_values)`` per picture in ``gfv_cnt`` order.

        Raises:
            ValueError: ``params`` is not ``(N, D)``.
        """
        lay = self.layout
        params = np.asarray(params, dtype=np.float64)
        if params.ndim != 2 or params.shape[1] != lay.dim:
            raise ValueError(f"expected (N, {lay.dim}) parameters, got {params.shape}")
        state = ctx.select_state(PayloadType.GENERATIVE_FACE_VIDEO, gfv_id)
        axes = 3 if lay.z else 2
        out = []
        for cnt, p in enumerate(params):
            base = cnt == 0
            v: dict[str, Any] = {"gfv_id": gfv_id, "gfv_cnt": cnt, "gfv_low_confidence_face_parameter_flag":
                                 int(low_confidence[cnt]), "gfv_coordinate_present_flag": int(lay.num_kps > 0),
                                 "gfv_matrix_present_flag": int(bool(lay.matrices))}
            if base:
                v.update(gfv_base_picture_flag=1, gfv_nn_present_flag=1, gfv_nn_mode_idc=1,
                         gfv_uri_tag=self.uri_tag, gfv_uri=self.uri, gfv_chroma_key_info_present_flag=0)
            if lay.num_kps:
                v["gfv_kps_pred_flag"] = int(lay.kps_pred)
                if base or not lay.kps_pred:
                    v.update(gfv_coordinate_precision_factor_minus1=lay.coordinate_precision_factor - 1,
                             gfv_num_kps_minus1=lay.num_kps - 1, gfv_coordinate_z_present_flag=int(lay.z))
                    if lay.z:
                        v["gfv_coordinate_z_max_value_minus1"] = 0
                kp = p[lay.coord_start:lay.coord_start + lay.num_kps * axes].reshape(lay.num_kps, axes)
                kp = np.clip(kp, -1.0, 1.0)
                quantise_coordinates(v, [kp[:, a].tolist() for a in range(axes)], state, rounding="nearest")
            if lay.matrices:
                pred = 0 if base else int(lay.matrix_pred)
                if not base:
                    v["gfv_matrix_pred_flag"] = pred
                if not pred:
                    v.update(gfv_matrix_element_precision_factor_minus1=lay.matrix_element_precision_factor - 1,
                             gfv_num_matrix_types_minus1=len(lay.matrices) - 1,
                             gfv_matrix_type_idx={i: m.type_idx for i, m in enumerate(lay.matrices)})
                    eq, w, h, nm = {}, {}, {}, {}
                    for i, m in enumerate(lay.matrices):
                        if m.type_idx <= 1:
                            eq[i] = 1
                        elif m.type_idx in (2, 3) or m.type_idx >= 7:
                            if m.type_idx >= 7:
                                nm[i] = m.num - 1
                            w[i], h[i] = m.width - 1, m.height - 1
                    v.update(gfv_num_matrices_equal_to_num_kps_flag=eq, gfv_num_matrices_info={},
                             gfv_num_matrices_minus1=nm, gfv_matrix_width_minus1=w, gfv_matrix_height_minus1=h,
                             gfv_matrix_3d_space_flag={})
                elems = np.concatenate([p[m.start:m.start + m.size] for m in lay.matrices])
                quantise_matrices(v, elems.tolist(), lay.matrix_element_precision_factor, state, num_kps=lay.num_kps)
            out.append(write_payload(PayloadType.GENERATIVE_FACE_VIDEO, v, ctx))
        return out

    def snap(self, params: np.ndarray) -> np.ndarray:
        """``params`` ``(..., D)`` on the GFV grids (coordinates clipped to [-1, 1]): what the
        decoder reconstructs when they are sent."""
        lay = self.layout
        p = np.array(params, dtype=np.float64, copy=True)
        if lay.num_kps:
            s = slice(lay.coord_start, lay.coord_start + lay.num_kps * (3 if lay.z else 2))
            p[..., s] = np.clip(p[..., s], -1.0, 1.0)
        return lay.quantise(p)

    def params(self, recon: dict) -> np.ndarray:
        """``(D,)`` float64 parameters from a reconstructed GFV message (:func:`sei.messages.gfv.reconstruct`).

        Raises:
            RepresentationMismatch: the message does not carry this layout.
        """
        lay = self.layout
        out = np.zeros(lay.dim, dtype=np.float64)
        axes = 3 if lay.z else 2
        if lay.num_kps:
            cols = [recon.get(a, []) for a in "XYZ"[:axes]]
            if any(len(c) != lay.num_kps for c in cols) or bool(recon.get("Z")) != lay.z:
                raise RepresentationMismatch(f"expected {lay.num_kps} {axes}-D keypoints, the GFV message has "
                                             f"{len(cols[0])} ({'3-D' if recon.get('Z') else '2-D'})")
            out[lay.coord_start:lay.coord_start + lay.num_kps * axes] = np.stack(cols, 1).reshape(-1)
        if lay.matrices:
            types = [t for t, _ in recon.get("matrices", [])]
            want = [m.type_idx for m in lay.matrices]
            flat = recon.get("MatrixElement", [])
            if types != want or len(flat) != sum(m.size for m in lay.matrices):
                raise RepresentationMismatch(f"expected matrix types {want} with {sum(m.size for m in lay.matrices)} "
                                             f"elements, the GFV message has {types} with {len(flat)}")
            pos = 0
            for m in lay.matrices:
                out[m.start:m.start + m.size] = flat[pos:pos + m.size]
                pos += m.size
        return out
