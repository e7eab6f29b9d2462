"""Decoder library (VTM's DecoderLib): access units, SEI reconstruction, generator resolution
through the model registry, synthesis of every output picture."""

from .base_picture import BasePictureError
from .decoder import DecodedVideo, PictureLog, decode_stream, segment_key_indices
from .errors import PictureHashError, StreamError, UnknownGeneratorError

__all__ = [
    "BasePictureError",
    "DecodedVideo",
    "PictureHashError",
    "PictureLog",
    "StreamError",
    "UnknownGeneratorError",
    "decode_stream",
    "segment_key_indices",
]
