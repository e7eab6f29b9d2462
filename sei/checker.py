"""Conformance checker of the SEI messages of a VVC Annex B byte stream (``gfv-check``).

Checks every rule it can, in four layers, and reports each violation as a
:class:`CheckFinding` naming the syntax element, its position (in the SEI payload and in the
NAL unit as coded, emulation prevention bytes included), the rule and its source:

* NAL units (H.266 7.4.2): header fields (``forbidden_zero_bit``, ``nuh_reserved_zero_bit``,
  ``nuh_layer_id`` range, ``nuh_temporal_id_plus1`` != 0, TemporalId of IRAP NAL units),
  emulation prevention (no ``00 00 0x`` with x < 3, no byte > 3 after ``00 00 03``), a suffix
  SEI NAL unit after a VCL NAL unit;
* SEI framing (H.274 / H.266): ``payload_type_byte`` / ``payload_size_byte`` present,
  ``payloadSize`` within the NAL unit, ``rbsp_trailing_bits``, at least one ``sei_message``,
  payload trailing bits and ``reserved_payload_extension_data``; payload types placed where
  VTM parses them (SPTI in prefix, GFV/GFVE in suffix SEI NAL units); for messages without a
  syntax table here, a reserved payloadType and a payloadSize shorter than the message's
  leading fixed-length fields (``user_data_unregistered``: 16 bytes);
* the syntax tables of :mod:`bitstream_spec` (descriptor ranges, ``Check`` and ``Require``
  nodes, alignment bits), as found by the table-driven reader;
* the sequence of messages: GFV ``gfv_id`` / ``gfv_cnt`` (a non-base message after a base of
  its id, ``gfv_cnt`` increasing), prediction references that exist, GFVE messages referring to
  an existing GFV message, NNPFA after an NNPFC with its id, the decoded picture hash's length
  (``NumComps`` hashes of the size ``dph_sei_hash_type`` gives).

Severities follow docs/conformance.md#severity-policy: ``error`` means a "shall" of the
syntax or semantics is violated (the finding cites the clause or JVET document); ``warning``
means legal but questionable content, or content that VTM mishandles or skips; ``limit`` means
a bound of this software (e.g. ``gfv_num_kps_minus1`` <= 65535) was exceeded: the stream was not
checked completely there, which is never called non-conformance. Reconstruction state follows
the decoding context's mode (``vtm`` or ``spec``, see :mod:`sei.context`). A caller that must
stop on non-conformance uses ``check_stream(..., strict=True)`` or :meth:`CheckReport.raise_for_errors`, which raise a
:class:`sei.errors.ConformanceError` naming the first violated rule's element, bit offset and
source (the command-line app reports all findings and sets its exit status instead).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from bitstream_spec.dsl import Element, For, If

from .carriage import AU_START
from .context import DecodingContext
from .errors import BitstreamError, ConformanceError, Finding, SizeLimitError
from .messages.dph import size_findings
from .nal import EPB_RULES, VCL_TYPES, NalUnitType, scan_ebsp, split_annexb
from .registry import PayloadType, lookup
from .sei_message import (
    VSEI_FRAMING,
    SEIMessage,
    parse_payload,
    reconstruct,
    scan_sei_rbsp,
)
from .trace import format_trace

log = logging.getLogger(__name__)

NAL_HEADER = "H.266 7.4.2.2 (NAL unit header semantics)"
NAL_ORDER = "H.266 7.4.2.4 (order of NAL units within a picture unit)"
VTM_BEHAVIOUR = "VTM-23.13 behaviour"
GFV_SEMANTICS = "JVET-AJ0207 (GFV semantics: gfv_id, gfv_cnt, gfv_base_picture_flag)"
GFV_STATE = (
    "gfv_sei_syntax.md section 4 (VTM-23.13 reader: prediction state global, nothing keyed by gfv_id; "
    "no normative text requires a base message first, section 13 item 1)"
)
USER_DATA = "H.274 user_data_unregistered(): uuid_iso_iec_11578 u(128)"
USER_DATA_T35 = "H.274 user_data_registered_itu_t_t35(): itu_t_t35_country_code b(8)"
RESERVED_PAYLOAD = (
    "H.274 sei_payload(): reserved payloadType values shall not be present in bitstreams of this version "
    "(reserved_message); VTM-23.13 SEI::PayloadType has no message with this value"
)
#: payloadType values of VTM-23.13's ``SEI::PayloadType`` (H.274 and H.266 messages); other
#: values below 200 are reserved. 200..255 holds the newest messages (VTM adds them there), so an
#: unknown value in that range is only "not checked". Registered messages are checked in full.
_VTM_PAYLOAD_TYPES = frozenset(
    {0, 1, 3, 4, 5, 19, 22, 45, 47, 56, 129, 130, 132, 133, 137, 142, 144, 145, 147, 148, 149, 150}
    | {153, 154, 155, 156, 165, 168, 177, 179, 180}
    | set(range(200, 256))
)
#: Smallest payloadSize of messages whose syntax begins with fixed-length fields (the message
#: cannot be shorter): payloadType -> (bytes, element, source).
_MIN_PAYLOAD_SIZE: dict[int, tuple[int, str, str]] = {
    4: (1, "itu_t_t35_country_code", USER_DATA_T35),
    5: (16, "uuid_iso_iec_11578", USER_DATA),
}
GFVE_SEMANTICS = "JVET-AK0239 (GFVE semantics: gfve_gfv_id, gfve_gfv_cnt)"
NNPFA_SEMANTICS = "H.274 NNPFA semantics (nnpfa_target_id); VTM-23.13 DecLib CHECK 'No NNPFC, no NNPFA'"

#: NAL unit types reserved by H.266 Table 5 (decoders ignore such NAL units).
_RESERVED_NUT = frozenset({4, 5, 6, 11, 26, 27})
#: IDR_W_RADL .. RSV_IRAP_11 (GDR_NUT included): TemporalId shall be 0.
_IRAP_NUT = frozenset(range(7, 12))
#: Syntax elements shown per message in the listing.
_KEY_FIELDS: dict[int, tuple[str, ...]] = {
    PayloadType.GENERATIVE_FACE_VIDEO: ("gfv_id", "gfv_cnt", "BasePic"),
    PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT: ("gfve_id", "gfve_gfv_id", "gfve_gfv_cnt", "BasePic"),
    PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS: ("nnpfc_id", "nnpfc_mode_idc"),
    PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION: ("nnpfa_target_id", "nnpfa_cancel_flag"),
    PayloadType.SOURCE_PICTURE_TIMING_INFO: ("spti_cancel_flag",),
    PayloadType.DECODED_PICTURE_HASH: ("dph_sei_hash_type", "NumComps"),
}


@dataclass(frozen=True)
class CheckFinding:
    """One violated rule, located in the byte stream.

    Offsets are absolute: ``*_bit_offset`` counts bits from the start of the SEI payload
    (``payload_*``) or of the NAL unit as coded, 2-byte header and emulation prevention bytes
    included (``nal_*``); ``*_byte_offset`` is the byte holding that bit. ``None`` where the
    rule is not tied to a payload (NAL-level rules) or to a position.

    Attributes:
        element: syntax element (spec name verbatim) or framing field the rule is about.
        rule: the rule, in words.
        source: VSEI/VVC clause, JVET document or ``VTM-23.13 behaviour``.
        severity: ``"error"``, ``"warning"`` or ``"limit"`` (docs/conformance.md#severity-policy).
        nal_index: index of the NAL unit in the stream.
        message_index: index of the SEI message in the stream (all SEI NAL units, in order).
        payload_type: payloadType of that message.
        payload_byte_offset / payload_bit_offset: position inside the SEI payload.
        nal_byte_offset / nal_bit_offset: position inside the NAL unit.
        stream_byte_offset: position of ``nal_byte_offset`` in the byte stream.
    """

    element: str
    rule: str
    source: str
    severity: str
    nal_index: int | None = None
    message_index: int | None = None
    payload_type: int | None = None
    payload_byte_offset: int | None = None
    payload_bit_offset: int | None = None
    nal_byte_offset: int | None = None
    nal_bit_offset: int | None = None
    stream_byte_offset: int | None = None

    def location(self, payload: bool = True) -> str:
        """Where the finding is: NAL unit, message, offsets (the payload offset only when
        ``payload``)."""
        where = []
        if self.nal_index is not None:
            where.append(f"NAL {self.nal_index}")
        if self.message_index is not None:
            where.append(f"msg {self.message_index} (payloadType {self.payload_type})")
        if payload and self.payload_bit_offset is not None:
            where.append(f"payload byte {self.payload_byte_offset} bit {self.payload_bit_offset % 8}")
        if self.nal_bit_offset is not None:
            where.append(f"NAL byte {self.nal_byte_offset} bit {self.nal_bit_offset % 8}")
        if self.stream_byte_offset is not None:
            where.append(f"stream byte {self.stream_byte_offset}")
        return ", ".join(where)

    def describe(self) -> str:
        """One human-readable line."""
        return f"{self.severity:7} {self.location()}: {self.element}: {self.rule} [{self.source}]"

    def as_finding(self) -> Finding:
        """The finding with its position in the SEI payload only (what :class:`ConformanceError`
        carries)."""
        return Finding(self.element, self.payload_bit_offset, self.rule, self.source, self.severity)


@dataclass(frozen=True)
class NalSummary:
    """One NAL unit of the listing (``offset``: byte offset in the stream, after the start code)."""

    index: int
    offset: int
    size: int
    nal_unit_type: int | None
    type_name: str
    nuh_layer_id: int | None
    nuh_temporal_id_plus1: int | None


@dataclass(frozen=True)
class MessageSummary:
    """One SEI message of the listing.

    Attributes:
        index: index in the stream; nal_index: its NAL unit.
        payload_type, payload_size: framing values; payload_offset: byte offset of the payload
            inside the NAL unit as coded.
        name: the message's short name (``"gfv"``) or ``"unknown"``.
        parsed: True when its syntax was read completely.
        fields: identifying values (``gfv_id``, ``gfv_cnt``...).
    """

    index: int
    nal_index: int
    payload_type: int
    payload_size: int
    payload_offset: int
    name: str
    parsed: bool
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckReport:
    """Result of :func:`check_stream`."""

    nal_units: list[NalSummary]
    messages: list[MessageSummary]
    findings: list[CheckFinding]
    variant: str
    mode: str
    trace: str = ""

    @property
    def errors(self) -> list[CheckFinding]:
        """Findings of severity ``error``."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[CheckFinding]:
        """Findings of severity ``warning``."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def limits(self) -> list[CheckFinding]:
        """Findings of severity ``limit``: where this software's own bounds stopped the check."""
        return [f for f in self.findings if f.severity == "limit"]

    @property
    def conformant(self) -> bool:
        """True when no rule of severity ``error`` is violated (a ``limit`` finding means the
        stream was not checked completely, not that it is non-conformant)."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raises :class:`ConformanceError` for the first finding of severity ``error`` (in
        stream order), listing all of them in ``findings``; returns when the stream is
        conformant (warnings never raise).

        Raises:
            ConformanceError: at least one "shall" is violated.
        """
        errors = self.errors
        if errors:
            first = errors[0]
            raise ConformanceError(first.as_finding(), first.location(payload=False) or None, errors)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``conformant``, counts (``num_errors``, ``num_warnings``,
        ``num_limits``), ``nal_units``, ``messages``, ``findings``."""
        return {
            "variant": self.variant,
            "mode": self.mode,
            "conformant": self.conformant,
            "num_errors": len(self.errors),
            "num_warnings": len(self.warnings),
            "num_limits": len(self.limits),
            "nal_units": [asdict(n) for n in self.nal_units],
            "messages": [asdict(m) for m in self.messages],
            "findings": [asdict(f) for f in self.findings],
        }


class _NalPositions:
    """Maps positions in an RBSP back to the NAL unit as coded (2-byte header + EBSP)."""

    def __init__(self, nal_index: int, stream_offset: int, epb_offsets: list[int]) -> None:
        self.nal_index = nal_index
        self.stream_offset = stream_offset
        self.epbs = epb_offsets

    def nal_bit(self, rbsp_bit: int) -> int:
        """Bit offset in the NAL unit of bit ``rbsp_bit`` of the RBSP."""
        byte = rbsp_bit >> 3
        # The i-th RBSP byte sits after every emulation prevention byte that precedes it.
        ebsp = byte
        for epb in self.epbs:
            if epb <= ebsp:
                ebsp += 1
            else:
                break
        return 8 * (2 + ebsp) + (rbsp_bit & 7)


def _labels(body: tuple, out: dict[str, str]) -> None:
    """Trace label -> element name of every scalar element of a table."""
    for node in body:
        if isinstance(node, Element) and not node.index:
            out.setdefault(node.trace or node.name, node.name)
        elif isinstance(node, If):
            _labels(node.then, out)
            _labels(node.orelse, out)
        elif isinstance(node, For):
            _labels(node.body, out)


class _Checker:
    """One run over one byte stream."""

    def __init__(self, variant: str, mode: str, want_trace: bool) -> None:
        self.ctx = DecodingContext(mode=mode, variant=variant)
        self.variant = variant
        self.mode = mode
        self.want_trace = want_trace
        self.findings: list[CheckFinding] = []
        self.nals: list[NalSummary] = []
        self.messages: list[MessageSummary] = []
        self.parsed: list[SEIMessage] = []
        self.labels: dict[int, dict[str, str]] = {}
        # Sequencing state, keyed by id whatever the reconstruction mode (the rules are the spec's).
        self.gfv_base_seen: set[int] = set()
        self.gfv_last_cnt: dict[int, int] = {}
        self.gfv_base_num_kps: dict[int, int] = {}
        self.gfv_messages: set[tuple[int, int]] = set()
        self.gfve_base_seen: set[int] = set()
        self.gfve_refs: list[tuple[tuple[int, int], _NalPositions, tuple[int, int, int], int | None]] = []
        self.nnpfc_ids: set[int] = set()
        self.seen_vcl = False  # in the current picture unit

    # ------------------------------------------------------------------ findings
    def add(
        self,
        element: str,
        rule: str,
        source: str,
        severity: str = "error",
        *,
        nal: _NalPositions | None = None,
        nal_index: int | None = None,
        msg: tuple[int, int, int] | None = None,
        payload_bit: int | None = None,
        rbsp_bit: int | None = None,
        nal_bit: int | None = None,
    ) -> None:
        """Records a finding. ``msg`` is ``(message_index, payloadType, payload offset in the
        RBSP)``; a position is given in the payload, the RBSP or the NAL unit."""
        message_index = payload_type = None
        if msg is not None:
            message_index, payload_type, payload_at = msg
            if payload_bit is not None:
                rbsp_bit = 8 * payload_at + payload_bit
        if nal is not None:
            nal_index = nal.nal_index
            if rbsp_bit is not None:
                nal_bit = nal.nal_bit(rbsp_bit)
        stream = None if nal is None or nal_bit is None else nal.stream_offset + (nal_bit >> 3)
        self.findings.append(
            CheckFinding(
                element=element,
                rule=rule,
                source=source,
                severity=severity,
                nal_index=nal_index,
                message_index=message_index,
                payload_type=payload_type,
                payload_byte_offset=None if payload_bit is None else payload_bit >> 3,
                payload_bit_offset=payload_bit,
                nal_byte_offset=None if nal_bit is None else nal_bit >> 3,
                nal_bit_offset=nal_bit,
                stream_byte_offset=stream,
            )
        )

    # ------------------------------------------------------------------ NAL units
    def run(self, data: bytes) -> CheckReport:
        for nal_index, (offset, _sc, raw) in enumerate(split_annexb(data)):
            self.nal_unit(nal_index, offset, raw)
        self.finish()
        trace = format_trace(self.parsed) if self.want_trace else ""
        return CheckReport(self.nals, self.messages, self.findings, self.variant, self.mode, trace)

    def nal_unit(self, nal_index: int, offset: int, raw: bytes) -> None:
        if len(raw) < 2:
            self.nals.append(NalSummary(nal_index, offset, len(raw), None, "TRUNCATED", None, None))
            self.add(
                "nal_unit_header",
                f"NAL unit of {len(raw)} bytes is shorter than its 2-byte header",
                "H.266 7.3.1.2 (nal_unit_header)",
                nal_index=nal_index,
            )
            return
        b0, b1 = raw[0], raw[1]
        nut, layer, tid1 = b1 >> 3, b0 & 0x3F, b1 & 7
        try:
            name = NalUnitType(nut).name
        except ValueError:
            name = f"RSV_{nut}" if nut in _RESERVED_NUT else f"UNSPEC_{nut}"
        self.nals.append(NalSummary(nal_index, offset, len(raw), nut, name, layer, tid1))
        pos = _NalPositions(nal_index, offset, [])
        if b0 >> 7:
            self.add("forbidden_zero_bit", "forbidden_zero_bit shall be equal to 0", NAL_HEADER, nal=pos, nal_bit=0)
        if (b0 >> 6) & 1:
            self.add(
                "nuh_reserved_zero_bit",
                "nuh_reserved_zero_bit shall be equal to 0 (decoders ignore the NAL unit)",
                NAL_HEADER,
                nal=pos,
                nal_bit=1,
            )
        if layer > 55:
            self.add(
                "nuh_layer_id", f"nuh_layer_id {layer} shall be in the range 0..55", NAL_HEADER, nal=pos, nal_bit=2
            )
        if tid1 == 0:
            self.add(
                "nuh_temporal_id_plus1",
                "nuh_temporal_id_plus1 shall not be equal to 0",
                NAL_HEADER,
                nal=pos,
                nal_bit=13,
            )
        elif nut in _IRAP_NUT and tid1 != 1:
            self.add(
                "nuh_temporal_id_plus1",
                "TemporalId of an IRAP NAL unit shall be equal to 0",
                NAL_HEADER,
                nal=pos,
                nal_bit=13,
            )
        if nut in _RESERVED_NUT:
            self.add(
                "nal_unit_type",
                f"reserved nal_unit_type {nut}: decoders ignore the NAL unit",
                NAL_HEADER,
                "warning",
                nal=pos,
                nal_bit=8,
            )
        rbsp, epbs, problems = scan_ebsp(raw[2:])
        for p in problems:
            self.add(p.element, p.rule, EPB_RULES, nal=pos, nal_bit=8 * (2 + p.byte_offset))
        if nut in AU_START:
            self.seen_vcl = False  # a new picture unit begins (or this one has no slice yet)
        if nut in VCL_TYPES:
            self.seen_vcl = True
        if nut == NalUnitType.SUFFIX_SEI_NUT and not self.seen_vcl:
            self.add(
                "nal_unit_type",
                "suffix SEI NAL unit before the first VCL NAL unit of its picture unit: it shall follow it",
                NAL_ORDER,
                nal=pos,
                nal_bit=8,
            )
        if nut in (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT):
            self.sei_nal_unit(_NalPositions(nal_index, offset, epbs), rbsp, nut == NalUnitType.SUFFIX_SEI_NUT)

    # ------------------------------------------------------------------ SEI messages
    def sei_nal_unit(self, nal: _NalPositions, rbsp: bytes, suffix: bool) -> None:
        frames, error = scan_sei_rbsp(rbsp)
        if not frames and error is None:
            self.add(
                "sei_message", "an SEI RBSP shall contain at least one sei_message", VSEI_FRAMING, nal=nal, rbsp_bit=0
            )
        for ptype, psize, off in frames:
            self.message(nal, SEIMessage(ptype, psize, rbsp[off : off + psize], off), suffix)
        if error is not None:
            self.add(
                error.element or "sei_message",
                str(error),
                error.source or VSEI_FRAMING,
                nal=nal,
                rbsp_bit=error.bit_offset,
            )

    def message(self, nal: _NalPositions, msg: SEIMessage, suffix: bool) -> None:
        index = len(self.messages)
        where = (index, msg.payload_type, msg.offset)
        mt = lookup(msg.payload_type)
        nal_type = "suffix" if suffix else "prefix"
        if mt is None:
            self.unregistered(nal, msg, where)
        elif not (mt.suffix_ok if suffix else mt.prefix_ok):
            allowed = "suffix" if mt.suffix_ok else "prefix"
            self.add(
                "payloadType",
                f"{mt.short_name.upper()} SEI message (payloadType {msg.payload_type}) in a "
                f"{nal_type} SEI NAL unit: it shall be in a {allowed} SEI NAL unit; VTM does not parse it here",
                f"{VTM_BEHAVIOUR} (SEIread.cpp parses it only in {allowed} SEI NAL units)",
                nal=nal,
                msg=where,
                rbsp_bit=8 * msg.offset,
            )
        else:
            self.parse(nal, msg, where)
        fields = {}
        if msg.values is not None:
            fields = {k: msg.values[k] for k in _KEY_FIELDS.get(msg.payload_type, ()) if k in msg.values}
        self.messages.append(
            MessageSummary(
                index,
                nal.nal_index,
                msg.payload_type,
                msg.payload_size,
                nal.nal_bit(8 * msg.offset) >> 3,
                mt.short_name if mt else "unknown",
                msg.values is not None,
                fields,
            )
        )

    def unregistered(self, nal: _NalPositions, msg: SEIMessage, where: tuple[int, int, int]) -> None:
        """The framing of a message this package has no syntax table for: a reserved payloadType
        is an error, a known one is skipped with a warning, and a payloadSize too small for the
        message's fixed-length fields is an error (payloadSize within the NAL unit and the
        ``sei_rbsp`` framing are checked for every message by :meth:`sei_nal_unit`)."""
        at = 8 * msg.offset
        if msg.payload_type not in _VTM_PAYLOAD_TYPES:
            self.add(
                "payloadType",
                f"reserved payloadType {msg.payload_type} ({msg.payload_size} bytes): decoders ignore the message",
                RESERVED_PAYLOAD,
                nal=nal,
                msg=where,
                rbsp_bit=at,
            )
            return
        self.add(
            "payloadType",
            f"payloadType {msg.payload_type} has no syntax table here: skipped (framing checked only)",
            VTM_BEHAVIOUR + " (SEIread.cpp skips payload types it does not know)",
            "warning",
            nal=nal,
            msg=where,
            rbsp_bit=at,
        )
        need = _MIN_PAYLOAD_SIZE.get(msg.payload_type)
        if need is not None and msg.payload_size < need[0]:
            self.add(
                need[1],
                f"payloadSize {msg.payload_size} of payloadType {msg.payload_type} is shorter than its "
                f"{need[0]}-byte {need[1]}",
                need[2],
                nal=nal,
                msg=where,
                payload_bit=8 * msg.payload_size,
            )

    def parse(self, nal: _NalPositions, msg: SEIMessage, where: tuple[int, int, int]) -> None:
        try:
            parse_payload(msg, self.ctx, True)
        except BitstreamError as err:
            text = str(err)
            if err.element and text.startswith(err.element + ": "):
                text = text[len(err.element) + 2 :]
            self.add(
                err.element or "sei_payload",
                text,
                err.source or "H.274 sei_payload(): the message syntax shall fit in payloadSize bytes",
                "limit" if isinstance(err, SizeLimitError) else "error",
                nal=nal,
                msg=where,
                payload_bit=err.bit_offset,
            )
        for f in msg.findings:
            self.add_finding(f, nal, where)
        if self.want_trace:  # kept only for the trace: the decoder's check holds no parsed values
            self.parsed.append(msg)
        if msg.values is None:
            return
        for f in self.sequence(msg, nal, where):
            self.add_finding(f, nal, where)
        reconstruct(msg, self.ctx)

    def add_finding(self, f: Finding, nal: _NalPositions, where: tuple[int, int, int]) -> None:
        self.add(f.element, f.rule, f.source, f.severity, nal=nal, msg=where, payload_bit=f.bit_offset)

    # ------------------------------------------------------------------ sequencing rules
    def position(self, msg: SEIMessage, element: str) -> int | None:
        """Payload bit offset of the first occurrence of scalar ``element`` in ``msg``'s trace."""
        labels = self.labels.get(msg.payload_type)
        if labels is None:
            table: dict[str, str] = {}
            mt = lookup(msg.payload_type)
            if mt is not None:
                _labels(mt.compiled(self.variant).syntax.body, table)
            labels = self.labels[msg.payload_type] = table
        for label, _value, pos in msg.trace:
            if isinstance(label, str) and labels.get(label) == element:
                return pos
        return None

    def sequence(self, msg: SEIMessage, nal: _NalPositions, where: tuple[int, int, int]) -> list[Finding]:
        """Rules between messages, checked before the message updates the decoding state."""
        ptype = msg.payload_type
        if ptype == PayloadType.GENERATIVE_FACE_VIDEO:
            return self.gfv(msg)
        if ptype == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT:
            return self.gfve(msg, nal, where)
        v = msg.values or {}
        if ptype == PayloadType.DECODED_PICTURE_HASH:
            return size_findings(msg.payload_size, v)
        if ptype == PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS:
            self.nnpfc_ids.add(v["nnpfc_id"])
        elif ptype == PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION and v["nnpfa_target_id"] not in self.nnpfc_ids:
            return [
                Finding(
                    "nnpfa_target_id",
                    0,
                    f"NNPFA activates nnpfa_target_id {v['nnpfa_target_id']} but no "
                    "earlier NNPFC SEI message has that nnpfc_id",
                    NNPFA_SEMANTICS,
                )
            ]
        return []

    def gfv(self, msg: SEIMessage) -> list[Finding]:
        v = msg.values or {}
        out: list[Finding] = []
        gid, cnt, base = v["gfv_id"], v["gfv_cnt"], bool(v["BasePic"])
        cnt_at = self.position(msg, "gfv_cnt")
        if base:
            self.gfv_base_seen.add(gid)
            if v["gfv_coordinate_present_flag"]:
                self.gfv_base_num_kps[gid] = v["NumKps"]
        elif gid not in self.gfv_base_seen:
            # A warning, not an error: no available normative text requires a base message first,
            # and VTM decodes such a message with its stream-wide state (docs/conformance.md
            # #severity-policy). A prediction that needs the missing base is an error of its own.
            out.append(
                Finding(
                    "gfv_cnt",
                    cnt_at,
                    f"non-base GFV message (gfv_id {gid}, gfv_cnt {cnt}) before any "
                    "base message (gfv_base_picture_flag 1, gfv_cnt 0) with that gfv_id: VTM decodes it "
                    "with the state of earlier messages of any gfv_id; a decoder has no key picture "
                    "parameters to synthesise its picture from",
                    GFV_STATE,
                    "warning",
                )
            )
        last = self.gfv_last_cnt.get(gid)
        if cnt != 0 and last is not None and cnt <= last:
            out.append(
                Finding(
                    "gfv_cnt",
                    cnt_at,
                    f"gfv_cnt {cnt} does not increase within gfv_id {gid} (previous "
                    f"{last}; only gfv_cnt 0 starts a new sequence)",
                    GFV_SEMANTICS,
                )
            )
        self.gfv_last_cnt[gid] = cnt
        self.gfv_messages.add((gid, cnt))
        state = self.ctx.select_state(msg.payload_type, v.get("_state_key"))
        if v["gfv_coordinate_present_flag"]:
            num = v["NumKps"]
            if v["gfv_kps_pred_flag"] and not base:
                refs = state.base_xyz if cnt == 0 else state.prev_xyz
                if len(refs[0]) < num:
                    out.append(
                        Finding(
                            "gfv_kps_pred_flag",
                            self.position(msg, "gfv_kps_pred_flag"),
                            f"predicted keypoints without a reference: the {'base' if cnt == 0 else 'previous'}"
                            f" message has {len(refs[0])} keypoints, this one {num}",
                            VTM_BEHAVIOUR + " (reads past its reference keypoints; "
                            "docs/gfv_sei.md#gfv-vtm-reader-behaviours item 2)",
                        )
                    )
            elif not base and gid in self.gfv_base_num_kps and num != self.gfv_base_num_kps[gid]:
                out.append(
                    Finding(
                        "gfv_num_kps_minus1",
                        self.position(msg, "gfv_num_kps_minus1"),
                        f"non-base message with {num} keypoints, its base message has "
                        f"{self.gfv_base_num_kps[gid]}: VTM's reader stores them in arrays of the base's "
                        "size",
                        VTM_BEHAVIOUR + " (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 2)",
                        "warning",
                    )
                )
        if v["gfv_matrix_present_flag"] and v["gfv_matrix_pred_flag"]:
            ref = state.base_matrix if cnt == 0 else state.prev_matrix
            need = sum(
                v["NumMatrices"][i] * v["MatrixHeight"][i] * v["MatrixWidth"][i] for i in range(v["NumMatrixTypes"])
            )
            if len(ref) < need:
                out.append(
                    Finding(
                        "gfv_matrix_pred_flag",
                        self.position(msg, "gfv_matrix_pred_flag"),
                        f"predicted matrices without a reference: the reference message has {len(ref)} "
                        f"matrix elements, this one {need}",
                        GFV_SEMANTICS,
                    )
                )
        return out

    def gfve(self, msg: SEIMessage, nal: _NalPositions, where: tuple[int, int, int]) -> list[Finding]:
        v = msg.values or {}
        out: list[Finding] = []
        eid, base = v["gfve_id"], bool(v["BasePic"])
        cnt_at = self.position(msg, "gfve_gfv_cnt")
        if base:
            self.gfve_base_seen.add(eid)
        elif eid not in self.gfve_base_seen:
            out.append(
                Finding(
                    "gfve_gfv_cnt",
                    cnt_at,
                    f"non-base GFVE message (gfve_id {eid}) before any base "
                    "message (gfve_base_picture_flag 1, gfve_gfv_cnt 0) with that gfve_id",
                    GFVE_SEMANTICS,
                )
            )
        self.gfve_refs.append(((v["gfve_gfv_id"], v["gfve_gfv_cnt"]), nal, where, self.position(msg, "gfve_gfv_id")))
        if v["gfve_matrix_present_flag"] and v["gfve_matrix_pred_flag"]:
            state = self.ctx.select_state(msg.payload_type, v.get("_state_key"))
            ref = state.base_matrix if v["gfve_gfv_cnt"] == 0 else state.prev_matrix
            heights, widths = v["MatrixHeight"], v["MatrixWidth"]
            missing = [
                j
                for j in range(v["NumMatrices"])
                if j >= len(ref) or len(ref[j]) < heights[j] or any(len(row) < widths[j] for row in ref[j])
            ]
            if missing:
                out.append(
                    Finding(
                        "gfve_matrix_pred_flag",
                        self.position(msg, "gfve_matrix_pred_flag"),
                        f"predicted matrices without a reference: matrix {missing[0]} has no reference "
                        "element of its size",
                        GFVE_SEMANTICS,
                    )
                )
        return out

    def finish(self) -> None:
        """Rules that need the whole stream (GFVE messages refer to GFV messages that exist);
        then the findings are put in stream order."""
        have_gfv = bool(self.gfv_messages)
        for ref, nal, where, at in self.gfve_refs:
            if ref in self.gfv_messages:
                continue
            # With GFV messages in the stream a dangling reference is an error. A stream without
            # any GFV message (VTM encodes GFVE alone, vector gfve_vtm_sample) only warns: the
            # enhancement cannot be applied, but the GFVE syntax is intact and decodable.
            self.add(
                "gfve_gfv_id",
                f"gfve_gfv_id {ref[0]} / gfve_gfv_cnt {ref[1]} refer to no GFV message of the "
                "stream" + ("" if have_gfv else " (the stream has no GFV message)"),
                GFVE_SEMANTICS,
                "error" if have_gfv else "warning",
                nal=nal,
                msg=where,
                payload_bit=at,
            )
        self.findings.sort(
            key=lambda f: (
                -1 if f.nal_index is None else f.nal_index,
                -1 if f.message_index is None else f.message_index,
                -1 if f.nal_bit_offset is None else f.nal_bit_offset,
            )
        )


def check_stream(
    data: bytes, *, variant: str = "C", mode: str = "vtm", want_trace: bool = False, strict: bool = False
) -> CheckReport:
    """Checks every rule this package knows on the SEI messages of an Annex B byte stream.

    Args:
        data: the byte stream.
        variant: GFV syntax variant ``"C"`` (VTM-23.12+) or ``"B"`` (VTM-23.9..23.11).
        mode: reconstruction mode ``"vtm"`` or ``"spec"`` (:mod:`sei.context`), which decides
            the prediction references the sequencing rules look at.
        want_trace: also produce the VTM-format trace of the parsed messages (``report.trace``).
        strict: raise :class:`ConformanceError` instead of returning a report with errors
            (:meth:`CheckReport.raise_for_errors`); warnings never raise.

    Returns:
        The report: NAL units, SEI messages and findings in stream order.

    Raises:
        BitstreamError: ``data`` is not an Annex B byte stream (no start code at its beginning).
        ConformanceError: with ``strict``, a rule of severity ``error`` is violated; the first
            one (element, payload bit offset, rule, source) in ``finding``, all in ``findings``.
        ValueError: unknown ``variant`` or ``mode``.
    """
    report = _Checker(variant, mode, want_trace).run(data)
    if strict:
        report.raise_for_errors()
    return report


__all__ = ["CheckFinding", "CheckReport", "MessageSummary", "NalSummary", "check_stream"]
