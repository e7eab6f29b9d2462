"""``sem3d``: facial semantics (head pose, eyes, mouth, 3DMM expression, pupils) with a dense-mesh
generator; no trained network.

Analysis (encoder): MediaPipe Face Mesh with iris on every picture (478 3-D landmarks), head pose by
Umeyama alignment of the rigid landmarks to the canonical face, the semantic controls and the
expression coefficients of the linear expression model (:mod:`refsw.models.face3d`, basis in
``weights/sem3d_basis.npz``), the pupil offsets from the eye centres.

Generator (decoder): runs the same face mesh on the decoded key picture, rebuilds the target mesh
from the carried parameters (the key picture's own mesh plus the carried changes, so identity comes
from the key picture), sets the lids and the inner lips to the carried openness and the irises to
the carried pupil offsets, and warps the key picture with the dense mesh
(:class:`refsw.models.meshwarp.MeshWarp`; the person, segmented on the key picture, over a still
background plate), painting the mouth interior where the mouth opens wider
than in the key picture and the lid skin with a lash line where an eye closes
(:func:`refsw.models.meshwarp.paint_closed_lid`).

Mapping onto the GFV and GFVE SEI messages (``docs/models.md#sem3d``): no coordinates
(``gfv_coordinate_present_flag`` 0); matrices in the order VTM's reader handles (types 4-6 first,
``docs/gfv_sei.md``):

=========  ======  ================================================================  ==========
type idx   size    elements                                                           unit
=========  ======  ================================================================  ==========
4          3x3     head rotation R (row-major), ``gfv_matrix_3d_space_flag`` 1         -
5          3x1     head translation: x, y of the rigid landmarks' centroid, ln(scale)  normalised
2          1x2     mouth: opening (inner-lip gap / mouth width), width (/ eye span)    ratio
3          1x2     eye openness left, right (lid gap / eye width)                      ratio
8          1xK     expression coefficients (PCA of what the controls leave)           1/16 = 1 sd
=========  ======  ================================================================  ==========

GFVE (payloadType 224, same ``gfv_id``/``gfv_cnt``): ``gfve_pupil_coordinate_present_idx`` 3,
pupil (iris centre) minus eye centre (mid-point of the eye corners), left then right eye, in
normalised picture units, ``Pp`` 7 (one pixel at 256x256).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .editing import EDIT_KEYS as ALL_EDIT_KEYS
from .editing import pose_edit
from .face3d import (
    FACE_OVAL,
    INNER_LIPS,
    LEFT_EYE,
    LEFT_IRIS,
    LEFT_LID_RING,
    MOUTH_CORNERS,
    RIGHT_EYE,
    RIGHT_IRIS,
    RIGHT_LID_RING,
    FaceBasis,
    Pose,
    expression,
    expression_delta,
    head_pose,
    pupil_offsets,
    semantics,
)
from .gfv_mapping import GFVLayout, LayoutMapping, MatrixEntry
from .interface import Ability, KeySemantics, ModelSpec, RepresentationMismatch, generator_uri
from .landmarks import LiveAnalysis, detect_mesh, person_mask, track_meshes
from .meshwarp import MeshWarp, open_key_mouth, paint_closed_lid, paint_mouth_interior, to_pixels
from .registry import register_model
from .relative import nearest_rotation, rotation_first

#: Lid folds of the eye on the picture's left and right, from beyond the outer to beyond the inner
#: eye corner: Face Mesh's second ring above the upper-lid margin (the skin below the brow, which
#: the lids do not move), up to which a closing lid is painted (:func:`paint_closed_lid`). The
#: first ring (nearer the lid) left a band of the stretched open eye that the face mesh reads as
#: an opening (mead_w009 neutral 1: 0.15 of the open value against 0.06).
LEFT_LID_FOLD = (130, 113, 225, 224, 223, 222, 221, 189, 243)
RIGHT_LID_FOLD = (359, 342, 445, 444, 443, 442, 441, 413, 463)


def lid_margins(ring: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(upper, lower)`` lid margins of a lid ring (:data:`refsw.models.face3d.LEFT_LID_RING`: a
    corner, the upper lid, the other corner, the lower lid back), both from the first corner to the
    other, corners included (9 landmarks each)."""
    half = len(ring) // 2
    return ring[: half + 1], ring[:1] + ring[:half:-1] + ring[half : half + 1]


BASIS_PATH = Path(__file__).resolve().parent / "weights" / "sem3d_basis.npz"

URI = generator_uri("sem3d", "v1")

#: ``gfv_matrix_element_precision_factor_minus1`` + 1: step 2^-7 (0.45 degree of rotation, one
#: pixel of translation at 256x256, 0.8 % of zoom).
MATRIX_ELEMENT_PRECISION_FACTOR = 7
#: ``gfve_pupil_coordinate_precision_factor_minus1`` + 1: step 2^-7 = one pixel at 256x256.
PUPIL_PRECISION_FACTOR = 7
#: Default ``gfv_max_interval``: a GFV message at least every this many pictures; the decoder
#: interpolates the others (:mod:`refsw.encoder.subsample`).
MAX_INTERVAL = 12
#: Expression coefficients carried by default (the basis holds more).
NUM_COEFFICIENTS = 4
#: The interpolation tolerance of the mouth and eye controls, in multiples of the encoder's
#: (``gfv_interpolation_tolerance`` grid steps): a step of these ratios moves a lid or a lip by
#: less than a step of the pose moves the face (``docs/models.md#sem3d-rate``).
EYE_MOUTH_TOLERANCE = 3.0
#: :func:`denoise` defaults: temporal Gaussian (pictures), dead band (noise steps) of the pose,
#: the controls and the expression, and of the pupils (``docs/models.md#sem3d-rate``).
SIGMA = 1.0
DEADBAND = 0.5
PUPIL_DEADBAND = 2.0

# Parameter vector: rotation 9, translation 3, mouth 2, eyes 2, expression K, pupils 4.
ROT, TRANS, MOUTH, EYES, EXPR = slice(0, 9), slice(9, 12), slice(12, 14), slice(14, 16), 16


@lru_cache(maxsize=1)
def load_basis() -> FaceBasis:
    """The committed face basis (``weights/sem3d_basis.npz``)."""
    return FaceBasis.load(BASIS_PATH)


def head_poses(meshes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The head poses of Face Mesh landmarks ``(N, 478, 3)`` (:func:`track_meshes` units) on the
    committed basis (:func:`refsw.models.face3d.head_pose`): rotations ``(N, 3, 3)`` (what sem3d
    carries in matrix type 4) and translations ``(N, 3)``, float64."""
    basis = load_basis()
    poses = [head_pose(np.asarray(m, dtype=np.float64), basis) for m in meshes]
    return np.stack([p.rotation for p in poses]), np.stack([p.translation for p in poses])


class Sem3DMapping(LayoutMapping):
    """sem3d parameters ``(16 + K + 4,)`` <-> GFV matrices (types 4, 5, 2, 3, 8) and GFVE pupils.

    Args:
        num_coefficients: K.
        matrix_element_precision_factor: ``gfv_matrix_element_precision_factor_minus1`` + 1.
        pupil_precision_factor: ``gfve_pupil_coordinate_precision_factor_minus1`` + 1.
    """

    def __init__(
        self,
        num_coefficients: int = NUM_COEFFICIENTS,
        matrix_element_precision_factor: int = MATRIX_ELEMENT_PRECISION_FACTOR,
        pupil_precision_factor: int = PUPIL_PRECISION_FACTOR,
    ) -> None:
        k = num_coefficients
        layout = GFVLayout(
            dim=EXPR + k,
            matrices=(
                MatrixEntry(4, 1, 3, 3, ROT.start),
                MatrixEntry(5, 1, 3, 1, TRANS.start),
                MatrixEntry(2, 1, 1, 2, MOUTH.start),
                MatrixEntry(3, 1, 1, 2, EYES.start),
                MatrixEntry(8, 1, 1, k, EXPR),
            ),
            matrix_element_precision_factor=matrix_element_precision_factor,
        )
        super().__init__(layout, URI)
        self.num_coefficients = k
        self.pupil_start = EXPR + k
        self.pupil_precision_factor = pupil_precision_factor
        self.dim = EXPR + k + 4

    def vectors(self, params: np.ndarray) -> np.ndarray:
        """The GFV part ``(N, 16 + K)`` of ``params`` ``(N, 16 + K + 4)``.

        Raises:
            ValueError: another shape.
        """
        params = np.asarray(params, dtype=np.float64)
        if params.ndim != 2 or params.shape[1] != self.dim:
            raise ValueError(f"expected (N, {self.dim}) sem3d parameters, got {params.shape}")
        return params[:, : self.pupil_start]

    def pupils(self, params: np.ndarray) -> np.ndarray:
        """The GFVE pupil part ``(N, 4)`` (left x, left y, right x, right y)."""
        return np.asarray(params, dtype=np.float64)[:, self.pupil_start :]

    def grid_steps(self) -> np.ndarray:
        """``(16 + K + 4,)`` quantisation steps: matrix elements, then the pupils (2^-Pp)."""
        return np.concatenate([super().grid_steps(), np.full(4, 2.0**-self.pupil_precision_factor)])

    def interpolation_tolerance(self, steps: float) -> np.ndarray:
        """``(16 + K + 4,)`` largest interpolation error per parameter for a tolerance of ``steps``
        grid steps (:mod:`refsw.encoder.subsample`): ``steps`` grid steps, times
        :data:`EYE_MOUTH_TOLERANCE` for the mouth and eye controls."""
        tol = steps * self.grid_steps()
        tol[MOUTH.start : EYES.stop] *= EYE_MOUTH_TOLERANCE
        return tol

    def snap(self, params: np.ndarray) -> np.ndarray:
        """``params`` ``(..., 16 + K + 4)`` on the matrix-element and pupil grids."""
        p = np.array(params, dtype=np.float64, copy=True)
        p[..., : self.pupil_start] = self.layout.quantise(p[..., : self.pupil_start])
        step = 2.0**-self.pupil_precision_factor
        p[..., self.pupil_start :] = np.round(p[..., self.pupil_start :] / step) * step
        return p

    def params(self, recon: dict) -> np.ndarray:
        """``(16 + K + 4,)`` parameters of a reconstructed GFV message, with the pupils of its GFVE
        message (``recon["gfve"]``, the GFVE reconstruction; zero offsets without one).

        Raises:
            RepresentationMismatch: the GFV message does not carry the sem3d matrices.
        """
        out = np.zeros(self.dim)
        out[: self.pupil_start] = super().params(recon)
        pupil = (recon.get("gfve") or {}).get("pupil")
        if pupil is not None:
            out[self.pupil_start :] = pupil
        return out


def _pose_vector(pose: Pose) -> np.ndarray:
    return np.concatenate([pose.rotation.ravel(), pose.translation[:2], [np.log(pose.scale)]])


def analyse_meshes(meshes: np.ndarray, basis: FaceBasis) -> np.ndarray:
    """sem3d parameters ``(N, 16 + K + 4)`` of picture meshes ``(N, 478, 3)``."""
    out = []
    for mesh in meshes:
        pose = head_pose(mesh, basis)
        normalised = pose.normalise(mesh)
        sem = semantics(normalised)
        coef = expression(normalised, sem, basis)
        out.append(np.concatenate([_pose_vector(pose), sem, coef, pupil_offsets(mesh)]))
    return np.stack(out)


def denoise(
    params: np.ndarray, sigma: float = SIGMA, deadband: float = DEADBAND, pupil_deadband: float = PUPIL_DEADBAND
) -> np.ndarray:
    """Temporal denoising of tracked sem3d parameters ``(N, 16 + K + 4)`` (encoder side).

    MediaPipe's landmarks jitter by about a pixel from picture to picture; sent as they are, the
    jitter shakes a still face and costs bits. A Gaussian filter over time (``sigma`` pictures;
    not on the eye and mouth controls, whose blinks last a few pictures) is followed by a dead
    band: a value changes only when it moves by more than ``deadband`` (the pupils:
    ``pupil_deadband``) times its group's noise step (:func:`noise_step`) from the last value
    kept (:func:`dead_band_steps`). The key picture's row is filtered too:
    every synthesised picture is animated by its difference to that row, so jitter in it would
    shift the whole segment.
    Measured on 6 clips, 60 pictures (``docs/models.md#sem3d``): VMAF +1.4 and MS-SSIM +0.008 on
    average against the raw parameters, with half the non-zero deltas (0.49 -> 0.23 of the elements).
    """
    from scipy.ndimage import gaussian_filter1d

    out = np.array(params, dtype=np.float64, copy=True)
    if len(out) < 3:
        return out
    smooth = [i for i in range(out.shape[1]) if not MOUTH.start <= i < EYES.stop]
    if sigma > 0:
        out[:, smooth] = gaussian_filter1d(out[:, smooth], sigma, axis=0, mode="nearest")
    step = dead_band_steps(out.shape[1] - EXPR - 4, deadband, pupil_deadband)
    if step.any():
        for t in range(1, len(out)):
            out[t] = _dead_band(out[t], out[t - 1], step)
    return out


def dead_band_steps(num_coefficients: int, deadband: float, pupil_deadband: float) -> np.ndarray:
    """``(16 + K + 4,)`` dead band of :func:`denoise` per parameter: ``deadband`` noise steps
    (:func:`noise_step`), ``pupil_deadband`` for the pupils."""
    noise = noise_step(num_coefficients)
    return np.concatenate([deadband * noise[:-4], pupil_deadband * noise[-4:]])


def _dead_band(row: np.ndarray, kept: np.ndarray, step: np.ndarray) -> np.ndarray:
    """``row`` where it moved by more than ``step`` from the last ``kept`` row, else ``kept``."""
    return np.where(np.abs(row - kept) > step, row, kept)


def noise_step(num_coefficients: int) -> np.ndarray:
    """Per-parameter noise level of the tracked parameters ``(16 + K + 4,)``: rotation elements
    2^-6 (0.9 degree), translation and ln(scale) 0.012 (1.5 pixels at 256x256), mouth 0.02, eyes
    0.03, expression coefficients 1/40 (0.4 standard deviation), pupils 0.012."""
    return np.array([2**-6] * 9 + [0.012] * 3 + [0.02] * 2 + [0.03] * 2 + [1 / 40] * num_coefficients + [0.012] * 4)


class Sem3DAnalyser:
    """Encoder-side analysis of ``sem3d``: MediaPipe Face Mesh tracking, :func:`analyse_meshes`,
    :func:`denoise`."""

    def __init__(
        self, basis: FaceBasis, sigma: float = SIGMA, deadband: float = DEADBAND, pupil_deadband: float = PUPIL_DEADBAND
    ) -> None:
        self.basis = basis
        self.sigma = sigma
        self.deadband = deadband
        self.pupil_deadband = pupil_deadband

    def analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``frames`` ``(N, H, W, 3)`` uint8 RGB -> ``(params (N, 16 + K + 4) float64, found (N,) bool)``.

        Raises:
            NoFaceInClipError: no face on any picture.
        """
        meshes, found = track_meshes(frames)
        return denoise(analyse_meshes(meshes, self.basis), self.sigma, self.deadband, self.pupil_deadband), found

    def live(self) -> LiveAnalysis:
        """Per-picture analysis for live encoding: :func:`analyse_meshes` of each tracked mesh
        and the dead band of :func:`denoise` against the last value kept; no temporal Gaussian
        (it would need the next pictures). Measured cost in ``docs/gfv_sei.md#live-mode``."""
        basis = self.basis
        kept: list[np.ndarray] = []

        def params_of_mesh(mesh: np.ndarray) -> np.ndarray:
            row = analyse_meshes(mesh[None], basis)[0]
            if kept:
                row = _dead_band(row, kept[0], dead_band_steps(len(row) - EXPR - 4, self.deadband, self.pupil_deadband))
            kept[:] = [row]
            return row

        return LiveAnalysis(params_of_mesh)


def _set_gap(
    mesh: np.ndarray, ring: tuple[int, ...], corners: tuple[int, int], factor: float, upper_only: bool = False
) -> None:
    """Scales the gap of the ``ring`` landmarks across the line through ``corners`` by ``factor``
    (in place; pose-normalised mesh, measured in the x-y plane). ``upper_only``: only the upper
    lid moves (a blink: it comes down to the lower one): ``ring`` is then a lid ring
    (:data:`refsw.models.face3d.LEFT_LID_RING`: a corner, the upper lid, the other corner, the
    lower lid in the opposite direction), and each upper-lid point goes ``1 - factor`` of the way,
    in 3-D, to the lower-lid point facing it (Face Mesh's lid pairs, :data:`LEFT_EYE` ``lids``),
    so the lid gaps become ``factor`` times what they were and 0 closes the eye. (Moving it
    across the line only would leave the pairs' offset along the eye, and the lids' depth
    difference shown by the head's pitch, as an opening.)"""
    idx = np.asarray(ring)
    if upper_only:
        upper = idx[1 : len(idx) // 2]
        facing = idx[len(idx) - 1 : len(idx) // 2 : -1]
        mesh[upper] += (1.0 - factor) * (mesh[facing] - mesh[upper])
        return
    a, b = mesh[corners[0], :2], mesh[corners[1], :2]
    axis = (b - a) / max(np.linalg.norm(b - a), 1e-9)
    normal = np.array([-axis[1], axis[0]])
    off = (mesh[idx, :2] - a) @ normal
    mesh[idx, :2] += np.outer(off * (factor - 1.0), normal)


def _colours_at(picture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(colours (P, 3) float64, pixel positions (P, 2) int)`` of ``picture`` at normalised ``points``."""
    h, w = picture.shape[:2]
    px = np.stack([to_pixels(points[:, 0], w), to_pixels(points[:, 1], h)], 1)
    px = np.clip(np.round(px).astype(int), 0, [w - 1, h - 1])
    return picture[px[:, 1], px[:, 0]].astype(np.float64), px


class Sem3DGenerator:
    """Decoder-side ``sem3d`` generator: dense mesh warp of the decoded key picture.

    Args:
        basis: the face basis (the same as the encoder's: the URI names its version).
        num_coefficients: K, the expression coefficients the stream carries.
        layered: warp the person over a still background plate (:meth:`_layers`); False warps
            the whole key picture (the background near the head then moves with pushed rings),
            as does a key picture in which no person is found.
    """

    #: Eye openness (relative to the key picture's) below which the iris is hidden by the lids.
    IRIS_HIDDEN_BELOW = 0.55
    #: Eye openness (relative to the key picture's) below which the closing lid is painted
    #: (:func:`refsw.models.meshwarp.paint_closed_lid`), fully at 0.4 less.
    LID_PAINTED_BELOW = 0.8
    #: Rings around the face oval: (distance from the oval's centre relative to the oval, share of
    #: the head's rigid motion they follow when the face pushes them, less below the chin), so hair
    #: and ears move with a head that moves far (:meth:`_ring_push`). The background does not move
    #: with them: the person is a layer over a still background plate (:attr:`LAYER_THRESHOLD`).
    RINGS = ((1.35, 1.0), (1.9, 0.5))
    #: Depth of the head's centre behind the face oval's mean depth, in face-oval widths, at which
    #: the rings move with the head (:meth:`_ring_targets`).
    HEAD_DEPTH = 0.5
    #: How far the face oval may move towards or away from the still ring around it, as a share of
    #: their distance, before it pushes the ring (:meth:`_ring_push`). Rings that always follow
    #: the head measured worse: the face mesh's pose moves with expressions (a smile) while the
    #: outline of the head stays (lp_d19: SSIM 0.891 -> 0.832).
    RING_SLACK = 0.3
    #: Layers: the person (:func:`refsw.models.landmarks.person_mask` above this value, grown by
    #: :attr:`LAYER_GROW` pixels) is warped over a background plate, the key picture with the
    #: person inpainted, which stays still; the layer's edge fades over :attr:`LAYER_FEATHER`
    #: pixels of the key picture's background around it. Without layers a face that moves far
    #: left a seam at the face oval (the triangles between the face and the still rings turn
    #: over) and dragged the background with it when the rings followed.
    LAYER_THRESHOLD, LAYER_GROW, LAYER_FEATHER = 0.5, 3, 4
    #: Median inner-lip gap (pixels) of a key picture from which its own mouth interior shows
    #: (teeth, tongue, cavity): a mouth that opens wider keeps it, the teeth with the lips, and
    #: opens a cavity between (:func:`refsw.models.meshwarp.open_key_mouth`); a narrower one gets a
    #: painted interior (:func:`refsw.models.meshwarp.paint_mouth_interior`).
    OPEN_KEY_MOUTH_PX = 3.0

    def __init__(self, basis: FaceBasis, num_coefficients: int = NUM_COEFFICIENTS, layered: bool = True) -> None:
        self.basis = basis.truncated(num_coefficients)
        self.layered = layered
        self._warp: MeshWarp | None = None
        self._key_picture: np.ndarray | None = None
        self._layer: tuple[np.ndarray, np.ndarray] | None = None  # (background plate, alpha)

    def set_key_picture(self, key_picture: np.ndarray, key_params: np.ndarray) -> None:
        """``key_picture`` ``(H, W, 3)`` uint8 RGB, ``key_params`` ``(16 + K + 4,)`` of the base
        message. Without a face in the decoded key picture the output is the key picture."""
        self._key_picture = key_picture
        mesh = detect_mesh(key_picture)
        self._warp = None
        if mesh is None:
            return
        self._layer = self._layers(key_picture) if self.layered else None
        self._key_params = np.asarray(key_params, dtype=np.float64)
        self._mesh = mesh
        self._pose = head_pose(mesh, self.basis)
        self._normalised = self._pose.normalise(mesh)
        self._sem = semantics(self._normalised)
        self._pupils = pupil_offsets(mesh)
        oval = mesh[list(FACE_OVAL)]
        centre = oval.mean(0)
        below = np.clip((oval[:, 1] - centre[1]) / max(np.ptp(oval[:, 1]) / 2, 1e-6), 0.0, 1.0)
        points, weights = [], []
        for f, share in self.RINGS:
            ring = oval.copy()
            ring[:, :2] = centre[:2] + f * (oval[:, :2] - centre[:2])
            points.append(ring)
            weights.append(share * (1.0 - 0.75 * below))
        self._ring_points3d = np.concatenate(points)
        self._ring_weights = np.concatenate(weights)
        # the rings move as points at the depth of the head's centre, behind the face: the outline
        # of a head (hair, ears) barely moves when it turns or nods, while the face does
        ring_n = self._pose.normalise(self._ring_points3d)
        oval_n = self._normalised[list(FACE_OVAL)]
        ring_n[:, 2] = oval_n[:, 2].mean() + self.HEAD_DEPTH * np.ptp(oval_n[:, 0])
        self._ring_normalised = ring_n
        source = np.concatenate([mesh[:, :2], self._ring_points3d[:, :2]])
        hidden = {
            "left_iris": np.isin(np.arange(len(source)), LEFT_IRIS),
            "right_iris": np.isin(np.arange(len(source)), RIGHT_IRIS),
        }
        self._warp = MeshWarp(key_picture, source, hidden)
        colours, px = _colours_at(key_picture, mesh[list(INNER_LIPS), :2])
        upper, lower = px[1:10], px[11:20][::-1]  # facing pairs of the inner lips
        self._key_gap_px = float(np.median(np.abs(lower[:, 1] - upper[:, 1])))
        lash, _ = _colours_at(key_picture, mesh[list(LEFT_LID_RING[1:8] + RIGHT_LID_RING[1:8]), :2])
        self._lash_colour = lash[np.argsort(lash.sum(1))[: len(lash) // 2]].mean(0)
        self._mouth_colour = colours[np.argsort(colours.sum(1))[: max(3, len(colours) // 4)]].mean(0) * 0.45
        skin = key_picture[px[:, 1].min() : px[:, 1].max() + 1].reshape(-1, 3).astype(np.float64)
        self._teeth_colour = np.clip(
            0.5 * np.percentile(skin, 90, axis=0) + 0.5 * np.array([225.0, 222.0, 215.0]), 0, 235
        )

    def _layers(self, key_picture: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(background plate (H, W, 3) uint8, person layer's alpha (H, W) float32)`` of a key
        picture, or ``None`` when it shows no person. The plate is the key picture with the
        grown person mask inpainted (Telea, OpenCV); the alpha is 1 on that mask and fades to 0
        over the key picture's own background around it, where the plate equals the key picture,
        so a picture that does not move is the key picture exactly."""
        person = (person_mask(key_picture) > self.LAYER_THRESHOLD).astype(np.uint8)
        if not person.any():
            return None
        grow, feather = 2 * self.LAYER_GROW + 1, 2 * self.LAYER_FEATHER + 1
        core = cv2.dilate(person, np.ones((grow, grow), np.uint8))
        plate = cv2.inpaint(np.ascontiguousarray(key_picture), core, 5, cv2.INPAINT_TELEA)
        edge = cv2.dilate(core, np.ones((feather, feather), np.uint8)).astype(np.float32)
        alpha = np.maximum(cv2.GaussianBlur(edge, (feather, feather), 0), core.astype(np.float32))
        return plate, alpha

    def target_mesh(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, Pose]:
        """``(target picture mesh (478, 3), eye openness relative to the key picture (2,), target
        head pose)`` for the carried ``params`` ``(16 + K + 4,)``."""
        p, k = np.asarray(params, dtype=np.float64), self._key_params
        kn = self.basis.num_coefficients
        d_sem = p[MOUTH.start : EYES.stop] - k[MOUTH.start : EYES.stop]
        d_coef = p[EXPR : EXPR + kn] - k[EXPR : EXPR + kn]
        n = self._normalised + expression_delta(d_sem, d_coef, self.basis)
        want = np.maximum(self._sem + d_sem, 0.0)
        have = semantics(n)
        rel = np.ones(2)
        for j, (ring, eye) in enumerate(((LEFT_LID_RING, LEFT_EYE), (RIGHT_LID_RING, RIGHT_EYE))):
            factor = float(np.clip(want[2 + j] / max(have[2 + j], 1e-4), 0.0, 3.0))
            _set_gap(n, ring, eye.corners, factor, upper_only=factor < 1.0)
            rel[j] = want[2 + j] / max(self._sem[2 + j], 1e-4)
        factor = float(np.clip(want[0] / max(have[0], 1e-4), 0.0, 4.0))
        _set_gap(n, INNER_LIPS, MOUTH_CORNERS, factor)
        r_t, r_kc = nearest_rotation(p[ROT]), nearest_rotation(k[ROT])
        rotation = r_t @ r_kc.T @ self._pose.rotation
        scale = self._pose.scale * float(np.exp(p[TRANS.stop - 1] - k[TRANS.stop - 1]))
        shift = np.zeros(3)
        shift[:2] = p[TRANS.start : TRANS.start + 2] - k[TRANS.start : TRANS.start + 2]
        pose = Pose(rotation, scale, self._pose.translation + shift)
        mesh = pose.apply(n)
        d_pupil = p[-4:] - k[-4:]
        for j, (eye, iris) in enumerate(((LEFT_EYE, LEFT_IRIS), (RIGHT_EYE, RIGHT_IRIS))):
            a, b = eye.corners
            width = np.linalg.norm(mesh[a, :2] - mesh[b, :2])
            centre = 0.5 * (mesh[a, :2] + mesh[b, :2])
            offset = self._pupils[2 * j : 2 * j + 2] + d_pupil[2 * j : 2 * j + 2]
            offset = np.clip(offset, [-0.3 * width, -0.12 * width], [0.3 * width, 0.12 * width])
            mesh[list(iris), :2] += centre + offset - mesh[iris[0], :2]
        return mesh, rel, pose

    def _ring_targets(self, pose: Pose) -> np.ndarray:
        """Where the rings around the face would go with the head: each ring point follows the
        head's rigid motion (at the depth of the head's centre, :attr:`HEAD_DEPTH`) by its share
        (:attr:`RINGS`), less below the chin (the neck and shoulders do not turn with the head)."""
        moved = pose.apply(self._ring_normalised)[:, :2] - self._pose.apply(self._ring_normalised)[:, :2]
        return self._ring_points3d[:, :2] + self._ring_weights[:, None] * moved

    def _ring_push(self, face: np.ndarray, rigid: np.ndarray) -> np.ndarray:
        """Where the rings go when the face pushes them: ``(R, 2)`` normalised targets of the ring
        points for the target face mesh points ``face`` ``(478, 2)`` and the rings' rigid targets
        ``rigid`` ``(R, 2)`` (:meth:`_ring_targets`). A ring stays still while the ring inside it
        (the face oval for the first) moves by less than :attr:`RING_SLACK` of their distance;
        beyond that it moves towards its rigid target by the excess (what the rigid target does not
        take, the way the inner ring moves), so no triangle between them turns over (a seam at the
        face oval) and a face that moves little (talking, pose noise) leaves the outline of the head
        still."""
        oval = list(FACE_OVAL)
        inner_src, inner_move = self._mesh[oval, :2], face[oval] - self._mesh[oval, :2]
        out = []
        for ring, ring_rigid in zip(
            np.split(self._ring_points3d[:, :2], len(self.RINGS)), np.split(rigid, len(self.RINGS)), strict=True
        ):
            gap = np.linalg.norm(ring - inner_src, axis=1)
            reach = np.linalg.norm(inner_move, axis=1)
            excess = np.maximum(reach - self.RING_SLACK * gap, 0.0)
            full = ring_rigid - ring
            size = np.linalg.norm(full, axis=1)
            move = full * np.minimum(1.0, excess / np.maximum(size, 1e-12))[:, None]
            # where the head's motion takes a ring point less far than the face pushes it (below the
            # chin, where the rings follow a quarter of it), the rest of the push goes the way the
            # inner ring moves: a chin that nods into the neck left a jagged edge there
            rest = np.maximum(excess - size, 0.0)
            move += inner_move * (rest / np.maximum(reach, 1e-12))[:, None]
            out.append(ring + move)
            inner_src, inner_move = ring, move
        return np.concatenate(out)

    def _geometry(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(target mesh (478, 3), relative eye openness (2,), map_x, map_y (H, W) float32)``."""
        assert self._warp is not None
        mesh, rel, pose = self.target_mesh(params)
        target = np.concatenate([mesh[:, :2], self._ring_push(mesh[:, :2], self._ring_targets(pose))])
        hidden = frozenset(
            name for name, r in (("left_iris", rel[0]), ("right_iris", rel[1])) if r < self.IRIS_HIDDEN_BELOW
        )
        return (mesh, rel, *self._warp.maps(target, hidden))

    def maps(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(map_x, map_y)`` ``(H, W)`` float32: where in the key picture (pixel coordinates) each
        output pixel of the person layer is taken from for the carried ``params`` ``(16 + K + 4,)``;
        ``None`` when the key picture has no face (the output is the key picture). Neighbouring
        output pixels come from neighbouring places: a jump is a seam.

        Raises:
            RuntimeError: :meth:`set_key_picture` was not called.
        """
        if self._key_picture is None:
            raise RuntimeError("set_key_picture() must be called before maps()")
        return None if self._warp is None else self._geometry(params)[2:]

    def generate(self, params: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """One output picture ``(H, W, 3)`` uint8 RGB for the carried ``params``.

        Raises:
            RuntimeError: :meth:`set_key_picture` was not called.
        """
        if self._key_picture is None:
            raise RuntimeError("set_key_picture() must be called before generate()")
        if self._warp is None:
            return self._key_picture.copy()
        mesh, rel, mx, my = self._geometry(params)
        person = self._warp.resample(mx, my)
        if self._layer is None:
            out = person
        else:
            plate, alpha = self._layer
            alpha = cv2.remap(alpha, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[..., None]
            out = np.clip(np.round(plate + alpha * (person.astype(np.float32) - plate)), 0, 255).astype(np.uint8)
        key_gap = self._sem[0]
        opening = key_gap + float(params[MOUTH.start] - self._key_params[MOUTH.start])
        lips = mesh[list(INNER_LIPS), :2]
        if self._key_gap_px >= self.OPEN_KEY_MOUTH_PX:
            if opening > key_gap:
                open_key_mouth(out, lips, key_gap / opening, self._mouth_colour)
        else:
            strength = np.clip((opening - key_gap) / 0.08, 0.0, 1.0) if opening > 0.04 else 0.0
            paint_mouth_interior(out, lips, float(strength), self._mouth_colour, self._teeth_colour)
        for r, ring, fold in zip(rel, (LEFT_LID_RING, RIGHT_LID_RING), (LEFT_LID_FOLD, RIGHT_LID_FOLD), strict=True):
            upper, lower = lid_margins(ring)
            strength = float((self.LID_PAINTED_BELOW - r) / 0.4)
            fold_pts, upper_pts, lower_pts = (mesh[list(i), :2] for i in (fold, upper, lower))
            paint_closed_lid(out, fold_pts, upper_pts, lower_pts, strength, self._lash_colour)
        return out


def relative_motion(base: np.ndarray, reference: np.ndarray, params: np.ndarray) -> np.ndarray:
    """sem3d's :attr:`~refsw.models.ModelSpec.relative_motion`: :func:`~refsw.models.relative.rotation_first`
    (rotation composed, the rest ``base + (params - reference)``) except the mouth opening, which is
    taken as decoded: it is a ratio (inner-lip gap / mouth width) that transfers from face to face,
    and a stream whose key picture laughs would otherwise leave a closed-mouth base picture no room
    to close its mouth. Measured (``docs/base_picture.md``): correlation of the output's mouth
    opening with the input's, st_happyenglish_clip2 with the hopper photo -0.23 relative, 0.53 as
    decoded; lp_d0 with the astronaut photo -0.03 and 0.98."""
    out = rotation_first(base, reference, params)
    out[MOUTH.start] = np.asarray(params, dtype=np.float64)[MOUTH.start]
    return out


def pose_share(key: np.ndarray, params: np.ndarray, share: float) -> np.ndarray:
    """sem3d's :attr:`~refsw.models.ModelSpec.pose_share`: ``params`` ``(16 + K + 4,)`` with the
    head pose moved ``share`` (0..1) of the way from the key picture's (``key``, same shape) to its
    own and the expression (mouth, eyes, coefficients, pupils) kept. The rotation turns by
    ``share`` of the angle of the rotation between the two (about the same axis; the carried
    matrices are made orthonormal first, :func:`~refsw.models.relative.nearest_rotation`), the
    translation and the log scale move linearly; share 0 is the key picture's pose element for
    element, share 1 ``params`` itself. Not on the GFV grids: the caller snaps."""
    from scipy.spatial.transform import Rotation

    k, out = np.asarray(key, dtype=np.float64), np.array(params, dtype=np.float64, copy=True)
    if share <= 0.0:
        out[ROT], out[TRANS] = k[ROT], k[TRANS]
    elif share < 1.0:
        r_k = nearest_rotation(k[ROT])
        turn = Rotation.from_matrix(nearest_rotation(out[ROT]) @ r_k.T).as_rotvec()
        out[ROT] = (Rotation.from_rotvec(share * turn).as_matrix() @ r_k).ravel()
        out[TRANS] = k[TRANS] + share * (out[TRANS] - k[TRANS])
    return out


def key_semantics(params: np.ndarray) -> KeySemantics:
    """What sem3d parameters ``(N, 16 + K + 4)`` say about each picture, for the key-picture choice."""
    p = np.asarray(params, dtype=np.float64)
    return KeySemantics(
        eyes=p[:, EYES].mean(1),
        mouth=p[:, MOUTH.start],
        rotation=np.stack([nearest_rotation(r) for r in p[:, ROT]]),
        log_scale=p[:, TRANS.stop - 1],
    )


#: Edit keys (:mod:`refsw.decoder.edits`) of sem3d: all of them.
EDIT_KEYS = frozenset(ALL_EDIT_KEYS)
#: Yaw and pitch edits turn the mesh by these multiples of the requested angles: the 2-D warp
#: cannot show the parts of the head a turn reveals or hides, and the face mesh run on the output
#: sees only part of a mesh turn (``benchmarks/bench_edits.py --calibrate``: mean ratio measured /
#: requested on 6 clips of persons of the basis training, which are not those the edits are tested
#: on; ``docs/editing.md``). Roll, in the picture plane, is shown in full.
EDIT_TURN_GAIN = (1.17, 1.28)


def apply_edit(params: np.ndarray, values: Mapping[str, float]) -> np.ndarray:
    """One picture's sem3d parameters ``(16 + K + 4,)`` with edit values applied
    (:mod:`refsw.decoder.edits`; keys :data:`EDIT_KEYS`, absolute ``eyes=`` etc. set first).

    Eye openness and mouth opening (ratios, table above) are scaled or set; the rotation is
    multiplied by the edit rotation in the camera frame (:func:`refsw.models.editing.head_rotation`,
    yaw and pitch times :data:`EDIT_TURN_GAIN`),
    ln(scale) gets ln(zoom), the translation the shift; the pupil offsets move by ``gaze_x`` /
    ``gaze_y`` eye widths (the face's scale times the canonical face's eye width; the generator
    keeps a pupil within 0.3 eye widths across and 0.12 up and down of the eye centre).
    """
    p = np.array(params, dtype=np.float64, copy=True)
    for j, key in enumerate(("eye_left", "eye_right")):
        absolute = values.get(f"{key}=", values.get("eyes="))
        if absolute is not None:
            p[EYES.start + j] = absolute
        p[EYES.start + j] *= values.get(key, 1.0) * values.get("eyes", 1.0)
    p[MOUTH.start] = values.get("mouth=", p[MOUTH.start]) * values.get("mouth", 1.0)
    turn = {"yaw": values.get("yaw", 0.0) * EDIT_TURN_GAIN[0], "pitch": values.get("pitch", 0.0) * EDIT_TURN_GAIN[1]}
    rotation, zoom, shift = pose_edit({**values, **turn})
    p[ROT] = (rotation @ nearest_rotation(p[ROT])).ravel()
    p[TRANS.start : TRANS.start + 2] += shift
    p[TRANS.stop - 1] += np.log(zoom)
    canonical = load_basis().canonical
    for j, eye in enumerate((LEFT_EYE, RIGHT_EYE)):
        width = np.exp(p[TRANS.stop - 1]) * np.linalg.norm(
            canonical[eye.corners[0], :2] - canonical[eye.corners[1], :2]
        )
        p[len(p) - 4 + 2 * j : len(p) - 2 + 2 * j] += width * np.array(
            [values.get("gaze_x", 0.0), values.get("gaze_y", 0.0)]
        )
    return p


def _layout(coordinate_precision_factor: int | None = None, matrix_element_precision_factor: int | None = None):
    del coordinate_precision_factor  # sem3d sends no coordinates
    return Sem3DMapping(
        NUM_COEFFICIENTS, matrix_element_precision_factor or MATRIX_ELEMENT_PRECISION_FACTOR, PUPIL_PRECISION_FACTOR
    )


@register_model
def sem3d() -> ModelSpec | None:
    """The facial-semantics model (no trained network; needs the committed face basis)."""
    if not BASIS_PATH.is_file():
        return None
    return ModelSpec(
        name="sem3d",
        uri=URI,
        representation=(
            f"head rotation + translation/zoom, mouth, eyes, {NUM_COEFFICIENTS} expression coefficients "
            "(GFV matrices 4, 5, 2, 3, 8), pupils (GFVE)"
        ),
        make_analyser=lambda: Sem3DAnalyser(load_basis().truncated(NUM_COEFFICIENTS), SIGMA, DEADBAND, PUPIL_DEADBAND),
        make_generator=lambda deterministic=False: Sem3DGenerator(load_basis()),
        make_layout=_layout,
        analyse_decoded_key=False,
        default_decision="pose",
        key_semantics=key_semantics,
        default_key_period=0,
        default_max_interval=MAX_INTERVAL,
        abilities=Ability.EDITS,
        edit_keys=EDIT_KEYS,
        apply_edit=apply_edit,
        relative_motion=relative_motion,
        pose_share=pose_share,
    )


__all__ = [
    "RepresentationMismatch",
    "Sem3DAnalyser",
    "Sem3DGenerator",
    "Sem3DMapping",
    "apply_edit",
    "denoise",
    "key_semantics",
    "lid_margins",
    "pose_share",
    "sem3d",
]
