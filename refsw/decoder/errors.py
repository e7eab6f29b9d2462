"""Errors of the decoder library."""

from __future__ import annotations


class StreamError(ValueError):
    """The ``.266`` stream is truncated, corrupted or not a GFV stream this decoder can read."""


class UnknownGeneratorError(StreamError):
    """The stream names a generator this decoder does not have (and does not carry it)."""
