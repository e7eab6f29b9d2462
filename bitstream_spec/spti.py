"""Source picture timing information (SPTI) SEI message, payloadType 216.

Syntax as implemented by VTM-23.9 and later (``SEIReader::xParseSEISourcePictureTimingInfo``,
``SEIWriter::xWriteSEISourcePictureTimingInfo``): JVET-AG2034 with the direction flag
(JVET-AJ0170, macro ``JVET_AJ0308_SPTI_SEI_DIRECTION_FLAG``) and the JVET-AK2006 loop-start
rule. Reference: ``docs/gfv_sei.md#spti-message``.

When ``spti_persistence_flag`` is 0, ``MaxSubLayersMinus1`` is not signalled: it comes from the
active SPS (``sps_max_sublayers_minus1``; VTM: ``sps->getMaxTLayers() - 1``). The SPS is not
parsed here; the value is the decoding context's ``sps_max_sublayers_minus1`` (default 0, a
single temporal sub-layer).
"""

from __future__ import annotations

from .dsl import Element, For, If, Let, Syntax

PAYLOAD_TYPE = 216
VTM = "VTM-23.13 SEIread.cpp (xParseSEISourcePictureTimingInfo)"
AK2006 = "JVET-AK2006 (SPTI SEI updates)"


def syntax() -> Syntax:
    """The SPTI syntax table (VTM-23.9 and later; one variant)."""
    body = (
        Element("spti_cancel_flag", "u(1)"),
        If(
            "not spti_cancel_flag",
            (
                Element("spti_persistence_flag", "u(1)"),
                Element("spti_source_timing_equals_output_timing_flag", "u(1)"),
                If(
                    "not spti_source_timing_equals_output_timing_flag",
                    (
                        Element("spti_source_type_present_flag", "u(1)"),
                        If(
                            "spti_source_type_present_flag",
                            (Element("spti_source_type", "u(16)", range=(0, 127), source=VTM),),
                        ),
                        Element("spti_time_scale", "u(32)", range=(1, (1 << 32) - 1), source=VTM),
                        Element("spti_num_units_in_elemental_interval", "u(32)", range=(1, (1 << 32) - 1), source=VTM),
                        Element("spti_direction_flag", "u(1)"),
                        If(
                            "spti_persistence_flag",
                            (
                                Element("spti_max_sublayers_minus1", "u(3)", trace="spti_max_sublayers_minus_1"),
                                Let("MaxSubLayersMinus1", "spti_max_sublayers_minus1"),
                            ),
                            (Let("MaxSubLayersMinus1", "getattr(ctx, 'sps_max_sublayers_minus1', 0)"),),
                        ),
                        For(
                            "i",
                            "MaxSubLayersMinus1 + 1",
                            (
                                Element(
                                    "spti_sublayer_interval_scale_factor",
                                    "ue(v)",
                                    index=("i",),
                                    range=(0, (1 << 32) - 2),
                                    source=VTM,
                                ),
                                Element("spti_sublayer_synthesized_picture_flag", "u(1)", index=("i",)),
                            ),
                            start="0 if spti_persistence_flag else MaxSubLayersMinus1",
                        ),
                    ),
                ),
            ),
        ),
    )
    return Syntax("source_picture_timing_info", PAYLOAD_TYPE, body, (AK2006, VTM))
