"""Face geometry of the ``sem3d`` model: head pose, semantic controls and a linear 3DMM of expression
fitted to MediaPipe's dense 3-D face mesh (478 landmarks incl. iris).

Coordinates: a *mesh* ``M`` is ``(478, 3)`` float64 in normalised picture units (x, y in [-1, 1],
-1 = left/top edge; z = MediaPipe's depth in the same units, larger = farther from the camera).
Under a weak-perspective camera a picture's mesh is a similarity transform of a *pose-normalised*
mesh ``N`` (canonical frame, unit RMS size):

    M = s * N @ R.T + t,      N = (M - t) @ R / s

with ``R`` ``(3, 3)`` a rotation, ``s`` the face scale (zoom) and ``t`` ``(3,)`` the translation,
estimated by the Umeyama similarity alignment (Umeyama, "Least-squares estimation of transformation
parameters between two point patterns", IEEE TPAMI 1991) of the rigid landmarks onto the canonical
face. The expression model is linear (a 3DMM of expression, Blanz & Vetter 1999 style, here without
identity): ``N = N_identity + sum_j sem_j D_j + sum_k c_k B_k``, where ``sem`` are four semantic
controls measured on ``N`` (eye openness left/right, mouth opening and width), ``D`` their blendshapes
(regressed) and ``B`` an orthonormal PCA basis of what remains. All of it is built here from the
shared clips (:func:`build_basis`) and stored in ``weights/sem3d_basis.npz``.

"Left" and "right" are as seen in the picture: the left eye is the one on the picture's left
(MediaPipe's "right eye", landmarks 33/133 and iris 468).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Number of Face Mesh landmarks with iris refinement.
NUM_LANDMARKS = 478


@dataclass(frozen=True)
class Eye:
    """Landmarks of one eye: corners (outer, inner), lid pairs (upper, lower), iris centre."""

    corners: tuple[int, int]
    lids: tuple[tuple[int, int], ...]
    iris: int


#: Eye on the picture's left.
LEFT_EYE = Eye((33, 133), ((159, 145), (158, 153), (160, 144)), 468)
#: Eye on the picture's right.
RIGHT_EYE = Eye((263, 362), ((386, 374), (385, 380), (387, 373)), 473)
#: Inner-lip pairs (upper, lower) for the mouth opening; mouth corners for its width.
MOUTH_PAIRS = ((13, 14), (82, 87), (312, 317))
MOUTH_CORNERS = (61, 291)

#: Lid contour rings (inner eye contour) of each eye, upper lid then lower lid.
LEFT_LID_RING = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
RIGHT_LID_RING = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
#: Inner-lip contour (the mouth opening's outline), upper lip then lower lip.
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
#: Iris landmarks (centre first) of each eye.
LEFT_IRIS = (468, 469, 470, 471, 472)
RIGHT_IRIS = (473, 474, 475, 476, 477)
#: Face oval, clockwise from the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip

#: Names of the semantic controls, in parameter order.
SEMANTICS = ("mouth_opening", "mouth_width", "eye_left", "eye_right")


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Least-squares similarity ``dst ~ s * src @ R.T + t`` (Umeyama 1991).

    Args:
        src / dst: ``(P, 3)`` float64 corresponding points, P >= 3 not collinear.

    Returns:
        ``(R (3, 3) float64 rotation (det +1), s float scale, t (3,) float64)``.
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    e = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[2] = -1.0
    rot = u @ np.diag(e) @ vt
    var = (a * a).sum() / len(src)
    s = float((d * e).sum() / var) if var > 0 else 1.0
    return rot, s, mu_d - s * mu_s @ rot.T


@dataclass(frozen=True)
class FaceBasis:
    """The canonical face, the rigid landmarks and the expression model (``weights/sem3d_basis.npz``).

    Attributes:
        canonical: ``(478, 3)`` float64 mean pose-normalised mesh (zero mean, unit RMS size).
        rigid: ``(R,)`` int64 landmark indices used for the pose (those expressions move least).
        blendshapes: ``(4, 478, 3)`` float64 mesh change per unit of each semantic control
            (:data:`SEMANTICS`).
        basis: ``(K, 478, 3)`` float64 orthonormal (over the flattened mesh) PCA expression basis.
        scale: ``(K,)`` float64: carried coefficient = PCA coefficient / scale.
    """

    canonical: np.ndarray
    rigid: np.ndarray
    blendshapes: np.ndarray
    basis: np.ndarray
    scale: np.ndarray

    @property
    def num_coefficients(self) -> int:
        """K, the number of PCA expression coefficients."""
        return len(self.basis)

    def truncated(self, k: int) -> FaceBasis:
        """The same model with the first ``k`` PCA components."""
        return FaceBasis(self.canonical, self.rigid, self.blendshapes, self.basis[:k], self.scale[:k])

    def save(self, path: Path, **provenance: str) -> None:
        """Writes the basis (float32) with text provenance entries."""
        np.savez_compressed(
            path,
            canonical=self.canonical.astype(np.float32),
            rigid=self.rigid.astype(np.int16),
            blendshapes=self.blendshapes.astype(np.float32),
            basis=self.basis.astype(np.float32),
            scale=self.scale.astype(np.float32),
            **{k: np.array(v) for k, v in provenance.items()},
        )

    @classmethod
    def load(cls, path: Path) -> FaceBasis:
        """Reads a basis written by :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            KeyError: not a basis file.
        """
        z = np.load(path)
        return cls(
            z["canonical"].astype(np.float64),
            z["rigid"].astype(np.int64),
            z["blendshapes"].astype(np.float64),
            z["basis"].astype(np.float64),
            z["scale"].astype(np.float64),
        )


@dataclass(frozen=True)
class Pose:
    """Weak-perspective head pose: ``M = s * N @ R.T + t``.

    Attributes:
        rotation: ``(3, 3)`` float64.
        scale: face scale in normalised picture units per canonical unit.
        translation: ``(3,)`` float64, normalised picture units.
    """

    rotation: np.ndarray
    scale: float
    translation: np.ndarray

    def normalise(self, mesh: np.ndarray) -> np.ndarray:
        """``(478, 3)`` picture mesh -> pose-normalised mesh."""
        return (mesh - self.translation) @ self.rotation / self.scale

    def apply(self, normalised: np.ndarray) -> np.ndarray:
        """``(P, 3)`` pose-normalised points -> picture points."""
        return self.scale * normalised @ self.rotation.T + self.translation


def head_pose(mesh: np.ndarray, basis: FaceBasis) -> Pose:
    """The head pose of ``mesh`` ``(478, 3)``: Umeyama alignment of its rigid landmarks onto the
    canonical face's."""
    rot, s, t = umeyama(basis.canonical[basis.rigid], mesh[basis.rigid])
    return Pose(rot, s, t)


def _distance(n: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Mean distance over landmark pairs; ``n`` ``(..., 478, 3)``."""
    return np.mean([np.linalg.norm(n[..., a, :] - n[..., b, :], axis=-1) for a, b in pairs], axis=0)


def semantics(normalised: np.ndarray) -> np.ndarray:
    """The semantic controls of pose-normalised meshes.

    Args:
        normalised: ``(..., 478, 3)`` float64.

    Returns:
        ``(..., 4)`` float64: mouth opening (inner-lip gap / mouth width), mouth width (corner
        distance / outer-eye-corner distance), eye openness left and right (lid gap / eye width,
        the eye aspect ratio of Soukupova & Cech, "Real-time eye blink detection using facial
        landmarks", CVWW 2016); all unitless.
    """
    n = normalised
    width = _distance(n, (MOUTH_CORNERS,))
    inter = _distance(n, ((LEFT_EYE.corners[0], RIGHT_EYE.corners[0]),))
    out = [_distance(n, MOUTH_PAIRS) / width, width / inter]
    for eye in (LEFT_EYE, RIGHT_EYE):
        out.append(_distance(n, eye.lids) / _distance(n, (eye.corners,)))
    return np.stack(out, -1)


def expression(normalised: np.ndarray, sem: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """Carried PCA expression coefficients ``(..., K)`` of pose-normalised meshes ``(..., 478, 3)``
    with semantic controls ``sem`` ``(..., 4)``: the projection of what the canonical face and the
    blendshapes leave onto the basis, divided by :attr:`FaceBasis.scale`. Identity leaks into the
    coefficients but is the same in every picture of a person, so it cancels in the decoder's
    differences to the key picture."""
    rest = normalised - basis.canonical - np.tensordot(sem, basis.blendshapes, axes=(-1, 0))
    k = basis.num_coefficients
    flat = rest.reshape(*rest.shape[:-2], -1)
    return flat @ basis.basis.reshape(k, -1).T / basis.scale


def expression_delta(d_sem: np.ndarray, d_coef: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """``(478, 3)`` change of the pose-normalised mesh for changes ``d_sem`` ``(4,)`` of the
    semantic controls and ``d_coef`` ``(K,)`` of the carried expression coefficients."""
    return np.tensordot(d_sem, basis.blendshapes, axes=(0, 0)) + np.tensordot(
        d_coef * basis.scale, basis.basis, axes=(0, 0)
    )


def pupil_offsets(mesh: np.ndarray) -> np.ndarray:
    """``(..., 4)`` iris centre minus eye centre (mid-point of the eye corners), left x, left y,
    right x, right y, in normalised picture units, of picture meshes ``(..., 478, 3)``."""
    out = []
    for eye in (LEFT_EYE, RIGHT_EYE):
        a, b = eye.corners
        centre = 0.5 * (mesh[..., a, :2] + mesh[..., b, :2])
        out.append(mesh[..., eye.iris, :2] - centre)
    return np.concatenate(out, -1)


def build_basis(meshes: list[np.ndarray], num_coefficients: int = 8, num_rigid: int = 120) -> FaceBasis:
    """Builds the canonical face, rigid landmarks, blendshapes and PCA basis from tracked clips.

    Generalised Procrustes analysis on all landmarks gives a first canonical face; the rigid set
    is then the ``num_rigid`` landmarks (iris excluded) that move least within each clip after
    alignment, and the canonical face is re-estimated on them. Per clip, mesh and semantic
    deviations from the clip's mean (identity removed) give the blendshapes by least squares and
    the PCA basis of what remains; each coefficient is scaled to a standard deviation of 1/16.

    Args:
        meshes: per clip ``(N_c, 478, 3)`` float picture meshes (tracked pictures only).
        num_coefficients: K.
        num_rigid: size of the rigid landmark set.

    Returns:
        The :class:`FaceBasis`.
    """
    all_meshes = np.concatenate(meshes).astype(np.float64)
    canonical = all_meshes[0] - all_meshes[0].mean(0)
    canonical /= np.sqrt((canonical**2).sum(1).mean())
    rigid = np.arange(468)
    for _ in range(3):
        basis0 = FaceBasis(
            canonical, rigid, np.zeros((4, NUM_LANDMARKS, 3)), np.zeros((0, NUM_LANDMARKS, 3)), np.ones(0)
        )
        normed = [np.stack([head_pose(m, basis0).normalise(m) for m in clip]) for clip in meshes]
        mean = np.concatenate(normed).mean(0)
        mean -= mean[rigid].mean(0)
        canonical = mean / np.sqrt((mean[rigid] ** 2).sum(1).mean())
        motion = np.concatenate([(n - n.mean(0))[:, :468] for n in normed])
        spread = np.sqrt((motion**2).sum(-1).mean(0))
        rigid = np.sort(np.argsort(spread)[:num_rigid])
    basis0 = FaceBasis(canonical, rigid, np.zeros((4, NUM_LANDMARKS, 3)), np.zeros((0, NUM_LANDMARKS, 3)), np.ones(0))
    d_mesh, d_sem = [], []
    for clip in meshes:
        n = np.stack([head_pose(m, basis0).normalise(m) for m in clip])
        sem = semantics(n)
        d_mesh.append((n - n.mean(0)).reshape(len(n), -1))
        d_sem.append(sem - sem.mean(0))
    dm, ds = np.concatenate(d_mesh), np.concatenate(d_sem)
    blend = np.linalg.lstsq(ds, dm, rcond=None)[0]
    rest = dm - ds @ blend
    _, sv, vt = np.linalg.svd(rest - rest.mean(0), full_matrices=False)
    pcs = vt[:num_coefficients]
    std = sv[:num_coefficients] / np.sqrt(len(rest))
    return FaceBasis(
        canonical, rigid, blend.reshape(4, NUM_LANDMARKS, 3), pcs.reshape(-1, NUM_LANDMARKS, 3), std * 16.0
    )
