"""Animating another face with a stream's motion (``gfv-decode --base-picture`` / ``--base-video``).

The picture (a photo of another person, a painting, a cartoon-like face) is prepared as the
encoder prepares its input (:func:`refsw.media.face_crop.prepare_ctc`: face-centred square crop,
resized to the decoded picture size), analysed with the stream's model's own analyser (its pose
and semantics, the *base parameters*), and set as the generator's key picture. Every output
picture, the key pictures' places included, is then synthesised from the base parameters moved
by the stream's motion relative to the stream's first key picture
(:attr:`refsw.models.ModelSpec.relative_motion`, :mod:`refsw.models.relative`): the other face
keeps its identity, shape and position. One reference for the whole stream (the first base
message's parameters) keeps the motion continuous across the stream's key-picture refreshes.

A base video ``(N, H, W, 3)`` gives output picture ``i`` its picture ``min(i, N - 1)`` as key
picture, each analysed on its own (the base video's motion and the stream's add up).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from refsw.media.frames import InputError
from refsw.models import Generator, ModelError, ModelSpec

from .generators import ResolvedGenerator


class BasePictureError(ValueError):
    """The base picture cannot be animated: no face, wrong shape, or a model that cannot
    animate another face (the message says which)."""


def prepare_base(pictures: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The base picture(s) in the decoded picture format: ``(N, H, W, 3)`` uint8 RGB.

    Args:
        pictures: ``(H', W', 3)`` or ``(N, H', W', 3)`` uint8 RGB, any size.
        size: ``(H, W)`` of the decoded pictures (square: the CTC format).

    Raises:
        BasePictureError: not uint8 RGB, or no face found by the face detector.
    """
    arr = np.asarray(pictures)
    frames = arr[None] if arr.ndim == 3 else arr
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise BasePictureError(f"the base picture must be (H, W, 3) or (N, H, W, 3) uint8 RGB, got {arr.shape}")
    if frames.shape[1:3] == tuple(size):
        return frames
    from refsw.media.face_crop import NoFaceError, prepare_ctc  # MediaPipe: loaded only for this

    try:
        return prepare_ctc(frames, size=size[0], force=True)[0]
    except NoFaceError:
        raise BasePictureError("no face found in the base picture by the face detector") from None
    except InputError as err:
        raise BasePictureError(f"base picture: {err}") from None


class OtherFaceGenerator:
    """A :class:`~refsw.models.Generator` that animates base picture(s) instead of the stream's
    key pictures.

    Args:
        spec: the stream's model (its analyser and :attr:`~refsw.models.ModelSpec.relative_motion`).
        inner: the model's generator.
        base: ``(N, H, W, 3)`` uint8 RGB base picture(s) in the decoded format (:func:`prepare_base`).

    Raises:
        BasePictureError: the model has no relative motion, or its analyser finds no face in a
            base picture.
    """

    def __init__(self, spec: ModelSpec, inner: Generator, base: np.ndarray) -> None:
        if spec.relative_motion is None:
            raise BasePictureError(
                f"model {spec.name} cannot animate another face (its parameters are a learned feature "
                "with no pose or keypoints to move relative to the stream's key picture)"
            )
        self.relative = spec.relative_motion
        self.inner = inner
        self.base = base
        try:
            params, found = spec.make_analyser().analyse(base)
        except ModelError as err:
            raise BasePictureError(f"no face found in the base picture by the {spec.name} analyser ({err})") from None
        if not np.all(found):
            missing = int(np.flatnonzero(~np.asarray(found))[0])
            raise BasePictureError(f"no face found in base picture {missing} by the {spec.name} analyser")
        self.base_params = np.asarray(params, dtype=np.float64)
        self.reference: np.ndarray | None = None
        self._index = 0
        self._current = -1

    def set_key_picture(self, key_picture: np.ndarray, key_params: np.ndarray) -> None:
        """Takes the first key picture's parameters as the reference of the motion; the key
        picture itself is not shown."""
        del key_picture
        if self.reference is None:
            self.reference = np.asarray(key_params, dtype=np.float64)

    def generate(self, params: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """The next output picture ``(H, W, 3)`` uint8 RGB: the base picture moved by ``params``
        relative to the reference (``previous`` is not used: models reading it cannot animate
        another face).

        Raises:
            RuntimeError: :meth:`set_key_picture` was not called.
        """
        del previous
        if self.reference is None:
            raise RuntimeError("set_key_picture() must be called before generate()")
        i = min(self._index, len(self.base) - 1)
        self._index += 1
        if i != self._current:
            self.inner.set_key_picture(self.base[i], self.base_params[i])
            self._current = i
        driven = self.relative(self.base_params[i], self.reference, np.asarray(params, dtype=np.float64))
        return self.inner.generate(driven)


def other_face(pictures: np.ndarray, size: tuple[int, int]) -> Callable[[ResolvedGenerator], ResolvedGenerator]:
    """The wrap of :class:`~refsw.decoder.generators.GeneratorResolver` that animates
    ``pictures`` (any size, :func:`prepare_base`; prepared once, here) at the decoded picture
    ``size`` ``(H, W)``: the resolved generator replaced by an :class:`OtherFaceGenerator`, which
    synthesises the key pictures' places too.

    Raises:
        BasePictureError: no face in a base picture (here, or when the wrap runs: see
            :class:`OtherFaceGenerator`).
    """
    base = prepare_base(pictures, size)

    def wrap(resolved: ResolvedGenerator) -> ResolvedGenerator:
        other = OtherFaceGenerator(resolved.spec, resolved.generator, base)
        return ResolvedGenerator(resolved.spec, resolved.layout, other, synthesise_key_pictures=True)

    return wrap
