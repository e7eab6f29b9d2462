"""Live mode (``--live``): the encoder writes each picture's NAL units as soon as the picture is
captured, the decoder outputs each picture as soon as its message has arrived, and both agree with
the file decoder picture for picture."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refsw.apps.decoder_app import main as decoder_main
from refsw.decoder import decode_stream
from refsw.decoder.live import LiveDecoder
from refsw.encoder import encode_video
from refsw.encoder.live import LiveEncoder
from refsw.media.video_io import read_video, write_video
from refsw.train.data import load_clip
from sei.checker import check_stream
from sei.nal import NalUnitType, read_nal_units
from sei.registry import PayloadType


class _Writes(io.BytesIO):
    """Records every write separately (what a pipe reader would see arrive)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []

    def write(self, data) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return super().write(data)


@pytest.fixture(scope="module")
def frames(shared_dir: Path) -> np.ndarray:
    return load_clip("st_obama_clip1", data_dir=shared_dir / "data", max_frames=14).frames


def test_live_stream_is_decoded_picture_by_picture(frames: np.ndarray) -> None:
    out = _Writes()
    encoder = LiveEncoder(out, 25.0, key_period=7)
    sizes = [encoder.push(f) for f in frames]
    summary = encoder.close()
    stream = out.getvalue()
    assert len(out.chunks) == len(frames) and [len(c) for c in out.chunks] == sizes  # one write per picture
    assert summary.frames == len(frames) and summary.key_choice is not None
    assert summary.key_choice.starts == [0, 7]
    assert not check_stream(stream).errors
    nals = read_nal_units(stream)
    idr = [n for n in nals if n.nal_unit_type in (NalUnitType.IDR_W_RADL, NalUnitType.IDR_N_LP)]
    assert len(idr) == 2  # each key picture its own coded video sequence
    suffix = [n for n in nals if n.nal_unit_type == NalUnitType.SUFFIX_SEI_NUT]
    assert len(suffix) == len(frames)  # one SEI NAL unit per picture: its GFV (+ GFVE) messages
    reference = decode_stream(stream)
    decoder = LiveDecoder()
    got = []
    for i, chunk in enumerate(out.chunks):
        got += decoder.feed(chunk)
        assert len(got) == i + 1, f"picture {i} not output when its NAL units arrived"
    got += decoder.finish()
    assert [p.log for p in got] == reference.pictures
    for p, want in zip(got, reference.frames, strict=True):
        np.testing.assert_array_equal(p.rgb, want)
    for p in got:
        if p.log.kind == "key":
            assert p.planes is not None
            for plane, exact in zip(p.planes, reference.key_planes[p.log.index], strict=True):
                np.testing.assert_array_equal(plane, exact)
    assert sum(p.log.kind == "key" for p in got) == 2


def test_live_decoder_reads_file_streams_in_any_chunks(frames: np.ndarray) -> None:
    """A file-mode stream (parameter subsampling, packed or per-message SEI, non-IDR key
    pictures) fed in random chunks gives exactly the file decoder's pictures."""
    stream, _ = encode_video(frames, 25.0, max_kbps=0.0, key_period=8, sei_packing="per-message")
    reference = decode_stream(stream)
    assert any(p.kind == "interpolated" for p in reference.pictures)
    assert any(m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT for _, m in reference.sei.messages)
    rng = random.Random(7)
    decoder, got, at = LiveDecoder(), [], 0
    while at < len(stream):
        n = rng.randint(1, 120)
        got += decoder.feed(stream[at : at + n])
        at += n
    got += decoder.finish()
    assert [p.log for p in got] == reference.pictures
    for p, want in zip(got, reference.frames, strict=True):
        np.testing.assert_array_equal(p.rgb, want)


def test_live_apps_pipe(frames: np.ndarray, tmp_path: Path) -> None:
    """``gfv-encode --live -i - -b - | gfv-decode --live -b - -o -`` on YUV4MPEG2 pictures."""
    src = tmp_path / "in.y4m"
    write_video(src, frames[:6], 25.0)
    enc = subprocess.Popen(
        [sys.executable, "-m", "refsw.apps.encoder_app", "--live", "-i", "-", "-b", "-", "--quiet"],
        stdin=src.open("rb"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    dec = subprocess.run(
        [sys.executable, "-m", "refsw.apps.decoder_app", "--live", "-b", "-", "-o", "-"],
        stdin=enc.stdout,
        capture_output=True,
        timeout=300,
    )
    enc_err = enc.communicate(timeout=60)[1].decode()
    assert enc.returncode == 0 and dec.returncode == 0, enc_err + dec.stderr.decode()
    assert "6 pictures (1 key pictures)" in enc_err and "W0000" not in enc_err  # no MediaPipe noise
    out = tmp_path / "out.y4m"
    out.write_bytes(dec.stdout)
    decoded = read_video(out)
    assert decoded.frames.shape == (6, 256, 256, 3) and decoded.fps == 25.0


def test_live_decode_of_a_non_stream_leaves_no_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "not_a_stream.266"
    src.write_bytes(b"YUV4MPEG2 W16 H16 F25:1\n" + bytes(range(256)) * 4)
    out = tmp_path / "x.y4m"
    assert decoder_main(["--live", "-b", str(src), "-o", str(out), "--live-idle", "0.1"]) == 1
    assert "gfv-decode: error: not an Annex B byte stream" in capsys.readouterr().err and not out.exists()
    assert decoder_main(["--live", "-b", str(src), "-o", str(tmp_path / "x.mp4")]) == 1  # y4m only
