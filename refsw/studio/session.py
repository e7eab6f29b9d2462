"""The studio's state: one stream decoded once, edited renderings cached, exports.

The stream is decoded once without edits (:func:`refsw.decoder.decode_stream`); that decode
gives the decoded pictures, the per-picture generator parameters for the plot and the picture
rate. An edit (slider values, :class:`refsw.decoder.edits.EditPlan`) or another base picture
re-synthesises the stream through the same ``decode_stream`` (``edits=``, ``base_picture=``),
so the studio shows exactly what ``gfv-decode --edit ... --base-picture ...`` writes; the
latest few renderings are kept, keyed by their settings.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from refsw.decoder import DecodedVideo, decode_stream
from refsw.decoder.edits import EditPlan


class StudioError(ValueError):
    """A bad request from the page: unknown edit key, unreadable base picture, unknown id."""


@dataclass(frozen=True)
class Slider:
    """One edit slider of the page.

    Attributes:
        key: the edit key (one of :data:`refsw.decoder.edits.EDIT_KEYS`).
        minimum / maximum / step: the slider's range and step, in ``unit``.
        neutral: the value that leaves the decoded picture unchanged (not sent as an edit).
        unit: what the value means, shown beside the slider.
    """

    key: str
    minimum: float
    maximum: float
    step: float
    neutral: float
    unit: str


#: The sliders, in page order. Eye openness and mouth opening are factors of the decoded value
#: (0 closed, 1 as decoded); gaze is a pupil offset and tx/ty a translation, both in normalised
#: picture units (1 = the picture width); angles are offsets in degrees; zoom is a scale factor.
SLIDERS: tuple[Slider, ...] = (
    Slider("eye_left", 0.0, 2.0, 0.05, 1.0, "x decoded"),
    Slider("eye_right", 0.0, 2.0, 0.05, 1.0, "x decoded"),
    Slider("mouth", 0.0, 3.0, 0.05, 1.0, "x decoded"),
    Slider("gaze_x", -0.05, 0.05, 0.005, 0.0, "picture widths"),
    Slider("gaze_y", -0.05, 0.05, 0.005, 0.0, "picture widths"),
    Slider("yaw", -30.0, 30.0, 1.0, 0.0, "degrees"),
    Slider("pitch", -20.0, 20.0, 1.0, 0.0, "degrees"),
    Slider("roll", -30.0, 30.0, 1.0, 0.0, "degrees"),
    Slider("zoom", 0.5, 1.5, 0.02, 1.0, "x"),
    Slider("tx", -0.2, 0.2, 0.01, 0.0, "picture widths"),
    Slider("ty", -0.2, 0.2, 0.01, 0.0, "picture widths"),
)

#: Renderings kept (each holds the whole edited video).
CACHE_SIZE = 4


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
        self._renders: OrderedDict[tuple, DecodedVideo] = OrderedDict()
        self._lock = threading.Lock()
        self.last_render_seconds = 0.0

    @property
    def num_pictures(self) -> int:
        """Output pictures of the stream."""
        return len(self.decoded.frames)

    def add_base(self, data: bytes) -> str:
        """Stores an uploaded base picture (:func:`read_picture_bytes`); returns its id (the
        first 12 hex digits of its SHA-256).

        Raises:
            StudioError: not a picture.
        """
        picture = read_picture_bytes(data)
        key = hashlib.sha256(data).hexdigest()[:12]
        self.bases[key] = picture
        return key

    def edits(self, values: Mapping[str, float]) -> dict[str, float]:
        """The slider ``values`` that differ from neutral, as numbers.

        Raises:
            StudioError: an unknown key or a value that is not a finite number.
        """
        neutral = {s.key: s.neutral for s in SLIDERS}
        out: dict[str, float] = {}
        for key, value in values.items():
            if key not in neutral:
                raise StudioError(f"unknown edit {key!r} (known: {', '.join(neutral)})")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise StudioError(f"edit {key}: {value!r} is not a number") from None
            if not np.isfinite(number):
                raise StudioError(f"edit {key}: {value!r} is not a finite number")
            if number != neutral[key]:
                out[key] = number
        return out

    def render(self, values: Mapping[str, float], base: str | None = None) -> DecodedVideo:
        """The stream decoded with the edits ``values`` (slider key -> value) on the base picture
        ``base`` (an id from :meth:`add_base`; ``None``: the stream's own key pictures).

        Raises:
            StudioError: bad values or an unknown base id.
            refsw.decoder.edits.EditError: the decoder refuses the edit (e.g. for this model).
            refsw.decoder.StreamError: as :func:`decode_stream` (e.g. no face on the base picture).
        """
        edits = self.edits(values)
        if base is not None and base not in self.bases:
            raise StudioError(f"unknown base picture {base!r}; upload it first")
        key = (tuple(sorted(edits.items())), base)
        if not edits and base is None:
            return self.decoded
        with self._lock:
            if key in self._renders:
                self._renders.move_to_end(key)
                return self._renders[key]
            t0 = time.perf_counter()
            video = decode_stream(
                self.stream,
                edits=EditPlan.from_values(edits) if edits else None,
                base_picture=None if base is None else self.bases[base],
            )
            self.last_render_seconds = time.perf_counter() - t0
            self._renders[key] = video
            while len(self._renders) > CACHE_SIZE:
                self._renders.popitem(last=False)
            return video

    def export(self, path: Path, values: Mapping[str, float], base: str | None = None) -> int:
        """Writes the edited video (:meth:`render`) to ``path`` (``.mp4``: H.264,
        :func:`refsw.media.video_io.write_video`; written to a temporary file and renamed).
        The caller checks that ``path`` may be written. Returns the number of pictures.

        Raises:
            as :meth:`render`; refsw.media.video_io.OutputError: the file cannot be written.
        """
        from refsw.media.video_io import write_video

        video = self.render(values, base)
        write_video(path, video.frames, video.fps)
        return len(video.frames)
