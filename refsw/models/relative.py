"""Relative motion: the parameters that move another face as the stream's face moves.

To animate a picture that is not the stream's key picture (``gfv-decode --base-picture``), the
decoder analyses that picture with the model's own analyser (its *base parameters*) and hands
the generator, for each decoded picture, the base parameters moved by the stream's motion
relative to the stream's key picture: FOMM's "relative" animation mode (Siarohin et al., "First
Order Motion Model for Image Animation", NeurIPS 2019, section 3.4), so the other face keeps
its own identity, shape and position and takes only the motion. Each model names its function
in :attr:`refsw.models.ModelSpec.relative_motion`; models whose parameters have no such
decomposition (``cfte``, ``cttr``: a learned 4x4 feature) have none.

Every function takes ``(base, reference, params)``: the other picture's parameters, the stream's
key-picture parameters and one decoded picture's parameters, all of the model's parameter shape
(float64), and returns the parameters that drive the other picture, of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: ``(base, reference, params) -> params`` (see the module docstring).
RelativeMotion = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def nearest_rotation(flat: np.ndarray) -> np.ndarray:
    """``(3, 3)`` float64: the rotation nearest (Frobenius) to a carried, quantised 3x3 matrix
    given as 9 row-major elements (SVD projection onto SO(3))."""
    u, _, vt = np.linalg.svd(np.asarray(flat, dtype=np.float64).reshape(3, 3))
    r = u @ vt
    if np.linalg.det(r) < 0:
        r = u @ np.diag([1.0, 1.0, -1.0]) @ vt
    return r


def additive(base: np.ndarray, reference: np.ndarray, params: np.ndarray) -> np.ndarray:
    """``base + (params - reference)``: keypoints and other parameters that move by addition
    (``kptps``'s normalised keypoints; FOMM's keypoint values)."""
    return np.asarray(base, dtype=np.float64) + (np.asarray(params, np.float64) - np.asarray(reference, np.float64))


def rotation_first(base: np.ndarray, reference: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Elements 0..8 a head rotation R (row-major), the rest additive: the rotation becomes
    ``R_params R_reference^T R_base`` (the stream's head turn from its key picture, applied to the
    other head), the other elements ``base + (params - reference)`` (``sem3d``: translation,
    ln(scale), mouth, eyes, expression coefficients, pupils; ``fv2v``: translation and
    expression deltas)."""
    out = additive(base, reference, params)
    r = nearest_rotation(np.ravel(params)[:9]) @ nearest_rotation(np.ravel(reference)[:9]).T
    out.reshape(-1)[:9] = (r @ nearest_rotation(np.ravel(base)[:9])).ravel()
    return out


def keypoints_and_jacobians(num_kps: int) -> RelativeMotion:
    """FOMM's relative mode for parameters ``(2K + 4K,)``: K keypoint values ``(K, 2)`` then K
    Jacobians ``(K, 2, 2)``: values ``base + (params - reference)``, Jacobians
    ``J_params J_reference^-1 J_base`` (Siarohin et al. 2019, eq. 8 in relative form)."""

    def relative(base: np.ndarray, reference: np.ndarray, params: np.ndarray) -> np.ndarray:
        out = additive(base, reference, params)
        n = 2 * num_kps
        jac = [np.asarray(a, dtype=np.float64)[n:].reshape(num_kps, 2, 2) for a in (base, reference, params)]
        out[n:] = (jac[2] @ np.linalg.pinv(jac[1]) @ jac[0]).ravel()
        return out

    return relative
