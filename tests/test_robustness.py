"""Robustness of the SEI parser and the checker: any byte string ends in a result or a typed
:class:`sei.errors.SEIError` (no other exception, no hang, memory bounded by the input).

* property-based fuzzing (hypothesis, bounded: fixed example counts, no per-example deadline
  but a generous hang guard) of :func:`sei.stream.read_stream_sei` and
  :func:`sei.checker.check_stream` with mutated and truncated conformance vectors, random
  bytes, and random payloads inside valid SEI framing after a valid base message;
* hand-made broken streams of every kind the checker knows (``sei_streams.BROKEN``), each
  asserting its finding, plus the typed errors of the lower layers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sei_streams import (
    BROKEN,
    GFV,
    GFVE,
    NNPFA,
    NNPFC,
    SPTI,
    annexb,
    gfv_base,
    gfv_large_base,
    gfve_message,
    nal,
    written,
)
from test_sei_units import gfv_sequences

from sei.bitio import BitReader
from sei.checker import check_stream
from sei.context import DecodingContext
from sei.errors import BitstreamError, SEIError
from sei.nal import ebsp_to_rbsp, split_annexb
from sei.sei_message import split_sei_rbsp
from sei.stream import read_stream_sei

#: Seconds one input may take at most (a hang guard; typical inputs take milliseconds).
HANG_GUARD = 20.0
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _public_dir() -> Path:
    import os

    env = os.environ.get("GFV_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    return shared / "conformance" / "public"


def _vectors() -> list[bytes]:
    """The public vectors; the 125-message one cut after its first 12 NAL units (a valid
    stream too) to keep each example fast."""
    out = []
    for path in sorted(_public_dir().glob("*/*.266")):
        data = path.read_bytes()
        chunks = split_annexb(data)
        if len(chunks) > 12:
            data = data[: chunks[12][0] - 3]
        out.append(data)
    return out


VECTORS = _vectors()

#: For the tests that mutate the vectors: without them they test nothing, so they are skipped
#: (and counted in the summary line about the shared directory).
needs_vectors = pytest.mark.skipif(not VECTORS, reason=f"shared directory {_public_dir()} not found (set GFV_SHARED)")


def _sei_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the SEI NAL units of ``data`` (where mutations matter most)."""
    return [(off, off + len(raw)) for off, _, raw in split_annexb(data) if len(raw) > 1 and (raw[1] >> 3) in (23, 24)]


def _exercise(data: bytes) -> None:
    """The property: every entry point ends in a result or an SEIError, in bounded time."""
    start = time.perf_counter()
    for mode in ("vtm", "spec"):
        for variant in ("C", "B"):
            try:
                stream = read_stream_sei(data, DecodingContext(mode=mode, variant=variant))
                stream.trace_text()
            except SEIError:
                pass
    try:
        report = check_stream(data, want_trace=True)
    except BitstreamError:
        pass
    else:
        json.dumps(report.to_json())
        for f in report.findings:
            assert f.severity in ("error", "warning", "limit") and f.element and f.rule and f.source
    assert time.perf_counter() - start < HANG_GUARD


@st.composite
def mutated_vectors(draw) -> bytes:
    """A conformance vector with a few byte edits (mostly inside SEI NAL units) or truncated."""
    data = bytearray(draw(st.sampled_from(VECTORS)))
    spans = _sei_spans(bytes(data)) or [(0, len(data))]
    for _ in range(draw(st.integers(1, 5))):
        lo, hi = draw(st.sampled_from(spans))
        hi = min(hi, len(data))
        if hi <= lo:
            continue
        pos = draw(st.integers(lo, hi - 1))
        op = draw(st.sampled_from(("set", "flip", "insert", "delete", "zeros", "truncate")))
        if op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif op == "zeros":
            data[pos : pos + 4] = bytes(4)
        else:
            del data[pos:]
            break
    return bytes(data)


@needs_vectors
@FUZZ
@given(mutated_vectors())
def test_fuzz_mutated_vectors(data: bytes) -> None:
    _exercise(data)


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda b: b"\x00\x00\x01" + b)))
def test_fuzz_random_bytes(data: bytes) -> None:
    _exercise(data)


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from((GFV, GFVE, NNPFC, NNPFA, SPTI, 5)), st.binary(max_size=48), st.booleans()),
        min_size=1,
        max_size=4,
    )
)
def test_fuzz_random_payloads_after_valid_base(messages: list[tuple[int, bytes, bool]]) -> None:
    """Random payloads in valid framing, after valid GFV/GFVE base messages, so that the
    predicted-message paths and their state are exercised."""
    base = written([(GFV, gfv_base()), (GFVE, gfve_message())])
    nals = [nal(GFV, base[0]), nal(GFVE, base[1])]
    nals += [nal(ptype, payload, 24 if swap == (ptype not in (GFV, GFVE)) else 23) for ptype, payload, swap in messages]
    _exercise(annexb(*nals))


@FUZZ
@given(gfv_sequences(), st.lists(st.integers(0, 1 << 16), min_size=1, max_size=4), st.booleans())
def test_fuzz_bit_flips_in_random_gfv_messages(messages: list[dict], flips: list[int], spec: bool) -> None:
    """Valid random GFV messages (base and predicted, all matrix types) with a few bits flipped:
    reaches deep into the syntax and the prediction state before going wrong."""
    payloads = [bytearray(p) for p in written([(GFV, m) for m in messages], mode="spec" if spec else "vtm")]
    for flip in flips:
        target = payloads[flip % len(payloads)]
        bit = (flip >> 1) % (8 * len(target))
        target[bit >> 3] ^= 0x80 >> (bit & 7)
    _exercise(annexb(*(nal(GFV, bytes(p)) for p in payloads)))


# --------------------------------------------------------------------------- hand-made streams
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_stream_finding(name: str) -> None:
    build, element, severity = BROKEN[name]
    data = build()
    start = time.perf_counter()
    report = check_stream(data)
    assert time.perf_counter() - start < HANG_GUARD
    hits = [f for f in report.findings if f.element == element and f.severity == severity]
    assert hits, f"{name}: no {severity} on {element}; got {[(f.element, f.severity) for f in report.findings]}"
    assert report.conformant == (severity != "error" and not report.errors)
    _exercise(data)


def test_ue_with_40_leading_zeros_is_a_typed_error() -> None:
    with pytest.raises(BitstreamError):
        BitReader(bytes(5) + b"\x80\xff\xff\xff\xff\xff\xff").ue()
    stream = read_stream_sei(BROKEN["ue_with_40_leading_zeros"][0]())
    [(_, msg)] = stream.messages
    assert isinstance(msg.error, BitstreamError) and msg.error.element == "gfv_id"
    assert msg.values is None


def test_payload_size_2_pow_20_is_a_typed_error() -> None:
    data = BROKEN["payload_size_2_pow_20"][0]()
    [(_, _, raw)] = split_annexb(data)[1:]
    with pytest.raises(BitstreamError) as err:
        split_sei_rbsp(ebsp_to_rbsp(raw[2:]))
    assert err.value.element == "payloadSize"
    stream = read_stream_sei(data)
    assert stream.messages == [] and stream.errors[1].element == "payloadSize"


def test_st_without_terminator_is_a_typed_error() -> None:
    r = BitReader(b"abc")
    with pytest.raises(BitstreamError):
        r.st()
    [(_, msg)] = read_stream_sei(BROKEN["st_without_terminator"][0]()).messages
    assert msg.error is not None and msg.error.element == "gfv_uri_tag"


def test_nal_unit_cut_in_half() -> None:
    stream = read_stream_sei(BROKEN["nal_unit_cut_in_half"][0]())
    assert stream.messages == [] and stream.errors[1].element == "payloadSize"


@pytest.mark.parametrize("name", ["huge_gfv_num_kps_minus1", "huge_num_matrices"])
def test_huge_counts_stop_early(name: str) -> None:
    """Counts read from the payload that the payload cannot hold are refused before any loop
    (``Require`` nodes bounding NumKps and NumMatrices * H * W by the bits left)."""
    data = BROKEN[name][0]()
    start = time.perf_counter()
    [(_, msg)] = read_stream_sei(data).messages
    assert time.perf_counter() - start < 1.0
    assert msg.error is not None and msg.error.element in ("NumKps", "NumMatrices")
    assert "payload" in str(msg.error)


def test_broken_emulation_prevention_is_a_typed_error() -> None:
    for name, element in (
        ("emulation_00_00_02", "rbsp_byte"),
        ("emulation_byte_after_epb", "emulation_prevention_three_byte"),
    ):
        with pytest.raises(BitstreamError) as err:
            read_stream_sei(BROKEN[name][0]())
        assert err.value.element == element


def test_not_annexb_is_a_typed_error() -> None:
    for data in (b"", b"hello", b"\x01\x02\x03"):
        with pytest.raises(BitstreamError):
            read_stream_sei(data)
        with pytest.raises(BitstreamError):
            check_stream(data)


def test_large_payload_parses_in_linear_time() -> None:
    """A 1 MB NN payload and 1 MB of reserved payload extension data: the windowed bit
    reader keeps every read O(1), so this takes well under a second, not minutes."""
    big = bytes(range(1, 256)) * 4000
    base = dict(gfv_base(), gfv_nn_present_flag=1, gfv_nn_mode_idc=0, gfv_nn_payload_byte=big)
    ctx = DecodingContext()
    from sei.sei_message import write_payload

    payload, _ = write_payload(GFV, base, ctx)
    extended, _ = write_payload(GFV, gfv_base(), DecodingContext(), reserved_extension=(8 * len(big), 1 + (1 << 100)))
    start = time.perf_counter()
    stream = read_stream_sei(annexb(nal(GFV, payload), nal(GFV, extended)), want_trace=False)
    assert time.perf_counter() - start < 5.0
    assert stream.messages[0][1].values["gfv_nn_payload_byte"] == big
    assert stream.messages[1][1].reserved_extension is not None


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, (1 << 32) - 1))
def test_bit_reader_across_windows(seed: int) -> None:
    """Codes of every size read back across window refills (data of several windows)."""
    import random

    from sei.bitio import BitWriter

    rng = random.Random(seed)
    fields: list[tuple] = []
    for _ in range(1200):
        kind = rng.choice(("ue", "se", "u"))
        if kind == "ue":
            fields.append(("ue", rng.choice((0, 1, rng.randrange(1 << 16), (1 << 32) - 2))))
        elif kind == "se":
            fields.append(("se", rng.randrange(-(1 << 31) + 1, 1 << 31)))
        else:
            n = rng.randrange(33)
            fields.append(("u", rng.randrange(1 << n), n))
    w = BitWriter()
    for f in fields:
        getattr(w, f[0])(*f[1:])
    while w.pos & 7:
        w.u(0, 1)
    data = w.getvalue()
    assert len(data) > 2 * BitReader.WINDOW
    r = BitReader(data)
    assert [getattr(r, f[0])(*f[2:]) for f in fields] == [f[1] for f in fields]


def test_generated_reader_across_windows() -> None:
    """A GFV payload of tens of kilobytes (3000 keypoints, a 40 x 40 matrix) parsed by the
    generated inline reader, whose window is refilled many times, equals what was written."""
    import random

    from sei.sei_message import SEIMessage, parse_payload, write_payload

    rng = random.Random(3)
    values = gfv_large_base(rng)
    payload, _ = write_payload(GFV, values, DecodingContext())
    assert len(payload) > 20 * BitReader.WINDOW
    msg = parse_payload(SEIMessage(GFV, len(payload), payload), DecodingContext())
    assert msg.findings == []
    for name, value in values.items():
        assert msg.values[name] == value, name
