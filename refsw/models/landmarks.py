"""Encoder-side face analysis with MediaPipe Face Mesh (478 landmarks incl. iris).

Source: Kartynnik et al., "Real-time Facial Surface Geometry from Monocular Video on Mobile
GPUs", CVPR workshops 2019 (face mesh); Ablavatski et al., "Real-time Pupil Tracking from
Monocular Video for Digital Puppetry", 2020 (iris). The models ship inside the ``mediapipe``
wheel; nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from ..progress import progress
from ..quiet import native_stderr_silenced
from .interface import NoFaceInClipError

log = logging.getLogger(__name__)

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
        import mediapipe as mp

        n = len(frames)
        kps = np.zeros((n, len(self.indices), 2), dtype=np.float64)
        found = np.zeros(n, dtype=bool)
        with (
            native_stderr_silenced(),
            mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            ) as mesh,
        ):
            for i, frame in enumerate(progress(frames, "face analysis")):
                res = mesh.process(np.ascontiguousarray(frame))
                if res.multi_face_landmarks:
                    lm = res.multi_face_landmarks[0].landmark
                    kps[i] = [(2.0 * lm[j].x - 1.0, 2.0 * lm[j].y - 1.0) for j in self.indices]
                    found[i] = True
        if not found.any():
            raise NoFaceInClipError("no face found by the landmark tracker on any picture")
        first = int(np.argmax(found))
        kps[:first] = kps[first]
        for i in range(first + 1, n):
            if not found[i]:
                kps[i] = kps[i - 1]
        if not found.all():
            log.warning(
                "face tracking failed on %d of %d pictures; previous landmarks repeated", int((~found).sum()), n
            )
        return kps, found
