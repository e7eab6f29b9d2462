"""The decoder's per-picture log line (:class:`PictureLog`), apart from the decoder so that the
modules the decoder uses (concealment, live decoding) can write log lines without importing it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PictureLog:
    """One line of the decoder's per-picture log.

    Attributes:
        index: output picture index.
        kind: ``"key"`` (decoded VVC picture), ``"generated"`` (from its GFV message), ``"fused"``
            (a driving picture's generated picture fused with it, :mod:`refsw.decoder.fusion`),
            ``"interpolated"`` (no GFV message: parameters interpolated between the messages
            before and after it, :func:`refsw.models.gfv_mapping.interpolate`) or
            ``"concealed"`` (``conceal``: the stream is damaged there; the last good picture
            repeated, :class:`refsw.decoder.verdict.Concealment`).
        key_picture: index of the key picture it comes from.
        gfv_id / gfv_cnt: of the GFV message describing it (-1 if none).
        sei_bits: bits of that GFV message's SEI NAL unit payload (payloadSize * 8).
        low_confidence: ``gfv_low_confidence_face_parameter_flag``.
        edited: 1 when an edit (:mod:`refsw.decoder.edits`) changed the picture's parameters (a
            key picture is then synthesised, not the VVC decoder's picture).
    """

    index: int
    kind: str
    key_picture: int
    gfv_id: int = -1
    gfv_cnt: int = -1
    sei_bits: int = 0
    low_confidence: int = 0
    edited: int = 0
