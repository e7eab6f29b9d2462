"""Carriage of SEI messages in a VVC byte stream, apart from the SEI syntax.

Carriage as VTM's EncoderApp does it, per key picture (``docs/gfv_sei.md#carriage``): every GFV
message of a key-picture segment is one suffix SEI NAL unit (one message per NAL unit) in the key
picture's access unit, after its coded slices, in ``gfv_cnt`` order; prefix SEI messages (SPTI,
NNPFC, NNPFA) are prefix SEI NAL units before the first coded slice. Access units are delimited as
in H.266 clause 7.4.2.4.3 for streams with one slice per picture (what libvvenc and VTM write).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sei.nal import NalUnit, NalUnitType, make_nal_unit, parse_nal_unit, read_nal_units, split_annexb, write_annexb
from sei.registry import PayloadType
from sei.sei_message import sei_rbsp, split_sei_rbsp

#: NAL unit types that start an access unit when they follow its last coded slice (H.266 7.4.2.4.4).
AU_START = frozenset(
    {
        NalUnitType.AUD_NUT,
        NalUnitType.OPI_NUT,
        NalUnitType.DCI_NUT,
        NalUnitType.VPS_NUT,
        NalUnitType.SPS_NUT,
        NalUnitType.PPS_NUT,
        NalUnitType.PREFIX_APS_NUT,
        NalUnitType.PREFIX_SEI_NUT,
        NalUnitType.PH_NUT,
    }
)


def access_units(nals: list[NalUnit]) -> list[int]:
    """Access-unit index of every NAL unit (one coded slice per picture assumed).

    A new access unit starts at the first NAL unit of the "before the slice" kind, or at a
    coded slice, that follows a coded slice of the previous access unit.
    """
    out: list[int] = []
    au = 0
    seen_vcl = False
    for nal in nals:
        starts = nal.is_vcl or nal.nal_unit_type in AU_START
        if starts and seen_vcl:
            au += 1
            seen_vcl = False
        if nal.is_vcl:
            seen_vcl = True
        out.append(au)
    return out


@dataclass
class AccessUnitSEI:
    """SEI messages to add to one access unit.

    Attributes:
        prefix: ``(payloadType, payload)`` pairs for prefix SEI NAL units.
        suffix: ``(payloadType, payload)`` pairs for suffix SEI NAL units.
    """

    prefix: list[tuple[int, bytes]] = field(default_factory=list)
    suffix: list[tuple[int, bytes]] = field(default_factory=list)


#: How SEI messages are packed into SEI NAL units: ``per-message`` is VTM EncoderApp's form (one
#: message per SEI NAL unit); ``per-access-unit`` puts the prefix messages of an access unit in
#: one prefix SEI NAL unit and its suffix messages in one suffix SEI NAL unit (several
#: ``sei_message()`` in one ``sei_rbsp()``, each with its own payloadType and payloadSize: H.266's
#: ``sei_rbsp()`` loops ``do sei_message() while( more_rbsp_data() )``), saving the start code,
#: NAL unit header and trailing bits of every other message.
SEI_PACKINGS = ("per-access-unit", "per-message")


def insert_sei(stream: bytes, per_au: dict[int, AccessUnitSEI], packing: str = "per-message") -> bytes:
    """Adds SEI NAL units to the access units of ``stream``: prefix SEI NAL units before the first
    coded slice (or picture header), suffix SEI NAL units after the last, messages in the given
    order.

    Args:
        stream: Annex B VVC byte stream (e.g. the key pictures coded by libvvenc).
        per_au: SEI messages per access-unit index.
        packing: one of :data:`SEI_PACKINGS`.

    Returns:
        The new byte stream; NAL units of ``stream`` are kept byte for byte.

    Raises:
        ValueError: an access-unit index has no coded slice in ``stream``, or an unknown packing.
    """
    if packing not in SEI_PACKINGS:
        raise ValueError(f"unknown SEI packing {packing!r} (expected one of {', '.join(SEI_PACKINGS)})")

    def groups(messages: list[tuple[int, bytes]]) -> list[list[tuple[int, bytes]]]:
        if packing == "per-message":
            return [[m] for m in messages]
        return [messages] if messages else []

    nals = read_nal_units(stream)
    aus = access_units(nals)
    first_vcl: dict[int, int] = {}
    last_vcl: dict[int, int] = {}
    for i, (nal, au) in enumerate(zip(nals, aus)):
        if nal.is_vcl or nal.nal_unit_type == NalUnitType.PH_NUT:
            first_vcl.setdefault(au, i)
        if nal.is_vcl:
            last_vcl[au] = i
    for au in per_au:
        if au not in last_vcl:
            raise ValueError(f"access unit {au} has no coded slice in the stream")
    out: list[bytes] = []
    au_starts: set[int] = set()
    prev_au = -1
    for i, (nal, au) in enumerate(zip(nals, aus)):
        if au != prev_au:
            au_starts.add(len(out))
            prev_au = au
        sei = per_au.get(au)
        if sei and i == first_vcl[au]:
            for group in groups(sei.prefix):
                out.append(
                    make_nal_unit(
                        NalUnitType.PREFIX_SEI_NUT,
                        sei_rbsp(group),
                        nal.nuh_layer_id,
                        nal.nuh_temporal_id_plus1,
                    )
                )
        out.append(nal.data)
        if sei and i == last_vcl[au]:
            for group in groups(sei.suffix):
                out.append(
                    make_nal_unit(
                        NalUnitType.SUFFIX_SEI_NUT,
                        sei_rbsp(group),
                        nal.nuh_layer_id,
                        nal.nuh_temporal_id_plus1,
                    )
                )
    return write_annexb(out, au_starts)


def strip_sei(stream: bytes, payload_types: set[int] | None = None) -> bytes:
    """The stream without its SEI NAL units (all of them when ``payload_types`` is ``None``),
    keeping the other NAL units byte for byte (used to compare decoded key pictures)."""
    nals = read_nal_units(stream)
    aus = access_units(nals)
    keep: list[bytes] = []
    starts: set[int] = set()
    prev = -1
    for nal, au in zip(nals, aus):
        if nal.nal_unit_type in (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT):
            # all SEI NAL units go without reading them (damaged ones too)
            if payload_types is None or {t for t, _, _ in split_sei_rbsp(nal.rbsp)} & payload_types:
                continue
        if au != prev:
            starts.add(len(keep))
            prev = au
        keep.append(nal.data)
    return write_annexb(keep, starts)


@dataclass(frozen=True)
class BitBudget:
    """Where the bits of a stream go, in bits (8 per byte); every NAL unit counts with its start
    code, so the categories add up to the stream's size.

    Attributes:
        key_pictures: coded-slice (VCL) NAL units.
        parameter_sets: every non-VCL NAL unit that is not an SEI NAL unit (VPS, SPS, PPS, APS,
            picture headers, access unit delimiters, ...).
        gfv_payload: the payloads of the GFV and GFVE messages (``8 * payloadSize``).
        sei_framing: the rest of the SEI NAL units that carry GFV / GFVE messages: start code,
            NAL unit header, payloadType and payloadSize bytes, rbsp_trailing_bits, emulation
            prevention bytes.
        other_sei: SEI NAL units without a GFV / GFVE message (SPTI, NNPFC, NNPFA, picture hash).
        pictures: key pictures (VCL NAL units with ``first`` slices; one slice per picture here).
    """

    key_pictures: int = 0
    parameter_sets: int = 0
    gfv_payload: int = 0
    sei_framing: int = 0
    other_sei: int = 0
    pictures: int = 0

    @property
    def total(self) -> int:
        """All bits of the stream."""
        return self.key_pictures + self.parameter_sets + self.gfv_payload + self.sei_framing + self.other_sei


def bit_budget(stream: bytes) -> BitBudget:
    """The :class:`BitBudget` of an Annex B byte stream.

    Raises:
        sei.errors.BitstreamError: the stream cannot be split into NAL units.
    """
    counts = dict.fromkeys(("key_pictures", "parameter_sets", "gfv_payload", "sei_framing", "other_sei", "pictures"), 0)
    gfv_types = (PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT)
    for off, sc, data in split_annexb(stream):
        bits = 8 * (len(data) + sc)
        nal = parse_nal_unit(data, off, sc)
        if nal.is_vcl:
            counts["key_pictures"] += bits
            counts["pictures"] += 1
        elif nal.nal_unit_type in (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT):
            frames = split_sei_rbsp(nal.rbsp)
            payload = 8 * sum(size for t, size, _ in frames if t in gfv_types)
            if payload or any(t in gfv_types for t, _, _ in frames):
                counts["gfv_payload"] += payload
                counts["sei_framing"] += bits - payload
            else:
                counts["other_sei"] += bits
        else:
            counts["parameter_sets"] += bits
    return BitBudget(**counts)
