"""Reads the SEI messages of a VVC Annex B byte stream and reconstructs them in decoding order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .context import DecodingContext
from .errors import BitstreamError
from .nal import NalUnit, NalUnitType, read_nal_units
from .sei_message import SEIMessage, parse_sei_rbsp, reconstruct
from .trace import format_trace

log = logging.getLogger(__name__)


@dataclass
class StreamSEI:
    """SEI messages of a byte stream.

    Attributes:
        nal_units: every NAL unit, in stream order.
        messages: ``(nal_index, message)`` for every SEI message, in stream order.
        errors: framing errors per SEI NAL unit index (those NAL units yield no messages).
    """

    nal_units: list[NalUnit]
    messages: list[tuple[int, SEIMessage]] = field(default_factory=list)
    errors: dict[int, BitstreamError] = field(default_factory=dict)

    def of_type(self, payload_type: int) -> list[SEIMessage]:
        """Parsed messages of one payloadType, in stream order."""
        return [m for _, m in self.messages if m.payload_type == payload_type and m.values is not None]

    def trace_text(self) -> str:
        """VTM-format dump of every registered message that VTM would parse in its NAL unit type."""
        return format_trace(m for _, m in self.messages if m.values is not None or m.error is not None)


def read_stream_sei(
    stream: bytes, ctx: DecodingContext | None = None, *, want_trace: bool = True, reconstruct_values: bool = True
) -> StreamSEI:
    """Parses (and reconstructs) every SEI message of an Annex B byte stream.

    Messages are parsed in the NAL unit types where VTM parses them (GFV/GFVE only in suffix
    SEI NAL units, SPTI only in prefix ones); others are kept unparsed with a warning.

    Raises:
        BitstreamError: the byte stream itself cannot be split into NAL units.
    """
    ctx = ctx or DecodingContext()
    nals = read_nal_units(stream)
    out = StreamSEI(nals)
    for idx, nal in enumerate(nals):
        if nal.nal_unit_type not in (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT):
            continue
        suffix = nal.nal_unit_type == NalUnitType.SUFFIX_SEI_NUT
        try:
            msgs = parse_sei_rbsp(nal.rbsp, ctx, want_trace, suffix=suffix)
        except BitstreamError as err:
            out.errors[idx] = err
            log.warning("SEI NAL unit %d at byte %d: %s", idx, nal.offset, err)
            continue
        for m in msgs:
            if reconstruct_values and m.values is not None:
                reconstruct(m, ctx)
            out.messages.append((idx, m))
    return out
