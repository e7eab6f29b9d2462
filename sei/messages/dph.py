"""Decoded picture hash SEI message, payloadType 132 (H.266 D.2).

Syntax: :mod:`bitstream_spec.dph`. No reconstruction and no state; VTM parses it only in
suffix SEI NAL units (``docs/gfv_sei.md#decoded-picture-hash-message``). :func:`component_hashes`
gives the hash of each colour component as bytes, for the decoder's verification.
"""

from __future__ import annotations

from typing import Any

from bitstream_spec import dph as dph_table

from ..engine import compile_syntax
from ..errors import Finding
from ..registry import MessageType, PayloadType, register


def component_hashes(v: dict) -> list[bytes]:
    """The hash of each colour component (``cIdx`` order) of a parsed message ``v``, big-endian
    bytes as coded: 16 bytes (MD5), 2 (CRC) or 4 (checksum); empty for a reserved hash type."""
    hash_type = v["dph_sei_hash_type"]
    size = dph_table.HASH_BYTES.get(hash_type)
    if size is None:
        return []
    comps = range(v["NumComps"])
    if hash_type == 0:
        md5 = v["dph_sei_picture_md5"]
        return [bytes(md5[c, i] for i in range(16)) for c in comps]
    name = "dph_sei_picture_crc" if hash_type == 1 else "dph_sei_picture_checksum"
    return [v[name][c].to_bytes(size, "big") for c in comps]


def size_findings(payload_size: int, v: dict) -> list[Finding]:
    """The hash length rule: the payload holds exactly ``NumComps`` hashes of the size
    ``dph_sei_hash_type`` gives after the 2 header bytes (H.266 D.2.1; VTM's reader aborts with
    "The size of the decoded picture hash does not match the expected size"). ``payload_size``
    in bytes; a finding (bit offset 16, the first hash bit) when it differs; none for a reserved
    hash type (its range finding says it)."""
    size = dph_table.HASH_BYTES.get(v["dph_sei_hash_type"])
    if size is None:
        return []
    expected = 2 + v["NumComps"] * size
    if payload_size == expected:
        return []
    element = {0: "dph_sei_picture_md5", 1: "dph_sei_picture_crc", 2: "dph_sei_picture_checksum"}
    return [
        Finding(
            element[v["dph_sei_hash_type"]],
            16,
            f"payloadSize {payload_size}: dph_sei_hash_type {v['dph_sei_hash_type']} with {v['NumComps']} "
            f"colour component(s) needs {expected} bytes",
            f"{dph_table.H266}; {dph_table.VTM}",
        )
    ]


def derived(label: str, v: dict, recon: dict | None) -> Any:
    """VTM's dump line of the hash bytes: all components' hashes as one lowercase hex string."""
    if label not in dph_table.HASH_LABELS.values():
        raise KeyError(f"unknown derived decoded picture hash trace line {label!r}")
    return "".join(h.hex() for h in component_hashes(v))


DPH = register(
    MessageType(
        payload_type=PayloadType.DECODED_PICTURE_HASH,
        short_name="dph",
        dump_name="Decoded picture hash",
        syntax={"": compile_syntax(dph_table.syntax())},
        new_state=dict,
        derived=derived,
        prefix_ok=False,
        suffix_ok=True,
    )
)
