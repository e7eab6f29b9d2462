"""Generative face video enhancement (GFVE) SEI message, payloadType 224.

Syntax as implemented by VTM-23.9 and later (``SEIReader::xParseSEIGenerativeFaceVideoEnhancement``
/ ``SEIWriter::xWriteSEIGenerativeFaceVideoEnhancement``), JVET-AK0239. Trace labels are the
strings VTM's decoder prints in its SEI dump (the NN payload bytes are printed as
``gfv_nn_payload_byte[i]``, without the ``e``).
Reference: ``docs/gfv_sei.md#gfve-message`` (syntax, derived variables, the sticky
``PupilBaseSeen`` rule).
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
from .gfv import MATRIX_ELEMENT_LIMIT

PAYLOAD_TYPE = 224
VTM = "VTM-23.13 SEIread.cpp (xParseSEIGenerativeFaceVideoEnhancement)"
AK0239 = "JVET-AK0239 (GFVE SEI)"

_NN_INFO = (
    Element("gfve_nn_present_flag", "u(1)", infer=0),
    If(
        "gfve_nn_present_flag",
        (
            Element("gfve_nn_mode_idc", "ue(v)", infer=0),
            If(
                "gfve_nn_mode_idc == 1",
                (
                    Align("gfve_nn_alignment_zero_bit_a", source=AK0239),
                    Element("gfve_nn_uri_tag", "st(v)"),
                    Element("gfve_nn_uri", "st(v)"),
                ),
            ),
        ),
    ),
)

_ELEMENT_IDX = ("j", "k", "m")


def _element(prefix: str) -> tuple:
    """Integer part ``ue(v)``, decimal part ``u(MatrixPrec)`` and the sign flag (present when
    either part is non-zero) of one matrix element; ``prefix`` selects the absolute or the
    delta form."""
    return (
        Element(f"{prefix}_int", "ue(v)", index=_ELEMENT_IDX, range=(0, (1 << 32) - 2), source=VTM),
        Element(
            f"{prefix}_dec",
            "u(MatrixPrec)",
            index=_ELEMENT_IDX,
            source="GFVE codes the decimal part as u(P) also for predicted elements (GFV: ue(v))",
        ),
        If(
            f"{prefix}_int[j, k, m] or {prefix}_dec[j, k, m]",
            (Element(f"{prefix}_sign_flag", "u(1)", index=_ELEMENT_IDX),),
        ),
    )


_MATRICES = (
    Element("gfve_matrix_present_flag", "u(1)"),
    If(
        "gfve_matrix_present_flag",
        (
            If("not BasePic", (Element("gfve_matrix_pred_flag", "u(1)", infer=0),)),
            If(
                "not gfve_matrix_pred_flag",
                (
                    Element(
                        "gfve_matrix_element_precision_factor_minus1", "ue(v)", range=(0, 31), source=VTM, stop=True
                    ),
                    Element(
                        "gfve_num_matrices_minus1",
                        "ue(v)",
                        range=(0, 1023),
                        source="VTM-23.13 SEIwrite.cpp (writer CHECK; the reader has none)",
                    ),
                    Let("MatrixPrec", "gfve_matrix_element_precision_factor_minus1 + 1"),
                    Let("NumMatrices", "gfve_num_matrices_minus1 + 1"),
                    Let("NumMatrixElements", "0"),
                    For(
                        "j",
                        "NumMatrices",
                        (
                            Element(
                                "gfve_matrix_height_minus1",
                                "ue(v)",
                                index=("j",),
                                range=(0, 1023),
                                source="this software: bounded to keep memory bounded (VTM has no check)",
                            ),
                            Element(
                                "gfve_matrix_width_minus1",
                                "ue(v)",
                                index=("j",),
                                range=(0, 1023),
                                source="this software: bounded to keep memory bounded (VTM has no check)",
                            ),
                            Let("MatrixHeight", "gfve_matrix_height_minus1[j] + 1", ("j",)),
                            Let("MatrixWidth", "gfve_matrix_width_minus1[j] + 1", ("j",)),
                            Let("NumMatrixElements", "NumMatrixElements + MatrixHeight[j] * MatrixWidth[j]"),
                        ),
                    ),
                ),
                (
                    Require(
                        "state.base_num_matrices is not None",
                        "gfve_matrix_pred_flag",
                        "a predicted matrix message needs an earlier base message with matrices",
                        "JVET-AK0239 (P, NumMatrices and dimensions come from the base message; "
                        "docs/gfv_sei.md#gfve-reconstruction)",
                    ),
                    Let("MatrixPrec", "state.base_matrix_prec"),
                    Let("NumMatrices", "state.base_num_matrices"),
                    Let("NumMatrixElements", "0"),
                    For(
                        "j",
                        "NumMatrices",
                        (
                            Let("MatrixHeight", "state.base_matrix_height[j]", ("j",)),
                            Let("MatrixWidth", "state.base_matrix_width[j]", ("j",)),
                            Let("NumMatrixElements", "NumMatrixElements + MatrixHeight[j] * MatrixWidth[j]"),
                        ),
                    ),
                ),
            ),
            # Every matrix element takes at least two bits (integer and decimal part): a count the
            # payload cannot hold is refused before looping over it.
            Require(
                "2 * NumMatrixElements <= payload_bits_left()",
                "NumMatrices",
                "the matrices need more bits than the payload has left",
                "H.274 sei_payload(): the message syntax shall fit in payloadSize bytes",
            ),
            MATRIX_ELEMENT_LIMIT,
            For(
                "j",
                "NumMatrices",
                (
                    For(
                        "k",
                        "MatrixHeight[j]",
                        (
                            For(
                                "m",
                                "MatrixWidth[j]",
                                (
                                    If(
                                        "not gfve_matrix_pred_flag",
                                        _element("gfve_matrix_element"),
                                        _element("gfve_matrix_delta_element"),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
            Derived("gfveMatrixNumber"),
            Derived("gfveMatrixWidthXHeight"),
            Derived("gfveMatrixElement"),
        ),
    ),
)


def _pupil(eye: str, axis: str) -> tuple:
    """``gfve_pupil_<eye>_eye_d<axis>_coordinate_abs`` and its sign flag (present when abs != 0)."""
    name = f"gfve_pupil_{eye}_eye_d{axis}_coordinate"
    return (
        Element(f"{name}_abs", "ue(v)", range=(0, "1 << (PupilPrec + 1)"), source=VTM),
        If(f"{name}_abs", (Element(f"{name}_sign_flag", "u(1)"),)),
    )


_PUPIL = (
    Element("gfve_pupil_coordinate_present_idx", "u(2)"),
    Check(
        "BasePic or not gfve_pupil_coordinate_present_idx or state.pupil_base_seen",
        "gfve_pupil_coordinate_present_idx",
        "a non-base message shall not signal pupils before a base message has (VTM's writer refuses it; "
        "VTM's reader then reads no pupil syntax)",
        "VTM-23.13 SEIwrite.cpp (writer CHECK) and SEIread.cpp",
    ),
    If(
        "gfve_pupil_coordinate_present_idx != 0 and BasePic",
        (
            Element("gfve_pupil_coordinate_precision_factor_minus1", "ue(v)", range=(0, 31), source=VTM, stop=True),
            Let("PupilPrec", "gfve_pupil_coordinate_precision_factor_minus1 + 1"),
        ),
        (Let("PupilPrec", "state.base_pupil_prec if gfve_pupil_coordinate_present_idx != 0 else 0"),),
    ),
    # Sticky: once a base message has carried pupils, every later message codes the present
    # eyes; before that, a non-base message codes none whatever its idx (VTM reader and writer).
    Let("PupilBaseSeen", "state.pupil_base_seen or (BasePic and gfve_pupil_coordinate_present_idx != 0)"),
    If(
        "PupilBaseSeen",
        (
            If("gfve_pupil_coordinate_present_idx in (1, 3)", (*_pupil("left", "x"), *_pupil("left", "y"))),
            If("gfve_pupil_coordinate_present_idx in (2, 3)", (*_pupil("right", "x"), *_pupil("right", "y"))),
            Derived("gfve_PupilCoordinate"),
        ),
    ),
)

_NN_PAYLOAD = (
    If(
        "gfve_nn_present_flag and gfve_nn_mode_idc == 0",
        (
            Align("gfve_nn_alignment_zero_bit_b", source=AK0239),
            PayloadBytes("gfve_nn_payload_byte", trace="gfv_nn_payload_byte[i]"),
        ),
    ),
)


def syntax() -> Syntax:
    """The GFVE syntax table (VTM-23.9 and later; one variant)."""
    body = (
        Element("gfve_id", "ue(v)", range=(0, (1 << 32) - 2)),
        SelectState("gfve_id"),
        Element("gfve_gfv_id", "ue(v)"),
        Element("gfve_gfv_cnt", "ue(v)"),
        If("gfve_gfv_cnt == 0", (Element("gfve_base_picture_flag", "u(1)", infer=0),)),
        Let("BasePic", "gfve_base_picture_flag if gfve_gfv_cnt == 0 else 0"),
        If("BasePic", _NN_INFO),
        *_MATRICES,
        *_PUPIL,
        *_NN_PAYLOAD,
        Hook("update_parse_state"),
    )
    return Syntax("generative_face_video_enhancement", PAYLOAD_TYPE, body, (AK0239, VTM))
