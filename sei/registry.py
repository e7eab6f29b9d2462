"""Registry of SEI message types keyed by payloadType
(``docs/gfv_sei.md#payload-types-and-placement``).

Each message module registers one :class:`MessageType`: its code point, its compiled syntax
table, its parse/reconstruction state and its derived trace values. Duplicates are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable

from .engine import CompiledSyntax


class PayloadType(IntEnum):
    """SEI payloadType code points (H.274 / VTM ``SEI::PayloadType``)."""

    DECODED_PICTURE_HASH = 132
    NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS = 210
    NEURAL_NETWORK_POST_FILTER_ACTIVATION = 211
    SOURCE_PICTURE_TIMING_INFO = 216
    GENERATIVE_FACE_VIDEO = 223
    GENERATIVE_FACE_VIDEO_ENHANCEMENT = 224


@dataclass
class MessageType:
    """Everything the SEI layer needs to know about one payloadType.

    Attributes:
        payload_type: the code point.
        short_name: ``"gfv"``, ``"gfve"``, ``"nnpfc"``...
        dump_name: name in VTM's SEI dump (``"Generative face video"``).
        syntax: compiled syntax per variant (``{"C": ..., "B": ...}``; single-variant messages use ``""``).
        new_state: factory of the per-context state (parse and reconstruction state).
        reconstruct: ``fn(values, state, mode) -> dict`` of reconstructed values, or ``None``.
        derived: ``fn(label, values, recon) -> value`` for the trace's derived lines.
        prefix_ok / suffix_ok: NAL unit types in which VTM parses the message.
    """

    payload_type: int
    short_name: str
    dump_name: str
    syntax: dict[str, CompiledSyntax]
    new_state: Callable[[], Any]
    reconstruct: Callable[[dict, Any, str], dict] | None = None
    derived: Callable[[str, dict, dict | None], Any] | None = None
    prefix_ok: bool = True
    suffix_ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def compiled(self, variant: str) -> CompiledSyntax:
        """The syntax for ``variant`` (falls back to the only one)."""
        return self.syntax.get(variant) or next(iter(self.syntax.values()))


_REGISTRY: dict[int, MessageType] = {}


def register(mt: MessageType) -> MessageType:
    """Adds ``mt``. Raises ValueError when its payloadType is already registered."""
    if mt.payload_type in _REGISTRY:
        raise ValueError(f"payloadType {mt.payload_type} registered twice")
    _REGISTRY[mt.payload_type] = mt
    return mt


def lookup(payload_type: int) -> MessageType | None:
    """The registered message type, or ``None`` (unknown messages are skipped, not errors)."""
    _load_builtin()
    return _REGISTRY.get(payload_type)


def all_types() -> list[MessageType]:
    """Registered message types, by payloadType."""
    _load_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


_builtin_loaded = False


def _load_builtin() -> None:
    # A flag, not "registry empty": importing one message module directly registers only it.
    global _builtin_loaded
    if not _builtin_loaded:
        _builtin_loaded = True
        from .messages import load_all

        load_all()
