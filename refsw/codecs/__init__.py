"""Codec backends (VVC key pictures, HEVC/VVC anchors) behind one typed interface.

Backends are found by name::

    from refsw.codecs import create_backend
    vvc = create_backend("vvenc")                 # VvencFFmpegBackend
    enc = vvc.encode(frames, qp=32, fps=25)       # frames: (N, H, W, 3) uint8 RGB
    rgb = vvc.decode(enc.bitstream).frames        # (N, H, W, 3) uint8 RGB
"""

from __future__ import annotations

from .base import (
    ANNEXB_START_CODES,
    BackendRegistryError,
    CodecBackend,
    CodecError,
    CodecInputError,
    DecodeResult,
    EncodeResult,
    available_backends,
    create_backend,
    get_backend_class,
    register_backend,
)
from .ffmpeg_hevc import X265FFmpegBackend
from .ffmpeg_vvc import VvencFFmpegBackend
from .vtm import VtmBackend

__all__ = [
    "ANNEXB_START_CODES",
    "BackendRegistryError",
    "CodecBackend",
    "CodecError",
    "CodecInputError",
    "DecodeResult",
    "EncodeResult",
    "VtmBackend",
    "VvencFFmpegBackend",
    "X265FFmpegBackend",
    "available_backends",
    "create_backend",
    "get_backend_class",
    "register_backend",
]
