"""Compact containers for what grows with the number of syntax elements of a message.

A GFV message may carry millions of matrix elements (``gfv_matrix_element_int[i][j][k][m]``...).
Stored as Python dicts keyed by index tuples, with one ``(label, value, bit_pos)`` tuple per
element in the trace, each element costs some 500 bytes; these containers store the same data
in typed arrays (:mod:`array`), some 16 bytes per element value and 20 bytes per trace record,
and read like the dict and list they replace (``docs/conformance.md#memory-and-size-limits``).

* :class:`ElementArray` holds the values of one syntax element with two or more indices (a
  read-only :class:`collections.abc.Mapping` from the index tuple to the value);
* :class:`TraceLog` holds the trace records of one message (a
  :class:`collections.abc.Sequence` of ``(label, value, bit_pos)`` tuples).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast, overload

import numpy as np

#: Bits per index in a packed key of :class:`ElementArray` (indices 0 .. 2^16 - 1).
_INDEX_BITS = 16
_INDEX_LIMIT = 1 << _INDEX_BITS
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
#: Shared empty array of an :class:`ElementArray` whose values are still in a dict (never written).
_EMPTY = array("q")


class ElementArray(Mapping):
    """Values of one syntax element with several indices (``gfv_matrix_element_int[i][j][k][m]``),
    in the order the reader stored them, as a mapping from the index tuple to the value.

    The first :attr:`SMALL` values sit in a dict (fast for the small messages of a normal
    stream); beyond that, as the reader stores elements in increasing index order (its loops run
    that way), keys are kept as one packed 64-bit integer each (16 bits per index, at most four
    indices) in a sorted typed array and values as int64; a lookup is a binary search. A key or
    value outside that form (an index >= 2^16, a value outside int64, a key out of order) keeps
    everything in a plain dict, so the mapping behaves the same whatever is stored.
    """

    __slots__ = ("_dict", "_keys", "_ndim", "_small", "_vals")

    #: Number of values kept in a dict before the array is packed.
    SMALL = 4096

    def __init__(self) -> None:
        self._small: dict | None = {}
        self._dict: dict | None = None
        self._keys = self._vals = _EMPTY
        self._ndim = 0

    def _pack(self, key: Any) -> int | None:
        """The packed form of ``key`` or ``None`` when it has no packed form."""
        if type(key) is not tuple or len(key) != self._ndim:
            return None
        packed = 0
        for i in key:
            if type(i) is not int or not 0 <= i < _INDEX_LIMIT:
                return None
            packed = (packed << _INDEX_BITS) | i
        return packed

    def add(self, key: tuple, value: int) -> None:
        """Stores ``value`` under ``key`` (``self[key] = value`` of a dict)."""
        small = self._small
        if small is not None:
            small[key] = value
            if len(small) >= self.SMALL:
                self._pack_small()
            return
        if self._dict is None:
            packed = self._pack(key)
            if (
                packed is not None
                and packed > self._keys[-1]
                and type(value) is int
                and _INT64_MIN <= value <= _INT64_MAX
            ):
                self._keys.append(packed)
                self._vals.append(value)
                return
            self._dict = dict(self.items())
            self._keys, self._vals = array("q"), array("q")
        self._dict[key] = value

    def _pack_small(self) -> None:
        """Moves the dict of the first values to the typed arrays (or keeps it as the plain dict
        when a key or value has no packed form)."""
        small = cast(dict, self._small)
        self._small = None
        self._keys, self._vals = array("q"), array("q")
        first = next(iter(small))
        self._ndim = len(first) if type(first) is tuple and 1 <= len(first) <= 4 else 0
        last = -1
        for key, value in small.items():
            packed = self._pack(key) if self._ndim else None
            if packed is None or packed <= last or type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
                self._dict = small
                self._keys, self._vals = array("q"), array("q")
                return
            self._keys.append(packed)
            self._vals.append(value)
            last = packed

    def _unpack(self, packed: int) -> tuple:
        out = []
        for _ in range(self._ndim):
            out.append(packed & (_INDEX_LIMIT - 1))
            packed >>= _INDEX_BITS
        return tuple(reversed(out))

    def _plain(self) -> dict | None:
        return self._small if self._small is not None else self._dict

    @property
    def plain(self) -> dict | None:
        """The dict holding the values, or ``None`` once they are packed in typed arrays."""
        return self._plain()

    def position(self, key: tuple) -> int:
        """Storage position of ``key`` among the packed keys.

        Raises:
            KeyError: ``key`` is not stored, or the values are not packed.
        """
        packed = self._pack(key) if self._plain() is None else None
        n = -1 if packed is None else bisect_left(self._keys, packed)
        if n < 0 or n >= len(self._keys) or self._keys[n] != packed:
            raise KeyError(key)
        return n

    def __getitem__(self, key: Any) -> int:
        plain = self._plain()
        if plain is not None:
            return plain[key]
        packed = self._pack(key)
        if packed is not None:
            n = bisect_left(self._keys, packed)
            if n < len(self._keys) and self._keys[n] == packed:
                return self._vals[n]
        raise KeyError(key)

    def __iter__(self) -> Iterator[tuple]:
        plain = self._plain()
        if plain is not None:
            return iter(plain)
        return (self._unpack(k) for k in self._keys)

    def __len__(self) -> int:
        plain = self._plain()
        return len(plain) if plain is not None else len(self._keys)

    def values(self) -> Any:
        """The values in storage order (a typed array when packed)."""
        plain = self._plain()
        return plain.values() if plain is not None else self._vals

    def items(self) -> Any:
        """``(index tuple, value)`` pairs in storage order."""
        plain = self._plain()
        return plain.items() if plain is not None else zip(map(self._unpack, self._keys), self._vals)

    def get(self, key: Any, default: Any = None) -> Any:
        """``self[key]``, or ``default`` when ``key`` is not stored."""
        plain = self._plain()
        if plain is not None:
            return plain.get(key, default)
        try:
            return self[key]
        except KeyError:
            return default

    def to_numpy(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(packed keys, values)`` as int64 arrays (no copy), or ``None`` while the values are
        in a dict. Keys compare in index order, so ``np.searchsorted`` finds an index."""
        if self._plain() is not None:
            return None
        return np.frombuffer(self._keys, dtype=np.int64), np.frombuffer(self._vals, dtype=np.int64)

    def __repr__(self) -> str:
        return f"ElementArray({dict(self.items())!r})"

    def __reduce__(self) -> tuple:
        return (_element_array, (list(self.items()),))


def _element_array(items: list[tuple[Any, int]]) -> ElementArray:
    """Rebuilds a pickled :class:`ElementArray`."""
    out = ElementArray()
    for key, value in items:
        out.add(key, value)
    return out


class TraceLog(Sequence):
    """The ``(label, value, bit_pos)`` trace records of one message. The first :attr:`SMALL`
    records (and every :attr:`SMALL` newest ones) sit in a list; older ones are moved to columns:
    a label number (uint16; labels kept once), the value (int64; other values such as strings,
    runs and derived markers kept aside by record number) and the bit position (int64; -1 for
    ``None``).

    Behaves as the list of tuples it replaces: ``append``, ``len``, iteration, indexing, ``==``.
    """

    __slots__ = ("_ids", "_lab", "_labels", "_list", "_obj", "_pos", "_val")

    #: Number of records kept as tuples before they are moved to the columns.
    SMALL = 4096

    def __init__(self) -> None:
        self._list: list[tuple[Any, Any, int | None]] = []
        self._ids: dict[Any, int] = {}
        self._labels: list[Any] = []
        self._lab = array("H")
        self._val = array("q")
        self._pos = array("q")
        self._obj: dict[int, Any] = {}

    def append(self, record: tuple[Any, Any, int | None]) -> None:
        """Adds one ``(label, value, bit_pos)`` record."""
        recent = self._list
        recent.append(record)
        if len(recent) >= self.SMALL:
            self._spill()

    def _spill(self) -> None:
        """Moves the records of the list to the columns."""
        ids, obj = self._ids, self._obj
        for label, value, pos in self._list:
            lid = ids.get(label)
            if lid is None:
                lid = ids[label] = len(self._labels)
                self._labels.append(label)
            if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
                self._val.append(value)
            else:
                obj[len(self._lab)] = value
                self._val.append(0)
            self._lab.append(lid)
            self._pos.append(-1 if pos is None else pos)
        self._list = []

    def _record(self, n: int) -> tuple[Any, Any, int | None]:
        if n >= len(self._lab):
            return self._list[n - len(self._lab)]
        pos = self._pos[n]
        value = self._obj[n] if n in self._obj else self._val[n]
        return self._labels[self._lab[n]], value, None if pos < 0 else pos

    def __len__(self) -> int:
        return len(self._lab) + len(self._list)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, Any, int | None]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, Any, int | None]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self._record(n) for n in range(*index.indices(len(self)))]
        n = index + len(self) if index < 0 else index
        if not 0 <= n < len(self):
            raise IndexError("trace record index out of range")
        return self._record(n)

    def __iter__(self) -> Iterator[tuple[Any, Any, int | None]]:
        labels, obj = self._labels, self._obj
        for n, (lid, value, pos) in enumerate(zip(self._lab, self._val, self._pos)):
            yield labels[lid], obj[n] if n in obj else value, None if pos < 0 else pos
        yield from self._list

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (TraceLog, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TraceLog({list(self)!r})"
