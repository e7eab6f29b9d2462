"""Damaged versions of a real encoded stream, for the one-verdict tests (issue 13, item 4).

The source is a ``gfv-encode`` stream in VTM's carriage (one SEI message per SEI NAL unit,
``sei_packing="per-message"``), so each damage touches one message. Each builder takes the
stream and returns the damaged one; :data:`DAMAGES` maps a name to the builder and the element
``gfv-check`` must name.
"""

from __future__ import annotations

from collections.abc import Callable

from sei.context import DecodingContext
from sei.nal import NalUnit, NalUnitType, make_nal_unit, read_nal_units
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, parse_payload, sei_rbsp, split_sei_rbsp, write_payload

GFV, GFVE = PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT


def _nals(stream: bytes) -> list[NalUnit]:
    return read_nal_units(stream)


def _join(nals: list[NalUnit], data: list[bytes]) -> bytes:
    """NAL units ``data`` with the start codes of ``nals`` (4 bytes where the source had 4)."""
    lengths = [n.start_code_len or 3 for n in nals] + [3] * (len(data) - len(nals))
    return b"".join((b"\x00" * (sc - 1) + b"\x01") + d for sc, d in zip(lengths, data))


def _messages(nals: list[NalUnit], ptype: int) -> list[int]:
    """Indices of the SEI NAL units whose (only) message has payloadType ``ptype``."""
    out = []
    for i, n in enumerate(nals):
        if n.nal_unit_type in (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT):
            if [t for t, _, _ in split_sei_rbsp(n.rbsp)] == [ptype]:
                out.append(i)
    return out


def _slices(nals: list[NalUnit]) -> list[int]:
    return [i for i, n in enumerate(nals) if n.is_vcl]


def bit_flips(stream: bytes) -> bytes:
    """Three bits flipped in the middle of the payload of the last non-base GFV message of the
    second key picture's access unit."""
    nals = _nals(stream)
    second = _slices(nals)[1]
    target = [i for i in _messages(nals, GFV) if i > second][1]
    data = bytearray(nals[target].data)
    mid = 2 + 2 + (len(data) - 5) // 2  # header, payloadType, payloadSize; then the payload
    for bit in (0, 3, 6):
        data[mid] ^= 1 << bit
    return _join(nals, [bytes(d) if i != target else bytes(data) for i, d in enumerate(n.data for n in nals)])


def nnpfa_without_nnpfc(stream: bytes) -> bytes:
    """The NNPFC SEI NAL unit removed: the NNPFA activates a filter that is not there."""
    nals = _nals(stream)
    drop = set(_messages(nals, PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS))
    kept = [n for i, n in enumerate(nals) if i not in drop]
    return _join(kept, [n.data for n in kept])


def gfv_cnt_out_of_order(stream: bytes) -> bytes:
    """The last GFV message of the stream (a small ``gfv_cnt``) copied after the last GFV message
    of the second key picture's access unit (a larger one)."""
    nals = _nals(stream)
    gfv = _messages(nals, GFV)
    second = _slices(nals)[1]
    after = [i for i in gfv if second < i][1]
    data = [n.data for n in nals]
    data.insert(after + 1, nals[gfv[-1]].data)
    return _join(nals, data)


def gfve_to_no_gfv(stream: bytes) -> bytes:
    """The GFVE message of the second key picture's access unit rewritten with ``gfve_gfv_id``
    9, which no GFV message has."""
    nals = _nals(stream)
    second = _slices(nals)[1]
    target = next(i for i in _messages(nals, GFVE) if i > second)
    ((ptype, size, off),) = split_sei_rbsp(nals[target].rbsp)
    msg = parse_payload(SEIMessage(ptype, size, nals[target].rbsp[off : off + size], off), DecodingContext())
    values = dict(msg.values or {})
    values["gfve_gfv_id"] = 9
    payload = write_payload(GFVE, values, DecodingContext())[0]
    data = [n.data for n in nals]
    data[target] = make_nal_unit(NalUnitType.SUFFIX_SEI_NUT, sei_rbsp([(GFVE, payload)]))
    return _join(nals, data)


def suffix_before_picture(stream: bytes) -> bytes:
    """The base GFV message of the second key picture moved before that picture's slice."""
    nals = _nals(stream)
    second = _slices(nals)[1]
    base = next(i for i in _messages(nals, GFV) if i > second)
    order = list(range(len(nals)))
    order.remove(base)
    order.insert(second, base)
    moved = [nals[i] for i in order]
    return _join(nals, [n.data for n in moved])


def damaged_payload_type(stream: bytes) -> bytes:
    """The payloadType of the last GFV message (223) with its top bit flipped: 95, a reserved
    value; the picture it signalled disappears."""
    nals = _nals(stream)
    target = _messages(nals, GFV)[-1]
    data = bytearray(nals[target].data)
    data[2] ^= 0x80
    return _join(nals, [bytes(data) if i == target else n.data for i, n in enumerate(nals)])


def truncated(stream: bytes) -> bytes:
    """The stream cut in the middle of the last key picture's slice."""
    nals = _nals(stream)
    last = nals[_slices(nals)[-1]]
    return stream[: last.offset + len(last.data) // 2]


def truncated_in_an_sei(stream: bytes) -> bytes:
    """The stream cut in the middle of its last SEI NAL unit (the last GFV message)."""
    nals = _nals(stream)
    last = nals[_messages(nals, GFV)[-1]]
    return stream[: last.offset + len(last.data) // 2]


#: name -> (builder, element gfv-check names in its first error; ``""``: any element, as bit
#: flips break whichever rule they hit first).
DAMAGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "bit_flips_in_gfv_payload": (bit_flips, ""),
    "nnpfa_without_nnpfc": (nnpfa_without_nnpfc, "nnpfa_target_id"),
    "gfv_cnt_out_of_order": (gfv_cnt_out_of_order, "gfv_cnt"),
    "gfve_refers_to_no_gfv": (gfve_to_no_gfv, "gfve_gfv_id"),
    "suffix_sei_before_its_picture": (suffix_before_picture, "nal_unit_type"),
    "damaged_payload_type": (damaged_payload_type, "payloadType"),
    "truncated_in_a_slice": (truncated, "slice_layer_rbsp"),
    "truncated_in_an_sei": (truncated_in_an_sei, "payloadSize"),
}
