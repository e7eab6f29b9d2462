"""68 facial landmarks per picture (dlib) and the head pose they give (OpenCV ``solvePnP``).

The motion metrics (:mod:`.motion`) must not score a model with the detector that drove it: the
encoder's analysis uses MediaPipe Face Mesh, so this module uses dlib instead
(``dlib-bin``: the HOG frontal face detector; ``face-recognition-models``: the 68-point shape
predictor ``shape_predictor_68_face_landmarks.dat``, an ensemble of regression trees, Kazemi and
Sullivan, CVPR 2014, trained on the iBUG 300-W markup). Both ship inside the pip packages;
nothing is downloaded.

Point numbering (0-based, 300-W): jaw 0-16, brows 17-26, nose bridge 27-30, nostrils 31-35,
eyes 36-41 (on the image left of a frontal face) and 42-47, outer lips 48-59, inner lips 60-67.

dlib returns integer pixel positions; the shape predictor therefore runs on the picture
upsampled :data:`UPSAMPLE` times (bilinear), so positions are quantised to 1/4 pixel (the eye
aspect ratio measures eye heights of a few pixels at 256x256).

Head pose: the nearly rigid points :data:`POSE_POINTS` (eye corners, nose, upper jaw line) are
matched to a 3-D
template of the 68 points fitted on the shared clips by ``python -m refsw.train.face68_template``
(``face68_template.npz`` beside this module; template frame: x to the image right, y down, z
away from the camera, inter-ocular distance of the outer eye corners 1, mirror-symmetric,
pitch 0 when the eye-to-mouth line is in the image plane), with a pinhole camera of focal
length :data:`FOCAL` picture widths, principal point at the centre. Against a MediaPipe Face
Mesh pose (Procrustes rotation of the 478 points, the script's ``--check``) on four clips with
head turns (st_furious_talk2_clip1/3/7, lp_d3; 577 pictures), after removing each clip's
constant offset: mean absolute difference yaw 1.1, pitch 3.3, roll 1.8 degrees; yaw ranges
30.5/31.0, 6.9/4.9, 41.8/44.0, 37.4/38.8 degrees (dlib/MediaPipe). Most of the pitch and roll
difference is st_furious_talk2_clip7 (strong head tilt; 7.0 and 6.5 degrees there, 0.9-3.1
and 0.4-1.4 on the others). The focal length and the point set were chosen by this comparison
(focal 1, 2, 4, 8, 20 widths; eye corners and nose only, with the jaw line, all 68 points).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import cv2
import numpy as np

from .common import MetricInputError, MetricUnavailable

logger = logging.getLogger(__name__)

__all__ = [
    "FOCAL",
    "INNER_51",
    "LEFT_EYE",
    "MOUTH_INNER",
    "POSE_POINTS",
    "RIGHT_EYE",
    "TEMPLATE_PATH",
    "UPSAMPLE",
    "face68_status",
    "head_pose",
    "head_pose_status",
    "landmarks68",
    "load_template",
    "rotation_to_euler",
]

#: Upsampling factor of the picture given to the shape predictor (1/4-pixel positions).
UPSAMPLE = 4
#: Focal length of the pose camera in picture widths. Face-centred crops are a small part of the
#: camera's field of view (about 14 degrees across at 4); with 1 (53 degrees) the perspective
#: model halved the yaw range against MediaPipe's (python -m refsw.train.face68_template --check).
FOCAL = 4.0
#: The 51 inner points (brows, nose, eyes, lips; no jaw line), indices into the 68.
INNER_51 = np.arange(17, 68)
#: Eye on the image left of a frontal face: outer corner, two upper lid, inner corner, two lower lid.
RIGHT_EYE = np.arange(36, 42)
#: Eye on the image right: inner corner, two upper lid, outer corner, two lower lid.
LEFT_EYE = np.arange(42, 48)
#: Inner lip contour: left corner 60, upper 61-63, right corner 64, lower 65-67.
MOUTH_INNER = np.arange(60, 68)
#: Points of the head pose: the upper jaw line 0-4 and 12-16 (beside the ears and cheeks, not
#: moved by the mouth), nose 27-35 and eye corners 36, 39, 42, 45; not the brows, lids, lips
#: and chin, which move with expressions.
POSE_POINTS = np.array([*range(0, 5), *range(12, 17), *range(27, 36), 36, 39, 42, 45])
#: The fitted 3-D template (``points``: ``(68, 3)`` float64).
TEMPLATE_PATH = Path(__file__).with_name("face68_template.npz")

_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"


def _predictor_path() -> Path | None:
    """Path of the 68-point model inside ``face_recognition_models`` (found without importing the
    package, whose ``__init__`` needs ``pkg_resources``), or ``None``."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / _PREDICTOR_FILE
    return path if path.is_file() else None


def face68_status() -> str | None:
    """Why the dlib landmarks cannot run here (``None`` when they can). Runs nothing."""
    if importlib.util.find_spec("dlib") is None:
        return "dlib is not installed (pip install dlib-bin)"
    if _predictor_path() is None:
        return f"{_PREDICTOR_FILE} not found (pip install face-recognition-models)"
    return None


def head_pose_status() -> str | None:
    """Why :func:`head_pose` on :func:`landmarks68` cannot run here (``None`` when it can)."""
    reason = face68_status()
    if reason is None and not TEMPLATE_PATH.is_file():
        reason = f"head-pose template {TEMPLATE_PATH} missing"
    return reason


@functools.cache
def _models() -> tuple[object, object]:
    """``(detector, predictor)``, loaded once per process (the predictor file is 100 MB)."""
    reason = face68_status()
    if reason is not None:
        raise MetricUnavailable(f"face68: {reason}")
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(_predictor_path()))


def _check_frames(frames: np.ndarray, what: str) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise MetricInputError(f"{what}: frames must be a uint8 numpy array (N, H, W, 3)")
    if frames.ndim != 4 or frames.shape[3] != 3 or min(frames.shape[:3]) == 0:
        raise MetricInputError(f"{what}: frames must have shape (N, H, W, 3), got {frames.shape}")


def landmarks68(frames: np.ndarray) -> np.ndarray:
    """The 68 dlib landmarks of every picture.

    The face is detected in every picture independently (HOG detector, no upsampling; the
    largest face when there are several), then the shape predictor runs in that box on the
    picture upsampled :data:`UPSAMPLE` times.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB.

    Returns:
        ``(N, 68, 2)`` float64 ``(x, y)`` in pixels of the input pictures (pixel centres at
        integers); all NaN for a picture without a detected face.

    Raises:
        MetricInputError: malformed ``frames``.
        MetricUnavailable: dlib or its model is not installed.
    """
    _check_frames(frames, "face68")
    detector, predictor = _models()
    import dlib

    out = np.full((len(frames), 68, 2), np.nan)
    for i, picture in enumerate(frames):
        picture = np.ascontiguousarray(picture)
        boxes = detector(picture, 0)  # type: ignore[operator]
        if not boxes:
            continue
        box = max(boxes, key=lambda r: r.area())
        big = cv2.resize(picture, None, fx=UPSAMPLE, fy=UPSAMPLE, interpolation=cv2.INTER_LINEAR)
        scaled = dlib.rectangle(
            box.left() * UPSAMPLE, box.top() * UPSAMPLE, box.right() * UPSAMPLE, box.bottom() * UPSAMPLE
        )
        shape = predictor(big, scaled)  # type: ignore[operator]
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        # upsampled pixel centre c maps to (c + 0.5) / UPSAMPLE - 0.5 in the input picture
        out[i] = (pts + 0.5) / UPSAMPLE - 0.5
    return out


@functools.cache
def load_template() -> np.ndarray:
    """``(68, 3)`` float64 3-D template of the 68 points (see the module docstring).

    Raises:
        MetricUnavailable: the template file is missing.
    """
    if not TEMPLATE_PATH.is_file():
        raise MetricUnavailable(f"face68: head-pose template {TEMPLATE_PATH} missing")
    with np.load(TEMPLATE_PATH) as z:
        points = np.asarray(z["points"], dtype=np.float64)
    if points.shape != (68, 3):
        raise MetricUnavailable(f"face68: {TEMPLATE_PATH} holds points of shape {points.shape}, expected (68, 3)")
    return points


def rotation_to_euler(rotation: np.ndarray) -> np.ndarray:
    """``(yaw, pitch, roll)`` in degrees of a template-to-camera rotation matrix, intrinsic
    Y-X-Z order: ``R = Ry(yaw) Rx(pitch) Rz(roll)``.

    Signs (camera frame x right, y down, z away from the camera; the template's nose points to
    -z): yaw > 0 when the nose turns towards the image left, pitch > 0 when it turns down, roll
    > 0 when the face tilts clockwise in the image. A horizontally mirrored picture has the yaw
    and roll of opposite sign and the same pitch.
    """
    r = rotation
    pitch = np.arcsin(np.clip(-r[1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[0, 2], r[2, 2])
    roll = np.arctan2(r[1, 0], r[1, 1])
    return np.degrees([yaw, pitch, roll])


def head_pose(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Head pose of every picture from its 68 landmarks.

    ``cv2.solvePnP`` (iterative Levenberg-Marquardt from an EPnP start) of :data:`POSE_POINTS`
    against :func:`load_template`; camera: focal length :data:`FOCAL` x picture width in
    pixels, principal point at the picture centre, no distortion.

    Args:
        points: ``(N, 68, 2)`` float64 landmarks in pixels (:func:`landmarks68`; NaN rows for
            pictures without a face).
        size: ``(H, W)`` of the pictures in pixels.

    Returns:
        ``(N, 3)`` float64 ``(yaw, pitch, roll)`` in degrees (:func:`rotation_to_euler`); NaN
        for pictures without landmarks or where ``solvePnP`` fails.

    Raises:
        MetricInputError: ``points`` is not ``(N, 68, 2)``.
        MetricUnavailable: the template is missing.
    """
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise MetricInputError(f"head_pose: points must have shape (N, 68, 2), got {points.shape}")
    template = load_template()[POSE_POINTS]
    h, w = size
    f = FOCAL * w
    camera = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
    no_distortion = np.zeros(4)
    out = np.full((len(points), 3), np.nan)
    for i, pts in enumerate(points):
        image = np.ascontiguousarray(pts[POSE_POINTS])
        if not np.isfinite(image).all():
            continue
        ok, rvec, tvec = cv2.solvePnP(template, image, camera, no_distortion, flags=cv2.SOLVEPNP_EPNP)
        if ok:
            ok, rvec, tvec = cv2.solvePnP(
                template, image, camera, no_distortion, rvec, tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
            )
        if ok:
            out[i] = rotation_to_euler(cv2.Rodrigues(rvec)[0])
    return out
