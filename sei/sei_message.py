"""``sei_rbsp()``, ``sei_message()`` and ``sei_payload()`` framing (H.274 clause 7.3 / H.266 7.3.2.8).

payloadType / payloadSize in 0xFF chunks, payload trailing bits (``payload_bit_equal_to_one``,
``payload_bit_equal_to_zero``), ``reserved_payload_extension_data`` and ``rbsp_trailing_bits``
exist here once (``docs/gfv_sei.md#sei-framing``). Unknown payload types are kept as raw bytes
with a warning, as VTM's ``default:`` branch does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from .bitio import BitReader, BitWriter
from .compact import TraceLog
from .context import DecodingContext
from .engine import Run
from .errors import BitstreamError, Finding, SEIError
from .registry import lookup

log = logging.getLogger(__name__)

VSEI_FRAMING = "H.274 7.3.1 / H.266 7.3.2.8 (sei_message, sei_payload)"
SEI_RBSP = "H.266 7.3.2 (sei_rbsp, rbsp_trailing_bits)"
RESERVED_EXTENSION_RULE = "H.274 sei_payload() semantics (reserved_payload_extension_data)"


@dataclass
class SEIMessage:
    """One SEI message of a NAL unit.

    Attributes:
        payload_type: payloadType.
        payload_size: payloadSize in bytes.
        payload: the payload bytes (RBSP, emulation prevention removed).
        offset: byte offset of the payload inside the SEI RBSP.
        values: parsed syntax values and derived variables (``None`` for unknown types or when
            parsing failed).
        trace: ``(label, value, bit_pos)`` records in bitstream order (``DERIVED`` markers
            included); a :class:`sei.compact.TraceLog` once parsed.
        findings: rules violated inside this message.
        recon: reconstructed values (dequantised keypoints, matrices...), once reconstructed.
        error: the parse error, if the message could not be parsed.
        reserved_extension: ``reserved_payload_extension_data`` after the message syntax as
            ``(num_bits, value)`` (MSB first), or ``None``; :func:`write_payload` re-writes it.
    """

    payload_type: int
    payload_size: int
    payload: bytes
    offset: int = 0
    values: dict | None = None
    trace: Sequence = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recon: dict | None = None
    error: SEIError | None = None
    reserved_extension: tuple[int, int] | None = None


def scan_sei_rbsp(rbsp: bytes) -> tuple[list[tuple[int, int, int]], BitstreamError | None]:
    """Frames of an ``sei_rbsp()`` up to the first framing problem, and that problem.

    The loop runs while more than 8 bits remain, as VTM's ``parseSEImessage``; what remains
    must be ``rbsp_trailing_bits`` (0x80).

    Returns:
        ``(frames, error)``: ``(payloadType, payloadSize, payload_offset)`` of every message framed
        before the problem, and a :class:`BitstreamError` (``element`` ``payload_type_byte``,
        ``payload_size_byte``, ``payloadSize`` or ``rbsp_trailing_bits``; ``bit_offset`` in the
        RBSP) or ``None``.
    """
    out: list[tuple[int, int, int]] = []
    pos, n = 0, len(rbsp)
    while n - pos > 1:
        start = pos
        ptype, pos = _read_ff_coded(rbsp, pos)
        if ptype is None:
            return out, BitstreamError("truncated payloadType", 8 * start, "payload_type_byte", VSEI_FRAMING)
        size_at = pos
        psize, pos = _read_ff_coded(rbsp, pos)
        if psize is None:
            return out, BitstreamError("truncated payloadSize", 8 * size_at, "payload_size_byte", VSEI_FRAMING)
        if pos + psize > n:
            return out, BitstreamError(
                f"payloadSize {psize} of payloadType {ptype} exceeds the {n - pos} bytes left in the SEI NAL unit",
                8 * size_at,
                "payloadSize",
                VSEI_FRAMING,
            )
        out.append((ptype, psize, pos))
        pos += psize
    if pos != n - 1 or rbsp[-1] != 0x80:
        return out, BitstreamError(
            "SEI RBSP does not end with rbsp_trailing_bits (0x80)", 8 * pos, "rbsp_trailing_bits", SEI_RBSP
        )
    return out, None


def _read_ff_coded(rbsp: bytes, pos: int) -> tuple[int | None, int]:
    """A payloadType or payloadSize value coded as 0xFF bytes plus a last byte below 0xFF, read
    from byte ``pos``: ``(value, position after it)``, ``(None, end)`` when the data ends first."""
    value = 0
    while pos < len(rbsp):
        b = rbsp[pos]
        pos += 1
        value += b
        if b != 0xFF:
            return value, pos
    return None, pos


def split_sei_rbsp(rbsp: bytes) -> list[tuple[int, int, int]]:
    """Frames of an ``sei_rbsp()``: ``(payloadType, payloadSize, payload_offset)`` per message
    (see :func:`scan_sei_rbsp`).

    Raises:
        BitstreamError: truncated type/size, a payloadSize beyond the NAL unit, or bad
            ``rbsp_trailing_bits``.
    """
    frames, error = scan_sei_rbsp(rbsp)
    if error is not None:
        raise error
    return frames


def parse_payload(msg: SEIMessage, ctx: DecodingContext, want_trace: bool = True) -> SEIMessage:
    """Parses ``msg.payload`` with its registered syntax, then the payload trailing bits.

    Sets ``values``, ``trace``, ``findings``; a :class:`BitstreamError` sets ``error`` and is
    re-raised. Unknown payload types are left unparsed (a warning is logged).
    """
    mt = lookup(msg.payload_type)
    if mt is None:
        log.warning("skipping SEI message with unknown payloadType %d (%d bytes)", msg.payload_type, msg.payload_size)
        return msg
    r = BitReader(msg.payload)
    trace: TraceLog | None = TraceLog() if want_trace else None
    findings: list[Finding] = []
    try:
        msg.values = mt.compiled(ctx.variant).read(r, ctx, trace, findings)
    except BitstreamError as err:
        msg.error = err
        msg.trace = trace or []
        msg.findings = findings
        raise
    msg.reserved_extension = _payload_trailing(r, trace, findings, msg.payload_type)
    msg.trace = trace or []
    msg.findings = findings
    return msg


def _payload_trailing(
    r: BitReader, trace: TraceLog | None, findings: list[Finding], ptype: int
) -> tuple[int, int] | None:
    """VTM's handling of the bits after the message syntax: all but the last set bit and the
    zeros after it are ``reserved_payload_extension_data``.

    Returns:
        ``(num_bits, value)`` of the reserved extension data, or ``None`` when there is none.
    """
    left = r.bits_left
    if left <= 0:
        return None
    rest = r.peek(left)
    if rest == 0:
        findings.append(
            Finding(
                "payload_bit_equal_to_one",
                r.pos,
                "a payload that does not end byte aligned shall end with payload_bit_equal_to_one",
                VSEI_FRAMING,
            )
        )
        return None
    zeros = (rest & -rest).bit_length() - 1
    n_reserved = left - zeros - 1
    if zeros > 7:
        findings.append(
            Finding(
                "payload_bit_equal_to_zero",
                r.end - zeros,
                f"{zeros} zero bits after payload_bit_equal_to_one: only those up to the next byte "
                "boundary belong to the payload (payloadSize too large)",
                VSEI_FRAMING,
            )
        )
    if n_reserved:
        # An error, not a warning: H.274 says reserved_payload_extension_data "shall not be
        # present in bitstreams conforming to this version" (decoders shall ignore it, so the
        # message still decodes). VTM's GFV writer appends the NN payload of mode 0 to every
        # message, so its non-base messages in vector gfv_nnr_payload violate this rule.
        findings.append(
            Finding(
                "reserved_payload_extension_data",
                r.pos,
                f"{n_reserved} bits of reserved_payload_extension_data after payloadType {ptype}: "
                "shall not be present in bitstreams conforming to this version (decoders ignore "
                "them)",
                RESERVED_EXTENSION_RULE,
            )
        )
    # VTM prints the bits before the last 9 one per line; the rest of the reserved bits, inside
    # the final 9-bit window, are read without a trace line (SEIread.cpp, xReadSEIPayloadData).
    traced = min(n_reserved, left - 9)
    if trace is not None and traced > 0:
        trace.append(("reserved_payload_extension_data", Run(rest >> (left - traced), traced, 1), r.pos))
    r.pos = r.end
    return (n_reserved, rest >> (zeros + 1)) if n_reserved else None


def write_payload(
    payload_type: int,
    values: dict,
    ctx: DecodingContext,
    trace: list | None = None,
    reserved_extension: tuple[int, int] | None = None,
) -> tuple[bytes, dict]:
    """Writes one payload with its registered syntax, then ``payload_bit_equal_to_one`` and
    zero bits if it does not end byte aligned (VTM ``xWriteByteAlign``).

    ``reserved_extension`` (``(num_bits, value)``, e.g. :attr:`SEIMessage.reserved_extension`
    of a parsed message) is written after the syntax as ``reserved_payload_extension_data``,
    followed by ``payload_bit_equal_to_one`` and zero bits, so that a parsed payload is
    re-written bit for bit. Encoders shall not write such data (H.274); it exists for
    round trips of streams that carry it (VTM's GFV writer does, see ``gfv_nnr_payload``).

    Returns:
        ``(payload_bytes, values)`` where ``values`` includes the derived variables.

    Raises:
        SEIWriteError: a value does not fit its descriptor or a "shall" of the syntax is broken.
        KeyError: ``payload_type`` is not registered.
    """
    mt = lookup(payload_type)
    if mt is None:
        raise KeyError(f"no syntax registered for payloadType {payload_type}")
    w = BitWriter()
    out = mt.compiled(ctx.variant).write(w, values, ctx, trace)
    if reserved_extension is not None:
        w.u(reserved_extension[1], reserved_extension[0])
    if reserved_extension is not None or w.pos & 7:
        w.u(1, 1)
        while w.pos & 7:
            w.u(0, 1)
    return w.getvalue(), out


def frame_sei_message(payload_type: int, payload: bytes) -> bytes:
    """``sei_message()`` bytes: payloadType and payloadSize in 0xFF chunks, then the payload."""
    out = bytearray()
    for value in (payload_type, len(payload)):
        while value >= 255:
            out.append(0xFF)
            value -= 255
        out.append(value)
    return bytes(out) + payload


def sei_rbsp(messages: list[tuple[int, bytes]]) -> bytes:
    """``sei_rbsp()`` of ``(payloadType, payload)`` pairs, with ``rbsp_trailing_bits``."""
    return b"".join(frame_sei_message(t, p) for t, p in messages) + b"\x80"


def parse_sei_rbsp(
    rbsp: bytes, ctx: DecodingContext, want_trace: bool = True, suffix: bool | None = None
) -> list[SEIMessage]:
    """Frames and parses every message of an SEI RBSP.

    A message whose syntax cannot be parsed keeps ``error`` set and parsing goes on with the
    next message (its frame is known from payloadSize). With ``suffix`` given (the NAL unit is a
    suffix / prefix SEI NAL unit), messages that VTM does not parse in that NAL unit type are
    kept unparsed (``values`` is ``None``) with a warning.

    Raises:
        BitstreamError: the framing itself is broken (see :func:`split_sei_rbsp`).
    """
    out: list[SEIMessage] = []
    for ptype, psize, off in split_sei_rbsp(rbsp):
        msg = SEIMessage(ptype, psize, rbsp[off : off + psize], off)
        mt = lookup(ptype)
        if suffix is not None and mt is not None and not (mt.suffix_ok if suffix else mt.prefix_ok):
            log.warning(
                "payloadType %d is not parsed in a %s SEI NAL unit (VTM skips it)",
                ptype,
                "suffix" if suffix else "prefix",
            )
        else:
            try:
                parse_payload(msg, ctx, want_trace)
            except BitstreamError:
                log.debug("payloadType %d could not be parsed: %s", ptype, msg.error)
        out.append(msg)
    return out


def reconstruct(msg: SEIMessage, ctx: DecodingContext) -> dict | None:
    """Runs the message type's reconstruction (dequantisation and prediction) on a parsed message."""
    mt = lookup(msg.payload_type)
    if mt is None or mt.reconstruct is None or msg.values is None:
        return None
    state = ctx.select_state(msg.payload_type, msg.values.get("_state_key"))
    msg.recon = mt.reconstruct(msg.values, state, ctx.mode)
    return msg.recon
