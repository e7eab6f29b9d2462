"""Training data: the shared talking-head clips prepared to the CTC format, with landmarks.

Every clip is read once, cropped to a face-centred 256x256 square (:func:`refsw.media.face_crop.prepare_ctc`)
and tracked with MediaPipe Face Mesh (478 landmarks incl. iris). The result is cached as one
``.npz`` per clip (``frames`` ``(N, S, S, 3)`` uint8 RGB; ``landmarks`` ``(N, 478, 3)`` float32
with x, y normalised to [-1, 1] and z in the same units; ``found`` ``(N,)`` bool) so that training
runs and restarts do not repeat the preparation.

Split (fixed, so every checkpoint is comparable): :data:`TRAIN_CLIPS` are used for training,
:data:`VALIDATION_CLIPS` for validation during training, :data:`TEST_CLIPS` never.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Clips of ``../shared/data`` used for training.
TRAIN_CLIPS = ("lp_d0", "lp_d3", "lp_d6", "lp_d10", "lp_d12", "lp_d14")
#: Held out: validation loss during training and the benchmark.
VALIDATION_CLIPS = ("lp_d19",)
#: Never seen in training nor validation: the benchmark only.
TEST_CLIPS = ("tpsmm_driving",)


def default_data_dir() -> Path:
    """``$GFV_DATA`` or ``../shared/data`` next to the repository."""
    env = os.environ.get("GFV_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


def default_cache_dir() -> Path:
    """``$GFV_CACHE`` or ``~/.cache/gfv-refsw``."""
    env = os.environ.get("GFV_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gfv-refsw"


@dataclass
class Clip:
    """One prepared clip.

    Attributes:
        name: clip name (file stem).
        frames: ``(N, S, S, 3)`` uint8 RGB.
        landmarks: ``(N, 478, 3)`` float32 Face Mesh landmarks, x/y normalised to [-1, 1].
        found: ``(N,)`` bool, False where the tracker lost the face (landmarks repeated).
        fps: picture rate (pictures/s).
    """

    name: str
    frames: np.ndarray
    landmarks: np.ndarray
    found: np.ndarray
    fps: float


def _track(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import mediapipe as mp

    from ..quiet import native_stderr_silenced

    lms = np.zeros((len(frames), 478, 3), dtype=np.float32)
    found = np.zeros(len(frames), dtype=bool)
    with (
        native_stderr_silenced(),
        mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True) as mesh,
    ):
        for i, f in enumerate(frames):
            res = mesh.process(np.ascontiguousarray(f))
            if res.multi_face_landmarks:
                lm = res.multi_face_landmarks[0].landmark
                lms[i] = [(2 * p.x - 1, 2 * p.y - 1, 2 * p.z) for p in lm]
                found[i] = True
            elif i:
                lms[i] = lms[i - 1]
    return lms, found


def _save_cache(cache: Path, **arrays: np.ndarray | float) -> None:
    """Writes ``arrays`` to the ``.npz`` file ``cache`` atomically (per-process temporary name);
    a cache directory that cannot be written (read-only home) only logs a warning: the data
    are prepared again next time."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, cache)
    except OSError as err:
        log.warning("cannot cache %s: %s", cache, err)


def load_clip(
    name: str,
    size: int = 256,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    max_frames: int | None = None,
) -> Clip:
    """The prepared clip ``name`` (cached after the first call).

    Raises:
        FileNotFoundError: ``<data_dir>/<name>.mp4`` does not exist.
    """
    from ..media.face_crop import prepare_ctc
    from ..media.video_io import read_video

    data_dir = data_dir or default_data_dir()
    cache_dir = cache_dir or default_cache_dir()
    cache = cache_dir / f"{name}_{size}.npz"
    if cache.exists():
        z = np.load(cache)
        clip = Clip(name, z["frames"], z["landmarks"], z["found"], float(z["fps"]))
    else:
        src = data_dir / f"{name}.mp4"
        if not src.exists():
            raise FileNotFoundError(f"training clip {src} not found")
        video = read_video(src)
        frames, _ = prepare_ctc(video.frames, size=size, force=True)
        lms, found = _track(frames)
        _save_cache(cache, frames=frames, landmarks=lms, found=found, fps=video.fps)
        log.info("prepared %s: %d pictures", name, len(frames))
        clip = Clip(name, frames, lms, found, float(video.fps))
    if max_frames:
        clip = Clip(clip.name, clip.frames[:max_frames], clip.landmarks[:max_frames], clip.found[:max_frames], clip.fps)
    return clip


def coded_pictures(
    clip: Clip, qp: int = 32, every: int = 4, backend: str = "vvenc", cache_dir: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every ``every``-th picture of ``clip`` coded as a key picture is: one intra picture per
    stream with the VVC ``backend`` at ``qp``, decoded (cached as ``<name>_<S>_qp<qp>_every<k>.npz``).

    Training with these as source pictures teaches the generator what it gets at the decoder,
    a decoded key picture, while its target stays the original picture.

    Returns:
        ``(indices (M,) int64, pictures (M, S, S, 3) uint8 RGB)``.

    Raises:
        refsw.codecs.CodecError: the VVC encoder or decoder failed.
    """
    from ..codecs import create_backend

    cache_dir = cache_dir or default_cache_dir()
    size = clip.frames.shape[1]
    cache = cache_dir / f"{clip.name}_{size}_qp{qp}_every{every}.npz"
    indices = np.arange(0, len(clip.frames), every)
    if cache.exists():
        z = np.load(cache)
        if np.array_equal(z["indices"], indices):
            return z["indices"], z["pictures"]
    codec = create_backend(backend)
    pictures = np.stack(
        [codec.decode(codec.encode(clip.frames[i : i + 1], qp=qp, fps=clip.fps).bitstream).frames[0] for i in indices]
    )
    _save_cache(cache, indices=indices, pictures=pictures)
    log.info("coded %d key pictures of %s at QP %d", len(indices), clip.name, qp)
    return indices, pictures


class PairSampler:
    """Random (source, driving) picture pairs from the same clip, as in FOMM training.

    Args:
        clips: prepared clips.
        seed: RNG seed (a resumed run re-seeds it from the step, ``gfv-train``).
        coded: per clip, ``(indices, pictures)`` of :func:`coded_pictures` (decoded key pictures
            that :meth:`batch` can use as source pictures), or ``None``.
    """

    def __init__(
        self, clips: list[Clip], seed: int = 0, coded: list[tuple[np.ndarray, np.ndarray]] | None = None
    ) -> None:
        self.clips = clips
        self.coded = coded
        self.rng = np.random.default_rng(seed)
        self.weights = np.array([len(c.frames) for c in clips], dtype=np.float64)
        self.weights /= self.weights.sum()

    def batch(
        self,
        n: int,
        flip: bool = False,
        per_source: int = 1,
        near_prob: float = 0.0,
        near_window: int = 8,
        coded_prob: float = 0.0,
    ) -> dict[str, np.ndarray]:
        """``n`` pairs: ``source``/``driving`` ``(n, S, S, 3)`` uint8, ``source_lm``/``driving_lm``
        ``(n, 478, 3)`` float32, ``previous`` ``(n, S, S, 3)`` the picture before the driving one
        (CTTR's trajectory); with ``flip`` all are mirrored together at random (landmark x negated).
        ``per_source`` consecutive pairs share their source picture (its features are computed
        once in training). With probability ``near_prob`` the driving picture is taken within
        ``near_window`` pictures of the source (small motions, which a talking head mostly has).
        With probability ``coded_prob`` (needs ``coded``) the source picture is a decoded key
        picture, as the decoder's generator gets it; the driving picture stays the original.

        Raises:
            ValueError: ``coded_prob`` > 0 without ``coded`` pictures."""
        if coded_prob > 0 and self.coded is None:
            raise ValueError("coded_prob > 0 needs the coded pictures (PairSampler(coded=...))")
        out: dict[str, list] = {"source": [], "driving": [], "source_lm": [], "driving_lm": [], "previous": []}
        for k in range(n):
            if k % per_source == 0:
                ci = int(self.rng.choice(len(self.clips), p=self.weights))
                c = self.clips[ci]
                source = None
                if coded_prob > 0 and self.rng.random() < coded_prob:
                    assert self.coded is not None  # coded_prob > 0: checked above
                    idx, pics = self.coded[ci]
                    m = int(self.rng.integers(len(idx)))
                    i, source = int(idx[m]), pics[m]
                else:
                    i = int(self.rng.integers(len(c.frames)))
            if self.rng.random() < near_prob:
                j = int(np.clip(i + self.rng.integers(-near_window, near_window + 1), 0, len(c.frames) - 1))
            else:
                j = int(self.rng.integers(len(c.frames)))
            s = c.frames[i] if source is None else source
            d, p = c.frames[j], c.frames[max(j - 1, 0)]
            ls, ld = c.landmarks[i].copy(), c.landmarks[j].copy()
            if flip and self.rng.random() < 0.5:
                s, d, p = s[:, ::-1], d[:, ::-1], p[:, ::-1]
                ls[:, 0] *= -1
                ld[:, 0] *= -1
            out["source"].append(s)
            out["driving"].append(d)
            out["previous"].append(p)
            out["source_lm"].append(ls)
            out["driving_lm"].append(ld)
        return {k: np.ascontiguousarray(np.stack(v)) for k, v in out.items()}
