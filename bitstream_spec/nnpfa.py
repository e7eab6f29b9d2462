"""Neural-network post-filter activation (NNPFA) SEI message, payloadType 211.

Syntax as implemented by VTM master / VTM-23.11 and later (``SEIReader::xParseSEINNPostFilterActivation``,
``SEIWriter::xWriteSEINNPostFilterActivation``): H.274 NNPFA with JVET-AJ0104 (prompt update),
JVET-AK0326 (seed) and JVET-AL0075 (selected input). Reference: ``docs/gfv_sei.md#nnpfa-message``.

VTM's reader reads the prompt / seed / selected-input part only if payload bits remain after
``nnpfa_output_flag`` (``payload_bits_left()``); its writer always writes it, and so does this
table's writer.
"""

from __future__ import annotations

from .dsl import Align, Element, For, If, Syntax

PAYLOAD_TYPE = 211
VTM = "VTM-23.13 SEIread.cpp (xParseSEINNPostFilterActivation)"
H274 = "H.274 NNPFA (neural-network post-filter activation)"


def syntax() -> Syntax:
    """The NNPFA syntax table (VTM-23.11 and later; one variant)."""
    body = (
        Element("nnpfa_target_id", "ue(v)", range=(0, (1 << 32) - 2), source=VTM),
        Element("nnpfa_cancel_flag", "u(1)"),
        If(
            "not nnpfa_cancel_flag",
            (
                Element("nnpfa_persistence_flag", "u(1)"),
                Element("nnpfa_target_base_flag", "u(1)"),
                Element("nnpfa_no_prev_clvs_flag", "u(1)"),
                If("nnpfa_persistence_flag", (Element("nnpfa_no_foll_clvs_flag", "u(1)"),)),
                Element("nnpfa_num_output_entries", "ue(v)"),
                For("i", "nnpfa_num_output_entries", (Element("nnpfa_output_flag", "u(1)", index=("i",)),)),
                If(
                    "payload_bits_left() > 0",
                    (
                        Element("nnpfa_prompt_update_flag", "u(1)"),
                        If(
                            "nnpfa_prompt_update_flag",
                            (
                                Align("nnpfa_alignment_zero_bit", source=H274),
                                Element("nnpfa_prompt", "st(v)"),
                            ),
                        ),
                        Element("nnpfa_seed_update_flag", "u(1)"),
                        If("nnpfa_seed_update_flag", (Element("nnpfa_seed", "u(16)"),)),
                        Element("nnpfa_selected_input_flag", "u(1)"),
                        If("nnpfa_selected_input_flag", (Element("nnpfa_num_input_pic_shift", "ue(v)"),)),
                    ),
                ),
            ),
        ),
    )
    return Syntax("nnpfa", PAYLOAD_TYPE, body, (H274, VTM))
