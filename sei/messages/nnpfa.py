"""Neural-network post-filter activation (NNPFA) SEI message, payloadType 211.

Syntax: :mod:`bitstream_spec.nnpfa`. No reconstruction and no state; VTM parses it in prefix
and suffix SEI NAL units (``docs/gfv_sei.md#payload-types-and-placement``, ``#nnpfa-message``).
"""

from __future__ import annotations

from bitstream_spec import nnpfa as nnpfa_table

from ..engine import compile_syntax
from ..registry import MessageType, PayloadType, register

NNPFA = register(
    MessageType(
        payload_type=PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION,
        short_name="nnpfa",
        dump_name="Neural network post-filter activation",
        syntax={"": compile_syntax(nnpfa_table.syntax())},
        new_state=dict,
        prefix_ok=True,
        suffix_ok=True,
    )
)
