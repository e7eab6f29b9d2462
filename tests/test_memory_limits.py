"""Bounded memory (issue 13 item 3): compact element arrays and traces, the size limit of one GFV
message, and the peak memory of ``gfv-check`` / ``gfv-decode`` on a 10^6-element stream.

Sources: ``docs/conformance.md#memory-and-size-limits``; the public conformance vector
``gfv_cfte_type7`` (a VTM-coded picture) carries the huge message.
"""

from __future__ import annotations

import pickle
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_memory import peak_run  # noqa: E402
from sei_streams import GFV, GFVE, bits, close, gfv_base, huge_gfv_stream, written

from bitstream_spec.gfv import MAX_MATRIX_ELEMENTS
from refsw.apps import decoder_app
from sei.carriage import AccessUnitSEI, insert_sei, strip_sei
from sei.checker import check_stream
from sei.compact import ElementArray, TraceLog
from sei.context import DecodingContext
from sei.engine import DERIVED, Run
from sei.sei_message import SEIMessage, parse_payload

KEY_STREAM = Path("/work/shared/conformance/public/gfv_cfte_type7/gfv_cfte_type7.266")
#: The bar of issue 13: gfv-check and gfv-decode stay under this on the 10^6-element stream.
PEAK_LIMIT_MB = 300


def test_element_array_reads_as_the_dict_it_replaces() -> None:
    rng = random.Random(5)
    ref: dict = {}
    arr = ElementArray()
    for key in [(i, j, k) for i in range(3) for j in range(4) for k in range(5)]:
        if rng.random() < 0.7:
            ref[key] = rng.randrange(-(2**40), 2**40)
            arr.add(key, ref[key])
    assert arr == ref and ref == arr
    assert list(arr.items()) == list(ref.items())
    assert all(arr[k] == v for k, v in ref.items())
    assert arr.get((9, 9, 9)) is None and (0, 0) not in arr
    assert pickle.loads(pickle.dumps(arr)) == ref


@pytest.mark.parametrize("late", [((0, 0), 1), ((1 << 16, 0), 1), ((5, 5), 1 << 70), ((7, 7), "x")])
def test_element_array_becomes_a_dict_for_what_it_cannot_pack(late: tuple) -> None:
    arr = ElementArray()
    arr.add((0, 1), 3)
    arr.add((2, 0), 4)
    arr.add(*late)
    ref = {(0, 1): 3, (2, 0): 4}
    ref[late[0]] = late[1]
    assert arr == ref and list(arr) == list(ref) and arr.to_numpy() is None


def test_trace_log_is_the_list_of_records() -> None:
    records = [("a", 1, 0), ("b", 1 << 65, 3), (DERIVED, "X", None), ("a", Run(5, 3, 1), 9), ("c", True, 12)]
    log = TraceLog()
    for r in records:
        log.append(r)
    assert log == records and list(log) == records and len(log) == 5
    assert log[-1] == records[-1] and log[1:3] == records[1:3] and type(log[4][1]) is bool


def test_parsed_matrix_elements_are_compact() -> None:
    payload = written([(GFV, gfv_base(width=30, height=20, elements=tuple(range(-40, 41))))])[0]
    msg = parse_payload(SEIMessage(GFV, len(payload), payload), DecodingContext())
    values = msg.values or {}
    assert isinstance(values["gfv_matrix_element_int"], ElementArray)
    assert isinstance(msg.trace, TraceLog)
    assert len(values["gfv_matrix_element_dec"]) == 600
    assert values["gfv_matrix_element_dec"][(0, 0, 19, 29)] == abs(range(-40, 41)[599 % 81]) % 16


def _over_limit_stream() -> bytes:
    """The key stream with a base GFV message of two type-7 matrices of MAX_MATRIX_ELEMENTS + 2048
    elements whose payload is long enough for them (2 bits each): only the size limit stops it."""
    header = bits(
        ("ue", 0),
        ("ue", 0),
        ("u", 1, 1),  # gfv_base_picture_flag
        ("u", 0, 1),  # gfv_nn_present_flag
        ("u", 0, 1),  # gfv_chroma_key_info_present_flag
        ("u", 0, 1),  # gfv_low_confidence_face_parameter_flag
        ("u", 0, 1),  # gfv_coordinate_present_flag
        ("u", 1, 1),  # gfv_matrix_present_flag
        ("ue", 3),
        ("ue", 0),
        ("u", 7, 6),
        ("ue", 1),  # two matrices
        ("ue", 1023),  # of 1024 columns
        ("ue", MAX_MATRIX_ELEMENTS // 2048),  # and 513 rows
        ("bytes", bytes(MAX_MATRIX_ELEMENTS // 4 + 1024)),
    )
    return insert_sei(strip_sei(KEY_STREAM.read_bytes()), {0: AccessUnitSEI(suffix=[(GFV, close(header))])})


def test_gfve_size_limit_is_a_limit_finding() -> None:
    """A base GFVE message with two 513 x 1024 matrices (MAX_MATRIX_ELEMENTS + 2048 elements)
    and a payload long enough for them."""
    header = bits(
        ("ue", 0),  # gfve_id
        ("ue", 0),  # gfve_gfv_id
        ("ue", 0),  # gfve_gfv_cnt
        ("u", 1, 1),  # gfve_base_picture_flag
        ("u", 0, 1),  # gfve_nn_present_flag
        ("u", 1, 1),  # gfve_matrix_present_flag
        ("ue", 3),  # gfve_matrix_element_precision_factor_minus1
        ("ue", 1),  # gfve_num_matrices_minus1
        *[("ue", v) for v in (MAX_MATRIX_ELEMENTS // 2048, 1023) * 2],  # height_minus1, width_minus1
        ("bytes", bytes(MAX_MATRIX_ELEMENTS // 4 + 1024)),
    )
    data = insert_sei(strip_sei(KEY_STREAM.read_bytes()), {0: AccessUnitSEI(suffix=[(GFVE, close(header))])})
    found = [(f.element, f.severity, f.payload_type) for f in check_stream(data).findings]
    assert ("NumMatrixElements", "limit", GFVE) in found, found


def test_size_limit_is_a_limit_finding_and_a_one_line_decoder_error(tmp_path: Path, capsys) -> None:
    data = _over_limit_stream()
    report = check_stream(data)
    assert [(f.element, f.severity) for f in report.findings] == [("NumMatrixElements", "limit")]
    assert report.conformant and str(MAX_MATRIX_ELEMENTS) in report.findings[0].rule
    stream = tmp_path / "over.266"
    stream.write_bytes(data)
    capsys.readouterr()
    assert decoder_app.main(["-b", str(stream), "-o", str(tmp_path / "out.y4m"), "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "limit" in err, err
    assert not (tmp_path / "out.y4m").exists()


@pytest.mark.slow
def test_check_and_decode_of_a_million_elements_use_bounded_memory(tmp_path: Path) -> None:
    """gfv-check and gfv-decode stay under 300 MB (issue 13's bar), and gfv-decode needs less
    than 200 MB more than for the same key picture alone."""
    key = strip_sei(KEY_STREAM.read_bytes())
    huge = tmp_path / "huge.266"
    huge.write_bytes(huge_gfv_stream(key, 1000))
    assert huge.stat().st_size > 1_500_000
    plain = tmp_path / "key.266"
    plain.write_bytes(key)
    check_mb, _, _, rc, out = peak_run([sys.executable, "-m", "refsw.apps.check_app", "-b", str(huge)])
    assert rc == 0 and "conformant" in out, out
    peaks = []
    for stream in (plain, huge):
        mb, _, _, _, out = peak_run(
            [sys.executable, "-m", "refsw.apps.decoder_app", "-b", str(stream), "-o", str(tmp_path / "o.y4m"), "-y"]
        )
        assert "Traceback" not in out, out
        peaks.append(mb)
    assert check_mb < PEAK_LIMIT_MB, check_mb
    assert peaks[1] < PEAK_LIMIT_MB and peaks[1] - peaks[0] < 200, peaks
