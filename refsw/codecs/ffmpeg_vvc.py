"""VVC (H.266) backend: Fraunhofer VVenC through FFmpeg's ``libvvenc``, FFmpeg's ``vvc`` decoder.

Used for the key (intra) pictures of the GFV bitstream and for the VVC anchor. The JVET GFVC
common software codes each key picture with VTM 22.2 (``encoder_lowdelay_vtm.cfg``, one frame,
8-bit 4:2:0 input from OpenCV ``COLOR_RGB2YUV_I420``; JVET-AG0042); VTM's encoder is not
available here, so VVenC stands in. Its bitstreams are conformant H.266 but not bit-identical
to VTM's, and VVenC's rate-distortion choices differ from VTM's (see the VVenC documentation).

Facts checked with the bundled FFmpeg 9 / libvvenc 1.15 (``tests/test_codecs.py`` keeps them):

- ``libvvenc`` only takes ``yuv420p10le``; 8-bit samples are therefore piped as ``x << 2``
  (exact, no swscale involved) and ``InternalBitDepth=8`` brings them back to 8 bits inside
  VVenC, so the decoder outputs 8-bit 4:2:0 like the VTM anchors.
- ``IntraPeriod=0`` does **not** mean "first picture only": VVenC then derives the period from
  FFmpeg's ``-period`` (1 s), giving an intra picture every 24 pictures at 25 Hz.
  ``IntraPeriod=-1`` gives a single intra picture followed by inter pictures, as VTM's
  ``encoder_lowdelay_vtm.cfg`` (IntraPeriod -1).
- ``-qpa 0`` switches off VVenC's perceptual QP adaptation (on by default in FFmpeg), so the
  blocks are coded at the slice QP as with VTM's fixed-QP configurations.
- VVenC lowers the intra picture's slice QP by default: ``IntraQPOffset`` (-3 with these
  settings) and, for sequences, MCTF block-importance mapping (``BIM``, another -3). With
  ``IntraQPOffset=0:BIM=0`` a single intra picture is coded at exactly the requested QP, like
  the GFVC key pictures (VTM LDB cfg, one frame, JVET-AG0042 software). In sequences VVenC's
  MCTF may still lower the intra QP by 1, and the inter pictures follow VVenC's low-delay GOP
  QP offsets (+6/+7 at QP 32) unless ``equal_qp`` replaces the GOP of 8 by a GOP of one P
  picture at QP offset 0 with ``GOPQPA=0`` (VVenC's ``FrameN`` GOP entries and its per-GOP QP
  cascade switch, both accepted through ``-vvenc-params``). The encoder log (FFmpeg ``-loglevel verbose``) has VVenC's
  per-picture line with slice type, QP, bits and reconstruction PSNR, as VTM prints.
- FFmpeg's wrapper (``libavcodec/libvvenc.c``) allocates ``width * height`` bytes for one
  access unit; a larger access unit fails with "Generic error in an external library". At
  256x256 this is 64 KiB, far above a face picture even at QP 0 (about 28 KB); it bites for
  tiny pictures (16x16 at QP <= 22). Sides below 16 are refused up front.
- VVenC prints some warnings on stdout, so the bitstream is written to a file, never stdout.
- ``SEIDecodedPictureHash=1`` makes VVenC write a decoded picture hash SEI message (MD5, one
  digest per colour component, in a suffix SEI NAL unit) after every picture; VTM DecoderApp
  verifies it ("MD5:...,(OK)"). ``=2`` writes a CRC (``dph_sei_hash_type`` 1, 2 bytes per
  component) and ``=3`` a checksum (type 2, 4 bytes), as VTM's option does.
"""

from __future__ import annotations

import logging
import os
from typing import ClassVar

import numpy as np

from refsw.media.colour import Planes

from .base import EQUAL_QP_GOP_ENTRY, CodecInputError, register_backend
from .ffmpeg_common import DecoderChoice, FFmpegBackend

logger = logging.getLogger(__name__)

__all__ = ["VvencFFmpegBackend"]

#: VVenC presets exposed by FFmpeg, fastest first.
VVENC_PRESETS = ("faster", "fast", "medium", "slow", "slower")
#: ``-vvenc-params`` of the low-delay configuration: 8-bit internal, GOP of 8 without picture
#: reordering (low-delay B), no periodic refresh (one intra picture, then inter pictures), the
#: intra picture at the given QP (no intra QP offset, no MCTF block-importance QP change).
LOW_DELAY_PARAMS = (
    "InternalBitDepth=8",
    "GOPSize=8",
    "PicReordering=0",
    "DecodingRefreshType=none",
    "IntraPeriod=-1",
    "IntraQPOffset=0",
    "BIM=0",
)
#: ``-vvenc-params`` of the low-delay configuration with every picture at the given QP: a GOP of
#: one picture instead of 8, its entry :data:`refsw.codecs.base.EQUAL_QP_GOP_ENTRY` (a P picture
#: at QP offset 0 referring to the picture before it); ``GOPQPA=0`` switches off VVenC's per-GOP
#: QP cascade. Measured on carphone's three key pictures at QP 32: 10896, 9464 and
#: 9056 bits at 34.7, 34.7 and 34.8 dB PSNR-Y, instead of 10896, 4280 and 4680 bits at 34.7, 31.8
#: and 31.7 dB with the GOP of 8.
EQUAL_QP_PARAMS = (
    *(p for p in LOW_DELAY_PARAMS if not p.startswith("GOPSize=")),
    "GOPSize=1",
    f"Frame1={EQUAL_QP_GOP_ENTRY}",
    "GOPQPA=0",
)
#: ``-vvenc-params`` of the non-low-delay configuration: VVenC's random-access defaults
#: (hierarchical B pictures with reordering, an intra picture about every second from FFmpeg's
#: ``-period`` of 1 s), 8-bit internal.
RANDOM_ACCESS_PARAMS = ("InternalBitDepth=8",)


@register_backend
class VvencFFmpegBackend(FFmpegBackend):
    """VVC encoder VVenC (FFmpeg ``libvvenc``) with FFmpeg's native VVC decoder.

    Example::

        backend = VvencFFmpegBackend()
        enc = backend.encode(frames, qp=32, fps=25)      # frames: (N, H, W, 3) uint8 RGB
        dec = backend.decode(enc.bitstream).frames       # (N, H, W, 3) uint8 RGB
    """

    name: ClassVar[str] = "vvenc"
    encoder: ClassVar[str] = "libvvenc"
    stream_format: ClassVar[str] = "vvc"
    #: VVC QP range for 8-bit internal samples (H.266: SliceQpY in [-QpBdOffset, 63], and
    #: QpBdOffset = 0 at 8 bits).
    qp_range: ClassVar[tuple[int, int]] = (0, 63)
    min_side: ClassVar[int] = 16
    writes_picture_hash: ClassVar[bool] = True
    presets: ClassVar[tuple[str, ...]] = VVENC_PRESETS
    #: ``verbose`` makes VVenC print one line per picture (type, QP, bits, PSNR).
    encoder_loglevel: ClassVar[str] = "verbose"

    def __init__(
        self,
        *,
        preset: str = "faster",
        threads: int | None = None,
        ffmpeg: str | os.PathLike[str] | None = None,
        decoder: DecoderChoice = "ffmpeg",
        timeout_s: float = 600.0,
        decoded_picture_hash: int = 0,
    ) -> None:
        """Check FFmpeg, its libvvenc encoder and the options.

        Args:
            preset: VVenC preset; ``"faster"`` (default) codes a 256x256 intra picture in about
                0.15 s; ``"medium"`` saves about 3 % of its bits and takes about 8x longer.
            threads: VVenC worker threads (``Threads=``); ``None`` keeps VVenC's default.
                VVenC's output does not depend on the thread count.
            ffmpeg: FFmpeg executable; ``None`` uses imageio-ffmpeg's bundled binary.
            decoder: ``"ffmpeg"`` (default) or ``"pyav"`` (see :mod:`.ffmpeg_common`).
            timeout_s: wall-clock limit of each tool run in seconds.
            decoded_picture_hash: write a decoded picture hash SEI message after every picture,
                VVenC's (and VTM's) ``SEIDecodedPictureHash`` numbering: 1 MD5, 2 CRC, 3 checksum
                (``dph_sei_hash_type`` 0, 1, 2); 0 none.

        Raises:
            CodecError: FFmpeg missing or built without libvvenc (or PyAV without ``vvc``).
            CodecInputError: unknown preset or decoder, or a non-positive ``threads``.
        """
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise CodecInputError(f"libvvenc: threads must be a positive integer, got {threads!r}")
        super().__init__(preset=preset, ffmpeg=ffmpeg, decoder=decoder, timeout_s=timeout_s)
        self.threads = threads
        self.decoded_picture_hash = decoded_picture_hash

    def _raw_input(self, planes: Planes) -> tuple[str, bytes]:
        """8-bit samples as ``yuv420p10le`` ``x << 2`` (libvvenc's only input format)."""
        y, u, v = planes
        n = y.shape[0]
        data = np.concatenate((y.reshape(n, -1), u.reshape(n, -1), v.reshape(n, -1)), axis=1)
        return "yuv420p10le", (data.astype("<u2") << 2).tobytes()

    def _encoder_args(self, qp: int, low_delay: bool, equal_qp: bool = False) -> list[str]:
        """``-preset P -qp QP -qpa 0 -vvenc-params ...`` (see the module docstring)."""
        params = list(EQUAL_QP_PARAMS if equal_qp else LOW_DELAY_PARAMS if low_delay else RANDOM_ACCESS_PARAMS)
        if self.threads is not None:
            params.append(f"Threads={self.threads}")
        if self.decoded_picture_hash:
            params.append(f"SEIDecodedPictureHash={int(self.decoded_picture_hash)}")
        options = ["-preset", self.preset, "-qp", str(qp), "-qpa", "0"]
        return [*options, "-vvenc-params", ":".join(params)]

    def _failure_hint(self, width: int, height: int) -> str:
        """Point at the wrapper's access-unit buffer limit, the usual cause for small pictures."""
        return (
            f" (note: FFmpeg's libvvenc wrapper limits one access unit to width*height ="
            f" {width * height} bytes; small pictures at low QP exceed it)"
        )
