"""Facial semantics measured on pictures, to check edits of the decoded semantics
(:mod:`refsw.decoder.edits`) on the edited output rather than assume them.

Each picture's face mesh (MediaPipe Face Mesh with iris, :mod:`refsw.models.landmarks`) gives the
semantic controls (:mod:`refsw.models.face3d`: eye openness as lid gap / eye width, mouth opening
as inner-lip gap / mouth width) and the head pose, measured twice by :func:`compare`:

- from the landmarks' picture positions (x, y): the weak-perspective pose, fitted by least
  squares, of a 3-D model of the person's face (the reference picture's own pose-normalised mesh,
  rigid landmarks) that projects onto them, relative to the same fit on the reference picture
  (head pose from 2-D landmarks and a 3-D face model, as OpenCV's ``solvePnP`` is used; here
  orthographic). This is the measure used for the edits.
- from MediaPipe's 3-D landmarks (Umeyama alignment, :func:`refsw.models.face3d.head_pose`).
  MediaPipe infers depth from appearance: on a picture warped in 2-D, whose shading does not turn
  with the head, it sees about 70 % of a head turn that the landmarks' positions show
  (``docs/editing.md``); it is reported as ``yaw_3d`` etc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refsw.models.editing import edit_angles
from refsw.models.face3d import LEFT_EYE, RIGHT_EYE, Pose, head_pose, pupil_offsets, semantics
from refsw.models.landmarks import track_meshes
from refsw.models.sem3d import load_basis


@dataclass(frozen=True)
class MeasuredSemantics:
    """Semantics of N pictures measured with the face mesh.

    Attributes:
        meshes: ``(N, 478, 3)`` float64 picture meshes (:func:`refsw.models.landmarks.track_meshes`).
        poses: the 3-D head pose of each mesh (:func:`refsw.models.face3d.head_pose`).
        eyes: ``(N, 2)`` float64 eye openness (lid gap / eye width), picture's left eye first.
        mouth: ``(N,)`` float64 mouth opening (inner-lip gap / mouth width).
        pupils: ``(N, 4)`` float64 iris centre minus eye centre, in eye widths (left x, y, right x, y).
        found: ``(N,)`` bool, False where the face mesh found no face (previous values repeated).
    """

    meshes: np.ndarray
    poses: list[Pose]
    eyes: np.ndarray
    mouth: np.ndarray
    pupils: np.ndarray
    found: np.ndarray


def measure_semantics(frames: np.ndarray) -> MeasuredSemantics:
    """The :class:`MeasuredSemantics` of ``frames`` ``(N, H, W, 3)`` uint8 RGB (square pictures).

    Raises:
        refsw.models.NoFaceInClipError: no face on any picture.
    """
    meshes, found = track_meshes(frames, "measuring semantics")
    poses = [head_pose(m, load_basis()) for m in meshes]
    sem = np.stack([semantics(p.normalise(m)) for p, m in zip(poses, meshes, strict=True)])
    widths = np.stack(
        [
            np.linalg.norm(meshes[:, a, :2] - meshes[:, b, :2], axis=-1)
            for a, b in (LEFT_EYE.corners, RIGHT_EYE.corners)
        ],
        1,
    )
    return MeasuredSemantics(
        meshes, poses, sem[:, 2:4], sem[:, 0], pupil_offsets(meshes) / np.repeat(widths, 2, 1), found
    )


def pose_from_landmarks(points: np.ndarray, model: np.ndarray, start: Pose) -> Pose:
    """The weak-perspective pose ``(R, s, t)`` minimising ``|(s * model @ R.T + t)[:, :2] - points|^2``.

    Args:
        points: ``(P, 2)`` float64 landmark positions in a picture (normalised units).
        model: ``(P, 3)`` float64 the same landmarks on a 3-D face model.
        start: initial pose; near the answer it also avoids the mirror solution of an
            orthographic fit.

    Returns:
        The fitted :class:`~refsw.models.face3d.Pose` (its z translation is 0).
    """
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    def residual(v: np.ndarray) -> np.ndarray:
        rotation = Rotation.from_rotvec(v[:3]).as_matrix()
        return (np.exp(v[3]) * (model @ rotation.T)[:, :2] + v[4:6] - points).ravel()

    v0 = np.concatenate(
        [Rotation.from_matrix(start.rotation).as_rotvec(), [np.log(start.scale)], start.translation[:2]]
    )
    v = least_squares(residual, v0).x
    return Pose(Rotation.from_rotvec(v[:3]).as_matrix(), float(np.exp(v[3])), np.array([v[4], v[5], 0.0]))


def compare(edited: MeasuredSemantics, reference: MeasuredSemantics) -> dict[str, float]:
    """What an edit measurably did: the mean over pictures found in both, in the edit keys'
    units (:mod:`refsw.decoder.edits`), of ``edited`` against ``reference`` (the unedited
    decoding of the same pictures).

    Returns:
        ``yaw``, ``pitch``, ``roll``: degrees (:func:`refsw.models.editing.edit_angles`) of the
        rotation from the reference picture's to the edited picture's pose, both fitted to the
        landmarks' positions with the reference picture's pose-normalised mesh as the 3-D face
        (:func:`pose_from_landmarks`, rigid landmarks of the sem3d basis); ``zoom``: the ratio of
        their scales; ``tx``, ``ty``: the shift of the face in picture widths / heights;
        ``yaw_3d``, ``pitch_3d``, ``roll_3d``: the rotation from MediaPipe's 3-D landmarks;
        ``gaze_x``, ``gaze_y``: pupil shift in eye widths (both eyes); ``eyes``: eye openness
        ratio (both eyes); ``eye_open``, ``eye_open_ref``: the openness itself; ``mouth_open``,
        ``mouth_open_ref``: the mouth opening itself; ``pictures``: how many pictures count.

    Raises:
        ValueError: no picture has a face in both.
    """
    both = np.flatnonzero(edited.found & reference.found)
    if not len(both):
        raise ValueError("no picture with a face in both videos")
    rigid = load_basis().rigid
    rel, rel_3d, zoom, shift = [], [], [], []
    for i in both:
        model = reference.poses[i].normalise(reference.meshes[i])[rigid]
        ref = pose_from_landmarks(reference.meshes[i, rigid, :2], model, reference.poses[i])
        out = pose_from_landmarks(edited.meshes[i, rigid, :2], model, edited.poses[i])
        rel.append(out.rotation @ ref.rotation.T)
        rel_3d.append(edited.poses[i].rotation @ reference.poses[i].rotation.T)
        zoom.append(out.scale / ref.scale)
        shift.append((out.translation[:2] - ref.translation[:2]) / 2.0)
    angles, angles_3d = edit_angles(np.stack(rel)).mean(0), edit_angles(np.stack(rel_3d)).mean(0)
    tx, ty = np.mean(shift, 0)
    gaze = (edited.pupils[both] - reference.pupils[both]).reshape(-1, 2, 2).mean((0, 1))
    eye, eye_ref = float(edited.eyes[both].mean()), float(reference.eyes[both].mean())
    return {
        "yaw": float(angles[0]),
        "pitch": float(angles[1]),
        "roll": float(angles[2]),
        "yaw_3d": float(angles_3d[0]),
        "pitch_3d": float(angles_3d[1]),
        "roll_3d": float(angles_3d[2]),
        "zoom": float(np.mean(zoom)),
        "tx": float(tx),
        "ty": float(ty),
        "gaze_x": float(gaze[0]),
        "gaze_y": float(gaze[1]),
        "eyes": eye / eye_ref,
        "eye_open": eye,
        "eye_open_ref": eye_ref,
        "mouth_open": float(edited.mouth[both].mean()),
        "mouth_open_ref": float(reference.mouth[both].mean()),
        "pictures": int(len(both)),
    }
