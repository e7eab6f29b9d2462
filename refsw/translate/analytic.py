"""Analytic parameter translators: geometry instead of trained networks (issue 17).

* **sem3d -> kptps** (:class:`Sem3dToKptps`): sem3d's parameters rebuild the change of the face
  mesh (:mod:`refsw.models.face3d`: head pose, semantic controls, expression basis, pupils) on
  the canonical face of ``weights/sem3d_basis.npz``; the 16 kptps keypoints
  (:data:`refsw.models.kptps.KEYPOINTS`, MediaPipe Face Mesh indices) move from B's key-picture
  keypoints by the change of the same mesh vertices between the key picture's and the picture's
  parameters (the pupil change is added to the iris centres).
* **sem3d -> fv2v** and **fv2v -> sem3d** (:class:`HeadPoseTranslator`): the head rotation
  relative to the segment's key picture, ``R_A R_A,key^T``, is carried into B's axes
  (:data:`FV2V_FROM_SEM3D`) and composed with B's key rotation, and the translation follows the
  head's turn about its centre; every other element stays at the target key's value. Both models
  apply their rotation the same way (picture points ``N R^T``: :class:`refsw.models.face3d.Pose`,
  :func:`refsw.models.nets.fv2v.transform_keypoints`), and fv2v's encoder takes its pose from
  the same Face Mesh head pose (:func:`refsw.models.nets.fv2v.mesh_relative_pose`).

Measured in ``docs/translators.md#analytic-translators``. The key picture's own parameters map
to the target key exactly (:class:`~refsw.translate.interface.Translator`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from refsw.models.face3d import LEFT_EYE, RIGHT_EYE

from .interface import translator_uri
from .registry import PREFERRED_KIND, register_translator

#: sem3d's parameter vector: rotation 9, translation 3 (x, y, ln scale), mouth 2, eyes 2,
#: expression K, pupils 4 (:mod:`refsw.models.sem3d`).
ROT, TRANS, SEM, EXPR = slice(0, 9), slice(9, 12), slice(12, 16), 16

#: Change of axes from sem3d's head pose to fv2v's: ``R_fv2v = C R_sem3d C^T``, points ``C x``.
#: The identity: fv2v's encoder takes its head pose from the same Face Mesh head pose as sem3d
#: (:attr:`refsw.models.nets.fv2v.FV2VConfig.mesh_pose`), in the same (x right, y down, z) axes
#: of the picture grid. (Before that, fv2v's estimator barely turned and ``diag(-1, -1, 1)`` had
#: been chosen on one clip: ``docs/translators.md``.)
FV2V_FROM_SEM3D = np.eye(3)


def _rotation(m: np.ndarray) -> np.ndarray:
    """The rotation nearest to ``m`` ``(..., 3, 3)`` (SVD; the parameters are quantised)."""
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u = u.copy()
    u[..., :, -1] *= d[..., None]
    return u @ vt


@lru_cache(maxsize=8)
def _kptps_basis(num_coefficients: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """The face basis (:func:`refsw.models.sem3d.load_basis`) on the 16 kptps vertices:
    ``(canonical (16, 3), blendshapes (4, 16, 3), scaled expression basis (K, 16, 3), the rows
    of the iris centres)``."""
    from refsw.models.kptps import KEYPOINTS
    from refsw.models.sem3d import load_basis

    basis = load_basis()
    idx = list(KEYPOINTS)
    k = num_coefficients
    scaled = basis.basis[:k][:, idx] * basis.scale[:k, None, None]
    return basis.canonical[idx], basis.blendshapes[:, idx], scaled, [idx.index(e.iris) for e in (LEFT_EYE, RIGHT_EYE)]


class Sem3dToKptps:
    """sem3d ``(16 + K + 4,)`` -> kptps ``(16, 2)`` through the canonical face's mesh.

    Args:
        num_coefficients: K of the sem3d stream (its expression matrix width).
    """

    source, target = "sem3d", "kptps"
    uri = translator_uri("sem3d", "kptps", "v1")

    def _points(self, p: np.ndarray, key: np.ndarray) -> np.ndarray:
        """``(N, 16, 2)`` picture points of the kptps vertices of the canonical face posed and
        shaped by ``p`` ``(N, D)``, expression and controls relative to ``key`` ``(D,)``
        (:func:`refsw.models.face3d.expression_delta`, :class:`refsw.models.face3d.Pose`, on
        the 16 vertices only)."""
        k = len(key) - EXPR - 4
        canonical, blendshapes, basis, irises = _kptps_basis(k)
        d_sem = p[:, SEM] - key[SEM]
        d_coef = p[:, EXPR : EXPR + k] - key[EXPR : EXPR + k]
        n = canonical + np.einsum("ns,sjc->njc", d_sem, blendshapes) + np.einsum("nk,kjc->njc", d_coef, basis)
        rotation = _rotation(p[:, ROT].reshape(-1, 3, 3))
        points = np.exp(p[:, TRANS.stop - 1])[:, None, None] * np.einsum("njc,nrc->njr", n, rotation[:, :2])
        points += p[:, None, TRANS.start : TRANS.start + 2]
        d_pupil = p[:, -4:] - key[-4:]
        points[:, irises[0]] += d_pupil[:, 0:2]
        points[:, irises[1]] += d_pupil[:, 2:4]
        return points

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """``(N, 16, 2)`` kptps keypoints: ``target_key`` moved by the change of the keypoints'
        vertices from ``source_key``'s face to each picture's."""
        p = np.asarray(params, dtype=np.float64).reshape(len(params), -1)
        key = np.asarray(source_key, dtype=np.float64).reshape(-1)
        moved = self._points(p, key) - self._points(key[None], key)
        return np.asarray(target_key, dtype=np.float64).reshape(1, -1, 2) + moved


class HeadPoseTranslator:
    """Head pose between sem3d and fv2v: the rotation (both keep it in elements 0..8, row-major)
    and the translation (sem3d: elements 9, 10, the head centre's x, y; fv2v: 9..11).

    The head turns about its own centre as in :func:`refsw.models.nets.fv2v.mesh_relative_pose`:
    with ``Q`` the relative rotation ``R R_key^T`` in B's axes, the fv2v translation is
    ``t = Q (t_key - H_key) + H``, ``H`` the sem3d head centre (depth 0: sem3d carries none);
    fv2v -> sem3d solves the same relation for ``H``. Every other element (scale, expression,
    mouth, eyes, pupils) stays at the target key's value.

    Args:
        source / target: ``("sem3d", "fv2v")`` or ``("fv2v", "sem3d")``.
        axes: the change of axes sem3d -> fv2v (default :data:`FV2V_FROM_SEM3D`).
    """

    def __init__(self, source: str, target: str, axes: np.ndarray | None = None) -> None:
        self.source, self.target = source, target
        self.uri = translator_uri(source, target, "v2")
        c = FV2V_FROM_SEM3D if axes is None else np.asarray(axes, dtype=np.float64)
        self._axes = c if target == "fv2v" else c.T  # A's points -> B's points

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """``(N, *B)``: ``target_key`` with the rotation ``C R R_key^T C^T R_B,key`` and the
        translation of the class doc."""
        p = np.asarray(params, dtype=np.float64).reshape(len(params), -1)
        key_a = np.asarray(source_key, dtype=np.float64).reshape(-1)
        key_b = np.asarray(target_key, dtype=np.float64)
        kb = key_b.reshape(-1)
        rel = _rotation(p[:, ROT].reshape(-1, 3, 3)) @ _rotation(key_a[ROT].reshape(3, 3)).T
        c = self._axes
        q = c @ rel @ c.T  # (N, 3, 3), in B's axes
        rotation = q @ _rotation(kb[ROT].reshape(3, 3))
        out = np.repeat(kb[None], len(p), 0)
        out[:, ROT] = rotation.reshape(len(p), 9)
        if self.source == "sem3d":  # H in A's axes -> fv2v translation
            centre = np.zeros((len(p), 3))
            centre[:, :2] = p[:, 9:11]
            key_centre = np.array([key_a[9], key_a[10], 0.0])
            t = np.einsum("nij,j->ni", q, kb[9:12] - c @ key_centre) + centre @ c.T
            out[:, 9:12] = t
        else:  # fv2v's translation -> the head centre, in sem3d's axes
            key_centre = np.array([kb[9], kb[10], 0.0])
            h = p[:, 9:12] - np.einsum("nij,j->ni", rel, key_a[9:12] - c.T @ key_centre)
            out[:, 9:11] = (h @ c.T)[:, :2]
        at_key = np.all(p == key_a.reshape(1, -1), axis=1)
        out[at_key] = kb  # exactly, not through the SVD
        return out.reshape(len(p), *key_b.shape)


register_translator("sem3d", "kptps", Sem3dToKptps, "analytic")
register_translator("sem3d", "fv2v", lambda: HeadPoseTranslator("sem3d", "fv2v"), "analytic")
register_translator("fv2v", "sem3d", lambda: HeadPoseTranslator("fv2v", "sem3d"), "analytic")
# The head rotation alone stays at the frozen-frame baseline (docs/translators.md): where a
# learned translator of the pair is registered, it is the default.
PREFERRED_KIND.setdefault(("sem3d", "fv2v"), "learned")
PREFERRED_KIND.setdefault(("fv2v", "sem3d"), "learned")
