"""SEI encoders: the syntax values of the SPTI, NNPFC and NNPFA messages the encoder writes.

The GFV message's own SEI encoder (model parameters -> quantised, predicted syntax values) is
:func:`refsw.encoder.gfv_sei.gfv_messages`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any


def spti_values(fps: float) -> dict[str, Any]:
    """SPTI syntax values giving the picture rate ``fps`` (pictures/s): one elemental interval is
    one picture, ``spti_num_units_in_elemental_interval / spti_time_scale`` seconds, in lowest
    terms (25 Hz: 1/25; 29.97 Hz: 1001/30000)."""
    rate = Fraction(fps).limit_denominator(1001)
    return {
        "spti_cancel_flag": 0,
        "spti_persistence_flag": 1,
        "spti_source_timing_equals_output_timing_flag": 0,
        "spti_source_type_present_flag": 0,
        "spti_time_scale": rate.numerator,
        "spti_num_units_in_elemental_interval": rate.denominator,
        "spti_direction_flag": 0,
        "spti_max_sublayers_minus1": 0,
        "spti_sublayer_interval_scale_factor": [1],
        "spti_sublayer_synthesized_picture_flag": [0],
    }


#: ``nnpfc_id`` of the NNPFC message that identifies the generator (0..255: not reserved).
NNPFC_ID = 1


def nnpfc_values(uri_tag: str, uri: str, mode_idc: int = 1, network: bytes | None = None) -> dict[str, Any]:
    """NNPFC syntax values that identify the generator (no property information).

    ``mode_idc`` 1: by URI, the same as the base GFV message's ``gfv_uri``; ``mode_idc`` 0: the
    network itself as ``nnpfc_payload_byte`` (``network``: the checkpoint bytes, whose SHA-256 the
    GFV URI names). Raises ValueError for another mode or a missing network.
    """
    v: dict[str, Any] = {"nnpfc_purpose": 0, "nnpfc_id": NNPFC_ID, "nnpfc_base_flag": 1, "nnpfc_mode_idc": mode_idc}
    if mode_idc == 1:
        v.update(nnpfc_uri_tag=uri_tag, nnpfc_uri=uri)
    elif mode_idc == 0:
        if not network:
            raise ValueError(f"nnpfc_mode_idc 0 needs the network bytes; generator {uri} has none")
        v["nnpfc_payload_byte"] = network
    else:
        raise ValueError(f"nnpfc_mode_idc {mode_idc} not supported (use 1 or 0)")
    v["nnpfc_property_present_flag"] = 0
    return v


def nnpfa_values() -> dict[str, Any]:
    """NNPFA syntax values activating :data:`NNPFC_ID` for the whole coded layer video sequence."""
    return {
        "nnpfa_target_id": NNPFC_ID,
        "nnpfa_cancel_flag": 0,
        "nnpfa_persistence_flag": 1,
        "nnpfa_target_base_flag": 1,
        "nnpfa_no_prev_clvs_flag": 0,
        "nnpfa_no_foll_clvs_flag": 0,
        "nnpfa_num_output_entries": 0,
        "nnpfa_prompt_update_flag": 0,
        "nnpfa_seed_update_flag": 0,
        "nnpfa_selected_input_flag": 0,
    }
