"""Encoder library (VTM's EncoderLib): segmenting into key pictures, analysis, the encoder
decision, and the SEI encoders that turn model parameters into syntax values."""

from refsw.config import DECISIONS

from .encoder import EncodeSummary, encode_video

__all__ = ["DECISIONS", "EncodeSummary", "encode_video"]
