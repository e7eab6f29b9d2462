"""Bit-level reader and writer with the descriptors of H.266 / H.274 clause 7.2.

Descriptors are methods named after the spec: ``u(n)``, ``ue(v)`` (``ue``), ``se(v)`` (``se``),
``f(n)`` (``f``), ``st(v)`` (``st``), ``b(8)`` (``b8``). Bits are MSB first.

The reader keeps the whole buffer as one Python integer so that every read is a shift and a
mask; payloads of SEI messages are small (tens to thousands of bytes), so this is the fastest
pure-Python form. Limits follow VTM (``VLCReader``): ``ue(v)`` values up to 2^32 - 2 (at most 31
leading zero bits), ``u(n)`` with n <= 32.
"""

from __future__ import annotations

from .errors import BitstreamError, SEIWriteError

#: Largest value VTM's ``xReadUvlc`` can return (31 leading zeros, 32-bit suffix).
UE_MAX = (1 << 32) - 2


class BitReader:
    """Reads syntax elements from ``data`` (bytes), limited to its first ``num_bits`` bits.

    The bits are read from a window: one Python integer holding the data from (at most
    :attr:`WINDOW` bytes before) the current position on, so that a read is a shift and a mask
    on a small integer whatever the size of the data (reading is linear in the data size; one
    integer for the whole data would make every read cost O(size)). Payloads up to
    :attr:`WINDOW` bytes fit in one window.

    Window invariant (relied on by the inline reads of :mod:`sei.engine`): ``_win`` holds the
    bits before ``_wlim``; reads up to ``_wend`` need no refill, and whenever ``pos <= _wend``
    at least 64 bits follow ``pos`` in the window (real data, or the 64 zero bits appended
    after the end of the data), so an ``ue(v)`` prefix is one 64-bit slice.

    Attributes:
        pos: current bit position from the start of ``data``.
        end: number of readable bits.

    Raises:
        BitstreamError: on every read past ``end`` and on malformed codes.
    """

    __slots__ = ("_data", "_wend", "_win", "_wlim", "end", "pos")

    #: Window size in bytes.
    WINDOW = 512

    def __init__(self, data: bytes, num_bits: int | None = None) -> None:
        total = len(data) * 8
        end = total if num_bits is None else num_bits
        if end > total or end < 0:
            raise BitstreamError(f"bit length {end} outside the {len(data)}-byte buffer")
        self._data = data
        self.end = end
        self.pos = 0
        self._fill(0, 0)

    def _fill(self, pos: int, need: int) -> None:
        """Loads the window at the byte holding bit ``pos`` so that reads of ``need`` bits
        from ``pos`` need no refill (unless the data ends before)."""
        first = pos >> 3
        last = min((self.end + 7) >> 3, first + max(self.WINDOW, (need + 80) >> 3))
        wend = min(last << 3, self.end)
        win = int.from_bytes(self._data[first:last], "big") >> ((last << 3) - wend)
        if wend == self.end:
            self._win, self._wlim, self._wend = win << 64, wend + 64, wend
        else:
            self._win, self._wlim, self._wend = win, wend, wend - 64

    def _seek(self, pos: int) -> None:
        """Moves to ``pos`` (<= ``end``), refilling the window when needed."""
        self.pos = pos
        if pos > self._wend:
            self._fill(pos, 0)

    @property
    def bits_left(self) -> int:
        """Number of bits not read yet."""
        return self.end - self.pos

    def byte_aligned(self) -> bool:
        """``byte_aligned()`` of the spec: True when the position is a multiple of 8."""
        return not self.pos & 7

    def u(self, n: int) -> int:
        """``u(n)``: unsigned integer of ``n`` bits (n >= 0; VTM uses n <= 32)."""
        new = self.pos + n
        if new > self._wend:
            if new > self.end:
                raise BitstreamError(f"u({n}) reads past the end of the data", self.pos)
            self._fill(self.pos, n)
        self.pos = new
        return (self._win >> (self._wlim - new)) & ((1 << n) - 1)

    def f(self, n: int) -> int:
        """``f(n)``: fixed-pattern bit string; the caller checks the value."""
        return self.u(n)

    def ue(self) -> int:
        """``ue(v)``: Exp-Golomb code, order 0; 0 .. 2^32 - 2 (VTM limit: at most 31 leading
        zero bits, so a code has at most 63 bits)."""
        pos = self.pos
        head = (self._win >> (self._wlim - pos - 64)) & 0xFFFFFFFFFFFFFFFF
        zeros = 64 - head.bit_length()
        if zeros > 31:
            if pos + zeros >= self.end:
                raise BitstreamError("ue(v) without a terminating one bit before the end of the data", pos)
            raise BitstreamError(f"ue(v) with {zeros} leading zero bits (at most 31 allowed)", pos)
        new = pos + 2 * zeros + 1
        if new > self._wend:
            if new > self.end:
                raise BitstreamError("ue(v) reads past the end of the data", pos)
            self._fill(new, 0)
        self.pos = new
        return (head >> (63 - 2 * zeros)) - 1

    def se(self) -> int:
        """``se(v)``: signed Exp-Golomb (k odd -> (k+1)/2, k even -> -k/2)."""
        k = self.ue()
        return (k + 1) >> 1 if k & 1 else -(k >> 1)

    def st(self) -> str:
        """``st(v)``: null-terminated UTF-8 string (bytes that are not UTF-8 are kept as
        surrogate escapes so that re-writing gives the same bytes)."""
        start = self.pos
        if start & 7:
            out = bytearray()
            while self.end - self.pos >= 8:
                b = self.u(8)
                if b == 0:
                    return out.decode("utf-8", "surrogateescape")
                out.append(b)
        else:
            first, last = start >> 3, self.end >> 3
            nul = self._data.find(b"\x00", first, last)
            if nul >= 0:
                self._seek((nul + 1) << 3)
                return self._data[first:nul].decode("utf-8", "surrogateescape")
        self._seek(start)
        raise BitstreamError("st(v) without a terminating null byte", start)

    def b8(self) -> int:
        """``b(8)``: one byte."""
        return self.u(8)

    def bytes_to_end(self) -> bytes:
        """All remaining whole bytes (``b(8)`` loop "while more data")."""
        n = (self.end - self.pos) >> 3
        if n == 0:
            return b""
        if not self.pos & 7:
            first = self.pos >> 3
            self._seek(self.pos + 8 * n)
            return bytes(self._data[first : first + n])
        return self.peek_advance(8 * n).to_bytes(n, "big")

    def peek(self, n: int) -> int:
        """The next ``n`` bits without advancing (``n`` <= bits_left)."""
        if n > self.end - self.pos:
            raise BitstreamError(f"peek of {n} bits past the end of the data", self.pos)
        if self.pos + n > self._wend:
            self._fill(self.pos, n)
        return (self._win >> (self._wlim - self.pos - n)) & ((1 << n) - 1)

    def peek_advance(self, n: int) -> int:
        """``n`` bits (any number) as one integer, advancing past them."""
        value = self.peek(n)
        self._seek(self.pos + n)
        return value


class BitWriter:
    """Writes syntax elements; ``getvalue()`` returns the bytes once byte aligned.

    Bits collect in a small Python integer that is moved to a byte buffer whenever it holds
    :attr:`FLUSH_BITS` bits, so writing is linear in the payload size (one integer for the
    whole payload would make every write cost O(size): minutes for a megabyte payload).

    Attributes:
        pos: number of bits written.

    Raises:
        SEIWriteError: when a value does not fit its descriptor.
    """

    __slots__ = ("_acc", "_buf", "_next", "pos")

    #: Number of pending bits above which whole bytes are moved to the buffer.
    FLUSH_BITS = 4096

    def __init__(self) -> None:
        self._buf = bytearray()
        self._acc = 0
        self._next = self.FLUSH_BITS
        self.pos = 0

    def _flush(self) -> None:
        """Moves the whole bytes of the pending bits to the buffer."""
        pending = self.pos - 8 * len(self._buf)
        keep = pending & 7
        self._buf += (self._acc >> keep).to_bytes(pending >> 3, "big")
        self._acc &= (1 << keep) - 1
        self._next = self.pos + self.FLUSH_BITS

    def byte_aligned(self) -> bool:
        """True when the number of written bits is a multiple of 8."""
        return not self.pos & 7

    def u(self, value: int, n: int) -> None:
        """``u(n)``: ``value`` in ``n`` bits, 0 <= value < 2^n."""
        if value < 0 or value >> n:
            raise SEIWriteError(f"value {value} does not fit u({n})")
        self._acc = (self._acc << n) | value
        self.pos += n
        if self.pos >= self._next:
            self._flush()

    def f(self, value: int, n: int) -> None:
        """``f(n)``: fixed-pattern bits."""
        self.u(value, n)

    def ue(self, value: int) -> None:
        """``ue(v)``: 0 <= value <= 2^32 - 2."""
        if value < 0 or value > UE_MAX:
            raise SEIWriteError(f"value {value} does not fit ue(v) (0..{UE_MAX})")
        x = value + 1
        n = 2 * x.bit_length() - 1
        self._acc = (self._acc << n) | x
        self.pos += n
        if self.pos >= self._next:
            self._flush()

    def se(self, value: int) -> None:
        """``se(v)``."""
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def st(self, value: str) -> None:
        """``st(v)``: UTF-8 bytes then a null byte; the string may not contain a null."""
        data = value.encode("utf-8", "surrogateescape")
        if b"\x00" in data:
            raise SEIWriteError("st(v) string contains a null byte")
        self.raw_bytes(data + b"\x00")

    def b8(self, value: int) -> None:
        """``b(8)``: one byte (0..255)."""
        self.u(value, 8)

    def raw_bytes(self, data: bytes) -> None:
        """Appends whole bytes (at any bit position)."""
        if data:
            self._acc = (self._acc << (8 * len(data))) | int.from_bytes(data, "big")
            self.pos += 8 * len(data)
            if self.pos >= self._next:
                self._flush()

    def getvalue(self) -> bytes:
        """The written bytes. Raises SEIWriteError when not byte aligned."""
        if self.pos & 7:
            raise SEIWriteError(f"{self.pos} bits written: not byte aligned")
        return bytes(self._buf) + self._acc.to_bytes((self.pos >> 3) - len(self._buf), "big")
