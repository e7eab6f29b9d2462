"""Analytic parameter translators: geometry instead of trained networks (issue 17).

* **sem3d -> kptps** (:class:`Sem3dToKptps`): sem3d's parameters rebuild the change of the face
  mesh (:mod:`refsw.models.face3d`: head pose, semantic controls, expression basis, pupils) on
  the canonical face of ``weights/sem3d_basis.npz``; the 16 kptps keypoints
  (:data:`refsw.models.kptps.KEYPOINTS`, MediaPipe Face Mesh indices) move from B's key-picture
  keypoints by the change of the same mesh vertices between the key picture's and the picture's
  parameters (the pupil change is added to the iris centres).
* **sem3d -> fv2v** and **fv2v -> sem3d** (:class:`HeadPoseTranslator`): the head rotation
  relative to the segment's key picture, ``R_A R_A,key^T``, is carried into B's axes
  (:data:`FV2V_FROM_SEM3D`) and composed with B's key rotation; every other element stays at the
  target key's value. Both models apply their rotation the same way (picture points ``N R^T``:
  :class:`refsw.models.face3d.Pose`, :func:`refsw.models.nets.fv2v.transform_keypoints`).

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

#: Change of axes from sem3d's head rotation to fv2v's: ``R_fv2v = C R_sem3d C^T``. Both act on
#: (x right, y down, z) points of the picture grid, x and y in [-1, 1]; fv2v's depth axis points
#: the other way (MediaPipe's z grows away from the camera), which conjugation with
#: ``diag(-1, -1, 1)`` expresses as a proper rotation. Chosen against the identity on held-out
#: clips (``docs/translators.md``).
FV2V_FROM_SEM3D = np.diag([-1.0, -1.0, 1.0])


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
    """Head rotation between sem3d and fv2v (both keep it in elements 0..8, row-major).

    Args:
        source / target: ``("sem3d", "fv2v")`` or ``("fv2v", "sem3d")``.
        axes: the change of axes sem3d -> fv2v (default :data:`FV2V_FROM_SEM3D`).
    """

    def __init__(self, source: str, target: str, axes: np.ndarray | None = None) -> None:
        self.source, self.target = source, target
        self.uri = translator_uri(source, target, "v1")
        c = FV2V_FROM_SEM3D if axes is None else np.asarray(axes, dtype=np.float64)
        self._axes = c if target == "fv2v" else c.T

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """``(N, *B)``: ``target_key`` with the rotation ``C R R_key^T C^T R_B,key``."""
        p = np.asarray(params, dtype=np.float64).reshape(len(params), -1)
        key_b = np.asarray(target_key, dtype=np.float64)
        rel = _rotation(p[:, ROT].reshape(-1, 3, 3)) @ _rotation(np.asarray(source_key)[ROT].reshape(3, 3)).T
        c = self._axes
        rotation = c @ rel @ c.T @ _rotation(key_b.reshape(-1)[ROT].reshape(3, 3))
        out = np.repeat(key_b.reshape(1, -1), len(p), 0)
        out[:, ROT] = rotation.reshape(len(p), 9)
        at_key = np.all(p == np.asarray(source_key).reshape(1, -1), axis=1)
        out[at_key] = key_b.reshape(-1)  # exactly, not through the SVD
        return out.reshape(len(p), *key_b.shape)


register_translator("sem3d", "kptps", Sem3dToKptps, "analytic")
register_translator("sem3d", "fv2v", lambda: HeadPoseTranslator("sem3d", "fv2v"), "analytic")
register_translator("fv2v", "sem3d", lambda: HeadPoseTranslator("fv2v", "sem3d"), "analytic")
# The head rotation alone stays at the frozen-frame baseline (docs/translators.md): where a
# learned translator of the pair is registered, it is the default.
PREFERRED_KIND.setdefault(("sem3d", "fv2v"), "learned")
PREFERRED_KIND.setdefault(("fv2v", "sem3d"), "learned")
