"""Edit keys and the head-pose edits shared by the models with head-pose semantics (``sem3d``,
``fv2v``); the decoder side (plans, key frames, checks) is :mod:`refsw.decoder.edits`, which gives
the keys' meanings and units.

Picture coordinates: x to the right,
y down, z away from the camera (MediaPipe's and the GFV keypoints' frame). The edit rotation is
applied in that camera frame about the head's centre, yaw first, then pitch, then roll.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: The documented edit keys (:mod:`refsw.decoder.edits`).
EDIT_KEYS = ("eye_left", "eye_right", "eyes", "mouth", "gaze_x", "gaze_y", "yaw", "pitch", "roll", "zoom", "tx", "ty")
#: Head-pose keys: models with head-pose semantics (rotation, translation, scale) support them.
HEAD_POSE_KEYS = frozenset({"yaw", "pitch", "roll", "zoom", "tx", "ty"})


def head_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``(3, 3)`` float64 rotation, in picture coordinates, that turns a face by ``yaw`` degrees
    to the picture's right (its nose moves to +x), then ``pitch`` degrees up (the nose moves to
    -y), then ``roll`` degrees clockwise as seen in the picture."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    # the nose is nearer the camera (z < 0) than the head's centre: +yaw must move -z towards +x
    ry = np.array([[math.cos(y), 0.0, -math.sin(y)], [0.0, 1.0, 0.0], [math.sin(y), 0.0, math.cos(y)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), math.sin(p)], [0.0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
    return rz @ rx @ ry


def edit_angles(rotation: np.ndarray) -> np.ndarray:
    """``(..., 3)`` float64 (yaw, pitch, roll) in degrees of rotations ``(..., 3, 3)`` in picture
    coordinates: the inverse of :func:`head_rotation` (pitch within +-90 degrees)."""
    m = np.asarray(rotation, dtype=np.float64)
    yaw = np.arctan2(m[..., 2, 0], m[..., 2, 2])
    pitch = -np.arcsin(np.clip(m[..., 2, 1], -1.0, 1.0))
    roll = np.arctan2(-m[..., 0, 1], m[..., 1, 1])
    return np.degrees(np.stack([yaw, pitch, roll], -1))


def pose_edit(values: Mapping[str, float]) -> tuple[np.ndarray, float, np.ndarray]:
    """``(rotation (3, 3), zoom factor, shift (2,) in normalised picture units)`` of the head-pose
    values (``yaw``, ``pitch``, ``roll``, ``zoom``, ``tx``, ``ty``; missing keys neutral).
    Normalised units span 2 across the picture: ``tx`` 0.1 (a tenth of the width) is 0.2."""
    rotation = head_rotation(values.get("yaw", 0.0), values.get("pitch", 0.0), values.get("roll", 0.0))
    shift = 2.0 * np.array([values.get("tx", 0.0), values.get("ty", 0.0)])
    return rotation, float(values.get("zoom", 1.0)), shift


def apply_fv2v_edit(params: np.ndarray, values: Mapping[str, float]) -> np.ndarray:
    """FV2V parameters ``(57,)`` (rotation R 3x3 row-major, translation t (3,), expression deltas
    15 x 3; keypoints ``kp = R kp_c + t + delta``, :func:`refsw.models.nets.fv2v.transform_keypoints`)
    with head-pose values applied about the head's centre ``t``: ``kp' = s E (kp - t) + t + shift``,
    so ``R' = s E R``, ``delta' = s E delta`` and ``t'`` = ``t`` + shift (``E``, ``s``, shift:
    :func:`pose_edit`; ``s E`` is no longer a rotation when ``s`` != 1, which the generator
    accepts: it only transforms the keypoints)."""
    p = np.array(params, dtype=np.float64, copy=True)
    rotation, zoom, shift = pose_edit(values)
    p[:9] = (zoom * rotation @ p[:9].reshape(3, 3)).ravel()
    p[9:11] += shift
    p[12:] = (zoom * p[12:].reshape(-1, 3) @ rotation.T).ravel()
    return p
