"""Neural-network post-filter characteristics (NNPFC) SEI message, payloadType 210.

Syntax as implemented by VTM master / VTM-23.13 (``SEIReader::xParseSEINNPostFilterCharacteristics``,
``SEIWriter::xWriteSEINeuralNetworkPostFilterCharacteristics``): H.274 NNPFC with JVET-AJ0131
(in-band prompt), JVET-AK0326 (seed), NNPFC_SCAN_TYPE_IDC (JVET-AH0174/AJ0073). Element names
are VTM's dump labels (``docs/gfv_sei.md#nnpfc-message``; H.274 calls
``nnpfc_number_of_input_pictures_minus1`` ``nnpfc_num_input_pics_minus1``); where VTM's dump
label differs from the name, it is the element's ``trace``.

VTM behaviours kept: a reserved ``nnpfc_padding_type`` (5..15) makes the VTM reader ignore the
rest of the message (what follows becomes ``reserved_payload_extension_data``); the reserved
metadata extension bits are counted as the VTM reader counts them (the alignment bits before
``nnpfc_application_purpose_tag_uri`` are not counted, ``nnpfc_scan_type_idc`` is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .dsl import Align, Check, Element, For, If, Let, PayloadBytes, Syntax

if TYPE_CHECKING:
    from typing import TypedDict

    from .dsl import Expr

    class _RangeRule(TypedDict):
        """Keyword arguments of :class:`Element` shared by several elements."""

        range: tuple[Expr, Expr]
        source: str


PAYLOAD_TYPE = 210
VTM = "VTM-23.13 SEIread.cpp (xParseSEINNPostFilterCharacteristics)"
H274 = "H.274 NNPFC (neural-network post-filter characteristics)"

#: ``NNPC_PurposeType`` bits (VTM ``SEI.h``).
CHROMA_UPSAMPLING = 0x02
RESOLUTION_UPSAMPLING = 0x04
FRAME_RATE_UPSAMPLING = 0x08
COLOURIZATION = 0x20
TEMPORAL_EXTRAPOLATION = 0x40
SPATIAL_EXTRAPOLATION = 0x80

_BITDEPTH: _RangeRule = dict(range=(0, 24), source=VTM)
_DIM: _RangeRule = dict(range=(0, 65535), source=VTM)

_INPUT_PICS = (
    Element("nnpfc_number_of_input_pictures_minus1", "ue(v)"),
    If(
        "nnpfc_number_of_input_pictures_minus1 > 0",
        (
            For(
                "i",
                "nnpfc_number_of_input_pictures_minus1 + 1",
                (Element("nnpfc_input_pic_filtering_flag", "u(1)", index=("i",)),),
            ),
            Element("nnpfc_absent_input_pic_zero_flag", "u(1)"),
        ),
    ),
)

_PURPOSE_DEPENDENT = (
    If(f"nnpfc_purpose & {CHROMA_UPSAMPLING}", (Element("nnpfc_out_sub_c_flag", "u(1)"),)),
    If(f"nnpfc_purpose & {COLOURIZATION}", (Element("nnpfc_out_colour_format_idc", "u(2)", range=(1, 3), source=VTM),)),
    If(
        f"nnpfc_purpose & {RESOLUTION_UPSAMPLING}",
        (
            Element("nnpfc_pic_width_num_minus1", "ue(v)", **_DIM),
            Element("nnpfc_pic_width_denom_minus1", "ue(v)", trace="nnpfc_pic_width_denominator_minus1", **_DIM),
            Element("nnpfc_pic_height_num_minus1", "ue(v)", **_DIM),
            Element("nnpfc_pic_height_denom_minus1", "ue(v)", trace="nnpfc_pic_height_denominator_minus1", **_DIM),
        ),
    ),
    If(
        f"nnpfc_purpose & {FRAME_RATE_UPSAMPLING}",
        (
            Check(
                "nnpfc_number_of_input_pictures_minus1 > 0",
                "nnpfc_number_of_input_pictures_minus1",
                "frame-rate upsampling needs more than one input picture",
                VTM,
            ),
            For(
                "i",
                "nnpfc_number_of_input_pictures_minus1",
                (Element("nnpfc_interpolated_pics", "ue(v)", index=("i",), trace="nnpfc_interpolated_pictures"),),
            ),
            Check(
                "any(nnpfc_interpolated_pics.values())",
                "nnpfc_interpolated_pics",
                "at least one nnpfc_interpolated_pics[ i ] shall be greater than 0",
                VTM,
            ),
        ),
    ),
    If(f"nnpfc_purpose & {TEMPORAL_EXTRAPOLATION}", (Element("nnpfc_extrapolated_pics_minus1", "ue(v)"),)),
    If(
        f"nnpfc_purpose & {SPATIAL_EXTRAPOLATION}",
        (
            Element("nnpfc_spatial_extrapolation_left_offset", "se(v)"),
            Element("nnpfc_spatial_extrapolation_right_offset", "se(v)"),
            Element("nnpfc_spatial_extrapolation_top_offset", "se(v)"),
            Element("nnpfc_spatial_extrapolation_bottom_offset", "se(v)"),
        ),
    ),
)

_TENSORS = (
    Element("nnpfc_component_last_flag", "u(1)"),
    Element("nnpfc_inp_format_idc", "ue(v)", range=(0, 255), source=VTM),
    Element("nnpfc_auxiliary_inp_idc", "ue(v)", range=(0, 7), source=VTM),
    If(
        "nnpfc_auxiliary_inp_idc & 2",
        (
            Element("nnpfc_inband_prompt_flag", "u(1)"),
            If(
                "nnpfc_inband_prompt_flag",
                (
                    Align("nnpfc_alignment_zero_bit_c", source=VTM),
                    Element("nnpfc_prompt", "st(v)"),
                ),
            ),
        ),
    ),
    If(
        "nnpfc_auxiliary_inp_idc & 4",
        (
            Element("nnpfc_inband_seed_flag", "u(1)"),
            If("nnpfc_inband_seed_flag", (Element("nnpfc_seed", "u(16)"),)),
        ),
    ),
    Element("nnpfc_inp_order_idc", "ue(v)", range=(0, 3), source=VTM),
    If(
        "nnpfc_inp_format_idc == 1",
        (
            If("nnpfc_inp_order_idc != 1", (Element("nnpfc_inp_tensor_luma_bitdepth_minus8", "ue(v)", **_BITDEPTH),)),
            If("nnpfc_inp_order_idc != 0", (Element("nnpfc_inp_tensor_chroma_bitdepth_minus8", "ue(v)", **_BITDEPTH),)),
        ),
    ),
    Element("nnpfc_out_format_idc", "ue(v)", range=(0, 255), source=VTM),
    Element("nnpfc_out_order_idc", "ue(v)"),
    If(
        "nnpfc_out_format_idc == 1",
        (
            If("nnpfc_out_order_idc != 1", (Element("nnpfc_out_tensor_luma_bitdepth_minus8", "ue(v)", **_BITDEPTH),)),
            If("nnpfc_out_order_idc != 0", (Element("nnpfc_out_tensor_chroma_bitdepth_minus8", "ue(v)", **_BITDEPTH),)),
        ),
    ),
    Element("nnpfc_sep_col_desc_flag", "u(1)"),
    If(
        "nnpfc_sep_col_desc_flag",
        (
            Element("nnpfc_col_primaries", "u(8)"),
            Element("nnpfc_trans_characteristics", "u(8)"),
            If("nnpfc_out_format_idc == 1", (Element("nnpfc_matrix_coeffs", "u(8)"),)),
        ),
    ),
    If("nnpfc_sep_col_desc_flag and nnpfc_out_format_idc == 1", (Element("nnpfc_full_range_flag", "u(1)"),)),
    If("nnpfc_out_order_idc != 0", (Element("nnpfc_chroma_loc_info_present_flag", "u(1)", infer=0),)),
    If(
        "nnpfc_chroma_loc_info_present_flag",
        (Element("nnpfc_chroma_sample_loc_type_frame", "ue(v)", range=(0, 6), source=VTM),),
    ),
)

_PATCH = (
    If(
        f"not nnpfc_purpose & {SPATIAL_EXTRAPOLATION}",
        (
            Element("nnpfc_overlap", "ue(v)", infer=0),
            Element("nnpfc_constant_patch_size_flag", "u(1)", infer=1),
        ),
    ),
    If(
        "nnpfc_constant_patch_size_flag",
        (
            Element("nnpfc_patch_width_minus1", "ue(v)"),
            Element("nnpfc_patch_height_minus1", "ue(v)"),
        ),
        (
            Element("nnpfc_extended_patch_width_cd_delta_minus1", "ue(v)"),
            Element("nnpfc_extended_patch_height_cd_delta_minus1", "ue(v)"),
        ),
    ),
    Element("nnpfc_padding_type", "ue(v)", range=(0, 15), source=VTM),
    Check(
        "not 5 <= nnpfc_padding_type <= 15",
        "nnpfc_padding_type",
        "reserved nnpfc_padding_type: the decoder shall ignore the SEI message (VTM stops parsing it here)",
        VTM,
        "warning",
    ),
    Let("ReservedPadding", "5 <= nnpfc_padding_type <= 15"),
)

_METADATA = (
    Element("nnpfc_metadata_extension_num_bits", "ue(v)", range=(0, 4096), source=VTM),
    If(
        "nnpfc_metadata_extension_num_bits > 0",
        (
            If(
                "nnpfc_purpose == 0",
                (
                    Element("nnpfc_application_purpose_tag_uri_present_flag", "u(1)"),
                    If(
                        "nnpfc_application_purpose_tag_uri_present_flag",
                        (
                            Align("nnpfc_metadata_alignment_zero_bit", source=VTM),
                            Element("nnpfc_application_purpose_tag_uri", "st(v)"),
                        ),
                    ),
                ),
            ),
            If(
                f"nnpfc_purpose & {SPATIAL_EXTRAPOLATION} or nnpfc_purpose & {RESOLUTION_UPSAMPLING}",
                (Element("nnpfc_scan_type_idc", "u(2)"),),
            ),
            Element("nnpfc_for_human_viewing_idc", "u(2)"),
            Element("nnpfc_for_machine_analysis_idc", "u(2)"),
            Let(
                "MetadataExtensionBitsUsed",
                "(1 if nnpfc_purpose == 0 else 0)"
                " + (8 * (len(nnpfc_application_purpose_tag_uri.encode('utf-8', 'surrogateescape')) + 1)"
                " if nnpfc_purpose == 0 and nnpfc_application_purpose_tag_uri_present_flag else 0)"
                f" + (2 if nnpfc_purpose & {SPATIAL_EXTRAPOLATION} or nnpfc_purpose & {RESOLUTION_UPSAMPLING} else 0)"
                " + 4",
            ),
            Check(
                "MetadataExtensionBitsUsed <= nnpfc_metadata_extension_num_bits",
                "nnpfc_metadata_extension_num_bits",
                "nnpfc_metadata_extension_num_bits shall cover the metadata extension syntax elements",
                VTM,
            ),
            For(
                "i",
                "nnpfc_metadata_extension_num_bits - MetadataExtensionBitsUsed",
                (Element("nnpfc_reserved_metadata_extension", "u(1)", index=("i",)),),
            ),
        ),
    ),
)

_PROPERTIES = (
    *_INPUT_PICS,
    *_PURPOSE_DEPENDENT,
    *_TENSORS,
    *_PATCH,
    If(
        "not ReservedPadding",
        (
            If(
                "nnpfc_padding_type == 4",
                (
                    If("nnpfc_inp_order_idc != 1", (Element("nnpfc_luma_padding_val", "ue(v)"),)),
                    If(
                        "nnpfc_inp_order_idc != 0",
                        (
                            Element("nnpfc_cb_padding_val", "ue(v)"),
                            Element("nnpfc_cr_padding_val", "ue(v)"),
                        ),
                    ),
                ),
            ),
            Element("nnpfc_complexity_info_present_flag", "u(1)"),
            If(
                "nnpfc_complexity_info_present_flag",
                (
                    Element("nnpfc_parameter_type_idc", "u(2)"),
                    If("nnpfc_parameter_type_idc != 2", (Element("nnpfc_log2_parameter_bit_length_minus3", "u(2)"),)),
                    Element("nnpfc_num_parameters_idc", "u(6)"),
                    Element("nnpfc_num_kmac_operations_idc", "ue(v)"),
                    Element("nnpfc_total_kilobyte_size", "ue(v)"),
                ),
            ),
            *_METADATA,
        ),
    ),
)


def syntax() -> Syntax:
    """The NNPFC syntax table (VTM-23.13 / master; one variant)."""
    body = (
        Element(
            "nnpfc_purpose",
            "u(16)",
            range=(0, 127),
            source=VTM + ": values 128..65535 are rejected (this includes 0x80, spatial extrapolation)",
        ),
        Element("nnpfc_id", "ue(v)", range=(0, (1 << 32) - 2)),
        Check(
            "not (256 <= nnpfc_id <= 511 or nnpfc_id >= 1 << 31)",
            "nnpfc_id",
            "reserved nnpfc_id value: the decoder shall ignore the SEI message",
            VTM,
            "warning",
        ),
        Element("nnpfc_base_flag", "u(1)"),
        Element("nnpfc_mode_idc", "ue(v)"),
        If(
            "nnpfc_mode_idc == 1",
            (
                Align("nnpfc_alignment_zero_bit", source=H274),
                Element("nnpfc_uri_tag", "st(v)"),
                Element("nnpfc_uri", "st(v)"),
            ),
        ),
        Let("ReservedPadding", "False"),
        Element("nnpfc_property_present_flag", "u(1)"),
        If("nnpfc_property_present_flag", _PROPERTIES),
        If(
            "nnpfc_mode_idc == 0 and not ReservedPadding",
            (
                Align("nnpfc_alignment_zero_bit", source=H274),
                PayloadBytes("nnpfc_payload_byte", trace="nnpfc_payload_byte[i]"),
            ),
        ),
    )
    return Syntax("nnpfc", PAYLOAD_TYPE, body, (H274, VTM))
