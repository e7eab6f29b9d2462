"""SEI trace in the exact text format of VTM DecoderApp ``--OutputDecodedSEIMessagesFilename``
(``docs/gfv_sei.md#vtm-sei-dump-format``), so that ``diff`` against VTM's dump is a test.

Per message: a line of '-' as long as ``"<Name> SEI message"``, the header
``"<Name> SEI message (<payloadSize> bytes)"``, then one line per syntax element as read: two
spaces, the label right-aligned in 55 characters, ``": "``, the value. Derived lines print lists
with each value followed by a space; doubles as C++ iostream default (6 significant digits).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .engine import DERIVED, Run
from .registry import lookup
from .sei_message import SEIMessage


def format_value(value: Any) -> str:
    """One value as VTM prints it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "".join(format_value(x) + " " for x in value)
    return str(value)


def message_lines(msg: SEIMessage) -> list[str]:
    """Trace lines of one parsed message (reconstruct it first for the derived lines)."""
    mt = lookup(msg.payload_type)
    name = f"{mt.dump_name} SEI message" if mt else f"Unknown SEI message (payloadType {msg.payload_type})"
    lines = ["-" * len(name), f"{name} ({msg.payload_size} bytes)"]
    for label, value, _pos in msg.trace:
        if label is DERIVED:
            if msg.values is None:
                continue  # the message could not be parsed to its end: nothing to derive from
            label = value
            value = mt.derived(label, msg.values, msg.recon) if mt and mt.derived else ""
        if isinstance(value, Run):
            lines.extend(f"  {label:>55}: {item}" for item in value.items())
        else:
            lines.append(f"  {label:>55}: {format_value(value)}")
    return lines


def format_trace(messages: Iterable[SEIMessage]) -> str:
    """The whole dump text (newline terminated)."""
    out: list[str] = []
    for msg in messages:
        out.extend(message_lines(msg))
    return "\n".join(out) + ("\n" if out else "")
