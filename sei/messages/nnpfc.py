"""Neural-network post-filter characteristics (NNPFC) SEI message, payloadType 210.

Syntax: :mod:`bitstream_spec.nnpfc`. No reconstruction and no state: the message describes a
post-filter; VTM parses it in prefix and suffix SEI NAL units
(``docs/gfv_sei.md#payload-types-and-placement``).
"""

from __future__ import annotations

from bitstream_spec import nnpfc as nnpfc_table

from ..engine import compile_syntax
from ..registry import MessageType, PayloadType, register

NNPFC = register(
    MessageType(
        payload_type=PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS,
        short_name="nnpfc",
        dump_name="Neural network post-filter characteristics",
        syntax={"": compile_syntax(nnpfc_table.syntax())},
        new_state=dict,
        prefix_ok=True,
        suffix_ok=True,
    )
)
