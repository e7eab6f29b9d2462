"""Decoded picture hash SEI message (H.266 D.2, payloadType 132; issue 13 item 2).

The encoder's stream carries one hash message per key picture (CRC by default, MD5 or checksum
on request), equal to the hash of FFmpeg's decoded planes computed as D.2.2 says (checked
against the clause's bit-by-bit loops); ``gfv-decode`` verifies it (a tampered byte is a named
error), writes per-picture MD5s with ``--md5``, and notes a stream without the message;
``gfv-check`` checks the hash length; the trace prints the hash as VTM's dump does.
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
from sei.messages.dph import component_hashes
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
    options = {"max_kbps": 0.0, "decoded_picture_hash": 1}  # fixed QP, MD5
    return encode_video(frames, 25.0, model="kptps", key_period=3, decision="none", **options)[0]


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


def _crc_d22(plane: np.ndarray) -> int:
    """H.266 D.2.2's CRC, bit by bit as the clause writes it (register 0xFFFF, each sample's 8
    bits most significant first, then 16 zero bits): the independent check of ``plane_crc``."""
    crc = 0xFFFF
    bits = [(int(b) >> (7 - i)) & 1 for b in plane.ravel() for i in range(8)] + [0] * 16
    for bit in bits:
        msb = (crc >> 15) & 1
        crc = (((crc << 1) + bit) & 0xFFFF) ^ (msb * 0x1021)
    return crc


def _checksum_d22(plane: np.ndarray) -> int:
    """H.266 D.2.2's checksum, sample by sample as the clause writes it (bit depth 8)."""
    total = 0
    for y in range(plane.shape[0]):
        for x in range(plane.shape[1]):
            mask = (x & 0xFF) ^ (y & 0xFF) ^ (x >> 8) ^ (y >> 8)
            total = (total + (int(plane[y, x]) ^ mask)) & 0xFFFFFFFF
    return total


def test_crc_and_checksum_equal_the_clause_on_real_planes(frames: np.ndarray) -> None:
    from refsw.decoder.picture_hash import plane_checksum, plane_crc
    from refsw.media.colour import rgb_to_i420

    y, u, v = rgb_to_i420(frames[:1])
    # odd sizes
    planes = (np.ascontiguousarray(y[0, :40]), np.ascontiguousarray(u[0]), np.ascontiguousarray(v[0, :3, :5]))
    assert [int.from_bytes(c, "big") for c in plane_crc(planes)] == [_crc_d22(p) for p in planes]
    wide = np.ascontiguousarray(np.tile(y[0, :2], (1, 2)))  # 512 samples wide: x >> 8 is 1 on the right half
    assert [int.from_bytes(c, "big") for c in plane_checksum((wide, *planes[1:]))] == [
        _checksum_d22(p) for p in (wide, *planes[1:])
    ]


@pytest.mark.parametrize(("option", "hash_type", "size"), [(2, 1, 2), (3, 2, 4)])
def test_crc_and_checksum_streams_verify_and_name_a_tampered_hash(
    frames: np.ndarray, option: int, hash_type: int, size: int, tmp_path: Path, capsys
) -> None:
    from refsw.decoder.picture_hash import HASHES

    stream, _ = encode_video(
        frames[:4], 25.0, max_kbps=0.0, decoded_picture_hash=option, model="kptps", key_period=2, decision="none"
    )
    msgs = _hash_messages(stream)
    assert [k for k, _ in msgs] == [0, 1] and all(v["dph_sei_hash_type"] == hash_type for _, v in msgs)
    decoded = decode_stream(stream, key_pictures_only=True)
    assert decoded.picture_hash is not None and decoded.picture_hash.verified == 2
    kind = HASHES[hash_type][0]
    assert decoded.picture_hash.kinds == [kind]
    src = tmp_path / "s.266"
    src.write_bytes(stream)
    assert decoder_app.main(["-b", str(src), "-o", str(tmp_path / "o.yuv"), "--quiet"]) == 0
    assert f"decoded picture hash ({kind}): verified 2 key pictures" in capsys.readouterr().out
    assert all(len(component_hashes(v)[c]) == size for _, v in msgs for c in range(3))
    y_hash = HASHES[hash_type][1](tuple(c[1] for c in VvencFFmpegBackend().decode_yuv(stream)))[0]
    with pytest.raises(PictureHashError, match=rf"key picture 1 .*component Y \(cIdx 0\): {kind} expected"):
        decode_stream(_tampered(stream, y_hash, at=size - 1))


def test_default_hash_is_a_crc(frames: np.ndarray) -> None:
    from refsw.config import EncoderConfig

    assert EncoderConfig().decoded_picture_hash == 2
    stream, _ = encode_video(frames[:2], 25.0, max_kbps=0.0, model="kptps", key_period=0, decision="none")
    assert [v["dph_sei_hash_type"] for _, v in _hash_messages(stream)] == [1]


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
    plain, _ = encode_video(
        frames[:2], 25.0, max_kbps=0.0, model="kptps", key_period=0, decision="none", decoded_picture_hash=0
    )
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
