"""Decoded picture hash SEI message (H.266 D.2, payloadType 132; issue 13 item 2).

The encoder's stream carries one MD5 hash message per key picture, equal to the MD5 of FFmpeg's
decoded planes; ``gfv-decode`` verifies it (a tampered byte is a named error), writes
per-picture MD5s with ``--md5``, and notes a stream without the message; ``gfv-check`` checks the
hash length; the trace prints the hash as VTM's dump does.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sei_streams import SUFFIX, annexb, nal

from refsw.apps import decoder_app
from refsw.codecs.ffmpeg_vvc import VvencFFmpegBackend
from refsw.decoder import PictureHashError, decode_stream
from refsw.encoder import encode_video
from refsw.train.data import TEST_CLIPS, load_clip
from sei.carriage import access_units
from sei.checker import check_stream
from sei.context import DecodingContext
from sei.nal import NalUnitType
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, parse_payload, write_payload
from sei.stream import read_stream_sei
from sei.trace import message_lines

DPH = PayloadType.DECODED_PICTURE_HASH


@pytest.fixture(scope="module")
def frames(shared_dir: Path) -> np.ndarray:
    """``(6, 256, 256, 3)`` uint8: every 4th of the first 24 pictures of a real clip."""
    return load_clip(TEST_CLIPS[0], data_dir=shared_dir / "data", max_frames=24).frames[::4]


@pytest.fixture(scope="module")
def stream(frames: np.ndarray) -> bytes:
    """Two key pictures (0 and 3), kptps, every picture synthesised from its GFV message."""
    return encode_video(frames, 25.0, model="kptps", key_period=3, decision="none")[0]


def _key_planes(stream: bytes) -> list[tuple[np.ndarray, ...]]:
    """FFmpeg's decoded 4:2:0 planes of each key picture."""
    y, u, v = VvencFFmpegBackend().decode_yuv(stream)
    return [(y[k], u[k], v[k]) for k in range(len(y))]


def _hash_messages(stream: bytes) -> list[tuple[int, dict]]:
    """``(key picture, values)`` of every decoded picture hash message, in stream order."""
    sei = read_stream_sei(stream)
    aus = access_units(sei.nal_units)
    vcl = sorted({aus[i] for i, n in enumerate(sei.nal_units) if n.is_vcl})
    out = []
    for idx, m in sei.messages:
        if m.payload_type == DPH:
            assert sei.nal_units[idx].nal_unit_type == NalUnitType.SUFFIX_SEI_NUT
            assert m.values is not None and not m.findings
            out.append((vcl.index(aus[idx]), m.values))
    return out


def _tampered(stream: bytes, digest: bytes, at: int = 5) -> bytes:
    """``stream`` with byte ``at`` of the coded ``digest`` changed (to a value >= 4, so that no
    start code or emulation prevention pattern appears)."""
    pos = stream.find(digest)
    assert pos > 0 and stream.find(digest, pos + 1) < 0, "the digest must appear once, without emulation prevention"
    old = stream[pos + at]
    new = old ^ 0x80 if old ^ 0x80 >= 4 else old ^ 0xC0
    return stream[: pos + at] + bytes([new]) + stream[pos + at + 1 :]


def test_one_md5_message_per_key_picture_equal_to_ffmpeg_planes(stream: bytes) -> None:
    msgs = _hash_messages(stream)
    planes = _key_planes(stream)
    assert [k for k, _ in msgs] == list(range(len(planes))) == [0, 1]
    for k, v in msgs:
        assert v["dph_sei_hash_type"] == 0 and v["dph_sei_single_component_flag"] == 0
        signalled = [bytes(v["dph_sei_picture_md5"][c, i] for i in range(16)) for c in range(3)]
        assert signalled == [hashlib.md5(p.tobytes()).digest() for p in planes[k]]
    decoded = decode_stream(stream, key_pictures_only=True)
    assert decoded.picture_hash is not None
    assert (decoded.picture_hash.verified, decoded.picture_hash.mismatches) == (2, [])


def test_tampered_hash_byte_is_a_named_error_or_a_warning(stream: bytes, tmp_path: Path, capsys) -> None:
    actual = hashlib.md5(_key_planes(stream)[1][1].tobytes()).digest()  # key picture 1, Cb
    bad = tmp_path / "bad.266"
    bad.write_bytes(_tampered(stream, actual))  # the message now signals another MD5
    with pytest.raises(
        PictureHashError, match=r"key picture 1 .*component Cb \(cIdx 1\): MD5 expected [0-9a-f]{32}, got"
    ):
        decode_stream(bad.read_bytes())
    out = tmp_path / "out.yuv"
    assert decoder_app.main(["-b", str(bad), "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "component Cb" in err[0] and f"got {actual.hex()}" in err[0]
    assert not out.exists()
    summary = tmp_path / "s.json"
    argv = ["-b", str(bad), "-o", str(out), "--quiet", "--ignore-hash-mismatch", "--summary-json", str(summary)]
    assert decoder_app.main(argv) == 0
    assert "warning: decoded picture hash mismatch: key picture 1" in capsys.readouterr().err
    assert out.is_file()
    assert json.loads(summary.read_text())["hash_verified"] == 1
    assert json.loads(summary.read_text())["hash_mismatches"] == 1


def test_md5_file_matches_md5s_of_the_yuv_output_and_of_ffmpeg(stream: bytes, tmp_path: Path, capsys) -> None:
    src, out, md5, summary = (tmp_path / n for n in ("s.266", "out.yuv", "out.md5", "s.json"))
    src.write_bytes(stream)
    argv = ["-b", str(src), "-o", str(out), "--md5", str(md5), "--summary-json", str(summary), "--quiet"]
    assert decoder_app.main(argv) == 0
    assert "verified 2 key pictures" in capsys.readouterr().out
    assert json.loads(summary.read_text())["hash_verified"] == 2
    rows = [line.split() for line in md5.read_text().splitlines() if not line.startswith("#")]
    data = out.read_bytes()
    size = 256 * 256 * 3 // 2
    assert len(rows) == len(data) // size == 6
    for n, (index, kind, digest) in enumerate(rows):
        assert int(index) == n
        assert digest == hashlib.md5(data[n * size : (n + 1) * size]).hexdigest()
    keys = _key_planes(stream)
    assert [kind for _, kind, _ in rows] == ["key", "generated", "generated"] * 2
    for n, k in ((0, 0), (3, 1)):
        assert rows[n][2] == hashlib.md5(b"".join(p.tobytes() for p in keys[k])).hexdigest()
    assert decoder_app.main(argv) == 1  # existing --md5 file without -y
    assert "exists" in capsys.readouterr().err


def test_stream_without_hash_decodes_with_a_note(frames: np.ndarray, tmp_path: Path, capsys) -> None:
    plain, _ = encode_video(frames[:2], 25.0, model="kptps", key_period=0, decision="none", decoded_picture_hash=0)
    assert _hash_messages(plain) == []
    (tmp_path / "s.266").write_bytes(plain)
    assert decoder_app.main(["-b", str(tmp_path / "s.266"), "-o", str(tmp_path / "o.y4m"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "no decoded picture hash SEI message" in captured.err
    assert "verified" not in captured.out


def test_checker_and_trace_of_the_hash_message() -> None:
    ctx = DecodingContext()
    values = {
        "dph_sei_hash_type": 0,
        "dph_sei_single_component_flag": 0,
        "dph_sei_reserved_zero_7bits": 0,
        "dph_sei_picture_md5": {(c, i): 16 * c + i for c in range(3) for i in range(16)},
    }
    payload, _ = write_payload(DPH, values, ctx)
    assert len(payload) == 50
    msg = parse_payload(SEIMessage(DPH, len(payload), payload), ctx)
    assert message_lines(msg)[-1] == f"  {'picture_md5':>55}: {bytes(range(48)).hex()}"
    assert len(message_lines(msg)) == 6  # VTM: rule, header, 3 fields, the hash on one line
    assert check_stream(annexb(nal(DPH, payload, SUFFIX))).conformant
    report = check_stream(annexb(nal(DPH, payload + b"\x00", SUFFIX)))
    assert any(f.element == "dph_sei_picture_md5" and "needs 50 bytes" in f.rule for f in report.errors)
    report = check_stream(annexb(nal(DPH, bytes([3]) + payload[1:], SUFFIX)))
    assert any(f.element == "dph_sei_hash_type" for f in report.errors)
    report = check_stream(annexb(nal(DPH, payload)))  # in a prefix SEI NAL unit
    assert any(f.element == "payloadType" and "suffix" in f.rule for f in report.errors)
