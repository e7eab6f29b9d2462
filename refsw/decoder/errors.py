"""Errors of the decoder library."""

from __future__ import annotations


class StreamError(ValueError):
    """The ``.266`` stream is truncated, corrupted or not a GFV stream this decoder can read."""


class UnknownGeneratorError(StreamError):
    """The stream names a generator this decoder does not have (and does not carry it)."""


class PictureHashError(StreamError):
    """A key picture's decoded samples do not have the MD5 its decoded picture hash SEI message
    signals (H.266 D.2): the VVC layer was damaged or decoded wrongly."""
