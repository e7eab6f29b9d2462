"""Decoding context: the state that SEI messages carry from one message to the next.

Two modes (``docs/gfv_sei.md#gfv-vtm-reader-behaviours`` and ``#gfv-decoder-state``;
``docs/reconstruction_modes.md`` has the
full comparison and ``tests/test_modes.py`` shows each difference):

``"vtm"``
    reproduces the VTM-23.13 decoder: one state per message type for the whole stream,
    whatever ``gfv_id`` / ``gfve_id`` say; the GFV base matrices are overwritten by every
    message with matrices (base or not); the base matrix dimensions are appended by every base
    message and never cleared, so predicted messages use the first base message's dimensions.
``"spec"``
    one state per (message type, ``gfv_id`` or ``gfve_id``) as the semantics intend; base
    matrices and dimensions are replaced by base messages only.
"""

from __future__ import annotations

from typing import Any

from .registry import lookup

MODES = ("vtm", "spec")


class DecodingContext:
    """Holds the per-message-type states; the parser asks it for ``state`` by id.

    Args:
        mode: ``"vtm"`` or ``"spec"``.
        variant: GFV syntax variant, ``"C"`` (VTM-23.12+) or ``"B"`` (VTM-23.9..23.11).
        sps_max_sublayers_minus1: ``sps_max_sublayers_minus1`` of the active SPS (0..6), used by
            an SPTI message with ``spti_persistence_flag`` 0 (``docs/gfv_sei.md#spti-message``;
            VTM: ``sps->getMaxTLayers() - 1``). The SPS is not parsed; the default 0 means one
            temporal sub-layer, as in the conformance vectors.

    Raises:
        ValueError: unknown mode or variant, or ``sps_max_sublayers_minus1`` outside 0..6.
    """

    def __init__(self, mode: str = "vtm", variant: str = "C", sps_max_sublayers_minus1: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown decoding mode {mode!r} (expected one of {MODES})")
        if variant not in ("B", "C"):
            raise ValueError(f"unknown GFV syntax variant {variant!r} (expected 'C' or 'B')")
        if not 0 <= sps_max_sublayers_minus1 <= 6:
            raise ValueError(f"sps_max_sublayers_minus1 {sps_max_sublayers_minus1} outside 0..6")
        self.mode = mode
        self.variant = variant
        self.sps_max_sublayers_minus1 = sps_max_sublayers_minus1
        self._states: dict[tuple[int, Any], Any] = {}

    def select_state(self, payload_type: int, key: Any) -> Any:
        """The state of ``payload_type`` for id ``key`` (one shared state in ``vtm`` mode)."""
        k = (payload_type, None if self.mode == "vtm" else key)
        state = self._states.get(k)
        if state is None:
            mt = lookup(payload_type)
            if mt is None:
                raise KeyError(f"payloadType {payload_type} has no registered state")
            state = self._states[k] = mt.new_state()
        return state
