"""An independent second reader of the SEI messages, written on ``bitstring`` 5.

It exists for differential testing (``tests/test_bitstring_differential.py``): the engine
(:mod:`sei.engine`, compiled readers over :mod:`sei.bitio`) and this module read the same
streams and must agree on every syntax value. The two share only the syntax tables of
:mod:`bitstream_spec`; everything else is written again here, differently:

* descriptors are read with ``bitstring.Reader`` (``read_value("u6")``, ``"ue"``, ``"se"``)
  instead of the engine's windowed integer reader;
* the table is walked node by node by a small recursive interpreter that ``eval``s each
  condition, count and derived-variable expression over one flat namespace, instead of being
  compiled into Python source;
* the framing (Annex B start codes, emulation prevention removal, the NAL unit header,
  ``sei_rbsp()`` with ``more_rbsp_data()``, payloadType / payloadSize in 0xFF chunks,
  ``reserved_payload_extension_data``) follows H.266 / H.274 as written, and the parse state
  that later messages depend on (the GFV / GFVE base message values) is kept by its own code
  from ``docs/gfv_sei.md`` (GFV derived variables, GFV decoder state, GFVE reconstruction).

Nothing here imports :mod:`sei`. The output of one message is the list of its syntax
elements in bitstream order (:class:`ElementValue`, with bit positions) and the same values
in the engine's dict form (:attr:`MessageResult.values`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import bitstring
from bitstring import Bits, Reader

from bitstream_spec import gfv, gfve, nnpfa, nnpfc, spti
from bitstream_spec.dsl import (
    Align,
    Check,
    Derived,
    Element,
    For,
    Hook,
    If,
    Let,
    PayloadBytes,
    Require,
    SelectState,
    Syntax,
)

PREFIX_SEI_NUT = 23
SUFFIX_SEI_NUT = 24
#: Largest ``ue(v)`` value: 31 leading zero bits at most (H.266 9.2; VTM ``xReadUvlc``).
UE_MAX = (1 << 32) - 2
#: NAL unit types in which each payloadType is parsed (``docs/gfv_sei.md#payload-types-and-placement``);
#: other payload types are skipped.
PARSED_IN = {
    nnpfc.PAYLOAD_TYPE: (PREFIX_SEI_NUT, SUFFIX_SEI_NUT),
    nnpfa.PAYLOAD_TYPE: (PREFIX_SEI_NUT, SUFFIX_SEI_NUT),
    spti.PAYLOAD_TYPE: (PREFIX_SEI_NUT,),
    gfv.PAYLOAD_TYPE: (SUFFIX_SEI_NUT,),
    gfve.PAYLOAD_TYPE: (SUFFIX_SEI_NUT,),
}
#: Functions the expressions of the tables call.
_BUILTINS = {"len": len, "any": any, "getattr": getattr}


class ReadFailure(Exception):
    """The bytes cannot be parsed (this reader's counterpart of the engine's ``BitstreamError``)."""


def syntax_tables(variant: str = "C") -> dict[int, Syntax]:
    """The syntax table of every payloadType this reader knows, GFV in ``variant`` ``"C"`` or ``"B"``."""
    tables = (gfv.syntax(variant), gfve.syntax(), nnpfc.syntax(), nnpfa.syntax(), spti.syntax())
    return {table.payload_type: table for table in tables}


def walk(body: tuple) -> Iterator[Any]:
    """Every node of ``body``, nested ones included, in table order."""
    for node in body:
        yield node
        if isinstance(node, If):
            yield from walk(node.then)
            yield from walk(node.orelse)
        elif isinstance(node, For):
            yield from walk(node.body)


def element_names(syntax: Syntax) -> set[str]:
    """Names of the syntax elements of ``syntax`` that carry a value (``Element``, ``PayloadBytes``)."""
    return {node.name for node in walk(syntax.body) if isinstance(node, (Element, PayloadBytes))}


# --------------------------------------------------------------------------- descriptors
class DescriptorSource(Protocol):
    """What the interpreter reads descriptors from (the test's random generator is another one)."""

    pos: int

    def u(self, n: int) -> int: ...

    def ue(self) -> int: ...

    def se(self) -> int: ...

    def st(self) -> str: ...

    def rest_bytes(self) -> bytes: ...

    def bits_left(self) -> int: ...


class PayloadBits:
    """Descriptors of H.266 / H.274 clause 7.2 read from one SEI payload with ``bitstring.Reader``.

    Args:
        payload: the payload bytes (RBSP, ``payloadSize`` bytes).

    Raises:
        ReadFailure: on a read past the end of the payload, an ``ue(v)`` above 2^32 - 2 and an
            ``st(v)`` without its null byte.
    """

    def __init__(self, payload: bytes) -> None:
        self.reader = Reader(Bits.from_bytes(payload))

    @property
    def pos(self) -> int:
        """Bit position from the start of the payload."""
        return self.reader.pos

    def bits_left(self) -> int:
        """``payload_bits_left()``: bits not read yet, payload trailing bits included."""
        return self.reader.remaining

    def _read(self, dtype: str) -> Any:
        try:
            return self.reader.read_value(dtype)
        except bitstring.ReadError as err:
            raise ReadFailure(f"{dtype} at bit {self.reader.pos}: {err}") from None

    def u(self, n: int) -> int:
        """``u(n)``, MSB first."""
        return self._read(f"u{n}") if n else 0

    def ue(self) -> int:
        """``ue(v)``, Exp-Golomb order 0, at most 2^32 - 2."""
        value = self._read("ue")
        if value > UE_MAX:
            raise ReadFailure(f"ue(v) value {value} above {UE_MAX} (more than 31 leading zero bits)")
        return value

    def se(self) -> int:
        """``se(v)``; its code number (2v - 1 for v > 0, else -2v) obeys the ``ue(v)`` limit."""
        value = self._read("se")
        if (2 * value - 1 if value > 0 else -2 * value) > UE_MAX:
            raise ReadFailure(f"se(v) value {value} beyond the ue(v) code limit")
        return value

    def st(self) -> str:
        """``st(v)``: bytes up to a null byte, as UTF-8 (undecodable bytes kept as surrogate escapes)."""
        text = bytearray()
        while (byte := self.u(8)) != 0:
            text.append(byte)
        return text.decode("utf-8", "surrogateescape")

    def rest_bytes(self) -> bytes:
        """The whole bytes left in the payload (``b(8)`` "while more data in payload")."""
        return self.reader.read_bits(8 * (self.reader.remaining // 8)).to_bytes()

    def reserved_extension(self) -> tuple[int, int] | None:
        """``reserved_payload_extension_data`` after the message syntax, as ``(num_bits, value)``.

        H.274 ``sei_payload()``: the bits left end with ``payload_bit_equal_to_one`` (the last
        bit equal to 1) and ``payload_bit_equal_to_zero`` bits; bits before that one are
        reserved extension data. ``None`` when there are none (or no bit equal to 1 at all).
        """
        rest = self.reader.read_bits(self.reader.remaining)
        last_one = rest.rfind("0b1")
        if not last_one:
            return None
        return last_one, rest[:last_one].u


# --------------------------------------------------------------------------- parse state
@dataclass
class GfvParseState:
    """What GFV messages take from the last base message (``docs/gfv_sei.md#gfv-decoder-state``)."""

    base_coord_prec: int | None = None
    base_num_kps: int | None = None
    base_z_present: int | None = None
    base_matrix_prec: int | None = None
    base_num_matrix_types: int | None = None
    base_num_matrices: list[int] = field(default_factory=list)
    base_matrix_height: list[int] = field(default_factory=list)
    base_matrix_width: list[int] = field(default_factory=list)


@dataclass
class GfveParseState:
    """What GFVE messages take from base messages (``docs/gfv_sei.md#gfve-reconstruction``)."""

    base_matrix_prec: int | None = None
    base_num_matrices: int | None = None
    base_matrix_height: list[int] = field(default_factory=list)
    base_matrix_width: list[int] = field(default_factory=list)
    pupil_base_seen: bool = False
    base_pupil_prec: int | None = None


def _keep_dims(state: Any, dims: dict[str, list[int]], mode: str) -> None:
    """Base matrix dimensions: VTM appends every base message's to its lists and never clears
    them (section 3.4 item 4 and section 5); the semantics replace them."""
    for attr, values in dims.items():
        setattr(state, attr, getattr(state, attr) + values if mode == "vtm" else values)


def _update_gfv_state(ns: dict[str, Any], state: GfvParseState, mode: str) -> None:
    """After a GFV message: a base message with coordinates gives Q, NumKps and ZPresent; one
    with (necessarily non-predicted) matrices gives MatrixPrec, NumMatrixTypes and the dims."""
    if not ns["BasePic"]:
        return
    if ns["gfv_coordinate_present_flag"]:
        state.base_coord_prec, state.base_num_kps, state.base_z_present = ns["CoordPrec"], ns["NumKps"], ns["ZPresent"]
    if ns["gfv_matrix_present_flag"]:
        types = range(ns["NumMatrixTypes"])
        state.base_matrix_prec, state.base_num_matrix_types = ns["MatrixPrec"], ns["NumMatrixTypes"]
        _keep_dims(
            state,
            {
                "base_num_matrices": [ns["NumMatrices"][i] for i in types],
                "base_matrix_height": [ns["MatrixHeight"][i] for i in types],
                "base_matrix_width": [ns["MatrixWidth"][i] for i in types],
            },
            mode,
        )


def _update_gfve_state(ns: dict[str, Any], state: GfveParseState, mode: str) -> None:
    """After a GFVE message: a base message with matrices gives P, NumMatrices and the dims; a
    base message with pupils makes ``PupilBaseSeen`` true for good and gives Pp."""
    if not ns["BasePic"]:
        return
    if ns["gfve_matrix_present_flag"]:
        matrices = range(ns["NumMatrices"])
        state.base_matrix_prec, state.base_num_matrices = ns["MatrixPrec"], ns["NumMatrices"]
        _keep_dims(
            state,
            {
                "base_matrix_height": [ns["MatrixHeight"][j] for j in matrices],
                "base_matrix_width": [ns["MatrixWidth"][j] for j in matrices],
            },
            mode,
        )
    if ns["gfve_pupil_coordinate_present_idx"]:
        state.pupil_base_seen, state.base_pupil_prec = True, ns["PupilPrec"]


_NEW_STATE = {gfv.PAYLOAD_TYPE: GfvParseState, gfve.PAYLOAD_TYPE: GfveParseState}
_UPDATE_STATE = {gfv.PAYLOAD_TYPE: _update_gfv_state, gfve.PAYLOAD_TYPE: _update_gfve_state}


class ParseStates:
    """Parse states of a stream: one per payloadType as VTM keeps them (``mode="vtm"``), or one
    per payloadType and ``gfv_id`` / ``gfve_id`` as the semantics intend (``mode="spec"``).

    Args:
        mode: ``"vtm"`` or ``"spec"``.
        sps_max_sublayers_minus1: of the active SPS (SPTI with ``spti_persistence_flag`` 0).
    """

    def __init__(self, mode: str = "vtm", sps_max_sublayers_minus1: int = 0) -> None:
        if mode not in ("vtm", "spec"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.sps_max_sublayers_minus1 = sps_max_sublayers_minus1
        self._states: dict[tuple[int, int | None], Any] = {}

    def select(self, payload_type: int, key: int) -> Any:
        """The state of ``payload_type`` for id ``key`` (``SelectState``)."""
        where = (payload_type, key if self.mode == "spec" else None)
        if where not in self._states:
            self._states[where] = _NEW_STATE[payload_type]()
        return self._states[where]

    def update(self, payload_type: int, ns: dict[str, Any], state: Any) -> None:
        """The ``update_parse_state`` hook at the end of a message."""
        _UPDATE_STATE[payload_type](ns, state, self.mode)


# --------------------------------------------------------------------------- the interpreter
@dataclass(frozen=True)
class ElementValue:
    """One syntax element as read.

    Attributes:
        name: spec name.
        index: loop index values (``()`` for a scalar).
        label: the table's trace label (``Element.trace``, else the name).
        value: ``int``, ``str`` (``st(v)``) or ``bytes`` (``b(8)`` payload bytes).
        bit_pos: bit offset from the start of the payload.
    """

    name: str
    index: tuple[int, ...]
    label: str
    value: int | str | bytes
    bit_pos: int


class TableInterpreter:
    """Walks one syntax table over a :class:`DescriptorSource`.

    The namespace of the expressions holds the syntax elements read so far (an indexed element
    is a dict keyed by its index value, a tuple for several indices), the derived variables
    (``Let``), the loop variables, ``state`` (after ``SelectState``), ``ctx`` and
    ``payload_bits_left()``. Elements with an ``infer`` value hold it until read.

    Args:
        syntax: the table.
        source: where descriptor values come from.
        states: the stream's parse states.
    """

    def __init__(self, syntax: Syntax, source: DescriptorSource, states: ParseStates) -> None:
        self.syntax = syntax
        self.source = source
        self.states = states
        self.elements: list[ElementValue] = []
        self.ns: dict[str, Any] = {
            "__builtins__": _BUILTINS,
            "state": None,
            "ctx": states,
            "payload_bits_left": source.bits_left,
        }
        for node in walk(syntax.body):
            if isinstance(node, (Element, Let)) and node.index:
                self.ns[node.name] = {}
            elif isinstance(node, Element) and node.infer is not None:
                self.ns[node.name] = node.infer

    def run(self) -> dict[str, Any]:
        """Reads the whole table; returns the syntax element values in the engine's dict form.

        Raises:
            ReadFailure: a descriptor cannot be read, a ``stop`` range or a ``Require`` fails.
        """
        self._body(self.syntax.body)
        return {name: self.ns[name] for name in element_names(self.syntax) if name in self.ns}

    def _eval(self, expr: str | int) -> Any:
        return expr if isinstance(expr, int) else eval(_compiled(expr), self.ns)

    def _key(self, index: tuple[str, ...]) -> int | tuple[int, ...]:
        values = tuple(self.ns[var] for var in index)
        return values[0] if len(values) == 1 else values

    def _store(self, name: str, index: tuple[str, ...], value: Any) -> None:
        if index:
            self.ns[name][self._key(index)] = value
        else:
            self.ns[name] = value

    def _record(self, name: str, index: tuple[str, ...], label: str | None, value: Any, pos: int) -> None:
        key = tuple(self.ns[var] for var in index)
        self.elements.append(ElementValue(name, key, label or name, value, pos))

    def _body(self, nodes: tuple) -> None:
        for node in nodes:
            if isinstance(node, Element):
                self._element(node)
            elif isinstance(node, If):
                self._body(node.then if self._eval(node.cond) else node.orelse)
            elif isinstance(node, For):
                for value in range(self._eval(node.start), self._eval(node.count)):
                    self.ns[node.var] = value
                    self._body(node.body)
            elif isinstance(node, Let):
                self._store(node.name, node.index, self._eval(node.expr))
            elif isinstance(node, Align):
                while self.source.pos % 8:
                    pos = self.source.pos
                    self._record(node.name, (), node.trace, self.source.u(1), pos)
            elif isinstance(node, PayloadBytes):
                pos = self.source.pos
                self.ns[node.name] = data = self.source.rest_bytes()
                self._record(node.name, (), node.trace, data, pos)
            elif isinstance(node, Require):
                if not self._eval(node.cond):
                    raise ReadFailure(f"{node.element}: {node.rule}")
            elif isinstance(node, SelectState):
                self.ns["state"] = self.states.select(self.syntax.payload_type, self._eval(node.key))
            elif isinstance(node, Hook):
                if node.name != "update_parse_state":
                    raise ValueError(f"unknown hook {node.name!r}")
                self.states.update(self.syntax.payload_type, self.ns, self.ns["state"])
            elif not isinstance(node, (Check, Derived)):  # findings and trace lines only
                raise TypeError(f"unknown table node {node!r}")

    def _element(self, e: Element) -> None:
        pos = self.source.pos
        desc = e.desc
        if desc == "b(8)":
            value: Any = self.source.u(8)
        elif desc.startswith(("u(", "f(")):
            value = self.source.u(self._eval(_int_or_expr(desc[2:-1])))
        elif desc in ("ue(v)", "se(v)", "st(v)"):
            value = getattr(self.source, desc[:2])()
        else:
            raise ValueError(f"unknown descriptor {desc!r} of {e.name}")
        self._store(e.name, e.index, value)
        self._record(e.name, e.index, e.trace, value, pos)
        if e.range is not None and e.stop:
            low, high = (self._eval(bound) for bound in e.range)
            if not low <= value <= high:
                raise ReadFailure(f"{e.name} = {value} outside {low}..{high}")


_CODE_CACHE: dict[str, Any] = {}


def _compiled(expr: str) -> Any:
    """``expr`` compiled once."""
    code = _CODE_CACHE.get(expr)
    if code is None:
        code = _CODE_CACHE[expr] = compile(expr, f"<table expression {expr!r}>", "eval")
    return code


def _int_or_expr(text: str) -> int | str:
    return int(text) if text.isdigit() else text


# --------------------------------------------------------------------------- framing
@dataclass
class MessageResult:
    """One SEI message.

    Attributes:
        payload_type: payloadType.
        payload: the payload bytes.
        parsed: False for a payloadType this reader does not parse in this NAL unit type.
        elements: syntax elements in bitstream order (up to the failure when ``error`` is set).
        values: syntax element values in the engine's dict form (``None`` if not parsed or failed).
        reserved_extension: ``reserved_payload_extension_data`` as ``(num_bits, value)``, or ``None``.
        error: why the payload could not be parsed, or ``None``.
    """

    payload_type: int
    payload: bytes
    parsed: bool = False
    elements: list[ElementValue] = field(default_factory=list)
    values: dict[str, Any] | None = None
    reserved_extension: tuple[int, int] | None = None
    error: ReadFailure | None = None


@dataclass
class SeiNalUnit:
    """An SEI NAL unit of the stream.

    Attributes:
        index: position among all NAL units of the stream.
        nal_unit_type: 23 (prefix) or 24 (suffix).
        messages: its SEI messages (none when ``error`` is set).
        error: why its ``sei_rbsp()`` could not be framed, or ``None``.
    """

    index: int
    nal_unit_type: int
    messages: list[MessageResult] = field(default_factory=list)
    error: ReadFailure | None = None


def annexb_nal_units(stream: bytes) -> list[bytes]:
    """NAL units (header and EBSP) of an Annex B byte stream (H.266 B.2): each runs from a
    ``start_code_prefix_one_3bytes`` to the next one, without the zero bytes before it.

    Raises:
        ReadFailure: no start code, or non-zero bytes before the first one.
    """
    bits = Bits.from_bytes(stream)
    starts = [pos // 8 for pos in bits.findall("0x000001", bytealigned=True)]
    if not starts or any(stream[: starts[0]]):
        raise ReadFailure("not an Annex B byte stream")
    ends = [*starts[1:], len(stream)]
    return [stream[start + 3 : end].rstrip(b"\x00") for start, end in zip(starts, ends, strict=True)]


def rbsp_of(ebsp: bytes) -> bytes:
    """The RBSP of a NAL unit's EBSP: each ``emulation_prevention_three_byte`` (an 0x03 after
    two zero bytes) removed (H.266 7.4.2).

    Raises:
        ReadFailure: ``00 00 00``, ``00 00 01`` or ``00 00 02`` inside the NAL unit, or an
            emulation prevention byte followed by a byte above 0x03.
    """
    bits = Bits.from_bytes(ebsp)
    rbsp = bytearray()
    copied = 0
    search = 0
    while (hit := bits.find("0x0000", 8 * search, bytealigned=True)) is not None:
        after = hit // 8 + 2
        if after >= len(ebsp):
            break
        if ebsp[after] < 3:
            raise ReadFailure(f"00 00 {ebsp[after]:02x} inside a NAL unit")
        if ebsp[after] == 3:
            if after + 1 < len(ebsp) and ebsp[after + 1] > 3:
                raise ReadFailure(f"byte {ebsp[after + 1]:02x} after an emulation prevention byte")
            rbsp += ebsp[copied:after]
            copied = after + 1
        search = after if ebsp[after] > 3 else after + 1
    return bytes(rbsp + ebsp[copied:])


def nal_unit_type_of(nal: bytes) -> int:
    """``nal_unit_type`` from the NAL unit header (H.266 7.3.1.2: ``forbidden_zero_bit`` f(1),
    ``nuh_reserved_zero_bit`` u(1), ``nuh_layer_id`` u(6), ``nal_unit_type`` u(5),
    ``nuh_temporal_id_plus1`` u(3)).

    Raises:
        ReadFailure: fewer than the 2 bytes of the header.
    """
    if len(nal) < 2:
        raise ReadFailure("NAL unit shorter than its 2-byte header")
    return Bits.from_bytes(nal[:2]).unpack("u1, u1, u6, u5, u3")[3]


def _coded_0xff(reader: Reader) -> int:
    """payloadType or payloadSize: bytes summed while they are 0xFF (H.274 7.3.1)."""
    total = 0
    while True:
        byte = reader.read_value("u8")
        total += byte
        if byte != 0xFF:
            return total


def sei_messages(rbsp: bytes) -> list[tuple[int, bytes]]:
    """``(payloadType, payload)`` of each ``sei_message()`` of an ``sei_rbsp()``.

    ``more_rbsp_data()`` (H.266 7.2) is true while data precede the last bit equal to 1 of the
    RBSP, the ``rbsp_stop_one_bit``; ``rbsp_trailing_bits()`` is that bit and the zero bits up
    to the end, which, after byte-aligned messages, is one 0x80 byte.

    Raises:
        ReadFailure: a message beyond the data, or no ``rbsp_trailing_bits()`` after the last one.
    """
    bits = Bits.from_bytes(rbsp)
    stop_bit = bits.rfind("0b1")
    if stop_bit is None:
        raise ReadFailure("sei_rbsp() without rbsp_stop_one_bit")
    reader = Reader(bits)
    out = []
    try:
        while reader.pos < stop_bit:
            payload_type, payload_size = _coded_0xff(reader), _coded_0xff(reader)
            if reader.pos + 8 * payload_size > stop_bit:
                raise ReadFailure(f"payloadSize {payload_size} of payloadType {payload_type} beyond the data")
            out.append((payload_type, reader.read_bits(8 * payload_size).to_bytes()))
    except bitstring.ReadError as err:
        raise ReadFailure(f"sei_message() cut short: {err}") from None
    if reader.pos != stop_bit or len(bits) - stop_bit != 8:
        raise ReadFailure("sei_rbsp() does not end with rbsp_trailing_bits()")
    return out


def read_payload(payload_type: int, payload: bytes, table: Syntax, states: ParseStates) -> MessageResult:
    """Reads one payload with ``table``, then its reserved extension data; a failure is kept in
    :attr:`MessageResult.error`."""
    result = MessageResult(payload_type, payload, parsed=True)
    source = PayloadBits(payload)
    interpreter = TableInterpreter(table, source, states)
    try:
        result.values = interpreter.run()
    except ReadFailure as err:
        result.error = err
    else:
        result.reserved_extension = source.reserved_extension()
    result.elements = interpreter.elements
    return result


def read_stream(
    stream: bytes, mode: str = "vtm", variant: str = "C", sps_max_sublayers_minus1: int = 0
) -> list[SeiNalUnit]:
    """Reads every SEI message of an Annex B byte stream, in decoding order.

    Args:
        stream: the byte stream.
        mode: parse-state mode, ``"vtm"`` or ``"spec"`` (see :class:`ParseStates`).
        variant: GFV syntax variant, ``"C"`` or ``"B"``.
        sps_max_sublayers_minus1: of the active SPS (SPTI).

    Raises:
        ReadFailure: the stream cannot be split into NAL units (start codes, a NAL unit
            shorter than its header, broken emulation prevention in any NAL unit).
    """
    tables = syntax_tables(variant)
    states = ParseStates(mode, sps_max_sublayers_minus1)
    out = []
    for index, nal in enumerate(annexb_nal_units(stream)):
        nal_unit_type = nal_unit_type_of(nal)
        rbsp = rbsp_of(nal[2:])
        if nal_unit_type not in (PREFIX_SEI_NUT, SUFFIX_SEI_NUT):
            continue
        unit = SeiNalUnit(index, nal_unit_type)
        out.append(unit)
        try:
            messages = sei_messages(rbsp)
        except ReadFailure as err:
            unit.error = err
            continue
        for payload_type, payload in messages:
            if nal_unit_type in PARSED_IN.get(payload_type, ()):
                unit.messages.append(read_payload(payload_type, payload, tables[payload_type], states))
            else:
                unit.messages.append(MessageResult(payload_type, payload))
    return out
