"""Vocabulary of the syntax tables (one table drives reader, writer, trace and checker).

A table is a tuple of nodes. Conditions and counts are Python expressions over

* syntax element names (spec names verbatim; an indexed element is a mapping, indexed as
  ``name[i]`` for one index and ``name[i, j]`` for several),
* derived variables set by :class:`Let` (spec-style CamelCase names such as ``NumKps``),
* loop variables of enclosing :class:`For` nodes,
* ``state``: the parse state of the message type (values carried over from earlier messages,
  e.g. the base message's ``NumKps``), selected by :class:`SelectState`,
* ``ctx``: the decoding context (external values such as ``ctx.sps_max_sublayers_minus1``),
* ``payload_bits_left()``: bits of the payload not read yet, trailing bits included (VTM's
  ``getNumBitsLeft()`` inside an SEI payload); the writer writes what follows such a test
  unconditionally, as VTM's writers do.

Descriptors are the spec's: ``u(n)`` (``n`` an integer or an expression), ``ue(v)``, ``se(v)``,
``f(n)``, ``st(v)``, ``b(8)`` (one byte, read as ``u(8)``); ``b(8)`` byte strings to the end of
the payload use :class:`PayloadBytes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Expr = Union[str, int]


@dataclass(frozen=True)
class Element:
    """One syntax element.

    Attributes:
        name: spec name, verbatim.
        desc: descriptor, e.g. ``"u(1)"``, ``"u(6)"``, ``"u(MatrixPrec)"``, ``"ue(v)"``.
        index: loop variables that index the element (``("i",)`` for ``name[ i ]``).
        trace: the label VTM's SEI dump prints (defaults to ``name``).
        range: inclusive value range ``(lo, hi)`` (expressions allowed) checked on read and write.
        infer: value inferred when the element is not present (scalars only).
        equal: required value (``f(n)`` alignment bits).
        source: where the range/inference rule comes from.
        traced: ``False``: no trace line of its own (VTM prints such values on one derived line,
            e.g. the decoded picture hash's ``picture_md5``).
        stop: a value outside ``range`` stops parsing (a ``BitstreamError``) instead of being a
            finding: used where VTM's reader aborts and where the value sizes shifts or loops
            that later syntax or reconstruction could not bound (e.g. precision factors).
        severity: of the finding for a value outside ``range``: ``"error"`` (a "shall" of the
            syntax or semantics) or ``"limit"`` (this software's own bound, not a rule of the
            standard; docs/conformance.md#severity-policy).
    """

    name: str
    desc: str
    index: tuple[str, ...] = ()
    trace: str | None = None
    range: tuple[Expr, Expr] | None = None
    infer: Expr | None = None
    equal: int | None = None
    source: str = ""
    stop: bool = False
    severity: str = "error"
    traced: bool = True


@dataclass(frozen=True)
class If:
    """``if( cond ) then else orelse``."""

    cond: str
    then: tuple = ()
    orelse: tuple = ()


@dataclass(frozen=True)
class For:
    """``for( var = start; var < count; var++ ) body`` (``start`` 0 unless given)."""

    var: str
    count: Expr
    body: tuple = ()
    start: Expr = 0


@dataclass(frozen=True)
class Align:
    """``while( !byte_aligned() ) name f(1)`` with every bit equal to 0."""

    name: str
    trace: str | None = None
    source: str = ""


@dataclass(frozen=True)
class PayloadBytes:
    """``for( i = 0; more data in payload; i++ ) name[ i ] b(8)``: the rest of the payload."""

    name: str
    trace: str | None = None


@dataclass(frozen=True)
class Let:
    """A derived variable (``index`` makes it a mapping filled inside a loop)."""

    name: str
    expr: str
    index: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """A "shall" that does not change the parse: a violation becomes a finding."""

    cond: str
    element: str
    rule: str
    source: str
    severity: str = "error"


@dataclass(frozen=True)
class Require:
    """A condition without which parsing cannot go on (e.g. a prediction without a base).

    ``limit``: the condition is a bound of this software, not of the specification; the reader
    raises :class:`sei.errors.SizeLimitError` instead of :class:`sei.errors.BitstreamError`.
    """

    cond: str
    element: str
    rule: str
    source: str
    limit: bool = False


@dataclass(frozen=True)
class SelectState:
    """Selects ``state`` for the rest of the message (keyed by ``key``, e.g. ``gfv_id``)."""

    key: str


@dataclass(frozen=True)
class Hook:
    """Calls the message module's function ``name(v, state)`` (parse-state update)."""

    name: str


@dataclass(frozen=True)
class Derived:
    """Position of a derived-value line in the trace (VTM dump); the value comes from
    reconstruction, not from parsing. Printed only if ``cond`` holds."""

    label: str
    cond: str = "True"


@dataclass(frozen=True)
class Syntax:
    """A complete syntax structure.

    Attributes:
        name: structure name as in the spec (``generative_face_video``).
        payload_type: SEI payloadType, or ``None`` for non-SEI structures.
        body: the nodes.
        sources: documents the table follows.
    """

    name: str
    payload_type: int | None
    body: tuple
    sources: tuple[str, ...] = field(default_factory=tuple)
