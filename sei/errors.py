"""Typed errors of the SEI layer.

Library code raises these; only the command-line apps turn them into a one-line message and an
exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SEIError(Exception):
    """Base class of every error raised by the SEI layer."""


class BitstreamError(SEIError):
    """The bytes cannot be parsed: truncated data, an over-long ``ue(v)``, a missing ``st(v)``
    terminator, a broken emulation-prevention sequence, an impossible ``payloadSize``...

    Attributes:
        bit_offset: bit position (from the start of the RBSP or payload being read) where the
            problem was found, or ``None`` when not known.
        element: the syntax element being read (spec name, or a framing field such as
            ``payloadSize``), or ``None`` when not known.
        source: where the violated rule comes from (VSEI clause, JVET document, VTM
            behaviour), or ``None`` when the data simply ends too early.
    """

    def __init__(
        self, message: str, bit_offset: int | None = None, element: str | None = None, source: str | None = None
    ) -> None:
        super().__init__(message)
        self.bit_offset = bit_offset
        self.element = element
        self.source = source


class SizeLimitError(BitstreamError):
    """The message is larger than this software handles (a bound of this software, not a rule of
    the specification): e.g. more than ``bitstream_spec.gfv.MAX_MATRIX_ELEMENTS`` matrix elements
    in one GFV message (``docs/conformance.md#memory-and-size-limits``). ``gfv-check`` reports it
    as a finding of severity ``limit``, never as non-conformance.
    """


class SEIWriteError(SEIError):
    """A value cannot be written with its descriptor (out of range, missing element...)."""


@dataclass(frozen=True)
class Finding:
    """One violated rule found while parsing or checking.

    Attributes:
        element: syntax element (or derived variable) the rule is about, spec name verbatim.
        bit_offset: bit offset of the element inside the SEI payload (``None`` if not tied to a
            position); ``byte_offset`` is ``bit_offset // 8``.
        rule: the rule, in words (e.g. ``"gfv_coordinate_precision_factor_minus1 shall be in 0..31"``).
        source: where the rule comes from (VSEI clause, JVET document or VTM behaviour).
        severity: ``"error"`` (a "shall" is violated), ``"warning"`` (legal, but questionable
            or VTM misbehaves) or ``"limit"`` (beyond this software's own bound; not a
            non-conformance). The policy: docs/conformance.md#severity-policy.
    """

    element: str
    bit_offset: int | None
    rule: str
    source: str
    severity: str = "error"

    @property
    def byte_offset(self) -> int | None:
        """Byte offset of the element inside the SEI payload, or ``None``."""
        return None if self.bit_offset is None else self.bit_offset // 8


class ConformanceError(SEIError):
    """A "shall" of the syntax or semantics is violated and the caller asked to stop on it
    (:meth:`sei.checker.CheckReport.raise_for_errors`, ``check_stream(..., strict=True)``).

    The message names the element, its position and the rule's source, e.g.
    ``NAL 1, msg 0 (payloadType 223): gfv_coordinate_precision_factor_minus1 at payload byte 1
    bit 0: ... [VTM-23.13 SEIread.cpp] (and 2 more errors)``.

    Attributes:
        finding: the first violated rule (element, bit offset in the SEI payload, rule, source).
        where: where the message sits in the stream (NAL unit, message index, offsets), or
            ``None``.
        findings: every violation that was found, ``finding``'s first (the checker's
            :class:`sei.checker.CheckFinding` records when raised by the checker).
    """

    def __init__(self, finding: Finding, where: str | None = None, findings: Sequence[object] = ()) -> None:
        loc = (
            ""
            if finding.bit_offset is None
            else f" at payload byte {finding.bit_offset // 8} bit {finding.bit_offset % 8}"
        )
        more = len(findings) - 1
        tail = f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else ""
        head = f"{where}: " if where else ""
        super().__init__(f"{head}{finding.element}{loc}: {finding.rule} [{finding.source}]{tail}")
        self.finding = finding
        self.where = where
        self.findings = list(findings) if findings else [finding]
