"""Builders of small SEI byte streams for the checker, robustness and mode tests.

Valid messages are written with the table-driven writer (:func:`sei.sei_message.write_payload`);
broken ones are written bit by bit with :class:`sei.bitio.BitWriter` or patched afterwards,
since the writer refuses to break the rules.
"""

from __future__ import annotations

import random

from sei.bitio import BitWriter
from sei.context import DecodingContext
from sei.nal import make_nal_unit, write_annexb
from sei.sei_message import sei_rbsp, write_payload

GFV, GFVE, NNPFC, NNPFA, SPTI = 223, 224, 210, 211, 216
PREFIX, SUFFIX = 23, 24
#: A stand-in for a coded slice (IDR_N_LP), so that streams look like an access unit.
SLICE = make_nal_unit(8, b"\x12\x34\x80")


def nal(ptype: int, payload: bytes, nut: int | None = None) -> bytes:
    """An SEI NAL unit (header + EBSP) holding one message; GFV/GFVE in suffix, others in prefix
    SEI NAL units unless ``nut`` says otherwise."""
    if nut is None:
        nut = SUFFIX if ptype in (GFV, GFVE) else PREFIX
    return make_nal_unit(nut, sei_rbsp([(ptype, payload)]))


def annexb(*nals: bytes) -> bytes:
    """Byte stream of the slice stand-in followed by ``nals``."""
    return write_annexb([SLICE, *nals])


def written(messages: list[tuple[int, dict]], mode: str = "vtm") -> list[bytes]:
    """Payloads of ``(payloadType, values)`` written in order with one writer context."""
    ctx = DecodingContext(mode=mode)
    return [write_payload(ptype, values, ctx)[0] for ptype, values in messages]


def stream(messages: list[tuple[int, dict]], mode: str = "vtm") -> bytes:
    """A byte stream with each message in its own SEI NAL unit."""
    return annexb(*(nal(ptype, p) for (ptype, _), p in zip(messages, written(messages, mode))))


def gfv_base(
    gfv_id: int = 1,
    xs: tuple[int, ...] = (10, -20),
    ys: tuple[int, ...] = (30, 0),
    elements: tuple[int, ...] = (3, -5, 0, 9),
    width: int = 2,
    height: int = 2,
    matrix_types: tuple[int, ...] = (7,),
) -> dict:
    """A base GFV message (Variant C): keypoints coded absolutely (Q = 8, values in 1/256),
    type-7 style matrices of ``height`` x ``width`` with P = 4 (element ``e`` is e/16)."""
    v: dict = {
        "gfv_id": gfv_id,
        "gfv_cnt": 0,
        "gfv_base_picture_flag": 1,
        "gfv_nn_present_flag": 0,
        "gfv_chroma_key_info_present_flag": 0,
        "gfv_low_confidence_face_parameter_flag": 0,
    }
    v.update(_coordinates(xs, ys, pred=False))
    v.update(
        {
            "gfv_coordinate_precision_factor_minus1": 7,
            "gfv_num_kps_minus1": len(xs) - 1,
            "gfv_coordinate_z_present_flag": 0,
        }
    )
    v.update(_matrix_header(matrix_types, width, height))
    v.update(_elements(_dims(matrix_types, len(xs), width, height), elements, pred=False))
    return v


def gfv_large_base(rng: random.Random) -> dict:
    """A base GFV message of tens of kilobytes drawn from ``rng``: 3000 keypoints and one 40 x 40
    matrix, so that its payload spans many of the engine's reader windows."""
    return gfv_base(
        xs=tuple(rng.randrange(-5000, 5000) for _ in range(3000)),
        ys=tuple(rng.randrange(-70000, 70000) for _ in range(3000)),
        width=40,
        height=40,
        elements=tuple(rng.randrange(-(10**6), 10**6) for _ in range(1600)),
    )


def gfv_next(
    gfv_id: int = 1,
    cnt: int = 1,
    dxs: tuple[int, ...] = (1, 0),
    dys: tuple[int, ...] = (0, -2),
    deltas: tuple[int, ...] | None = (1, 0, 0, -1),
    width: int = 2,
    height: int = 2,
    types: int = 1,
) -> dict:
    """A non-base GFV message predicting keypoints (and, with ``deltas``, matrices) from the
    base (``cnt`` 0) or previous message."""
    v: dict = {"gfv_id": gfv_id, "gfv_cnt": cnt, "gfv_low_confidence_face_parameter_flag": 0}
    if cnt == 0:
        v["gfv_base_picture_flag"] = 0
        v["gfv_fusion_pic_flag"] = 0
    v.update(_coordinates(dxs, dys, pred=True))
    v["gfv_matrix_present_flag"] = 1 if deltas is not None else 0
    if deltas is not None:
        v["gfv_matrix_pred_flag"] = 1
        v.update(_elements([(1, height, width)] * types, deltas, pred=True))
    return v


def gfv_absolute(
    gfv_id: int = 1,
    cnt: int = 1,
    xs: tuple[int, ...] = (11, -20),
    ys: tuple[int, ...] = (30, -2),
    elements: tuple[int, ...] | None = (4, -5, 0, 8),
    width: int = 2,
    height: int = 2,
) -> dict:
    """A non-base GFV message with everything coded absolutely (no prediction)."""
    v: dict = {"gfv_id": gfv_id, "gfv_cnt": cnt, "gfv_low_confidence_face_parameter_flag": 0}
    if cnt == 0:
        v["gfv_base_picture_flag"] = 0
        v["gfv_fusion_pic_flag"] = 0
    v.update(_coordinates(xs, ys, pred=False))
    v.update(
        {
            "gfv_coordinate_precision_factor_minus1": 7,
            "gfv_num_kps_minus1": len(xs) - 1,
            "gfv_coordinate_z_present_flag": 0,
        }
    )
    if elements is None:
        v["gfv_matrix_present_flag"] = 0
    else:
        v.update(_matrix_header((7,), width, height))
        v["gfv_matrix_pred_flag"] = 0
        v.update(_elements([(1, height, width)], elements, pred=False))
    return v


def _coordinates(xs: tuple[int, ...], ys: tuple[int, ...], pred: bool) -> dict:
    v: dict = {"gfv_coordinate_present_flag": 1, "gfv_kps_pred_flag": int(pred)}
    for axis, values in (("x", xs), ("y", ys)):
        name = f"gfv_coordinate_{'d' if pred else ''}{axis}"
        v[name + "_abs"] = {i: abs(q) for i, q in enumerate(values)}
        v[name + "_sign_flag"] = {i: int(q < 0) for i, q in enumerate(values) if q}
    return v


def _matrix_header(types: tuple[int, ...], width: int, height: int) -> dict:
    v: dict = {
        "gfv_matrix_present_flag": 1,
        "gfv_matrix_element_precision_factor_minus1": 3,
        "gfv_num_matrix_types_minus1": len(types) - 1,
        "gfv_matrix_type_idx": dict(enumerate(types)),
        "gfv_num_matrices_equal_to_num_kps_flag": {},
        "gfv_num_matrices_minus1": {},
        "gfv_matrix_width_minus1": {},
        "gfv_matrix_height_minus1": {},
    }
    for i, t in enumerate(types):
        if t <= 1:
            v["gfv_num_matrices_equal_to_num_kps_flag"][i] = 1
        elif t in (2, 3) or t >= 7:
            if t >= 7:
                v["gfv_num_matrices_minus1"][i] = 0
            v["gfv_matrix_width_minus1"][i] = width - 1
            v["gfv_matrix_height_minus1"][i] = height - 1
    return v


def _dims(types: tuple[int, ...], num_kps: int, width: int, height: int) -> list[tuple[int, int, int]]:
    """``(NumMatrices, MatrixHeight, MatrixWidth)`` per matrix type of a 2-D message."""
    out = []
    for t in types:
        if t <= 1:
            out.append((num_kps, 2, 2))
        elif t in (2, 3) or t >= 7:
            out.append((1, height, width))
        else:
            out.append((1, 2, 1 if t in (5, 6) else 2))
    return out


def _elements(dims: list[tuple[int, int, int]], values: tuple[int, ...], pred: bool) -> dict:
    """Matrix elements in 1/16 units (P = 4): integer part, decimal part, sign; ``values``
    repeat over all elements."""
    pre = "gfv_matrix_delta_element" if pred else "gfv_matrix_element"
    ints, decs, signs = {}, {}, {}
    keys = [(i, j, k, m) for i, (n, h, w) in enumerate(dims) for j in range(n) for k in range(h) for m in range(w)]
    for n, key in enumerate(keys):
        q = values[n % len(values)]
        ints[key], decs[key] = abs(q) // 16, abs(q) % 16
        if q:
            signs[key] = int(q < 0)
    return {pre + "_int": ints, pre + "_dec": decs, pre + "_sign_flag": signs}


def gfve_message(gfve_id: int = 1, gfv_id: int = 1, gfv_cnt: int = 0, base: bool = True) -> dict:
    """A GFVE message with one 1x1 matrix (absolute in a base message, predicted otherwise)."""
    v: dict = {
        "gfve_id": gfve_id,
        "gfve_gfv_id": gfv_id,
        "gfve_gfv_cnt": gfv_cnt,
        "gfve_matrix_present_flag": 1,
        "gfve_pupil_coordinate_present_idx": 0,
    }
    if gfv_cnt == 0:
        v["gfve_base_picture_flag"] = int(base)
    if base:
        v.update(
            {
                "gfve_nn_present_flag": 0,
                "gfve_matrix_element_precision_factor_minus1": 3,
                "gfve_num_matrices_minus1": 0,
                "gfve_matrix_height_minus1": {0: 0},
                "gfve_matrix_width_minus1": {0: 0},
                "gfve_matrix_element_int": {(0, 0, 0): 1},
                "gfve_matrix_element_dec": {(0, 0, 0): 4},
                "gfve_matrix_element_sign_flag": {(0, 0, 0): 0},
            }
        )
    else:
        v.update(
            {
                "gfve_matrix_pred_flag": 1,
                "gfve_matrix_delta_element_int": {(0, 0, 0): 0},
                "gfve_matrix_delta_element_dec": {(0, 0, 0): 1},
                "gfve_matrix_delta_element_sign_flag": {(0, 0, 0): 0},
            }
        )
    return v


NNPFC_VALUES = {
    "nnpfc_purpose": 1,
    "nnpfc_id": 17,
    "nnpfc_base_flag": 1,
    "nnpfc_mode_idc": 1,
    "nnpfc_uri_tag": "tag:example.com,2025:nnpf",
    "nnpfc_uri": "http://example.com/f.nnr",
    "nnpfc_property_present_flag": 0,
}
NNPFA_VALUES = {
    "nnpfa_target_id": 17,
    "nnpfa_cancel_flag": 0,
    "nnpfa_persistence_flag": 1,
    "nnpfa_target_base_flag": 0,
    "nnpfa_no_prev_clvs_flag": 0,
    "nnpfa_no_foll_clvs_flag": 0,
    "nnpfa_num_output_entries": 0,
    "nnpfa_prompt_update_flag": 0,
    "nnpfa_seed_update_flag": 0,
    "nnpfa_selected_input_flag": 0,
}
SPTI_VALUES = {"spti_cancel_flag": 0, "spti_persistence_flag": 1, "spti_source_timing_equals_output_timing_flag": 1}


def bits(*fields: tuple[str, int] | tuple[str, int, int]) -> BitWriter:
    """A :class:`BitWriter` with ``("ue", v)``, ``("u", v, n)`` or ``("bytes", b)`` fields written."""
    w = BitWriter()
    for f in fields:
        if f[0] == "ue":
            w.ue(f[1])
        elif f[0] == "u":
            w.u(f[1], f[2])
        else:
            w.raw_bytes(f[1])
    return w


def close(w: BitWriter) -> bytes:
    """The payload of ``w`` with ``payload_bit_equal_to_one`` and zero bits to the byte boundary."""
    w.u(1, 1)
    while w.pos & 7:
        w.u(0, 1)
    return w.getvalue()


# --------------------------------------------------------------------------- broken streams
def _patch_nal(data: bytes, index: int, offset: int, new: bytes) -> bytes:
    """``data`` (a stream from :func:`annexb`) with bytes of NAL unit ``index`` (0 = the slice)
    replaced from ``offset`` (header included)."""
    from sei.nal import split_annexb

    start = split_annexb(data)[index][0] + offset
    return data[:start] + new + data[start + len(new) :]


def _header_patch(b0: int, b1: int) -> bytes:
    return _patch_nal(stream([(GFV, gfv_base())]), 1, 0, bytes([b0, b1]))


def _base_payload() -> bytes:
    return written([(GFV, gfv_base())])[0]


def _coordinates_header(num_kps_minus1: int, prec_minus1: int = 7) -> BitWriter:
    """A base GFV payload up to ``gfv_coordinate_z_present_flag`` (0)."""
    return bits(
        ("ue", 0),
        ("ue", 0),
        ("u", 1, 1),
        ("u", 0, 1),
        ("u", 0, 1),
        ("u", 0, 1),
        ("u", 1, 1),
        ("u", 0, 1),
        ("ue", prec_minus1),
        ("ue", num_kps_minus1),
        ("u", 0, 1),
    )


def _huge_num_kps() -> bytes:
    w = _coordinates_header((1 << 32) - 2)
    w.raw_bytes(b"\xff\xff")
    return annexb(nal(GFV, close(w)))


def _kps_over_limit() -> bytes:
    # 65537 keypoints, all at (0, 0): a legal message beyond this software's 65536-keypoint bound.
    w = _coordinates_header(65536)
    for _ in range(65537):
        w.ue(0)
        w.ue(0)
    w.u(0, 1)  # gfv_matrix_present_flag
    return annexb(nal(GFV, close(w)))


def _huge_matrices() -> bytes:
    # No coordinates; one type-7 entry of 1024 matrices of 1024 x 1024 elements (each value in range).
    w = bits(
        ("ue", 0),
        ("ue", 0),
        ("u", 1, 1),
        ("u", 0, 1),
        ("u", 0, 1),
        ("u", 0, 1),
        ("u", 0, 1),
        ("u", 1, 1),
        ("ue", 3),
        ("ue", 0),
        ("u", 7, 6),
        ("ue", 1023),
        ("ue", 1023),
        ("ue", 1023),
        ("bytes", b"\xff\xff"),
    )
    return annexb(nal(GFV, close(w)))


def _st_without_terminator() -> bytes:
    # gfv_id 0, gfv_cnt 0, base 1, nn present 1, gfv_mode_idc 1, alignment, then "abc" and no null byte.
    w = bits(("ue", 0), ("ue", 0), ("u", 1, 1), ("u", 1, 1), ("ue", 1), ("u", 0, 1), ("bytes", b"abc"))
    return annexb(nal(GFV, w.getvalue()))


def _payload_size_2_20() -> bytes:
    size = 1 << 20
    rbsp = bytes([GFV]) + b"\xff" * (size // 255) + bytes([size % 255]) + b"\x01\x02\x80"
    return annexb(make_nal_unit(SUFFIX, rbsp))


def _cut_in_half() -> bytes:
    data = stream([(GFV, gfv_base())])
    return data[: len(data) - len(_base_payload()) // 2]


def _with_ebsp(pattern: bytes) -> bytes:
    return _patch_nal(stream([(GFV, gfv_base())]), 1, 6, pattern)


def _type_order() -> bytes:
    return stream([(GFV, gfv_base(matrix_types=(7, 0)))])


#: Hand-made broken streams: name -> (builder, element of the expected finding, its severity).
BROKEN: dict[str, tuple] = {
    "ue_with_40_leading_zeros": (lambda: annexb(nal(GFV, bytes(5) + b"\x80\x80")), "gfv_id", "error"),
    "payload_size_2_pow_20": (_payload_size_2_20, "payloadSize", "error"),
    "st_without_terminator": (_st_without_terminator, "gfv_uri_tag", "error"),
    "nal_unit_cut_in_half": (_cut_in_half, "payloadSize", "error"),
    "huge_gfv_num_kps_minus1": (_huge_num_kps, "NumKps", "error"),
    "huge_num_matrices": (_huge_matrices, "NumMatrices", "error"),
    "precision_factor_out_of_range": (
        lambda: annexb(nal(GFV, close(_coordinates_header(1, prec_minus1=40)))),
        "gfv_coordinate_precision_factor_minus1",
        "error",
    ),
    "payload_too_short": (lambda: annexb(nal(GFV, _base_payload()[:-1])), "gfv_matrix_element_dec", "error"),
    "payload_too_short_for_matrices": (lambda: annexb(nal(GFV, _base_payload()[:-3])), "NumMatrices", "error"),
    "reserved_payload_extension_data": (
        lambda: annexb(nal(GFV, write_payload(GFV, gfv_base(), DecodingContext(), reserved_extension=(8, 0xA5))[0])),
        "reserved_payload_extension_data",
        "error",
    ),
    "zero_bytes_after_payload_trailing_bits": (
        lambda: annexb(nal(GFV, _base_payload() + b"\x00\x00")),
        "payload_bit_equal_to_zero",
        "error",
    ),
    "missing_payload_bit_equal_to_one": (
        lambda: annexb(nal(GFV, _base_payload()[:-1] + bytes([_base_payload()[-1] & (_base_payload()[-1] - 1)]))),
        "payload_bit_equal_to_one",
        "error",
    ),
    "empty_sei_rbsp": (lambda: annexb(make_nal_unit(SUFFIX, b"\x80")), "sei_message", "error"),
    "no_rbsp_trailing_bits": (
        lambda: annexb(make_nal_unit(SUFFIX, sei_rbsp([(GFV, _base_payload())])[:-1] + b"\x81")),
        "rbsp_trailing_bits",
        "error",
    ),
    "emulation_00_00_02": (lambda: _with_ebsp(b"\x00\x00\x02"), "rbsp_byte", "error"),
    "emulation_byte_after_epb": (lambda: _with_ebsp(b"\x00\x00\x03\x07"), "emulation_prevention_three_byte", "error"),
    "forbidden_zero_bit": (lambda: _header_patch(0x80, 0xC1), "forbidden_zero_bit", "error"),
    "nuh_reserved_zero_bit": (lambda: _header_patch(0x40, 0xC1), "nuh_reserved_zero_bit", "error"),
    "nuh_layer_id_60": (lambda: _header_patch(60, 0xC1), "nuh_layer_id", "error"),
    "nuh_temporal_id_plus1_0": (lambda: _header_patch(0x00, 0xC0), "nuh_temporal_id_plus1", "error"),
    "non_base_before_base": (lambda: stream([(GFV, gfv_absolute(cnt=1))]), "gfv_cnt", "warning"),
    "prediction_without_base": (
        lambda: annexb(nal(GFV, written([(GFV, gfv_base()), (GFV, gfv_next())])[1])),
        "gfv_kps_pred_flag",
        "error",
    ),
    "gfv_cnt_not_increasing": (
        lambda: stream([(GFV, gfv_base()), (GFV, gfv_next(cnt=2)), (GFV, gfv_next(cnt=1))]),
        "gfv_cnt",
        "error",
    ),
    "gfve_refers_to_missing_gfv": (
        lambda: stream([(GFV, gfv_base()), (GFVE, gfve_message(gfv_id=9))]),
        "gfve_gfv_id",
        "error",
    ),
    "keypoint_prediction_without_reference": (
        lambda: stream(
            [
                (GFV, gfv_base()),
                (GFV, gfv_absolute(cnt=1, xs=(5,), ys=(6,), elements=None)),
                (GFV, gfv_next(cnt=2, deltas=None)),
            ]
        ),
        "gfv_kps_pred_flag",
        "error",
    ),
    "matrix_prediction_without_reference": (
        lambda: stream(
            [(GFV, gfv_base()), (GFV, gfv_absolute(cnt=1, elements=(4,), width=1, height=1)), (GFV, gfv_next(cnt=2))]
        ),
        "gfv_matrix_pred_flag",
        "error",
    ),
    "gfve_prediction_without_base": (
        lambda: stream(
            [(GFV, gfv_base()), (GFVE, gfve_message(gfv_cnt=0)), (GFVE, gfve_message(gfve_id=3, gfv_cnt=0, base=False))]
        ),
        "gfve_gfv_cnt",
        "error",
    ),
    "nnpfa_without_nnpfc": (lambda: stream([(NNPFA, NNPFA_VALUES)]), "nnpfa_target_id", "error"),
    "spti_in_suffix_sei": (
        lambda: annexb(nal(SPTI, written([(SPTI, SPTI_VALUES)])[0], SUFFIX)),
        "payloadType",
        "error",
    ),
    "suffix_sei_before_vcl": (lambda: write_annexb([nal(GFV, _base_payload()), SLICE]), "nal_unit_type", "error"),
    "gfv_in_prefix_sei": (lambda: annexb(nal(GFV, _base_payload(), PREFIX)), "payloadType", "error"),
    "gfve_in_prefix_sei": (
        lambda: annexb(nal(GFVE, written([(GFVE, gfve_message())])[0], PREFIX)),
        "payloadType",
        "error",
    ),
    # Beyond this software's bounds: a limit, not a non-conformance.
    "gfv_num_kps_minus1_over_limit": (_kps_over_limit, "gfv_num_kps_minus1", "limit"),
    "user_data_unregistered_7_bytes": (
        lambda: annexb(nal(5, bytes(range(7)), PREFIX)),
        "uuid_iso_iec_11578",
        "error",
    ),
    # Legal, but VTM misbehaves: warnings (the stream still conforms).
    "matrix_type_order_vtm_misparses": (_type_order, "gfv_matrix_type_idx", "warning"),
    "cnt0_non_base_matrix_prediction": (
        lambda: stream([(GFV, gfv_base()), (GFV, gfv_next(cnt=0))]),
        "gfv_matrix_pred_flag",
        "warning",
    ),
}


def huge_gfv_stream(key_stream: bytes, side: int = 1000, seed: int = 1) -> bytes:
    """``key_stream`` (a VVC stream with coded pictures) with its SEI removed and one base GFV
    message of ``side`` x ``side`` matrix elements (one type-7 matrix, P = 4, values drawn from
    ``seed`` in -600/16 .. 600/16) in the first access unit: the size test of bounded memory
    (``side`` 1000: 10^6 elements, about 1.6 MB)."""
    from sei.carriage import AccessUnitSEI, insert_sei, strip_sei

    rng = random.Random(seed)
    values = tuple(rng.randrange(-600, 600) for _ in range(997))
    payload = written([(GFV, gfv_base(width=side, height=side, elements=values))])[0]
    return insert_sei(strip_sei(key_stream), {0: AccessUnitSEI(suffix=[(GFV, payload)])})
