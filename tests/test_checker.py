"""``gfv-check`` end to end, in-process through ``main(argv)`` (no subprocess: the console script's
entry point itself is tested).

* every public vector checks clean (exit 0) except ``gfv_nnr_payload``, where VTM's writer puts
  reserved_payload_extension_data in the non-base messages (exit 1, those errors only);
* every hand-made broken stream (``sei_streams.BROKEN``, checked with ``--sei-only``: their
  slices are stand-ins) of severity error exits 1 and names its element; warnings exit 0; a
  ``limit`` alone exits 3 and is not called non-conformance;
* unreadable input exits 2;
* ``--json`` is valid JSON with the documented fields; ``--trace`` writes VTM's dump format;
* the library's strict path (``check_stream(..., strict=True)``,
  ``CheckReport.raise_for_errors``) raises a typed ``ConformanceError`` naming the element, its
  bit offset and the rule's source, and only for errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sei_streams import BROKEN
from test_conformance import VECTORS

from refsw.apps.check_app import main
from sei.checker import check_stream
from sei.errors import ConformanceError

FINDING_FIELDS = {
    "element",
    "rule",
    "source",
    "severity",
    "nal_index",
    "message_index",
    "payload_type",
    "payload_byte_offset",
    "payload_bit_offset",
    "nal_byte_offset",
    "nal_bit_offset",
    "stream_byte_offset",
}
#: Vectors in which VTM itself breaks a rule, with the only element that may be in error.
VTM_VIOLATIONS = {"gfv_nnr_payload": "reserved_payload_extension_data"}


def _vector(shared_dir: Path, name: str) -> Path:
    return shared_dir / "conformance" / "public" / name / f"{name}.266"


def _run_json(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.parametrize("mode", ["vtm", "spec"])
@pytest.mark.parametrize("name", VECTORS)
def test_public_vectors(shared_dir: Path, capsys: pytest.CaptureFixture, name: str, mode: str) -> None:
    code, report = _run_json(capsys, [str(_vector(shared_dir, name)), "--mode", mode])
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    if name in VTM_VIOLATIONS:
        assert code == 1
        assert {f["element"] for f in errors} == {VTM_VIOLATIONS[name]}
        # Only the non-base messages carry the NN payload VTM appends.
        assert [f["message_index"] for f in errors] == list(range(1, len(report["messages"])))
    else:
        assert code == 0, errors
        assert report["conformant"] and errors == []
    assert report["messages"] and all(m["parsed"] for m in report["messages"])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_streams(tmp_path: Path, capsys: pytest.CaptureFixture, name: str) -> None:
    build, element, severity = BROKEN[name]
    path = tmp_path / f"{name}.266"
    path.write_bytes(build())
    code, report = _run_json(capsys, [str(path), "--sei-only"])
    named = [f for f in report["findings"] if f["element"] == element and f["severity"] == severity]
    assert named, report["findings"]
    assert report["layers"].startswith("SEI layer only")
    if severity == "error":
        assert code == 1 and not report["conformant"]
    elif severity == "limit":
        assert report["conformant"] and report["num_limits"] == len(report["findings"])
        assert code == 3
    else:
        assert code == 0 and report["conformant"]
    for f in named:
        assert FINDING_FIELDS <= set(f)
        assert f["nal_index"] is not None and f["source"]
        if f["payload_bit_offset"] is not None:
            assert f["payload_byte_offset"] == f["payload_bit_offset"] // 8
            assert f["nal_bit_offset"] >= 8 * 2 + f["payload_bit_offset"]


def test_finding_offsets(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Positions in the payload and in the NAL unit (2-byte header, payloadType and
    payloadSize bytes before the payload) of a range violation found by the reader."""
    path = tmp_path / "prec.266"
    path.write_bytes(BROKEN["precision_factor_out_of_range"][0]())
    _, report = _run_json(capsys, [str(path), "--sei-only"])
    [f] = report["findings"]
    # gfv_id, gfv_cnt (1 bit each), 5 flags, gfv_kps_pred_flag: the precision factor is bit 8.
    assert (f["payload_byte_offset"], f["payload_bit_offset"]) == (1, 8)
    assert (f["nal_byte_offset"], f["nal_bit_offset"]) == (5, 40)
    assert f["message_index"] == 0 and f["payload_type"] == 223 and f["nal_index"] == 1


def test_human_report_on_stdout(shared_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """The findings and the verdict on stdout (``gfv-check -b s.266 > r.txt`` keeps them), the
    listing only with --verbose, nothing on stderr."""
    assert main(["-b", str(_vector(shared_dir, "gfv_nnr_payload"))]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "reserved_payload_extension_data" in captured.out and "NOT conformant" in captured.out
    assert "SUFFIX_SEI_NUT" not in captured.out
    assert main(["-b", str(_vector(shared_dir, "gfv_nnr_payload")), "--verbose"]) == 1
    assert "SUFFIX_SEI_NUT" in capsys.readouterr().out


def test_json_alone_on_stdout(shared_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """``gfv-check --json -b s.266 | python -m json.tool`` works: stdout is one JSON document."""
    assert main(["--json", "-b", str(_vector(shared_dir, "gfv_nnr_payload"))]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["num_errors"] > 0 and captured.err == ""


def test_stream_given_once(shared_dir: Path, capsys: pytest.CaptureFixture) -> None:
    vector = str(_vector(shared_dir, "gfv_vtm_sample"))
    with pytest.raises(SystemExit) as err:
        main(["-b", vector, vector])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        main([])


def test_trace_file_is_vtm_dump(shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    trace = tmp_path / "out.sei.txt"
    assert main(["-b", str(_vector(shared_dir, "gfv_vtm_sample")), "--trace-sei", str(trace)]) == 0
    expected = _vector(shared_dir, "gfv_vtm_sample").with_suffix(".sei.txt").read_text()
    assert trace.read_text() == expected


def test_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(tmp_path / "missing.266")]) == 2
    for name, data in (("text.266", b"not a video"), ("empty.266", b"")):
        path = tmp_path / name
        path.write_bytes(data)
        assert main([str(path), "--json"]) == 2
    assert main([str(tmp_path)]) == 2  # a directory
    assert "unreadable" in capsys.readouterr().err


def test_variant_option(shared_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """The sample stream is Variant C: read as Variant B (old chroma-key syntax) it breaks."""
    assert main([str(_vector(shared_dir, "gfv_vtm_sample")), "--variant", "B"]) == 1


def test_strict_check_raises_conformance_error() -> None:
    """The error of ``test_finding_offsets`` as a typed exception: element, payload bit offset,
    rule and source in ``finding``, the stream position in ``where`` and the message."""
    data = BROKEN["precision_factor_out_of_range"][0]()
    report = check_stream(data)
    with pytest.raises(ConformanceError) as raised:
        check_stream(data, strict=True)
    err = raised.value
    assert err.finding.element == BROKEN["precision_factor_out_of_range"][1]
    assert err.finding.bit_offset == 8 and err.finding.severity == "error"
    assert err.finding.source and err.finding.rule == report.errors[0].rule
    assert err.findings == report.errors
    stream_byte = report.errors[0].stream_byte_offset
    assert err.where == f"NAL 1, msg 0 (payloadType 223), NAL byte 5 bit 0, stream byte {stream_byte}"
    assert str(err).startswith(err.where + ": " + err.finding.element + " at payload byte 1 bit 0: ")
    assert str(err).endswith(f"[{err.finding.source}]")
    # The same from a report already made.
    with pytest.raises(ConformanceError) as again:
        report.raise_for_errors()
    assert str(again.value) == str(err)


def test_strict_check_counts_every_error(shared_dir: Path) -> None:
    """gfv_nnr_payload: one error per non-base message; the first is raised, all are listed."""
    data = _vector(shared_dir, "gfv_nnr_payload").read_bytes()
    with pytest.raises(ConformanceError) as raised:
        check_stream(data, strict=True)
    err = raised.value
    assert err.finding.element == "reserved_payload_extension_data"
    assert [f.message_index for f in err.findings] == [1, 2, 3, 4, 5]
    assert str(err).endswith("(and 4 more errors)")


@pytest.mark.parametrize("name", sorted(n for n, (_, _, severity) in BROKEN.items() if severity == "warning"))
def test_strict_check_ignores_warnings(name: str) -> None:
    report = check_stream(BROKEN[name][0](), strict=True)
    assert report.conformant and report.warnings
    report.raise_for_errors()


def test_strict_check_passes_conformant_vectors(shared_dir: Path) -> None:
    for name in VECTORS:
        if name not in VTM_VIOLATIONS:
            assert check_stream(_vector(shared_dir, name).read_bytes(), strict=True).conformant, name
