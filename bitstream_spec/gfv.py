"""Generative face video (GFV) SEI message, payloadType 223.

Syntax as implemented by VTM (``SEIReader::xParseSEIGenerativeFaceVideo`` /
``SEIWriter::xWriteSEIGenerativeFaceVideo``), JVET-AJ0207 with the JVET-AK0238 fixes
(Variant B, VTM-23.9..23.11) and the JVET-AM0334 chroma-key update (Variant C, VTM-23.12 and
later, the default). Trace labels are the strings VTM's decoder prints in its SEI dump.
Reference: ``docs/gfv_sei.md``, sections "GFV syntax outline", "GFV derived variables", "GFV matrix
types", "GFV VTM reader behaviours" and "Syntax variants" (Variant B).
"""

from __future__ import annotations

from .dsl import (
    Align,
    Check,
    Derived,
    Element,
    For,
    Hook,
    If,
    Let,
    PayloadBytes,
    Require,
    SelectState,
    Syntax,
)

PAYLOAD_TYPE = 223
VTM = "VTM-23.13 SEIread.cpp"
VTM_BEHAVIOUR = "VTM-23.13 behaviour"
PAYLOAD_FIT = "H.274 sei_payload(): the message syntax shall fit in payloadSize bytes"
AJ0207 = "JVET-AJ0207 (GFV SEI)"
#: Most matrix elements (sum over the matrix types of NumMatrices * MatrixHeight * MatrixWidth)
#: one GFV message may have here: a bound of this software that keeps gfv-check and gfv-decode
#: under 300 MB (docs/conformance.md#memory-and-size-limits); the syntax allows more.
MAX_MATRIX_ELEMENTS = 1 << 20
#: The check of MAX_MATRIX_ELEMENTS after the matrix dimensions (GFV and GFVE messages).
MATRIX_ELEMENT_LIMIT = Require(
    f"NumMatrixElements <= {MAX_MATRIX_ELEMENTS}",
    "NumMatrixElements",
    f"more than {MAX_MATRIX_ELEMENTS} matrix elements in one message: beyond this software's limit",
    "this software: bounded memory (docs/conformance.md#memory-and-size-limits)",
    limit=True,
)

_NN_INFO = (
    Element("gfv_nn_present_flag", "u(1)", infer=0),
    If(
        "gfv_nn_present_flag",
        (
            Element("gfv_nn_mode_idc", "ue(v)", trace="gfv_mode_idc", infer=0),
            If(
                "gfv_nn_mode_idc == 1",
                (
                    Align("gfv_nn_alignment_zero_bit_a", source=AJ0207),
                    Element("gfv_uri_tag", "st(v)"),
                    Element("gfv_uri", "st(v)"),
                ),
            ),
        ),
    ),
)

_CHROMA_KEY_C = (
    Element("gfv_chroma_key_info_present_flag", "u(1)", infer=0),
    If(
        "gfv_chroma_key_info_present_flag",
        (
            Element("gfv_chroma_key_purpose_idc", "ue(v)", range=(0, 2), source="JVET-AM0334; " + VTM),
            For(
                "c",
                3,
                (
                    Element(
                        "gfv_chroma_key_value_present_flag",
                        "u(1)",
                        index=("c",),
                        trace="gfv_chroma_key_value_present_flag[c]",
                    ),
                    If(
                        "gfv_chroma_key_value_present_flag[c]",
                        (Element("gfv_chroma_key_value", "u(8)", index=("c",), trace="gfv_chroma_key_value[chromac]"),),
                    ),
                ),
            ),
            Derived("gfv_chroma_key_value"),
            Element("gfv_chroma_key_thr_present_flag", "u(1)"),
            If(
                "gfv_chroma_key_thr_present_flag",
                (
                    Element("gfv_chroma_key_thr_lower", "u(8)"),
                    Element(
                        "gfv_chroma_key_thr_upper_delta_minus1", "ue(v)", range=(0, 255), source="JVET-AM0334; " + VTM
                    ),
                ),
            ),
            Derived("gfv_chroma_key_thr_lower"),
            Derived("gfv_chroma_key_thr_upper_delta_minus1"),
        ),
    ),
)

_CHROMA_KEY_B = (
    Element("gfv_chroma_key_info_present_flag", "u(1)", infer=0),
    If(
        "gfv_chroma_key_info_present_flag",
        (
            For(
                "c",
                3,
                (
                    Element(
                        "gfv_chroma_key_value_present_flag",
                        "u(1)",
                        index=("c",),
                        trace="gfv_chroma_key_value_present_flag[c]",
                    ),
                    If(
                        "gfv_chroma_key_value_present_flag[c]",
                        (Element("gfv_chroma_key_value", "u(8)", index=("c",), trace="gfv_chroma_key_value[chromac]"),),
                    ),
                ),
            ),
            Derived("gfv_chroma_key_value"),
            For(
                "c",
                2,
                (
                    Element(
                        "gfv_chroma_key_thr_present_flag",
                        "u(1)",
                        index=("c",),
                        trace="gfv_chroma_key_thr_present_flag[i]",
                    ),
                    If(
                        "gfv_chroma_key_thr_present_flag[c]",
                        (
                            Element(
                                "gfv_chroma_key_thr_value", "ue(v)", index=("c",), trace="gfv_chroma_key_thr_value[i]"
                            ),
                        ),
                    ),
                ),
            ),
            Derived("gfv_chroma_key_thr_value"),
        ),
    ),
)


def _coordinate(axis: str, abs_trace: str) -> tuple:
    """``gfv_coordinate_<axis>_abs[ i ]`` and its sign flag (present when abs != 0)."""
    name = f"gfv_coordinate_{axis}"
    return (
        Element(f"{name}_abs", "ue(v)", index=("i",), trace=abs_trace),
        If(f"{name}_abs[i]", (Element(f"{name}_sign_flag", "u(1)", index=("i",), trace=f"{name}_sign_flag"),)),
    )


_COORDINATES = (
    Element("gfv_coordinate_present_flag", "u(1)"),
    If(
        "gfv_coordinate_present_flag",
        (
            Element("gfv_kps_pred_flag", "u(1)", infer=0),
            Check(
                "BasePic or gfv_cnt != 0 or not gfv_kps_pred_flag",
                "gfv_kps_pred_flag",
                "a non-base message with gfv_cnt equal to 0 and gfv_kps_pred_flag equal to 1: VTM's reader "
                "predicts it from the base message, VTM's writer (base-picture flag set for every message) from "
                "the previous one",
                VTM_BEHAVIOUR + " (docs/gfv_sei.md#gfv-vtm-writer-behaviours item 2)",
                "warning",
            ),
            If(
                "BasePic or not gfv_kps_pred_flag",
                (
                    Element("gfv_coordinate_precision_factor_minus1", "ue(v)", range=(0, 31), source=VTM, stop=True),
                    Element(
                        "gfv_num_kps_minus1",
                        "ue(v)",
                        range=(0, 65535),
                        source="this software: bounded to keep memory bounded (VTM has no check)",
                        severity="limit",
                    ),
                    Element("gfv_coordinate_z_present_flag", "u(1)"),
                    If(
                        "gfv_coordinate_z_present_flag",
                        (
                            Element(
                                "gfv_coordinate_z_max_value_minus1",
                                "ue(v)",
                                range=(0, 65535),
                                source="VTM-23.13 SEIwrite.cpp (writer CHECK)",
                            ),
                        ),
                    ),
                    Let("CoordPrec", "gfv_coordinate_precision_factor_minus1 + 1"),
                    Let("NumKps", "gfv_num_kps_minus1 + 1"),
                    Let("ZPresent", "gfv_coordinate_z_present_flag"),
                ),
                (
                    Require(
                        "state.base_num_kps is not None",
                        "gfv_kps_pred_flag",
                        "a predicted message needs an earlier base message with coordinates",
                        "JVET-AJ0207 (CoordPrec, NumKps, ZPresent come from the base message; "
                        "docs/gfv_sei.md#gfv-derived-variables)",
                    ),
                    Let("CoordPrec", "state.base_coord_prec"),
                    Let("NumKps", "state.base_num_kps"),
                    Let("ZPresent", "state.base_z_present"),
                ),
            ),
            # Every coordinate takes at least one bit: refuse a count the payload cannot hold before
            # looping over it (keeps parsing time and memory bounded by the payload size).
            Require(
                "NumKps * (2 + ZPresent) <= payload_bits_left()",
                "NumKps",
                "NumKps keypoints need more bits than the payload has left",
                PAYLOAD_FIT,
            ),
            For(
                "i",
                "NumKps",
                (
                    If(
                        "not gfv_kps_pred_flag",
                        (
                            *_coordinate("x", "gfv_coordinate_x_abs[ i ]"),
                            *_coordinate("y", "gfv_coordinate_y_abs[ i ]"),
                            If("ZPresent", _coordinate("z", "gfv_coordinate_z_abs[ i ]")),
                        ),
                        (
                            *_coordinate("dx", "gfv_coordinate_dx_abs[ i ]"),
                            *_coordinate("dy", "gfv_coordinate_dy_abs[ i ]"),
                            If("ZPresent", _coordinate("dz", "gfv_coordinate_dz_abs[ i ]")),
                        ),
                    ),
                ),
            ),
            Derived("gfv_coordinate_Xtensor"),
            Derived("gfv_coordinate_Ytensor"),
            Derived("gfv_coordinate_Ztensor", "ZPresent"),
        ),
        (
            Let("NumKps", "0"),
            Let("ZPresent", "0"),
        ),
    ),
)

_MATRIX_TYPES = (
    Let("NumMatrixElements", "0"),
    Let("PrecedingAreType01", "True"),
    Let("PrecedingAreType01WithInfo", "True"),
    Let("PrecedingAreType456", "True"),
    For(
        "i",
        "NumMatrixTypes",
        (
            Element("gfv_matrix_type_idx", "u(6)", index=("i",), trace="gfv_matrix_type_idx"),
            If(
                "gfv_matrix_type_idx[i] <= 1",
                (
                    Require(
                        "gfv_coordinate_present_flag",
                        "gfv_matrix_type_idx",
                        "matrix types 0 and 1 require gfv_coordinate_present_flag equal to 1 (VTM's reader stops)",
                        VTM,
                    ),
                    Element(
                        "gfv_num_matrices_equal_to_num_kps_flag",
                        "u(1)",
                        index=("i",),
                        trace="gfv_num_matrices_equal_to_num_kps_flag",
                    ),
                    If(
                        "not gfv_num_matrices_equal_to_num_kps_flag[i]",
                        (
                            Element(
                                "gfv_num_matrices_info",
                                "ue(v)",
                                index=("i",),
                                range=(0, 1023),
                                trace="gfv_num_matrices_info",
                                source=VTM,
                            ),
                        ),
                    ),
                ),
                (
                    If(
                        "gfv_matrix_type_idx[i] in (2, 3) or gfv_matrix_type_idx[i] >= 7",
                        (
                            If(
                                "gfv_matrix_type_idx[i] >= 7",
                                (
                                    Element(
                                        "gfv_num_matrices_minus1",
                                        "ue(v)",
                                        index=("i",),
                                        range=(0, 1023),
                                        trace="gfv_num_matrices_minus1",
                                        source=VTM,
                                    ),
                                ),
                            ),
                            Element(
                                "gfv_matrix_width_minus1",
                                "ue(v)",
                                index=("i",),
                                range=(0, 1023),
                                trace="gfv_matrix_width_minus1",
                                source=VTM,
                            ),
                            Element(
                                "gfv_matrix_height_minus1",
                                "ue(v)",
                                index=("i",),
                                range=(0, 1023),
                                trace="gfv_matrix_height_minus1",
                                source=VTM,
                            ),
                        ),
                        (
                            If(
                                "not gfv_coordinate_present_flag",
                                (
                                    Element(
                                        "gfv_matrix_3d_space_flag", "u(1)", index=("i",), trace="gfv_Matrix3DSpaceFlag"
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
            # VTM's reader stores gfv_num_matrices_equal_to_num_kps_flag, gfv_num_matrices_info and
            # gfv_Matrix3DSpaceFlag only for the types that carry them but indexes them with i, so it
            # misreads other orders (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 5).
            Check(
                "not (gfv_matrix_type_idx[i] <= 1 and not (PrecedingAreType01WithInfo"
                " if not gfv_num_matrices_equal_to_num_kps_flag[i] else PrecedingAreType01))"
                " and not (4 <= gfv_matrix_type_idx[i] <= 6 and not PrecedingAreType456)",
                "gfv_matrix_type_idx",
                "matrix type order VTM's reader misparses: a type 0/1 entry shall follow only type 0/1 entries "
                "(with gfv_num_matrices_info: only such entries), a type 4..6 entry only type 4..6 entries",
                VTM_BEHAVIOUR + " (SEIread.cpp indexes per-type vectors by i; "
                "docs/gfv_sei.md#gfv-vtm-reader-behaviours item 5)",
                "warning",
            ),
            Let("PrecedingAreType01", "PrecedingAreType01 and gfv_matrix_type_idx[i] <= 1"),
            Let(
                "PrecedingAreType01WithInfo",
                "PrecedingAreType01WithInfo and gfv_matrix_type_idx[i] <= 1"
                " and not gfv_num_matrices_equal_to_num_kps_flag[i]",
            ),
            Let("PrecedingAreType456", "PrecedingAreType456 and 4 <= gfv_matrix_type_idx[i] <= 6"),
            Let(
                "Space3D",
                "(ZPresent if gfv_coordinate_present_flag else gfv_matrix_3d_space_flag[i])"
                " if gfv_matrix_type_idx[i] in (0, 1, 4, 5, 6) else 0",
                ("i",),
            ),
            Let(
                "NumMatrices",
                "(NumKps if gfv_num_matrices_equal_to_num_kps_flag[i] else "
                "(gfv_num_matrices_info[i] + 1 if gfv_num_matrices_info[i] < NumKps - 1 else gfv_num_matrices_info[i] + 2))"
                " if gfv_matrix_type_idx[i] <= 1 else "
                "(gfv_num_matrices_minus1[i] + 1 if gfv_matrix_type_idx[i] >= 7 else 1)",
                ("i",),
            ),
            Let(
                "MatrixHeight",
                "gfv_matrix_height_minus1[i] + 1 if gfv_matrix_type_idx[i] in (2, 3) or gfv_matrix_type_idx[i] >= 7"
                " else Space3D[i] + 2",
                ("i",),
            ),
            Let(
                "MatrixWidth",
                "gfv_matrix_width_minus1[i] + 1 if gfv_matrix_type_idx[i] in (2, 3) or gfv_matrix_type_idx[i] >= 7"
                " else (1 if gfv_matrix_type_idx[i] in (5, 6) else Space3D[i] + 2)",
                ("i",),
            ),
            Let("NumMatrixElements", "NumMatrixElements + NumMatrices[i] * MatrixHeight[i] * MatrixWidth[i]"),
        ),
    ),
)

_ELEMENT_IDX = ("i", "j", "k", "m")

_MATRICES = (
    Element("gfv_matrix_present_flag", "u(1)"),
    Check(
        "gfv_coordinate_present_flag or gfv_matrix_present_flag",
        "gfv_matrix_present_flag",
        "gfv_coordinate_present_flag and gfv_matrix_present_flag shall not both be 0",
        VTM,
    ),
    If(
        "gfv_matrix_present_flag",
        (
            If(
                "not BasePic",
                (
                    Element("gfv_matrix_pred_flag", "u(1)", infer=0),
                    Check(
                        "gfv_cnt != 0 or not gfv_matrix_pred_flag",
                        "gfv_matrix_pred_flag",
                        "a non-base message with gfv_cnt equal to 0 and gfv_matrix_pred_flag equal to 1: VTM's reader "
                        "predicts it from the last matrix message (it overwrites its base matrices with every one), "
                        "VTM's writer from the last base message",
                        VTM_BEHAVIOUR + " (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 3)",
                        "warning",
                    ),
                ),
            ),
            If(
                "not gfv_matrix_pred_flag",
                (
                    Element(
                        "gfv_matrix_element_precision_factor_minus1", "ue(v)", range=(0, 31), source=VTM, stop=True
                    ),
                    Element(
                        "gfv_num_matrix_types_minus1",
                        "ue(v)",
                        range=(0, 63),
                        source="this software: at most 64 matrix types (u(6) type index)",
                        severity="limit",
                    ),
                    Let("MatrixPrec", "gfv_matrix_element_precision_factor_minus1 + 1"),
                    Let("NumMatrixTypes", "gfv_num_matrix_types_minus1 + 1"),
                    *_MATRIX_TYPES,
                ),
                (
                    Require(
                        "state.base_num_matrix_types is not None",
                        "gfv_matrix_pred_flag",
                        "a predicted matrix message needs an earlier base message with matrices",
                        "JVET-AJ0207 (matrix parameters copied from the base message; "
                        "docs/gfv_sei.md#gfv-derived-variables)",
                    ),
                    Let("MatrixPrec", "state.base_matrix_prec"),
                    Let("NumMatrixTypes", "state.base_num_matrix_types"),
                    Let("NumMatrixElements", "0"),
                    For(
                        "i",
                        "NumMatrixTypes",
                        (
                            Let("NumMatrices", "state.base_num_matrices[i]", ("i",)),
                            Let("MatrixHeight", "state.base_matrix_height[i]", ("i",)),
                            Let("MatrixWidth", "state.base_matrix_width[i]", ("i",)),
                            Let(
                                "NumMatrixElements",
                                "NumMatrixElements + NumMatrices[i] * MatrixHeight[i] * MatrixWidth[i]",
                            ),
                        ),
                    ),
                ),
            ),
            # Every matrix element takes at least two bits (integer and decimal part).
            Require(
                "2 * NumMatrixElements <= payload_bits_left()",
                "NumMatrices",
                "the matrices need more bits than the payload has left",
                PAYLOAD_FIT,
            ),
            MATRIX_ELEMENT_LIMIT,
            For(
                "i",
                "NumMatrixTypes",
                (
                    For(
                        "j",
                        "NumMatrices[i]",
                        (
                            For(
                                "k",
                                "MatrixHeight[i]",
                                (
                                    For(
                                        "m",
                                        "MatrixWidth[i]",
                                        (
                                            If(
                                                "not gfv_matrix_pred_flag",
                                                (
                                                    Element("gfv_matrix_element_int", "ue(v)", index=_ELEMENT_IDX),
                                                    Element(
                                                        "gfv_matrix_element_dec", "u(MatrixPrec)", index=_ELEMENT_IDX
                                                    ),
                                                    If(
                                                        "gfv_matrix_element_int[i, j, k, m] or gfv_matrix_element_dec[i, j, k, m]",
                                                        (
                                                            Element(
                                                                "gfv_matrix_element_sign_flag",
                                                                "u(1)",
                                                                index=_ELEMENT_IDX,
                                                            ),
                                                        ),
                                                    ),
                                                ),
                                                (
                                                    Element(
                                                        "gfv_matrix_delta_element_int", "ue(v)", index=_ELEMENT_IDX
                                                    ),
                                                    Element(
                                                        "gfv_matrix_delta_element_dec",
                                                        "ue(v)",
                                                        index=_ELEMENT_IDX,
                                                        source="VTM codes the decimal part of a predicted element as ue(v)",
                                                    ),
                                                    If(
                                                        "gfv_matrix_delta_element_int[i, j, k, m] or gfv_matrix_delta_element_dec[i, j, k, m]",
                                                        (
                                                            Element(
                                                                "gfv_matrix_delta_element_sign_flag",
                                                                "u(1)",
                                                                index=_ELEMENT_IDX,
                                                            ),
                                                        ),
                                                    ),
                                                ),
                                            ),
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
            Derived("gfv_MatrixElement"),
        ),
    ),
)

_NN_PAYLOAD = (
    If(
        "gfv_nn_present_flag and gfv_nn_mode_idc == 0",
        (
            Align("gfv_nn_alignment_zero_bit_b", source=AJ0207),
            PayloadBytes("gfv_nn_payload_byte", trace="gfv_nn_payload_byte[i]"),
        ),
    ),
)


def syntax(variant: str = "C") -> Syntax:
    """The GFV syntax table of ``variant`` ``"C"`` (VTM-23.12+, default) or ``"B"`` (VTM-23.9..23.11).

    Raises:
        ValueError: unknown variant.
    """
    non_base: tuple
    if variant == "C":
        base_block = (*_NN_INFO, *_CHROMA_KEY_C)
        non_base = (If("gfv_cnt == 0", (Element("gfv_fusion_pic_flag", "u(1)", infer=0),)),)
    elif variant == "B":
        base_block = (*_NN_INFO, *_CHROMA_KEY_B)
        non_base = (Element("gfv_drive_picture_fusion_flag", "u(1)", infer=0),)
    else:
        raise ValueError(f"unknown GFV syntax variant {variant!r} (expected 'C' or 'B')")
    body = (
        Element("gfv_id", "ue(v)", range=(0, (1 << 32) - 2)),
        SelectState("gfv_id"),
        Element("gfv_cnt", "ue(v)"),
        If("gfv_cnt == 0", (Element("gfv_base_picture_flag", "u(1)", infer=0),)),
        Let("BasePic", "gfv_base_picture_flag if gfv_cnt == 0 else 0"),
        If("BasePic", base_block, non_base),
        Element("gfv_low_confidence_face_parameter_flag", "u(1)"),
        *_COORDINATES,
        *_MATRICES,
        *_NN_PAYLOAD,
        Hook("update_parse_state"),
    )
    return Syntax(
        "generative_face_video",
        PAYLOAD_TYPE,
        body,
        (AJ0207, "JVET-AK0238", "JVET-AM0334" if variant == "C" else "VTM-23.9..23.11", VTM),
    )
