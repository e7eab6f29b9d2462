"""HEVC (H.265) backend: x265 through FFmpeg's ``libx265``, FFmpeg's ``hevc`` decoder.

Meant for HEVC anchors (the GFVC HDAC base layer uses HM 16.15 with a low-delay P GOP of 4,
8-bit; JVET-AG0042 software). x265 is not HM: bitstreams and rate-distortion differ.

Low delay is x265 without B pictures, without periodic or scene-cut intra pictures
(``keyint=-1``), and with ``ipratio=1:pbratio=1`` so that, in constant-QP mode, intra and inter
pictures are coded at the given QP (x265 otherwise lowers the intra QP by
``6*log2(ipratio)``, about 3). ``aq-mode=0`` switches off adaptive quantisation and ``info=0``
drops x265's encoder-settings SEI (about 2.3 KB, which would otherwise count as rate). x265 accepts
QP 0..51 at 8 bits and refuses pictures smaller than 16x16 ("Image size is too small").
"""

from __future__ import annotations

import logging
import os
from typing import ClassVar

from .base import register_backend
from .ffmpeg_common import DecoderChoice, FFmpegBackend

logger = logging.getLogger(__name__)

__all__ = ["X265FFmpegBackend"]

#: x265 presets, fastest first.
X265_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
#: ``-x265-params`` shared by both configurations.
_COMMON_PARAMS = ("aq-mode=0", "ipratio=1", "pbratio=1", "info=0", "log-level=warning")
#: Low delay: P pictures only, one intra picture at the start.
LOW_DELAY_PARAMS = ("bframes=0", "keyint=-1", "scenecut=0", *_COMMON_PARAMS)
#: Non-low-delay: x265's default GOP (B pictures, intra period 250, scene cuts).
RANDOM_ACCESS_PARAMS = _COMMON_PARAMS


@register_backend
class X265FFmpegBackend(FFmpegBackend):
    """HEVC encoder x265 (FFmpeg ``libx265``) with FFmpeg's native HEVC decoder."""

    name: ClassVar[str] = "x265"
    encoder: ClassVar[str] = "libx265"
    stream_format: ClassVar[str] = "hevc"
    #: HEVC QP range at 8 bits (H.265: SliceQpY in [-QpBdOffsetY, 51]).
    qp_range: ClassVar[tuple[int, int]] = (0, 51)
    min_side: ClassVar[int] = 16
    presets: ClassVar[tuple[str, ...]] = X265_PRESETS

    def __init__(
        self,
        *,
        preset: str = "medium",
        ffmpeg: str | os.PathLike[str] | None = None,
        decoder: DecoderChoice = "ffmpeg",
        timeout_s: float = 600.0,
    ) -> None:
        """Check FFmpeg, its libx265 encoder and the options.

        Args:
            preset: x265 preset (default ``"medium"``, x265's own default).
            ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
            decoder: ``"ffmpeg"`` (default) or ``"pyav"`` (see :mod:`.ffmpeg_common`).
            timeout_s: wall-clock limit of each tool run in seconds.

        Raises:
            CodecError: FFmpeg missing or built without libx265.
            CodecInputError: unknown preset or decoder.
        """
        super().__init__(preset=preset, ffmpeg=ffmpeg, decoder=decoder, timeout_s=timeout_s)

    def _encoder_args(self, qp: int, low_delay: bool, equal_qp: bool = False) -> list[str]:
        """``-preset P -qp QP -x265-params ...`` (see the module docstring; ``ipratio=1:pbratio=1``
        already code every picture at ``qp``, so ``equal_qp`` changes nothing)."""
        params = LOW_DELAY_PARAMS if low_delay else RANDOM_ACCESS_PARAMS
        return ["-preset", self.preset, "-qp", str(qp), "-x265-params", ":".join(params)]
