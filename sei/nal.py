"""VVC NAL units and the Annex B byte stream (H.266 clauses 7.3.1, 7.4.2 and Annex B).

Emulation prevention and start codes live here and nowhere else (``docs/gfv_sei.md#sei-framing``).
Writer behaviour follows VTM ``NALwrite.cpp`` (``writeNaluContent``) and ``AnnexBwrite.h``:
a 4-byte start code for the first NAL unit of an access unit and for parameter sets, a 3-byte
one otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .errors import BitstreamError


class NalUnitType(IntEnum):
    """``nal_unit_type`` values of H.266 Table 5."""

    TRAIL_NUT = 0
    STSA_NUT = 1
    RADL_NUT = 2
    RASL_NUT = 3
    IDR_W_RADL = 7
    IDR_N_LP = 8
    CRA_NUT = 9
    GDR_NUT = 10
    OPI_NUT = 12
    DCI_NUT = 13
    VPS_NUT = 14
    SPS_NUT = 15
    PPS_NUT = 16
    PREFIX_APS_NUT = 17
    SUFFIX_APS_NUT = 18
    PH_NUT = 19
    AUD_NUT = 20
    EOS_NUT = 21
    EOB_NUT = 22
    PREFIX_SEI_NUT = 23
    SUFFIX_SEI_NUT = 24
    FD_NUT = 25


#: VCL NAL unit types (coded slices), H.266 Table 5.
VCL_TYPES = frozenset(range(12))
#: NAL unit types VTM writes with a 4-byte start code.
_LONG_START_CODE = frozenset(
    {
        NalUnitType.OPI_NUT,
        NalUnitType.DCI_NUT,
        NalUnitType.VPS_NUT,
        NalUnitType.SPS_NUT,
        NalUnitType.PPS_NUT,
        NalUnitType.PREFIX_APS_NUT,
        NalUnitType.SUFFIX_APS_NUT,
    }
)


@dataclass(frozen=True)
class NalUnit:
    """One NAL unit of a byte stream.

    Attributes:
        nal_unit_type: ``nal_unit_type`` u(5).
        nuh_layer_id: ``nuh_layer_id`` u(6).
        nuh_temporal_id_plus1: ``nuh_temporal_id_plus1`` u(3).
        forbidden_zero_bit: f(1), shall be 0.
        nuh_reserved_zero_bit: u(1), shall be 0.
        rbsp: payload after the 2-byte header with emulation prevention bytes removed.
        data: the NAL unit as in the stream (header + EBSP), without start code.
        offset: byte offset of ``data`` in the byte stream.
        start_code_len: 3 or 4 (``zero_byte`` + ``start_code_prefix_one_3bytes``), 0 if unknown.
    """

    nal_unit_type: int
    nuh_layer_id: int
    nuh_temporal_id_plus1: int
    forbidden_zero_bit: int
    nuh_reserved_zero_bit: int
    rbsp: bytes
    data: bytes
    offset: int = 0
    start_code_len: int = 0

    @property
    def is_vcl(self) -> bool:
        """True for coded slice NAL units."""
        return self.nal_unit_type in VCL_TYPES

    @property
    def type_name(self) -> str:
        """Spec name of the NAL unit type (``"SUFFIX_SEI_NUT"``) or ``"RSV_<n>"``."""
        try:
            return NalUnitType(self.nal_unit_type).name
        except ValueError:
            return f"RSV_{self.nal_unit_type}"


def ebsp_to_rbsp(ebsp: bytes) -> bytes:
    """Removes ``emulation_prevention_three_byte`` (H.266 7.4.2).

    Raises:
        BitstreamError: ``00 00 0x`` with x < 3 inside the NAL unit, or a byte > 3 after an
            emulation prevention byte (the first such problem; :func:`scan_ebsp` lists all).
    """
    if b"\x00\x00" not in ebsp:
        return bytes(ebsp)
    rbsp, _, problems = scan_ebsp(ebsp)
    if problems:
        first = problems[0]
        raise BitstreamError(
            f"{first.rule} (byte {first.byte_offset})", 8 * first.byte_offset, first.element, EPB_RULES
        )
    return rbsp


#: Source of the emulation prevention rules.
EPB_RULES = "H.266 7.4.2 (NAL unit semantics: emulation prevention)"


@dataclass(frozen=True)
class EbspProblem:
    """A byte sequence inside a NAL unit that breaks the emulation prevention rules.

    Attributes:
        byte_offset: offset in the EBSP given to :func:`scan_ebsp` of the offending byte.
        element: ``"emulation_prevention_three_byte"`` or ``"rbsp_byte"``.
        rule: the rule, in words.
    """

    byte_offset: int
    element: str
    rule: str


def scan_ebsp(ebsp: bytes) -> tuple[bytes, list[int], list[EbspProblem]]:
    """Lenient :func:`ebsp_to_rbsp` for conformance checking: never raises.

    Returns:
        ``(rbsp, epb_offsets, problems)``: the RBSP (an ``03`` after ``00 00`` is always removed,
        forbidden bytes are kept), the EBSP offsets of the removed emulation prevention bytes
        (to map RBSP positions back to the NAL unit), and every violation of H.266 7.4.2:
        ``00 00 0x`` with x < 3, and a byte greater than 3 after an emulation prevention byte.
    """
    out = bytearray()
    epbs: list[int] = []
    problems: list[EbspProblem] = []
    n = len(ebsp)
    start = 0
    # Only the positions after two zero bytes need a look; jump between them with find().
    while True:
        hit = ebsp.find(b"\x00\x00", start)
        if hit < 0 or hit + 2 >= n:
            break
        i = hit + 2
        b = ebsp[i]
        if b < 3:
            problems.append(
                EbspProblem(i, "rbsp_byte", f"the byte sequence 00 00 {b:02x} shall not occur inside a NAL unit")
            )
            start = hit + 1
            continue
        if b == 3:
            out += ebsp[len(out) + len(epbs) : i]
            epbs.append(i)
            if i + 1 < n and ebsp[i + 1] > 3:
                problems.append(
                    EbspProblem(
                        i + 1,
                        "emulation_prevention_three_byte",
                        f"byte {ebsp[i + 1]:02x} after an emulation prevention byte "
                        "(00 00 03 shall be followed by 00, 01, 02 or 03)",
                    )
                )
            start = i + 1
            continue
        start = i
    out += ebsp[len(out) + len(epbs) :]
    return bytes(out), epbs, problems


def rbsp_to_ebsp(rbsp: bytes) -> bytes:
    """Inserts emulation prevention bytes as VTM's ``writeNaluContent`` does (a trailing 00 gets
    an 03 appended)."""
    if b"\x00\x00" not in rbsp and not rbsp.endswith(b"\x00"):
        return bytes(rbsp)
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros == 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    if rbsp.endswith(b"\x00"):
        out.append(3)
    return bytes(out)


def nal_header(nal_unit_type: int, nuh_layer_id: int = 0, nuh_temporal_id_plus1: int = 1) -> bytes:
    """The 2-byte NAL unit header (H.266 7.3.1.2); forbidden and reserved bits are 0."""
    if not 0 <= nal_unit_type <= 31 or not 0 <= nuh_layer_id <= 63 or not 1 <= nuh_temporal_id_plus1 <= 7:
        raise ValueError("NAL unit header field out of range")
    return bytes([nuh_layer_id & 0x3F, (nal_unit_type << 3) | nuh_temporal_id_plus1])


def make_nal_unit(nal_unit_type: int, rbsp: bytes, nuh_layer_id: int = 0, nuh_temporal_id_plus1: int = 1) -> bytes:
    """Header + EBSP of a NAL unit (no start code)."""
    return nal_header(nal_unit_type, nuh_layer_id, nuh_temporal_id_plus1) + rbsp_to_ebsp(rbsp)


def parse_nal_unit(data: bytes, offset: int = 0, start_code_len: int = 0) -> NalUnit:
    """Parses the header of ``data`` (header + EBSP) and removes emulation prevention.

    Raises:
        BitstreamError: fewer than 2 bytes, or broken emulation prevention.
    """
    if len(data) < 2:
        raise BitstreamError(f"NAL unit at byte {offset} is shorter than its 2-byte header", 8 * offset)
    b0, b1 = data[0], data[1]
    return NalUnit(
        nal_unit_type=b1 >> 3,
        nuh_layer_id=b0 & 0x3F,
        nuh_temporal_id_plus1=b1 & 7,
        forbidden_zero_bit=b0 >> 7,
        nuh_reserved_zero_bit=(b0 >> 6) & 1,
        rbsp=ebsp_to_rbsp(data[2:]),
        data=bytes(data),
        offset=offset,
        start_code_len=start_code_len,
    )


def split_annexb(stream: bytes) -> list[tuple[int, int, bytes]]:
    """Splits an Annex B byte stream into ``(offset, start_code_len, nal_unit_bytes)``.

    Trailing zero bytes before a start code (``trailing_zero_8bits``) are not part of a NAL unit.

    Raises:
        BitstreamError: the stream does not begin with a start code.
    """
    n = len(stream)
    first = stream.find(b"\x00\x00\x01")
    if first < 0 or stream[:first].strip(b"\x00"):
        raise BitstreamError("not an Annex B byte stream: no start code at the beginning", 0)
    out = []
    pos = first + 3
    sc_len = 4 if first >= 1 else 3
    while pos <= n:
        nxt = stream.find(b"\x00\x00\x01", pos)
        end = n if nxt < 0 else nxt
        stop = end
        while stop > pos and stream[stop - 1] == 0:
            stop -= 1
        out.append((pos, sc_len, stream[pos:stop]))
        if nxt < 0:
            break
        sc_len = 4 if nxt - stop >= 1 else 3
        pos = nxt + 3
    return out


def read_nal_units(stream: bytes) -> list[NalUnit]:
    """All NAL units of an Annex B byte stream.

    Raises:
        BitstreamError: see :func:`split_annexb` and :func:`parse_nal_unit`.
    """
    return [parse_nal_unit(data, off, sc) for off, sc, data in split_annexb(stream)]


def write_annexb(nal_units: list[bytes], first_in_au: set[int] | None = None) -> bytes:
    """Joins NAL units (header + EBSP each) into a byte stream with VTM's start-code lengths.

    Args:
        nal_units: NAL units without start codes.
        first_in_au: indices of NAL units that begin an access unit (4-byte start code);
            ``None`` treats index 0 as the only one.
    """
    first_in_au = {0} if first_in_au is None else first_in_au
    out = bytearray()
    for idx, nal in enumerate(nal_units):
        nut = nal[1] >> 3
        long_sc = idx in first_in_au or nut in _LONG_START_CODE
        out += b"\x00\x00\x00\x01" if long_sc else b"\x00\x00\x01"
        out += nal
    return bytes(out)
