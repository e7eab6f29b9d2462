"""Encoder-side face analysis with MediaPipe Face Mesh (478 landmarks incl. iris).

Source: Kartynnik et al., "Real-time Facial Surface Geometry from Monocular Video on Mobile
GPUs", CVPR workshops 2019 (face mesh); Ablavatski et al., "Real-time Pupil Tracking from
Monocular Video for Digital Puppetry", 2020 (iris). The models ship inside the ``mediapipe``
wheel; nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..progress import progress
from ..quiet import native_stderr_silenced
from .interface import NoFaceInClipError

log = logging.getLogger(__name__)

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _face_mesh(static: bool):
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static,
        max_num_faces=1,
        refine_landmarks=True,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def _mesh_of(result) -> np.ndarray | None:
    """``(478, 3)`` float64 (x, y normalised to [-1, 1], z = 2 * MediaPipe z) or ``None``."""
    if not result.multi_face_landmarks:
        return None
    lm = result.multi_face_landmarks[0].landmark
    return np.array([(2.0 * p.x - 1.0, 2.0 * p.y - 1.0, 2.0 * p.z) for p in lm], dtype=np.float64)


def track_meshes(frames: np.ndarray, label: str = "face analysis") -> tuple[np.ndarray, np.ndarray]:
    """The 478-landmark face mesh of every picture of a clip (MediaPipe in tracking mode).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB (square pictures: x and z share the unit).
        label: progress bar label.

    Returns:
        ``(meshes (N, 478, 3) float64, found (N,) bool)``: x, y normalised to [-1, 1]
        (-1 = left/top edge), z = MediaPipe's depth in the same unit; where tracking failed the
        previous picture's mesh is repeated (the first found one before it).

    Raises:
        NoFaceInClipError: no face on any picture.
    """
    n = len(frames)
    meshes = np.zeros((n, 478, 3), dtype=np.float64)
    found = np.zeros(n, dtype=bool)
    with native_stderr_silenced(), _face_mesh(static=False) as mesh:
        for i, frame in enumerate(progress(frames, label)):
            m = _mesh_of(mesh.process(np.ascontiguousarray(frame)))
            if m is not None:
                meshes[i], found[i] = m, True
    if not found.any():
        raise NoFaceInClipError("no face found by the landmark tracker on any picture")
    first = int(np.argmax(found))
    meshes[:first] = meshes[first]
    for i in range(first + 1, n):
        if not found[i]:
            meshes[i] = meshes[i - 1]
    if not found.all():
        log.warning("face tracking failed on %d of %d pictures; previous landmarks repeated", int((~found).sum()), n)
    return meshes, found


class MeshTracker:
    """MediaPipe Face Mesh in tracking mode fed one picture at a time (live encoding): the
    per-picture form of :func:`track_meshes`, with the same units and the same repetition of the
    previous mesh where tracking fails. Use as a context manager (it holds the MediaPipe graph).
    """

    def __init__(self) -> None:
        self._mesh: Any = None
        self._last: np.ndarray | None = None

    def __enter__(self) -> MeshTracker:
        with native_stderr_silenced():
            self._mesh = _face_mesh(static=False).__enter__()
            # MediaPipe starts its graph and logs from its own threads on the first picture: one
            # blank picture here, so that this happens while stderr is silenced
            self._mesh.process(np.zeros((64, 64, 3), np.uint8))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._mesh is not None:
            self._mesh.__exit__(*exc)
            self._mesh = None

    def track(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        """``frame`` ``(H, W, 3)`` uint8 RGB -> ``(mesh (478, 3) float64, found)``; where tracking
        fails the previous picture's mesh is repeated (``found`` False).

        Raises:
            NoFaceInClipError: no face on this picture and none before it.
        """
        if self._mesh is None:
            raise RuntimeError("MeshTracker.track() outside its with-block")
        with native_stderr_silenced():
            m = _mesh_of(self._mesh.process(np.ascontiguousarray(frame)))
        if m is not None:
            self._last = m
            return m, True
        if self._last is None:
            raise NoFaceInClipError("no face found by the landmark tracker on the first picture")
        return self._last, False


def detect_mesh(picture: np.ndarray) -> np.ndarray | None:
    """The face mesh ``(478, 3)`` float64 of one picture ``(H, W, 3)`` uint8 RGB (MediaPipe in
    static-image mode; units as :func:`track_meshes`), or ``None`` when it finds no face."""
    with native_stderr_silenced(), _face_mesh(static=True) as mesh:
        return _mesh_of(mesh.process(np.ascontiguousarray(picture)))


def person_mask(picture: np.ndarray) -> np.ndarray:
    """Soft mask ``(H, W)`` float32 in [0, 1] of the person in ``picture`` ``(H, W, 3)`` uint8 RGB
    (1: person, 0: background): MediaPipe Selfie Segmentation, general model (256x256 input;
    Bazarevsky and Grishchenko, "Background Features in Google Meet", Google AI Blog 2020). The
    model ships inside the ``mediapipe`` wheel."""
    import mediapipe as mp

    with native_stderr_silenced(), mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        mask = seg.process(np.ascontiguousarray(picture)).segmentation_mask
    return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)


class LandmarkAnalyser:
    """Tracks a face through a clip and returns selected landmarks per picture.

    Args:
        indices: Face Mesh landmark indices to return (468..477 are the iris points).
    """

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)

    def analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks of every picture.

        Args:
            frames: ``(N, H, W, 3)`` uint8 RGB; frame 0 should be the decoded key picture.

        Returns:
            ``(kps, found)``: kps ``(N, K, 2)`` float64 normalised coordinates (x, y) in [-1, 1]
            (-1 = left/top picture edge, +1 = right/bottom edge, the JVET/FOMM convention);
            found ``(N,)`` bool, False where tracking failed and the previous picture's
            landmarks were repeated.

        Raises:
            NoFaceInClipError: no face on any picture.
        """
        meshes, found = track_meshes(frames)
        return meshes[:, self.indices, :2].copy(), found

    def live(self) -> LiveAnalysis:
        """Per-picture analysis for live encoding (:class:`LiveAnalysis`)."""
        indices = self.indices
        return LiveAnalysis(lambda mesh: mesh[indices, :2].copy())


class LiveAnalysis:
    """A face-mesh analyser fed one picture at a time (``gfv-encode --live``): causal, no
    look-ahead, so each picture's parameters are known as soon as it is captured.

    Args:
        params_of_mesh: ``(478, 3)`` mesh -> the model's parameters of that picture.
    """

    def __init__(self, params_of_mesh: Callable[[np.ndarray], np.ndarray]) -> None:
        self.params_of_mesh = params_of_mesh
        self.tracker = MeshTracker().__enter__()

    def push(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        """``frame`` ``(H, W, 3)`` uint8 RGB -> ``(params, found)`` (see :meth:`MeshTracker.track`).

        Raises:
            NoFaceInClipError: no face on this picture and none before it.
        """
        mesh, found = self.tracker.track(frame)
        return self.params_of_mesh(mesh), found

    def close(self) -> None:
        """Releases the tracker."""
        self.tracker.__exit__(None, None, None)
