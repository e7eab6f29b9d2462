"""Source picture timing information (SPTI) SEI message, payloadType 216.

Syntax: :mod:`bitstream_spec.spti`. No reconstruction and no state; VTM parses it only in
prefix SEI NAL units (``docs/gfv_sei.md#payload-types-and-placement``, ``#spti-message``).
``MaxSubLayersMinus1`` for a non-persistent message is the decoding context's
``sps_max_sublayers_minus1`` (default 0).
"""

from __future__ import annotations

from bitstream_spec import spti as spti_table

from ..engine import compile_syntax
from ..registry import MessageType, PayloadType, register

SPTI = register(
    MessageType(
        payload_type=PayloadType.SOURCE_PICTURE_TIMING_INFO,
        short_name="spti",
        dump_name="Source picture timing info",
        syntax={"": compile_syntax(spti_table.syntax())},
        new_state=dict,
        prefix_ok=True,
        suffix_ok=False,
    )
)
