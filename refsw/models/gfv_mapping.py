"""Mapping of a model's per-picture parameter vector onto GFV SEI syntax values (and back).

A :class:`GFVLayout` says which slices of the flat parameter vector ``(D,)`` float64 are sent as
GFV coordinates (2-D or 3-D keypoints) and which as matrices of a given ``gfv_matrix_type_idx``
(``docs/gfv_sei.md#gfv-matrix-types``). :class:`LayoutMapping` is a model's
:class:`~refsw.models.ParameterLayout`: its parameters as vectors, snapped to the GFV grids, and
back from a reconstructed message. The GFV SEI encoder that turns the vectors into syntax values
is :mod:`refsw.encoder.gfv_sei`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .interface import URI_TAG, ModelError, RepresentationMismatch

#: Largest precision factor written (``gfv_*_precision_factor_minus1`` + 1).
MAX_PRECISION_FACTOR = 31


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

        return replace(
            self,
            coordinate_precision_factor=coord or self.coordinate_precision_factor,
            matrix_element_precision_factor=matrix or self.matrix_element_precision_factor,
        )

    def quantise(self, params: np.ndarray) -> np.ndarray:
        """``params`` ``(..., D)`` rounded to the nearest point of the coordinate / matrix grids.
        Values on the grids are sent exactly (:meth:`LayoutMapping.snap` clips coordinates to
        [-1, 1] first); off-grid values may be written one step away (VTM's writer clips the
        fractional part instead of carrying)."""
        out = np.array(params, dtype=np.float64, copy=True)
        axes = 3 if self.z else 2
        if self.num_kps:
            s = slice(self.coord_start, self.coord_start + self.num_kps * axes)
            out[..., s] = (
                np.floor(out[..., s] * 2**self.coordinate_precision_factor + 0.5) / 2**self.coordinate_precision_factor
            )
        for m in self.matrices:
            s = slice(m.start, m.start + m.size)
            out[..., s] = (
                np.round(out[..., s] * 2**self.matrix_element_precision_factor)
                / 2**self.matrix_element_precision_factor
            )
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

    def vectors(self, params: np.ndarray) -> np.ndarray:
        """``params`` of N pictures as ``(N, D)`` float64 parameter vectors (what the GFV SEI
        encoder, :func:`refsw.encoder.gfv_sei.gfv_messages`, writes).

        Raises:
            ValueError: ``params`` do not have D values per picture.
        """
        params = np.asarray(params, dtype=np.float64)
        out = params.reshape(len(params), -1)
        if out.shape[1] != self.layout.dim:
            raise ValueError(f"expected (N, {self.layout.dim}) parameters, got {params.shape}")
        return out

    def grid_steps(self) -> np.ndarray:
        """``(D,)`` float64 quantisation step of each parameter (2^-Q for coordinates, 2^-P for
        matrix elements), in the order of the flattened parameters."""
        lay = self.layout
        steps = np.full(lay.dim, 2.0**-lay.matrix_element_precision_factor)
        if lay.num_kps:
            n = lay.num_kps * (3 if lay.z else 2)
            steps[lay.coord_start : lay.coord_start + n] = 2.0**-lay.coordinate_precision_factor
        return steps

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
                raise RepresentationMismatch(
                    f"expected {lay.num_kps} {axes}-D keypoints, the GFV message has "
                    f"{len(cols[0])} ({'3-D' if recon.get('Z') else '2-D'})"
                )
            out[lay.coord_start : lay.coord_start + lay.num_kps * axes] = np.stack(cols, 1).reshape(-1)
        if lay.matrices:
            types = [t for t, _ in recon.get("matrices", [])]
            want = [m.type_idx for m in lay.matrices]
            flat = recon.get("MatrixElement", [])
            if types != want or len(flat) != sum(m.size for m in lay.matrices):
                raise RepresentationMismatch(
                    f"expected matrix types {want} with {sum(m.size for m in lay.matrices)} "
                    f"elements, the GFV message has {types} with {len(flat)}"
                )
            pos = 0
            for m in lay.matrices:
                out[m.start : m.start + m.size] = flat[pos : pos + m.size]
                pos += m.size
        return out


def interpolate(before: np.ndarray, after: np.ndarray, fraction: float) -> np.ndarray:
    """The parameters of a picture without a GFV message (parameter subsampling,
    :mod:`refsw.encoder.subsample`): linear between the parameters of the messages before and
    after it, ``fraction`` in (0, 1) of the way; a model whose parameters have structure restores
    it in its generator (sem3d projects its rotation back onto SO(3))."""
    return (1.0 - fraction) * np.asarray(before, dtype=np.float64) + fraction * np.asarray(after, dtype=np.float64)
