"""Unit tests of the SEI layer: bit I/O descriptors, emulation prevention, ``sei_message``
framing, and the GFV syntax table (worked example of ``docs/gfv_sei.md#worked-example`` and a
property test over random syntax values)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sei.bitio import UE_MAX, BitReader, BitWriter
from sei.context import DecodingContext
from sei.engine import DERIVED
from sei.errors import BitstreamError, SEIWriteError
from sei.nal import ebsp_to_rbsp, make_nal_unit, parse_nal_unit, rbsp_to_ebsp
from sei.sei_message import (
    SEIMessage,
    frame_sei_message,
    parse_payload,
    sei_rbsp,
    split_sei_rbsp,
    write_payload,
)

GFV = 223


# --------------------------------------------------------------------------- bit I/O
@pytest.mark.parametrize(("value", "n"), [(0, 1), (1, 1), (0, 8), (255, 8), (0xABCD, 16), ((1 << 32) - 1, 32), (5, 3)])
def test_u_round_trip(value: int, n: int) -> None:
    w = BitWriter()
    w.u(value, n)
    w.u(0, (-n) % 8)
    r = BitReader(w.getvalue())
    assert r.u(n) == value


@pytest.mark.parametrize("value", [0, 1, 2, 3, 254, 255, 65535, (1 << 31) - 1, UE_MAX - 1, UE_MAX])
def test_ue_round_trip(value: int) -> None:
    w = BitWriter()
    w.ue(value)
    w.u(1, 1)
    while not w.byte_aligned():
        w.u(0, 1)
    r = BitReader(w.getvalue())
    assert r.ue() == value
    assert r.u(1) == 1


def test_ue_edge_codes() -> None:
    w = BitWriter()
    w.ue(0)
    w.ue(UE_MAX)
    assert w.pos == 1 + 63
    assert UE_MAX == (1 << 32) - 2
    with pytest.raises(SEIWriteError):
        BitWriter().ue(UE_MAX + 1)
    with pytest.raises(SEIWriteError):
        BitWriter().ue(-1)


@pytest.mark.parametrize("value", [0, 1, -1, 2, -2, 1000, -1000, (1 << 31) - 1, -((1 << 31) - 1)])
def test_se_round_trip(value: int) -> None:
    w = BitWriter()
    w.se(value)
    w.u(1, 1)
    while not w.byte_aligned():
        w.u(0, 1)
    assert BitReader(w.getvalue()).se() == value


@pytest.mark.parametrize("text", ["", "a", "urn:example:nnpf:tag", "\u00e9\u4e2d"])
def test_st_round_trip(text: str) -> None:
    w = BitWriter()
    w.st(text)
    w.u(0x5A, 8)
    r = BitReader(w.getvalue())
    assert r.st() == text
    assert r.u(8) == 0x5A


def test_ue_with_32_leading_zeros_raises() -> None:
    # 32 zero bits then a one: a code longer than VTM's xReadUvlc accepts.
    data = bytes(4) + b"\x80" + bytes(4)
    with pytest.raises(BitstreamError):
        BitReader(data).ue()
    with pytest.raises(BitstreamError):
        BitReader(bytes(8)).ue()


def test_st_without_terminator_raises() -> None:
    r = BitReader(b"abc")
    with pytest.raises(BitstreamError):
        r.st()
    assert r.pos == 0


def test_read_past_end_raises() -> None:
    r = BitReader(b"\xff")
    assert r.u(7) == 0x7F
    with pytest.raises(BitstreamError):
        r.u(2)
    with pytest.raises(BitstreamError):
        BitReader(b"\x01").ue()  # suffix of 7 bits needed, none left
    with pytest.raises(BitstreamError):
        BitReader(b"").u(1)


def test_writer_rejects_overflow_and_unaligned() -> None:
    with pytest.raises(SEIWriteError):
        BitWriter().u(2, 1)
    w = BitWriter()
    w.u(1, 3)
    with pytest.raises(SEIWriteError):
        w.getvalue()


# --------------------------------------------------------------------------- emulation prevention
@pytest.mark.parametrize(
    ("rbsp", "ebsp"),
    [
        ("abcd80", "abcd80"),
        ("000001", "00000301"),
        ("000002", "00000302"),
        ("000003", "00000303"),
        ("000004", "000004"),
        ("00000003", "0000030003"),
        ("00000000", "000003000003"),
        ("0000", "000003"),
        # An RBSP ends in 00 only with cabac_zero_words (0x0000): VTM appends 03.
        ("800000", "80000003"),
        ("8000000000", "80000003000003"),
        ("aa00000380", "aa0000030380"),
    ],
)
def test_emulation_prevention_round_trip(rbsp: str, ebsp: str) -> None:
    raw = bytes.fromhex(rbsp)
    coded = rbsp_to_ebsp(raw)
    assert coded.hex() == ebsp
    assert ebsp_to_rbsp(coded) == raw


def test_emulation_prevention_forbidden_sequences() -> None:
    with pytest.raises(BitstreamError):
        ebsp_to_rbsp(bytes.fromhex("aa000001"))
    with pytest.raises(BitstreamError):
        ebsp_to_rbsp(bytes.fromhex("00000304"))


def test_nal_unit_round_trip() -> None:
    rbsp = bytes.fromhex("df0300000180")
    nal = make_nal_unit(24, rbsp)
    assert nal.hex() == "00c1df030000030180"
    parsed = parse_nal_unit(nal)
    assert (parsed.nal_unit_type, parsed.nuh_layer_id, parsed.nuh_temporal_id_plus1) == (24, 0, 1)
    assert parsed.rbsp == rbsp


# --------------------------------------------------------------------------- sei_message framing
@pytest.mark.parametrize(
    ("size", "size_bytes"), [(0, "00"), (254, "fe"), (255, "ff00"), (300, "ff2d"), (510, "ffff00")]
)
def test_sei_message_payload_size(size: int, size_bytes: str) -> None:
    payload = (bytes(range(256)) * 2)[:size]
    framed = frame_sei_message(GFV, payload)
    assert framed[: 1 + len(size_bytes) // 2].hex() == "df" + size_bytes
    rbsp = sei_rbsp([(GFV, payload)])
    assert rbsp[-1] == 0x80
    [(ptype, psize, off)] = split_sei_rbsp(rbsp)
    assert (ptype, psize) == (GFV, size)
    assert rbsp[off : off + psize] == payload


def test_sei_message_payload_type_extension() -> None:
    assert frame_sei_message(300, b"")[:3].hex() == "ff2d00"
    assert split_sei_rbsp(sei_rbsp([(300, b"\x01"), (210, b"")])) == [(300, 1, 3), (210, 0, 6)]


def test_sei_rbsp_broken_framing_raises() -> None:
    with pytest.raises(BitstreamError):
        split_sei_rbsp(bytes.fromhex("df05aabb80"))  # payloadSize beyond the NAL unit
    with pytest.raises(BitstreamError):
        split_sei_rbsp(bytes.fromhex("df01aa00"))  # no rbsp_trailing_bits


# --------------------------------------------------------------------------- GFV worked example
#: docs/gfv_sei.md#worked-example: coded values of the worked example (X, Y quantised with Q = 9,
#: the first eight matrix elements of VTM's sample cfg with P = 9).
WORKED_EXAMPLE = {
    "gfv_id": 1,
    "gfv_cnt": 0,
    "gfv_base_picture_flag": 1,
    "gfv_nn_present_flag": 1,
    "gfv_nn_mode_idc": 1,
    "gfv_uri_tag": "t",
    "gfv_uri": "u",
    "gfv_chroma_key_info_present_flag": 0,
    "gfv_low_confidence_face_parameter_flag": 0,
    "gfv_coordinate_present_flag": 1,
    "gfv_kps_pred_flag": 0,
    "gfv_coordinate_precision_factor_minus1": 8,
    "gfv_num_kps_minus1": 1,
    "gfv_coordinate_z_present_flag": 0,
    "gfv_coordinate_x_abs": {0: 79, 1: 66},
    "gfv_coordinate_x_sign_flag": {0: 0, 1: 1},
    "gfv_coordinate_y_abs": {0: 57, 1: 229},
    "gfv_coordinate_y_sign_flag": {0: 0, 1: 0},
    "gfv_matrix_present_flag": 1,
    "gfv_matrix_element_precision_factor_minus1": 8,
    "gfv_num_matrix_types_minus1": 0,
    "gfv_matrix_type_idx": {0: 0},
    "gfv_num_matrices_equal_to_num_kps_flag": {0: 1},
    "gfv_matrix_element_int": dict(
        zip([(0, j, k, m) for j in range(2) for k in range(2) for m in range(2)], [1, 0, 0, 1, 1, 0, 0, 1])
    ),
    "gfv_matrix_element_dec": dict(
        zip([(0, j, k, m) for j in range(2) for k in range(2) for m in range(2)], [102, 92, 54, 77, 140, 74, 134, 65])
    ),
    "gfv_matrix_element_sign_flag": dict(
        zip([(0, j, k, m) for j in range(2) for k in range(2) for m in range(2)], [0, 0, 0, 0, 0, 1, 0, 0])
    ),
}
WORKED_EXAMPLE_PAYLOAD = "5d0074007500212805003a010e039913028cc9711b113491892b431105"


def _read(payload: bytes, ctx: DecodingContext, ptype: int = GFV) -> SEIMessage:
    return parse_payload(SEIMessage(ptype, len(payload), payload), ctx)


def _syntax_trace(trace: list) -> list[tuple[str, object]]:
    return [(label, value) for label, value, _ in trace if label is not DERIVED]


def test_gfv_worked_example_bytes() -> None:
    wtrace: list = []
    payload, _ = write_payload(GFV, WORKED_EXAMPLE, DecodingContext(), wtrace)
    assert payload.hex() == WORKED_EXAMPLE_PAYLOAD
    assert len(payload) == 29
    nal = make_nal_unit(24, sei_rbsp([(GFV, payload)]))
    assert nal.hex() == "00c1df1d" + WORKED_EXAMPLE_PAYLOAD + "80"
    msg = _read(payload, DecodingContext())
    assert msg.findings == []
    for name, value in WORKED_EXAMPLE.items():
        assert msg.values[name] == value, name
    # The writer traces the same lines as the reader, so enc and dec traces can be diffed.
    assert _syntax_trace(wtrace) == _syntax_trace(msg.trace)


def test_gfv_worked_example_quantised_from_floats() -> None:
    from refsw.encoder.quantise import quantise_coordinates, quantise_matrices

    ctx = DecodingContext()
    state = ctx.select_state(GFV, 1)
    quantised = ("_abs", "_sign_flag", "_element_int", "_element_dec")
    v = {k: val for k, val in WORKED_EXAMPLE.items() if not k.endswith(quantised)}
    quantise_coordinates(
        v, [[0.15506838262081146, -0.1306094527244568], [0.11206743121147156, 0.44642096757888794]], state
    )
    quantise_matrices(
        v,
        [
            1.198740839958191,
            0.17942827939987183,
            0.10452361404895782,
            1.1505632400512695,
            1.272597074508667,
            -0.14475777745246887,
            0.26110324263572693,
            1.1278012990951538,
        ],
        9,
        state,
        num_kps=2,
    )
    payload, _ = write_payload(GFV, v, ctx)
    assert payload.hex() == WORKED_EXAMPLE_PAYLOAD


def test_gfv_writer_refuses_missing_and_out_of_range_values() -> None:
    broken = dict(WORKED_EXAMPLE)
    del broken["gfv_uri"]
    with pytest.raises(SEIWriteError):
        write_payload(GFV, broken, DecodingContext())
    broken = dict(WORKED_EXAMPLE, gfv_coordinate_precision_factor_minus1=32)
    with pytest.raises(SEIWriteError):
        write_payload(GFV, broken, DecodingContext())


# --------------------------------------------------------------------------- GFV property test
_UE = st.integers(0, UE_MAX)
_SMALL_UE = st.integers(0, 300)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)


def _signed(draw, v: dict, name: str, key, big: bool = True) -> None:
    """``name_abs[key]`` and, when non-zero, ``name_sign_flag[key]``."""
    mag = draw(_UE if big else _SMALL_UE)
    v.setdefault(name + "_abs", {})[key] = mag
    if mag:
        v.setdefault(name + "_sign_flag", {})[key] = draw(st.integers(0, 1))


def _coordinates(draw, v: dict, base: bool, base_coords: tuple | None) -> tuple[int, int] | None:
    """Coordinate syntax; returns ``(NumKps, ZPresent)`` of the message, ``None`` if absent."""
    v["gfv_coordinate_present_flag"] = present = draw(st.integers(0, 1))
    if not present:
        return None
    pred = draw(st.integers(0, 1)) if (base or base_coords) else 0
    v["gfv_kps_pred_flag"] = pred
    if base or not pred:
        v["gfv_coordinate_precision_factor_minus1"] = draw(st.integers(0, 31))
        v["gfv_num_kps_minus1"] = num = draw(st.integers(0, 3))
        v["gfv_coordinate_z_present_flag"] = z = draw(st.integers(0, 1))
        if z:
            v["gfv_coordinate_z_max_value_minus1"] = draw(st.integers(0, 65535))
        num += 1
    else:
        num, z = base_coords
    axes = ("x", "y", "z") if z else ("x", "y")
    for i in range(num):
        for axis in axes:
            _signed(draw, v, f"gfv_coordinate_{'d' if pred else ''}{axis}", i)
    return num, z


def _matrix_types(draw, v: dict, coords: tuple[int, int] | None) -> list[tuple[int, int, int]]:
    """Matrix type descriptions; returns ``(NumMatrices, height, width)`` per type."""
    v["gfv_matrix_element_precision_factor_minus1"] = draw(st.integers(0, 31))
    v["gfv_num_matrix_types_minus1"] = n = draw(st.integers(0, 2))
    num_kps, z = coords or (0, 0)
    allowed = list(range(64)) if coords else list(range(2, 64))
    dims = []
    for i in range(n + 1):
        t = draw(st.sampled_from(allowed))
        v.setdefault("gfv_matrix_type_idx", {})[i] = t
        if t <= 1:
            flag = draw(st.integers(0, 1))
            v.setdefault("gfv_num_matrices_equal_to_num_kps_flag", {})[i] = flag
            if flag:
                count = num_kps
            else:
                info = draw(st.integers(0, 3))
                v.setdefault("gfv_num_matrices_info", {})[i] = info
                count = info + 1 if info < num_kps - 1 else info + 2
            dims.append((count, z + 2, z + 2))
        elif t in (2, 3) or t >= 7:
            count = 1
            if t >= 7:
                count = draw(st.integers(1, 2))
                v.setdefault("gfv_num_matrices_minus1", {})[i] = count - 1
            h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            v.setdefault("gfv_matrix_width_minus1", {})[i] = w - 1
            v.setdefault("gfv_matrix_height_minus1", {})[i] = h - 1
            dims.append((count, h, w))
        else:
            space3d = z
            if not coords:
                space3d = draw(st.integers(0, 1))
                v.setdefault("gfv_matrix_3d_space_flag", {})[i] = space3d
            dims.append((1, space3d + 2, 1 if t in (5, 6) else space3d + 2))
    return dims


def _matrix_elements(draw, v: dict, dims: list[tuple[int, int, int]], prec: int, pred: int) -> None:
    pre = "gfv_matrix_delta_element" if pred else "gfv_matrix_element"
    for i, (count, h, w) in enumerate(dims):
        for key in [(i, j, k, m) for j in range(count) for k in range(h) for m in range(w)]:
            ip = draw(_SMALL_UE)
            dp = draw(_SMALL_UE if pred else st.integers(0, (1 << prec) - 1))
            v.setdefault(pre + "_int", {})[key] = ip
            v.setdefault(pre + "_dec", {})[key] = dp
            if ip or dp:
                v.setdefault(pre + "_sign_flag", {})[key] = draw(st.integers(0, 1))


@st.composite
def gfv_sequences(draw) -> list[dict]:
    """A base GFV message and a non-base one (Variant C), with random values in range."""
    base = {"gfv_id": draw(_UE), "gfv_cnt": 0, "gfv_base_picture_flag": 1}
    base["gfv_nn_present_flag"] = nn = draw(st.integers(0, 1))
    if nn:
        base["gfv_nn_mode_idc"] = mode = draw(st.integers(0, 2))
        if mode == 1:
            base["gfv_uri_tag"], base["gfv_uri"] = draw(_TEXT), draw(_TEXT)
        elif mode == 0:
            base["gfv_nn_payload_byte"] = draw(st.binary(max_size=12))
    base["gfv_chroma_key_info_present_flag"] = ck = draw(st.integers(0, 1))
    if ck:
        base["gfv_chroma_key_purpose_idc"] = draw(st.integers(0, 2))
        for c in range(3):
            present = draw(st.integers(0, 1))
            base.setdefault("gfv_chroma_key_value_present_flag", {})[c] = present
            if present:
                base.setdefault("gfv_chroma_key_value", {})[c] = draw(st.integers(0, 255))
        base["gfv_chroma_key_thr_present_flag"] = thr = draw(st.integers(0, 1))
        if thr:
            base["gfv_chroma_key_thr_lower"] = draw(st.integers(0, 255))
            base["gfv_chroma_key_thr_upper_delta_minus1"] = draw(st.integers(0, 255))
    base["gfv_low_confidence_face_parameter_flag"] = draw(st.integers(0, 1))
    coords = _coordinates(draw, base, True, None)
    base["gfv_matrix_present_flag"] = 1 if coords is None else draw(st.integers(0, 1))
    base_dims = None
    if base["gfv_matrix_present_flag"]:
        base_dims = _matrix_types(draw, base, coords)
        _matrix_elements(draw, base, base_dims, base["gfv_matrix_element_precision_factor_minus1"] + 1, 0)

    other = {
        "gfv_id": base["gfv_id"],
        "gfv_cnt": draw(st.integers(1, 5)),
        "gfv_low_confidence_face_parameter_flag": draw(st.integers(0, 1)),
    }
    own = _coordinates(draw, other, False, coords)
    other["gfv_matrix_present_flag"] = 1 if own is None else draw(st.integers(0, 1))
    if other["gfv_matrix_present_flag"]:
        other["gfv_matrix_pred_flag"] = pred = draw(st.integers(0, 1)) if base_dims else 0
        if pred:
            _matrix_elements(draw, other, base_dims, base["gfv_matrix_element_precision_factor_minus1"] + 1, 1)
        else:
            dims = _matrix_types(draw, other, own)
            _matrix_elements(draw, other, dims, other["gfv_matrix_element_precision_factor_minus1"] + 1, 0)
    return [base, other]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gfv_sequences())
def test_gfv_random_values_write_then_read_back(messages: list[dict]) -> None:
    wctx, rctx = DecodingContext(), DecodingContext()
    for values in messages:
        wtrace: list = []
        payload, _ = write_payload(GFV, values, wctx, wtrace)
        msg = _read(payload, rctx)
        assert [f for f in msg.findings if f.severity == "error"] == []
        for name, value in values.items():
            assert msg.values[name] == value, name
        assert _syntax_trace(wtrace) == _syntax_trace(msg.trace)


# --------------------------------------------------------------------------- other tables
def test_spti_non_persistent_loop_uses_sps_sublayers() -> None:
    values = {
        "spti_cancel_flag": 0,
        "spti_persistence_flag": 0,
        "spti_source_timing_equals_output_timing_flag": 0,
        "spti_source_type_present_flag": 1,
        "spti_source_type": 5,
        "spti_time_scale": 90000,
        "spti_num_units_in_elemental_interval": 3000,
        "spti_direction_flag": 1,
        "spti_sublayer_interval_scale_factor": {2: 7},
        "spti_sublayer_synthesized_picture_flag": {2: 1},
    }
    ctx = DecodingContext(sps_max_sublayers_minus1=2)
    payload, _ = write_payload(216, values, ctx)
    msg = _read(payload, DecodingContext(sps_max_sublayers_minus1=2), 216)
    for name, value in values.items():
        assert msg.values[name] == value, name
    assert [label for label, _, _ in msg.trace].count("spti_sublayer_interval_scale_factor") == 1


def test_nnpfa_without_trailing_flags_stops_after_output_flags() -> None:
    # nnpfa_target_id 0, cancel/persistence/base/no_prev 0, six output flags: 16 bits, byte
    # aligned, so no payload bits remain and VTM reads no prompt/seed/selected-input flags.
    w = BitWriter()
    w.ue(0)
    w.u(0b0000, 4)
    w.ue(6)
    w.u(0b101101, 6)
    msg = _read(w.getvalue(), DecodingContext(), 211)
    assert msg.findings == []
    assert msg.values["nnpfa_output_flag"] == dict(enumerate([1, 0, 1, 1, 0, 1]))
    assert "nnpfa_prompt_update_flag" not in msg.values
    # The writer always writes them (as VTM's does).
    payload, _ = write_payload(
        211,
        dict(
            msg.values,
            nnpfa_prompt_update_flag=1,
            nnpfa_prompt="p",
            nnpfa_seed_update_flag=1,
            nnpfa_seed=513,
            nnpfa_selected_input_flag=1,
            nnpfa_num_input_pic_shift=3,
        ),
        DecodingContext(),
    )
    back = _read(payload, DecodingContext(), 211)
    assert (back.values["nnpfa_prompt"], back.values["nnpfa_seed"], back.values["nnpfa_num_input_pic_shift"]) == (
        "p",
        513,
        3,
    )
