"""Face-centred square cropping of talking-head video into the GFV CTC format.

The JVET GFV common test conditions use square, face-centred 256x256 (or 512x512) video.
Arbitrary input is brought into that format by detecting the face with MediaPipe face
detection on a few frames spread over the clip, choosing one square window for the whole
clip (no per-frame jitter) and resizing the window to the target size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import mediapipe as mp
import numpy as np

from refsw.quiet import native_stderr_silenced

from .frames import InputError, check_frames
from .video_io import read_video

logger = logging.getLogger(__name__)

__all__ = [
    "CropWindow",
    "NoFaceError",
    "apply_crop",
    "find_crop_window",
    "is_ctc_format",
    "prepare_ctc",
    "read_reference",
]

#: Frame sizes (H, W) that are already in the CTC format.
CTC_SIZES = frozenset({(256, 256), (512, 512)})
#: Minimum detection score per MediaPipe model (0 short-range, 1 full-range), applied to the
#: returned detections: MediaPipe's own ``min_detection_confidence`` does not bound the final
#: (NMS-blended) scores. Random-noise frames scored up to 0.66 short-range and 0.73
#: full-range; real talking-head frames score >= 0.86 short-range.
MIN_DETECTION_SCORE = {0: 0.75, 1: 0.8}
#: Percentiles of the box edges over the sampled frames forming the robust union box.
UNION_PERCENTILES = (10.0, 90.0)
#: Margin (fraction of the face size, each side) kept around the robust union box.
UNION_MARGIN = 0.1
#: A window larger than the frame is shrunk to the frame when the frame is at least this
#: many face sizes wide and high; otherwise it is kept and padded by edge replication.
MIN_FIT_FACE_RATIO = 1.25


class NoFaceError(InputError):
    """No face was detected in any sampled frame."""


@dataclass(frozen=True)
class CropWindow:
    """Square crop window in source-frame pixel coordinates.

    The window covers columns ``x0 .. x0+size-1`` and rows ``y0 .. y0+size-1``; it may
    extend beyond the frame, the outside being filled by edge replication.

    Raises:
        ValueError: On construction, if ``size < 1``.
    """

    x0: int
    y0: int
    size: int

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"CropWindow size must be >= 1, got {self.size}")


def _detect_boxes(frames: np.ndarray, model_selection: int) -> np.ndarray:
    """Best face box per frame with MediaPipe face detection.

    Args:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB.
        model_selection: 0 short-range (faces within ~2 m), 1 full-range (within ~5 m).

    Returns:
        ``(M, 4)`` ``float64`` boxes ``(x0, y0, x1, y1)`` in pixels, one per frame in which a
        face was found (the highest-scoring detection, kept if its score reaches
        ``MIN_DETECTION_SCORE[model_selection]``), ``M <= N``.
    """
    h, w = frames.shape[1:3]
    boxes: list[tuple[float, float, float, float]] = []
    with (
        native_stderr_silenced(),
        mp.solutions.face_detection.FaceDetection(model_selection=model_selection) as detector,
    ):
        for frame in frames:
            detections = detector.process(np.ascontiguousarray(frame)).detections
            if not detections:
                continue
            best = max(detections, key=lambda d: d.score[0])
            if best.score[0] < MIN_DETECTION_SCORE[model_selection]:
                continue
            rel = best.location_data.relative_bounding_box
            x0, y0 = rel.xmin * w, rel.ymin * h
            boxes.append((x0, y0, x0 + rel.width * w, y0 + rel.height * h))
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def find_crop_window(
    frames: np.ndarray, *, scale: float = 1.8, sample: int = 16, source: str = "the clip"
) -> CropWindow:
    """Find one square, face-centred crop window for a whole clip.

    The face is detected with MediaPipe (short-range model, full-range if that finds nothing;
    scores below ``MIN_DETECTION_SCORE`` are ignored) on up to ``sample`` frames spread
    evenly over the clip. The face size is the median over the sampled frames of the larger
    side of the detected box; the window is centred on the
    robust union of the boxes (10th/90th percentiles of their edges) and has side
    ``scale * face size``, enlarged if needed to keep a margin of 10 % of the face size
    around that union. A window larger than the frame is shrunk to the frame's smaller side
    when that still leaves 1.25 face sizes; the window is then shifted to lie inside the
    frame where it fits (otherwise it stays face-centred and :func:`apply_crop` pads).

    Args:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB.
        scale: Window side over face size (``> 0``).
        sample: Maximum number of frames to run the detector on (``>= 1``).
        source: Name of the clip for log and error messages.

    Returns:
        The crop window, in pixels of the source frames.

    Raises:
        InputError: If ``frames`` is not a non-empty ``(N, H, W, 3)`` uint8 array or
            ``scale``/``sample`` is out of range.
        NoFaceError: If no face is detected in any sampled frame.
    """
    check_frames(frames, source)
    if not scale > 0:
        raise InputError(f"{source}: scale must be > 0, got {scale}")
    if sample < 1:
        raise InputError(f"{source}: sample must be >= 1, got {sample}")
    n, h, w = frames.shape[:3]
    indices = np.unique(np.linspace(0, n - 1, num=min(sample, n)).round().astype(np.int64))
    picked = frames[indices]
    boxes = _detect_boxes(picked, model_selection=0)
    if len(boxes) == 0:
        boxes = _detect_boxes(picked, model_selection=1)
    if len(boxes) == 0:
        raise NoFaceError(f"no face found in {source} ({len(indices)} pictures sampled)")

    face = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    low, high = UNION_PERCENTILES
    ux0, uy0 = np.percentile(boxes[:, 0], low), np.percentile(boxes[:, 1], low)
    ux1, uy1 = np.percentile(boxes[:, 2], high), np.percentile(boxes[:, 3], high)
    cx, cy = (ux0 + ux1) / 2, (uy0 + uy1) / 2
    side = max(scale * face, max(ux1 - ux0, uy1 - uy0) + 2 * UNION_MARGIN * face)
    if side > min(h, w) and min(h, w) >= MIN_FIT_FACE_RATIO * face:
        side = min(h, w)
    size = max(1, int(round(side)))
    x0 = int(round(cx - size / 2))
    y0 = int(round(cy - size / 2))
    if size <= w:
        x0 = min(max(x0, 0), w - size)
    if size <= h:
        y0 = min(max(y0, 0), h - size)
    window = CropWindow(x0=x0, y0=y0, size=size)
    logger.info(
        "%s: face %.0f px in %d/%d sampled frames, crop window %s",
        source, face, len(boxes), len(indices), window,
    )  # fmt: skip
    return window


def apply_crop(frames: np.ndarray, window: CropWindow, out_size: int = 256) -> np.ndarray:
    """Cut the window out of every frame and resize it to ``out_size`` x ``out_size``.

    Parts of the window outside the frame are filled by edge replication. Downscaling uses
    area interpolation, upscaling Lanczos (OpenCV).

    Args:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB.
        window: Square window in source pixels; must overlap the frame.
        out_size: Output side in pixels (``>= 1``).

    Returns:
        ``(N, out_size, out_size, 3)`` ``uint8`` RGB.

    Raises:
        InputError: If ``frames`` is malformed, ``out_size < 1`` or the window lies entirely
            outside the frame.
    """
    check_frames(frames, "apply_crop")
    if out_size < 1:
        raise InputError(f"apply_crop: out_size must be >= 1, got {out_size}")
    h, w = frames.shape[1:3]
    x1, y1 = window.x0 + window.size, window.y0 + window.size
    if window.x0 >= w or window.y0 >= h or x1 <= 0 or y1 <= 0:
        raise InputError(f"apply_crop: {window} lies outside the {w}x{h} frame")
    inside = frames[:, max(window.y0, 0) : min(y1, h), max(window.x0, 0) : min(x1, w)]
    pad = (
        (0, 0),
        (max(-window.y0, 0), max(y1 - h, 0)),
        (max(-window.x0, 0), max(x1 - w, 0)),
        (0, 0),
    )
    crop = np.pad(inside, pad, mode="edge") if any(p != (0, 0) for p in pad) else inside
    if window.size == out_size:
        return np.ascontiguousarray(crop)
    interpolation = cv2.INTER_AREA if window.size > out_size else cv2.INTER_LANCZOS4
    out = np.empty((len(frames), out_size, out_size, 3), np.uint8)
    for i, frame in enumerate(crop):
        out[i] = cv2.resize(frame, (out_size, out_size), interpolation=interpolation)
    return out


def is_ctc_format(frames: np.ndarray) -> bool:
    """Tell whether frames are already in the CTC format.

    Args:
        frames: ``(N, H, W, 3)`` array.

    Returns:
        True if the frames are square 256x256 or 512x512.
    """
    return frames.ndim == 4 and (frames.shape[1], frames.shape[2]) in CTC_SIZES


def prepare_ctc(frames: np.ndarray, size: int = 256, force: bool = False) -> tuple[np.ndarray, CropWindow | None]:
    """Bring a clip into the CTC format (square, face-centred, ``size`` x ``size``).

    Frames already in the CTC format (see :func:`is_ctc_format`) are returned unchanged
    unless ``force`` is set; otherwise the face crop window is found with
    :func:`find_crop_window` and applied with :func:`apply_crop`.

    Args:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB.
        size: Output side in pixels for cropped clips.
        force: Crop and resize even if the input is already in the CTC format.

    Returns:
        ``(frames, window)``: ``(N, size, size, 3)`` ``uint8`` (or the input as is) and the
        window used (``None`` if the input was returned unchanged).

    Raises:
        InputError: If ``frames`` is malformed or ``size < 1``.
        NoFaceError: If cropping is needed and no face is found.
    """
    check_frames(frames, "prepare_ctc")
    if size < 1:
        raise InputError(f"prepare_ctc: size must be >= 1, got {size}")
    h, w = frames.shape[1:3]
    if is_ctc_format(frames) and not force:
        logger.info("input %dx%d is already in CTC format, not cropped", w, h)
        return frames, None
    window = find_crop_window(frames)
    cropped = apply_crop(frames, window, out_size=size)
    logger.info("cropped %dx%d input with %s and resized to %dx%d", w, h, window, size, size)
    return cropped, window


def read_reference(source: str, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """The encoder's input ``source`` prepared as ``gfv-encode`` prepares it, to set beside (or
    measure against) ``num_frames`` decoded pictures of ``size`` ``(H, W)``: the first
    ``num_frames`` pictures, face-centred crop and resize (:func:`prepare_ctc`) unless already
    that size.

    Returns:
        ``(num_frames, H, W, 3)`` uint8 RGB.

    Raises:
        InputError: unreadable input, or fewer than ``num_frames`` pictures.
        NoFaceError: cropping is needed and no face is found.
    """
    frames = read_video(source, max_frames=num_frames).frames
    if frames.shape[1:3] != size:
        frames, _ = prepare_ctc(frames, size=size[0])
    if len(frames) < num_frames:
        raise InputError(f"{source} has {len(frames)} pictures, the stream {num_frames}")
    return frames[:num_frames]
