"""The studio's state: one stream decoded once, edited pictures previewed one at a time, whole
edited renderings made in the background and cached, exports.

The stream is decoded once without edits (:func:`refsw.decoder.decode_stream`); that decode
gives the decoded pictures, each picture's generator parameters
(:attr:`refsw.decoder.DecodedVideo.params`, for the plot and the previews) and the picture rate.

An edit (slider values, :class:`refsw.decoder.edits.EditPlan`) or another base picture is shown
at once by a *preview*: the one picture on screen synthesised alone from its decoded parameters
with the edit applied (:func:`refsw.decoder.edits.edited_params`), by a generator of the
stream's model set to the picture's key picture (or to the base picture,
:class:`refsw.decoder.base_picture.OtherFaceGenerator`). Meanwhile the whole stream is
re-decoded with the edit (``decode_stream(edits=, base_picture=)``) in one background worker, so
that playback, the plot and the export show exactly what ``gfv-decode --edit ... --base-picture
...`` writes. A preview equals the re-decoded picture for generators that do not read the
previous picture (sem3d, kptps); for the others (``Ability.PREVIOUS_PICTURE``) it is synthesised
without it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refsw.decoder import DecodedVideo, StreamError, decode_stream
from refsw.decoder.base_picture import OtherFaceGenerator, prepare_base
from refsw.decoder.edits import EditError, EditPlan, check_supported, check_value, edited_params
from refsw.decoder.generators import GeneratorResolver, ResolvedGenerator
from sei.registry import PayloadType


class StudioError(ValueError):
    """A bad request from the page: unreadable base picture, unknown base id, bad values."""


@dataclass(frozen=True)
class Slider:
    """One edit slider of the page.

    Attributes:
        key: the edit key (one of :data:`refsw.decoder.edits.EDIT_KEYS`; its meaning and unit
            are documented there).
        minimum / maximum / step: the slider's range and step, in ``unit`` (inside the range
            :data:`refsw.decoder.edits.RANGES` accepts).
        neutral: the value that leaves the decoded picture unchanged (not sent as an edit).
        unit: what the value means, shown beside the slider.
    """

    key: str
    minimum: float
    maximum: float
    step: float
    neutral: float
    unit: str


#: The sliders, in the order of :data:`refsw.decoder.edits.EDIT_KEYS`.
SLIDERS: tuple[Slider, ...] = (
    Slider("eye_left", 0.0, 2.0, 0.05, 1.0, "x decoded"),
    Slider("eye_right", 0.0, 2.0, 0.05, 1.0, "x decoded"),
    Slider("eyes", 0.0, 2.0, 0.05, 1.0, "x decoded"),
    Slider("mouth", 0.0, 3.0, 0.05, 1.0, "x decoded"),
    Slider("gaze_x", -0.3, 0.3, 0.01, 0.0, "eye widths"),
    Slider("gaze_y", -0.3, 0.3, 0.01, 0.0, "eye widths"),
    Slider("yaw", -30.0, 30.0, 1.0, 0.0, "degrees"),
    Slider("pitch", -20.0, 20.0, 1.0, 0.0, "degrees"),
    Slider("roll", -30.0, 30.0, 1.0, 0.0, "degrees"),
    Slider("zoom", 0.5, 1.5, 0.02, 1.0, "x"),
    Slider("tx", -0.2, 0.2, 0.01, 0.0, "picture widths"),
    Slider("ty", -0.2, 0.2, 0.01, 0.0, "picture heights"),
)

#: Whole renderings kept (each holds the whole edited video).
CACHE_SIZE = 4

#: Settings of a rendering: the non-neutral edit values (sorted ``(key, value)`` pairs) and the
#: base picture id (``None``: the stream's own key pictures).
Settings = tuple[tuple[tuple[str, float], ...], str | None]


def read_picture_bytes(data: bytes) -> np.ndarray:
    """An uploaded picture file (PNG, JPEG, ... anything Pillow reads) as ``(H, W, 3)`` uint8 RGB
    (EXIF orientation applied, alpha dropped, grey replicated).

    Raises:
        StudioError: the bytes are not a picture.
    """
    import imageio.v3 as iio

    try:
        image = iio.imread(data, plugin="pillow", index=0, rotate=True, mode="RGB")
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not a picture"
        raise StudioError("the uploaded file cannot be read as a picture") from exc
    return np.ascontiguousarray(image, dtype=np.uint8)


class StudioSession:
    """One stream in the studio.

    Args:
        stream: Annex B VVC byte stream with GFV SEI messages.
        reference: the encoder's input as ``(N', H, W, 3)`` uint8 RGB, already prepared to the
            decoded size (:func:`refsw.media.face_crop.read_reference`), or ``None``.

    Raises:
        refsw.decoder.StreamError, refsw.codecs.CodecError: as :func:`decode_stream`.
    """

    def __init__(self, stream: bytes, reference: np.ndarray | None = None) -> None:
        self.stream = stream
        t0 = time.perf_counter()
        self.decoded = decode_stream(stream)
        self.decode_seconds = time.perf_counter() - t0
        self.reference = reference
        self.bases: dict[str, np.ndarray] = {}
        self.render_seconds: dict[Settings, float] = {}
        self._renders: OrderedDict[Settings, Future[DecodedVideo]] = OrderedDict()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gfv-studio-render")
        self._lock = threading.Lock()
        self._preview_lock = threading.Lock()
        self._resolved = self._stream_generator()
        self._previewers: dict[str | None, tuple[Any, int]] = {}  # base id -> (generator, key set)

    @property
    def num_pictures(self) -> int:
        """Output pictures of the stream."""
        return len(self.decoded.frames)

    def _stream_generator(self) -> ResolvedGenerator | None:
        """A generator of the model the stream's first base GFV message names (for previews), or
        ``None`` when this decoder does not have it."""
        for m in self.decoded.sei.of_type(PayloadType.GENERATIVE_FACE_VIDEO):
            if m.values and m.values.get("BasePic"):
                return GeneratorResolver(self.decoded.sei).get(m.values.get("gfv_uri"))
        return None

    def add_base(self, data: bytes) -> str:
        """Stores an uploaded base picture (:func:`read_picture_bytes`) and prepares its preview
        generator (face crop, analysis); returns its id (the first 12 hex digits of its SHA-256).

        Raises:
            StudioError: not a picture.
            refsw.decoder.BasePictureError: no face in it, or the stream's model cannot animate
                another face.
            refsw.decoder.StreamError: the stream's generator is not available here.
        """
        picture = read_picture_bytes(data)
        key = hashlib.sha256(data).hexdigest()[:12]
        if key not in self.bases:
            generator = self._other_face(picture)
            with self._preview_lock:
                self._previewers[key] = (generator, -1)
            self.bases[key] = picture
        return key

    def _other_face(self, picture: np.ndarray) -> OtherFaceGenerator:
        if self._resolved is None:
            raise StreamError("the stream's generator is not available: no base picture can be animated")
        spec = self._resolved.spec
        size = self.decoded.frames.shape[1:3]
        generator = OtherFaceGenerator(spec, spec.make_generator(), prepare_base(picture, (size[0], size[1])))
        # the motion's reference: the first key picture with a generator, as decode_stream takes it
        params = self.decoded.params
        first_key = next(p.index for p in self.decoded.pictures if p.kind == "key" and params[p.index] is not None)
        key_params = params[first_key]
        assert key_params is not None  # chosen so
        generator.set_key_picture(self.decoded.frames[first_key], key_params)
        return generator

    def settings(self, values: Mapping[str, Any], base: str | None = None) -> Settings:
        """The settings of slider ``values`` (edit key -> number; neutral values dropped) on base
        picture ``base``, checked against the stream's model.

        Raises:
            EditError: an unknown key, a value that is not a number or is out of range, or an
                edit the stream's model does not support.
            StudioError: an unknown base id.
        """
        edits = {k: check_value(k, v) for k, v in values.items()}
        plan = EditPlan.from_values(edits)
        if not plan.is_empty:
            if self._resolved is None:
                raise EditError("edits need the stream's generator, which is not available here")
            check_supported(plan, self._resolved.spec)
        if base is not None and base not in self.bases:
            raise StudioError(f"unknown base picture {base!r}; upload it first")
        return tuple(sorted(plan.constant.items())), base

    def submit(self, settings: Settings) -> Future[DecodedVideo]:
        """The whole rendering of ``settings`` (:meth:`settings`), started in the background
        worker unless it is cached; the oldest renderings beyond :data:`CACHE_SIZE` are dropped."""
        with self._lock:
            if settings in self._renders:
                self._renders.move_to_end(settings)
                return self._renders[settings]
            future: Future[DecodedVideo]
            if not settings[0] and settings[1] is None:
                future = Future()
                future.set_result(self.decoded)
            else:
                future = self._worker.submit(self._decode, settings)
            self._renders[settings] = future
            while len(self._renders) > CACHE_SIZE:
                old, pending = next(iter(self._renders.items()))
                pending.cancel()
                del self._renders[old]
            return future

    def _decode(self, settings: Settings) -> DecodedVideo:
        t0 = time.perf_counter()
        edits, base = settings
        video = decode_stream(
            self.stream,
            edits=EditPlan.from_values(dict(edits)) if edits else None,
            base_picture=None if base is None else self.bases[base],
        )
        self.render_seconds[settings] = time.perf_counter() - t0
        return video

    def render(self, settings: Settings) -> DecodedVideo:
        """The whole rendering of ``settings``, waiting for it.

        Raises:
            EditError, refsw.decoder.BasePictureError, refsw.decoder.StreamError: as
                :func:`decode_stream`.
        """
        return self.submit(settings).result()

    def picture(self, index: int, settings: Settings) -> np.ndarray:
        """Output picture ``index`` ``(H, W, 3)`` uint8 RGB of ``settings``: from the whole
        rendering when it is finished, else a preview synthesised alone.

        Raises:
            IndexError: no such picture.
        """
        if not 0 <= index < self.num_pictures:
            raise IndexError(f"picture {index} of {self.num_pictures}")
        with self._lock:
            future = self._renders.get(settings)
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            return future.result().frames[index]
        edits, base = settings
        if not edits and base is None:
            return self.decoded.frames[index]
        return self._preview(index, dict(edits), base)

    def _preview(self, index: int, edits: dict[str, float], base: str | None) -> np.ndarray:
        resolved = self._resolved
        assert resolved is not None  # settings() refuses edits and add_base() bases without it
        params = self.decoded.params[index]
        if params is None:  # a picture output without a generator
            return self.decoded.frames[index]
        edited = edited_params(EditPlan.from_values(edits), resolved.spec, index, params) if edits else None
        q = params if edited is None else edited
        with self._preview_lock:
            if base is not None:
                return self._previewers[base][0].generate(q)
            key = next(p.index for p in reversed(self.decoded.pictures[: index + 1]) if p.kind == "key")
            generator, current = self._previewers.get(None) or (resolved.spec.make_generator(), -1)
            if current != key:
                generator.set_key_picture(self.decoded.frames[key], self.decoded.params[key])
            self._previewers[None] = (generator, key)
            return generator.generate(q)

    def close(self) -> None:
        """Cancels the renderings not started (a running one ends on its own)."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def export(self, path: Path, settings: Settings) -> int:
        """Writes the whole rendering of ``settings`` to ``path`` (``.mp4``: H.264,
        :func:`refsw.media.video_io.write_video`; written to a temporary file and renamed).
        The caller checks that ``path`` may be written. Returns the number of pictures.

        Raises:
            as :meth:`render`; refsw.media.video_io.OutputError: the file cannot be written.
        """
        from refsw.media.video_io import write_video

        video = self.render(settings)
        write_video(path, video.frames, video.fps)
        return len(video.frames)
