"""Motion fidelity of a decoded talking-face video: does it move like the original?

Landmarks come from dlib's 68-point shape predictor (:mod:`.face68`), not from MediaPipe, which
drives the encoder's analysis: no model is scored by its own detector. Every picture of both
videos is analysed independently. Measures, reference first:

* **AKD** (average keypoint distance; Siarohin et al., "First Order Motion Model for Image
  Animation", NeurIPS 2019, and Zhao and Zhang, "Thin-Plate Spline Motion Model", CVPR 2022):
  per picture, the mean Euclidean distance between corresponding points of
  :data:`AKD_POINTS` (the 51 inner points: brows, nose, eyes, lips; the jaw line is left out
  because its points slide along the face silhouette), divided by the outer inter-ocular
  distance (points 36-45) of the *reference* picture. The papers report pixels at 256x256;
  multiply by the inter-ocular distance (about 85-90 pixels in the face-centred 256x256 crops
  of the shared clips) to compare.
* **MKR** (missing keypoint rate, same papers): among the pictures where the reference has a
  face, the share where the decoded picture has none. Pictures where either side has no face are
  excluded from every mean and counted.
* **Eye openness**: eye aspect ratio (Soukupova and Cech, "Real-Time Eye Blink Detection using
  Facial Landmarks", CVWW 2016), ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)`` over the six points of
  each eye, mean of both eyes. **Mouth opening**: mean distance of the inner-lip pairs 61-67,
  62-66, 63-65 divided by the mouth width (outer corners 48-54). Both traces are compared by
  their Pearson correlation over the clip.
* **Head pose error**: absolute difference of yaw, pitch and roll (degrees,
  :func:`.face68.head_pose`) per picture, and their mean.

Whether a correlation is meaningful depends on the input: a clip whose eyes never close has an
eye-openness trace of landmark jitter only. :func:`input_activity` says whether the reference
**blinks** (minimum eye openness below :data:`BLINK_RATIO` times its median) and **talks**
(standard deviation of the mouth opening above :data:`TALK_STD`). Thresholds from the shared
clips (first 100 pictures, 256x256): minimum / median eye openness 0.35-0.58 on the clips with
visible blinks, 0.70 on tpsmm_driving, 0.92-0.95 on the two MEAD clips without blinks, and
0.79-0.98 on a frozen picture with Gaussian noise (sigma 3) on every copy (landmark jitter; the
low value is lp_d19, a face with glasses); mouth-opening standard deviation 0.039-0.20 on ten
talking clips, 0.003-0.013 on the noisy frozen pictures.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .common import MetricInputError, check_rgb_pair
from .face68 import INNER_51, LEFT_EYE, RIGHT_EYE, head_pose, landmarks68

__all__ = [
    "AKD_POINTS",
    "BLINK_RATIO",
    "TALK_STD",
    "Correlation",
    "InputActivity",
    "MotionFidelity",
    "MotionTraces",
    "akd_per_picture",
    "motion_akd_per_picture",
    "cached_landmarks68",
    "eye_openness",
    "input_activity",
    "motion_fidelity",
    "motion_traces",
    "mouth_opening",
    "pearson",
    "pose_error_per_picture",
]

#: Points of the AKD: the 51 inner points of the 68.
AKD_POINTS = INNER_51
#: A clip blinks when its minimum eye openness is below this share of its median.
BLINK_RATIO = 0.70
#: A clip talks when the standard deviation of its mouth opening is above this.
TALK_STD = 0.025
#: Traces with a standard deviation below this are treated as constant (no correlation).
_CONSTANT_STD = 1e-9
#: Landmark results kept for repeated calls on the same pictures (several metrics of one job).
_CACHE_SIZE = 4
_cache: OrderedDict[str, np.ndarray] = OrderedDict()


def cached_landmarks68(frames: np.ndarray) -> np.ndarray:
    """:func:`.face68.landmarks68`, remembered for the last few distinct inputs (keyed by a
    BLAKE2 digest of the pictures), so that AKD, pose error and the correlations of one clip
    detect the faces once. Returns a read-only ``(N, 68, 2)`` float64 array."""
    frames = np.ascontiguousarray(frames)
    key = hashlib.blake2b(frames.data, digest_size=16).hexdigest() + str(frames.shape)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    points = landmarks68(frames)
    points.flags.writeable = False
    _cache[key] = points
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return points


def _distance(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[:, a] - points[:, b], axis=-1)


def eye_openness(points: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 eye aspect ratio, mean of both eyes (NaN where ``points`` are NaN).

    Args:
        points: ``(N, 68, 2)`` landmarks (:func:`.face68.landmarks68`).
    """
    ratios = []
    for eye in (RIGHT_EYE, LEFT_EYE):
        p1, p2, p3, p4, p5, p6 = eye
        vertical = _distance(points, p2, p6) + _distance(points, p3, p5)
        ratios.append(vertical / (2.0 * _distance(points, p1, p4)))
    return np.mean(ratios, axis=0)


def mouth_opening(points: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 inner-lip opening (mean of 61-67, 62-66, 63-65) / mouth width (48-54).

    Args:
        points: ``(N, 68, 2)`` landmarks (:func:`.face68.landmarks68`).
    """
    opening = np.mean([_distance(points, a, b) for a, b in ((61, 67), (62, 66), (63, 65))], axis=0)
    return opening / _distance(points, 48, 54)


@dataclass(frozen=True)
class Correlation:
    """Pearson correlation of two traces.

    Attributes:
        value: correlation coefficient in [-1, 1], NaN when undefined.
        reason: why ``value`` is NaN (``None`` when it is not).
        pictures: pictures used (both traces finite).
    """

    value: float
    reason: str | None
    pictures: int


def pearson(reference: np.ndarray, decoded: np.ndarray) -> Correlation:
    """Pearson correlation of two ``(N,)`` traces over the pictures where both are finite.

    NaN, with the reason, when fewer than 3 pictures remain or a trace is constant.

    Raises:
        MetricInputError: the traces are not 1-D of equal length.
    """
    a, b = np.asarray(reference, np.float64), np.asarray(decoded, np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise MetricInputError(f"pearson: traces must be 1-D of equal length, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n < 3:
        return Correlation(math.nan, f"only {n} pictures with a face in both videos", n)
    a, b = a[ok], b[ok]
    for name, trace in (("reference", a), ("decoded", b)):
        if trace.std() < _CONSTANT_STD:
            return Correlation(math.nan, f"the {name} trace is constant", n)
    return Correlation(float(np.corrcoef(a, b)[0, 1]), None, n)


@dataclass(frozen=True)
class InputActivity:
    """What the reference clip does (see the module docstring for the thresholds).

    Attributes:
        blinks: minimum eye openness < :data:`BLINK_RATIO` x its median.
        talks: standard deviation of the mouth opening > :data:`TALK_STD`.
        eye_dip: minimum / median eye openness (NaN without a face).
        mouth_std: standard deviation of the mouth opening (NaN without a face).
    """

    blinks: bool
    talks: bool
    eye_dip: float
    mouth_std: float


def input_activity(eye: np.ndarray, mouth: np.ndarray) -> InputActivity:
    """Whether a clip blinks and talks, from its ``(N,)`` eye-openness and mouth-opening traces
    (:func:`eye_openness`, :func:`mouth_opening`; NaN pictures ignored)."""
    eye, mouth = eye[np.isfinite(eye)], mouth[np.isfinite(mouth)]
    dip = float(eye.min() / np.median(eye)) if eye.size else math.nan
    std = float(mouth.std()) if mouth.size else math.nan
    return InputActivity(blinks=dip < BLINK_RATIO, talks=std > TALK_STD, eye_dip=dip, mouth_std=std)


def akd_per_picture(reference_points: np.ndarray, decoded_points: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 AKD per picture (see the module docstring), NaN where either side has
    no face.

    Args:
        reference_points, decoded_points: ``(N, 68, 2)`` landmarks in pixels.
    """
    dist = np.linalg.norm(reference_points[:, AKD_POINTS] - decoded_points[:, AKD_POINTS], axis=-1).mean(axis=1)
    return dist / _distance(reference_points, 36, 45)


def motion_akd_per_picture(reference_points: np.ndarray, decoded_points: np.ndarray) -> np.ndarray:
    """``(N,)`` float64 AKD of the *motion* of two different faces (``gfv-decode --base-picture``),
    NaN where either side has no face.

    The decoded face is aligned onto the reference face once, by the least-squares similarity
    (Procrustes / Umeyama: rotation, scale, translation) of their :data:`AKD_POINTS` in the
    first picture where both have a face (the anchor); then, per picture, each point's movement
    since the anchor is compared: the mean distance between ``S(decoded_t) - S(decoded_anchor)``
    and ``reference_t - reference_anchor``, divided by the reference's outer inter-ocular
    distance as :func:`akd_per_picture`. Identity and face shape cancel; a still picture scores
    the reference's own movement.

    Args:
        reference_points, decoded_points: ``(N, 68, 2)`` landmarks in pixels.
    """
    both = np.flatnonzero(~np.isnan(reference_points[:, 0, 0]) & ~np.isnan(decoded_points[:, 0, 0]))
    if not len(both):
        return np.full(len(reference_points), np.nan)
    ref = reference_points[:, AKD_POINTS] @ np.array([1.0, 1j])  # points as complex numbers
    dec = decoded_points[:, AKD_POINTS] @ np.array([1.0, 1j])
    a0, b0 = dec[both[0]] - dec[both[0]].mean(), ref[both[0]] - ref[both[0]].mean()
    scale_rotation = (np.conj(a0) @ b0) / (np.conj(a0) @ a0).real  # least-squares similarity
    moved = scale_rotation * (dec - dec[both[0]]) - (ref - ref[both[0]])
    return np.abs(moved).mean(axis=1) / _distance(reference_points, 36, 45)


def pose_error_per_picture(reference_pose: np.ndarray, decoded_pose: np.ndarray) -> np.ndarray:
    """``(N, 3)`` float64 absolute yaw, pitch, roll differences in degrees (wrapped to
    [0, 180]), NaN where either pose is missing.

    Args:
        reference_pose, decoded_pose: ``(N, 3)`` degrees (:func:`.face68.head_pose`).
    """
    diff = (decoded_pose - reference_pose + 180.0) % 360.0 - 180.0
    return np.abs(diff)


@dataclass(frozen=True)
class MotionTraces:
    """Per-picture values of one video (``(N,)`` float64 unless stated; NaN without a face).

    Attributes:
        points: ``(N, 68, 2)`` float64 dlib landmarks in pixels.
        eye: eye openness (:func:`eye_openness`).
        mouth: mouth opening (:func:`mouth_opening`).
        pose: ``(N, 3)`` yaw, pitch, roll in degrees (:func:`.face68.head_pose`).
    """

    points: np.ndarray
    eye: np.ndarray
    mouth: np.ndarray
    pose: np.ndarray


def motion_traces(frames: np.ndarray) -> MotionTraces:
    """Landmarks, eye and mouth traces and head pose of ``(N, H, W, 3)`` uint8 RGB pictures.

    Raises:
        MetricInputError: malformed ``frames``.
        MetricUnavailable: dlib, its model or the pose template is missing.
    """
    points = cached_landmarks68(frames)
    return MotionTraces(
        points, eye_openness(points), mouth_opening(points), head_pose(points, (frames.shape[1], frames.shape[2]))
    )


@dataclass(frozen=True)
class MotionFidelity:
    """Motion fidelity of a decoded clip against its reference (see the module docstring).

    Attributes:
        pictures: pictures in each video.
        fps: picture rate (Hz).
        akd: mean AKD over the pictures with a face in both (NaN if none).
        akd_per_picture: ``(N,)`` float64, NaN where excluded.
        mkr: missing keypoint rate in [0, 1] (NaN if the reference never has a face).
        missing: pictures excluded because either video has no face there.
        eye_corr: correlation of the eye-openness traces.
        mouth_corr: correlation of the mouth-opening traces.
        pose_err_deg: mean absolute ``{"yaw", "pitch", "roll", "mean"}`` error in degrees
            (``mean`` = mean of the three).
        pose_err_per_picture: ``(N, 3)`` float64 yaw, pitch, roll errors in degrees.
        activity: whether the reference blinks and talks (where the correlations apply).
        reference: the reference's traces.
        decoded: the decoded video's traces.
    """

    pictures: int
    fps: float
    akd: float
    akd_per_picture: np.ndarray
    mkr: float
    missing: int
    eye_corr: Correlation
    mouth_corr: Correlation
    pose_err_deg: dict[str, float]
    pose_err_per_picture: np.ndarray
    activity: InputActivity
    reference: MotionTraces
    decoded: MotionTraces


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def motion_fidelity(reference: np.ndarray, decoded: np.ndarray, fps: float) -> MotionFidelity:
    """All motion-fidelity measures of one clip.

    Args:
        reference: ``(N, H, W, 3)`` uint8 RGB original pictures.
        decoded: ``(N, H, W, 3)`` uint8 RGB decoded pictures, same shape.
        fps: picture rate in Hz (recorded; the measures are per picture).

    Raises:
        MetricInputError: malformed inputs, shapes that differ, or ``fps`` <= 0.
        MetricUnavailable: dlib, its model or the pose template is missing.
    """
    n, _, _ = check_rgb_pair(reference, decoded, "motion_fidelity")
    if not fps > 0:
        raise MetricInputError(f"motion_fidelity: fps must be > 0, got {fps}")
    ref, dec = motion_traces(reference), motion_traces(decoded)
    ref_found = np.isfinite(ref.points).all(axis=(1, 2))
    dec_found = np.isfinite(dec.points).all(axis=(1, 2))
    akd = akd_per_picture(ref.points, dec.points)
    pose_err = pose_error_per_picture(ref.pose, dec.pose)
    axes = {name: _nanmean(pose_err[:, k]) for k, name in enumerate(("yaw", "pitch", "roll"))}
    return MotionFidelity(
        pictures=n,
        fps=float(fps),
        akd=_nanmean(akd),
        akd_per_picture=akd,
        mkr=float((ref_found & ~dec_found).sum() / ref_found.sum()) if ref_found.any() else math.nan,
        missing=int((~(ref_found & dec_found)).sum()),
        eye_corr=pearson(ref.eye, dec.eye),
        mouth_corr=pearson(ref.mouth, dec.mouth),
        pose_err_deg={**axes, "mean": _nanmean(pose_err.mean(axis=1))},
        pose_err_per_picture=pose_err,
        activity=input_activity(ref.eye, ref.mouth),
        reference=ref,
        decoded=dec,
    )
