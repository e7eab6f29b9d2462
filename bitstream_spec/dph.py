"""Decoded picture hash SEI message, payloadType 132 (H.266 D.2.1 syntax, D.2.2 semantics).

One hash per colour component of the decoded picture: an MD5 digest (``dph_sei_hash_type`` 0),
a CRC (1) or a checksum (2). VTM's reader (``SEIReader::xParseSEIDecodedPictureHash``) reads
the hash bytes without a trace line each and dumps them as one hexadecimal string labelled
``picture_md5`` / ``picture_crc`` / ``picture_checksum``: the :class:`Derived` lines here.
Reference: ``docs/gfv_sei.md#decoded-picture-hash-message``.
"""

from __future__ import annotations

from .dsl import Derived, Element, For, If, Let, Syntax

PAYLOAD_TYPE = 132
H266 = "H.266 D.2 (decoded picture hash SEI message)"
VTM = "VTM-23.13 SEIread.cpp (xParseSEIDecodedPictureHash)"

#: Hash size in bytes per colour component, by ``dph_sei_hash_type`` (MD5, CRC, checksum).
HASH_BYTES = {0: 16, 1: 2, 2: 4}
#: VTM's dump label of the hash bytes, by ``dph_sei_hash_type``.
HASH_LABELS = {0: "picture_md5", 1: "picture_crc", 2: "picture_checksum"}


def syntax() -> Syntax:
    """The decoded picture hash syntax table (H.266 D.2.1; one variant)."""
    body = (
        Element("dph_sei_hash_type", "u(8)", range=(0, 2), source=H266),
        Element("dph_sei_single_component_flag", "u(1)"),
        Element("dph_sei_reserved_zero_7bits", "u(7)", range=(0, 0), source=H266),
        Let("NumComps", "1 if dph_sei_single_component_flag else 3"),
        For(
            "cIdx",
            "NumComps",
            (
                If(
                    "dph_sei_hash_type == 0",
                    (For("i", 16, (Element("dph_sei_picture_md5", "b(8)", index=("cIdx", "i"), traced=False),)),),
                    (
                        If(
                            "dph_sei_hash_type == 1",
                            (Element("dph_sei_picture_crc", "u(16)", index=("cIdx",), traced=False),),
                            (
                                If(
                                    "dph_sei_hash_type == 2",
                                    (Element("dph_sei_picture_checksum", "u(32)", index=("cIdx",), traced=False),),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        *(Derived(label, f"dph_sei_hash_type == {t}") for t, label in HASH_LABELS.items()),
    )
    return Syntax("decoded_picture_hash", PAYLOAD_TYPE, body, (H266, VTM))
