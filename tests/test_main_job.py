"""End-to-end tests of the main job: gfv-encode / gfv-decode on a real talking-head clip, called
in-process through ``main(argv)``, and one test per bad input of the issue."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from refsw.apps import decoder_app, encoder_app
from refsw.codecs import create_backend
from refsw.media.face_crop import prepare_ctc
from refsw.media.video_io import read_video, write_video
from refsw.metrics.msssim import msssim_per_frame
from refsw.metrics.vmaf import vmaf_per_frame
from refsw.models.sem3d import MAX_INTERVAL
from sei.carriage import strip_sei
from sei.nal import NalUnitType, read_nal_units
from sei.registry import PayloadType
from sei.sei_message import split_sei_rbsp

FRAMES = 40


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict:
    """lp_d3 (head turns, talking), first 40 pictures, encoded and decoded with the defaults."""
    out = tmp_path_factory.mktemp("e2e")
    src = data_dir / "lp_d3.mp4"
    stream = out / "clip.266"
    assert encoder_app.main(["-i", str(src), "-b", str(stream), "-f", str(FRAMES), "--force-crop"]) == 0
    decoded = out / "clip_dec.y4m"
    trace = out / "clip.sei.txt"
    csv_log = decoded.parent / (decoded.name + ".pictures.csv")
    assert (
        decoder_app.main(
            ["-b", str(stream), "-o", str(decoded), "--trace-sei", str(trace), "--pictures-csv", str(csv_log)]
        )
        == 0
    )
    original, _ = prepare_ctc(read_video(src, max_frames=FRAMES).frames, force=True)
    return {"dir": out, "stream": stream, "decoded": decoded, "trace": trace, "original": original}


def test_stream_layout_is_packed_carriage(encoded: dict) -> None:
    """The default packing: the key picture's GFV and GFVE messages in one suffix SEI NAL unit after its
    coded slice (beside the decoded picture hash SEI NAL unit), SPTI/NNPFC/NNPFA in one prefix SEI NAL
    unit before it (VTM's one message per NAL unit is --sei-packing per-message, tests/test_carriage.py)."""
    nals = read_nal_units(encoded["stream"].read_bytes())
    types = [n.nal_unit_type for n in nals]
    last_vcl = max(i for i, n in enumerate(nals) if n.is_vcl)
    suffix = [[f[0] for f in split_sei_rbsp(n.rbsp)] for n in nals if n.nal_unit_type == NalUnitType.SUFFIX_SEI_NUT]
    # the GFV NAL unit and VVenC's decoded picture hash SEI NAL unit of the key picture
    assert len(suffix) == 2 and [PayloadType.DECODED_PICTURE_HASH] in suffix
    payload_types = next(t for t in suffix if t != [PayloadType.DECODED_PICTURE_HASH])
    gfv, gfve = PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT
    # the default model (sem3d): a GFV message at least every MAX_INTERVAL pictures (the decoder
    # interpolates the others), each followed by a GFVE message (pupils) where the pupils change
    assert FRAMES // MAX_INTERVAL <= payload_types.count(gfv) < FRAMES and payload_types[:2] == [gfv, gfve]
    assert set(payload_types) == {gfv, gfve}
    assert all(a == gfv for a, b in zip(payload_types, payload_types[1:]) if b == gfve)
    assert all(i > last_vcl for i, t in enumerate(types) if t == NalUnitType.SUFFIX_SEI_NUT)
    prefix = [i for i, t in enumerate(types) if t == NalUnitType.PREFIX_SEI_NUT]
    assert prefix and all(i < last_vcl for i in prefix)


def _ffmpeg_i420(stream: bytes, check: bool = False) -> subprocess.CompletedProcess:
    """FFmpeg's VVC decoding of ``stream`` to raw I420 (stdout)."""
    return subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "vvc",
            "-i",
            "-",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            "-",
        ],
        input=stream,
        capture_output=True,
        check=check,
    )


def test_ffmpeg_decodes_stream_and_key_picture_unchanged(encoded: dict, tmp_path: Path) -> None:
    stream = encoded["stream"].read_bytes()
    run = _ffmpeg_i420(stream)
    assert run.returncode == 0 and run.stderr == b"", run.stderr[-500:]
    plain = strip_sei(stream)
    assert len(plain) < len(stream)
    run2 = _ffmpeg_i420(plain, check=True)
    assert run.stdout == run2.stdout and len(run.stdout) == 256 * 256 * 3 // 2
    backend = create_backend("vvenc")
    y1, y2 = backend.decode_yuv(stream), backend.decode_yuv(plain)
    assert all(np.array_equal(a, b) for a, b in zip(y1, y2))


def test_decoded_video_beats_frozen_frame(encoded: dict) -> None:
    dec = read_video(encoded["decoded"]).frames
    orig = encoded["original"]
    assert dec.shape == orig.shape == (FRAMES, 256, 256, 3)
    frozen = np.repeat(dec[:1], FRAMES, axis=0)
    ms, ms_frozen = msssim_per_frame(orig, dec).mean(), msssim_per_frame(orig, frozen).mean()
    vm, vm_frozen = vmaf_per_frame(orig, dec, 25).mean(), vmaf_per_frame(orig, frozen, 25).mean()
    assert ms > ms_frozen + 0.02, (ms, ms_frozen)
    assert vm > vm_frozen, (vm, vm_frozen)


def test_decoded_video_follows_head_motion(encoded: dict) -> None:
    dec = read_video(encoded["decoded"]).frames.astype(np.float64)
    motion = np.abs(np.diff(dec, axis=0)).mean(axis=(1, 2, 3))
    assert (motion > 0.05).sum() > FRAMES // 2  # the generated pictures change over time


def test_trace_and_log(encoded: dict) -> None:
    trace = encoded["trace"].read_text().splitlines()
    assert trace[1] == "Source picture timing info SEI message (10 bytes)"  # first prefix SEI
    messages = sum(line.startswith("Generative face video SEI message") for line in trace)
    assert any(line.endswith("gfv_uri: urn:gfv-refsw:generator:sem3d:v1") for line in trace)
    log = (encoded["decoded"].parent / (encoded["decoded"].name + ".pictures.csv")).read_text().splitlines()
    assert log[0].startswith("index,kind,key_picture,gfv_id,gfv_cnt")
    kinds = [line.split(",")[1] for line in log[1:]]
    assert len(kinds) == FRAMES and kinds[0] == "key" and set(kinds[1:]) == {"generated", "interpolated"}
    assert messages == kinds.count("key") + kinds.count("generated")


def test_decode_vtm_vector_without_generator(shared_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    vec = shared_dir / "conformance" / "public" / "gfv_vtm_sample"
    out = tmp_path / "key.y4m"
    trace = tmp_path / "trace.txt"
    assert (
        decoder_app.main(
            ["-b", str(vec / "gfv_vtm_sample.266"), "-o", str(out), "--trace-sei", str(trace), "--key-pictures-only"]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("no available generator matches the stream's representation") == 1
    assert trace.read_text() == (vec / "gfv_vtm_sample.sei.txt").read_text()
    assert read_video(out).frames.shape == (1, 64, 64, 3)


# ------------------------------------------------------------------------------- bad input
def _fails(app, argv: list[str], capsys: pytest.CaptureFixture, needle: str, code: int = 1) -> None:
    if code == 2:
        with pytest.raises(SystemExit) as exc:
            app.main(argv)
        assert exc.value.code == 2
    else:
        assert app.main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert err and needle in err[-1], err
    assert len(err[-1]) < 300


@pytest.fixture()
def out_stream(tmp_path: Path) -> Path:
    return tmp_path / "out.266"


def _no_output(path: Path) -> None:
    assert not path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.startswith("." + path.name)]


def test_missing_input(tmp_path: Path, out_stream: Path, capsys) -> None:
    _fails(encoder_app, ["-i", str(tmp_path / "nope.mp4"), "-b", str(out_stream)], capsys, "nope.mp4")
    _no_output(out_stream)


def test_unreadable_input(tmp_path: Path, out_stream: Path, capsys) -> None:
    folder = tmp_path / "empty_dir"
    folder.mkdir()
    _fails(encoder_app, ["-i", str(folder), "-b", str(out_stream)], capsys, "empty_dir")
    _no_output(out_stream)


def test_not_a_video(tmp_path: Path, out_stream: Path, capsys) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is not a video\n")
    _fails(encoder_app, ["-i", str(fake), "-b", str(out_stream)], capsys, "fake.mp4")
    _no_output(out_stream)


def test_zero_frames(tmp_path: Path, out_stream: Path, capsys) -> None:
    empty = tmp_path / "empty_256x256_25_8bit_420.yuv"
    empty.write_bytes(b"")
    _fails(encoder_app, ["-i", str(empty), "-b", str(out_stream)], capsys, "empty_256x256_25_8bit_420.yuv")
    _no_output(out_stream)


def test_size_the_codec_cannot_take(tmp_path: Path, out_stream: Path, data_dir: Path, capsys) -> None:
    tiny = tmp_path / "tiny_8x8_25_8bit_444.rgb"
    write_video(tiny, np.full((3, 8, 8, 3), 128, np.uint8), 25)
    # kptps codes the key pictures before it analyses them (sem3d analyses first: there the clear
    # error is "no face found", test_no_face)
    _fails(encoder_app, ["-i", str(tiny), "-b", str(out_stream), "--no-crop", "--model", "kptps"], capsys, "8x8")
    _no_output(out_stream)


def test_no_face(tmp_path: Path, out_stream: Path, capsys) -> None:
    noise = tmp_path / "noise.y4m"
    write_video(noise, np.random.default_rng(1).integers(0, 256, (5, 128, 128, 3), dtype=np.uint8), 25)
    _fails(encoder_app, ["-i", str(noise), "-b", str(out_stream)], capsys, "no face")
    _no_output(out_stream)


@pytest.mark.parametrize("qp", ["64", "-1", "abc"])
def test_qp_out_of_range(qp: str, data_dir: Path, out_stream: Path, capsys) -> None:
    _fails(encoder_app, ["-i", str(data_dir / "lp_d19.mp4"), "-b", str(out_stream), "--qp", qp], capsys, "QP", code=2)
    _no_output(out_stream)


def test_unwritable_output(tmp_path: Path, data_dir: Path, capsys) -> None:
    target = tmp_path / "missing_dir" / "out.266"
    _fails(encoder_app, ["-i", str(data_dir / "lp_d19.mp4"), "-b", str(target), "-f", "3"], capsys, "missing_dir")
    assert not target.parent.exists()


def test_existing_output_not_overwritten(tmp_path: Path, data_dir: Path, capsys) -> None:
    target = tmp_path / "mine.266"
    target.write_bytes(b"precious")
    _fails(encoder_app, ["-i", str(data_dir / "lp_d19.mp4"), "-b", str(target), "-f", "3"], capsys, "exists")
    assert target.read_bytes() == b"precious"


def test_truncated_stream(encoded: dict, tmp_path: Path, capsys) -> None:
    data = encoded["stream"].read_bytes()
    cut = tmp_path / "cut.266"
    cut.write_bytes(data[: len(data) - 7])
    out = tmp_path / "cut.y4m"
    _fails(decoder_app, ["-b", str(cut), "-o", str(out)], capsys, "access unit")
    _no_output(out)


def test_corrupted_stream(encoded: dict, tmp_path: Path, capsys) -> None:
    data = bytearray(encoded["stream"].read_bytes())
    nals = read_nal_units(bytes(data))
    sei = next(n for n in nals if n.nal_unit_type == NalUnitType.SUFFIX_SEI_NUT)
    for i in range(len(sei.rbsp) // 255 + 2):  # payloadSize of the base GFV message: beyond the NAL unit
        data[sei.offset + 3 + i] = 0xFF
    bad = tmp_path / "bad.266"
    bad.write_bytes(bytes(data))
    out = tmp_path / "bad.y4m"
    _fails(decoder_app, ["-b", str(bad), "-o", str(out)], capsys, "payloadSize")
    _no_output(out)


def test_not_a_stream(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "junk.266"
    bad.write_bytes(b"\x12\x34" * 100)
    out = tmp_path / "junk.y4m"
    _fails(decoder_app, ["-b", str(bad), "-o", str(out)], capsys, "not a VVC byte stream")
    _no_output(out)


def test_decode_every_vtm_vector(shared_dir: Path, tmp_path: Path, capsys) -> None:
    """gfv-decode reads every VTM-made vector: key picture written, trace equal to VTM's dump;
    without --key-pictures-only, a vector whose GFV messages need a generator we lack is refused.
    A vector gfv-check finds errors in (gfv_nnr_payload: VTM writes reserved_payload_extension_data)
    is refused without --conceal, naming the element (one verdict, issue 13 item 4)."""
    from sei.checker import check_stream

    for vec in sorted((shared_dir / "conformance" / "public").iterdir()):
        out, trace = tmp_path / f"{vec.name}.y4m", tmp_path / f"{vec.name}.txt"
        stream = vec / f"{vec.name}.266"
        report = check_stream(stream.read_bytes())
        conceal = [] if report.conformant else ["--conceal"]
        if conceal:
            assert decoder_app.main(["-b", str(stream), "-o", str(out), "--key-pictures-only"]) == 1
            assert report.errors[0].element in capsys.readouterr().err and not out.exists()
        argv = ["-b", str(stream), "-o", str(out), "--trace-sei", str(trace), "--key-pictures-only", *conceal]
        assert decoder_app.main(argv) == 0
        assert trace.read_text() == (vec / f"{vec.name}.sei.txt").read_text(), vec.name
        assert read_video(out).frames.shape == (1, 64, 64, 3)
        capsys.readouterr()
        refused = tmp_path / f"{vec.name}.refused.y4m"
        has_gfv = "Generative face video SEI message" in trace.read_text()
        assert decoder_app.main(["-b", str(stream), "-o", str(refused), *conceal]) == (1 if has_gfv else 0), vec.name
        if has_gfv:
            assert "--key-pictures-only" in capsys.readouterr().err
            assert not refused.exists()


def test_bad_config_value(tmp_path: Path, data_dir: Path, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("decision: fastest\n")
    target = tmp_path / "out.266"
    _fails(encoder_app, ["-i", str(data_dir / "lp_d19.mp4"), "-b", str(target), "-c", str(cfg)], capsys, "decision")
    cfg.write_text("no_such_option: 1\n")
    _fails(
        encoder_app, ["-i", str(data_dir / "lp_d19.mp4"), "-b", str(target), "-c", str(cfg)], capsys, "unknown option"
    )
    _no_output(target)


def test_own_stream_is_conformant_and_names_generator(encoded: dict, capsys) -> None:
    from refsw.apps import check_app

    assert check_app.main([str(encoded["stream"])]) == 0
    trace = encoded["trace"].read_text()
    assert "Neural network post-filter characteristics SEI message" in trace
    assert "nnpfc_uri: urn:gfv-refsw:generator:sem3d:v1" in trace
    assert "Neural network post-filter activation SEI message" in trace


@pytest.mark.slow
def test_key_picture_every_n_pictures(data_dir: Path, tmp_path: Path, capsys) -> None:
    # --key-period (the GFVC software's gop_size): key pictures 0, P, 2P... coded as one VVC
    # sequence, each with its own base GFV message; on a clip with large head motion the
    # refreshed key pictures bring the decoded video closer to the source than one key picture
    from refsw.apps import check_app
    from refsw.decoder import decode_stream

    src = data_dir / "tpsmm_driving.mp4"
    original, _ = prepare_ctc(read_video(src, max_frames=45).frames, force=True)
    decoded, base_messages = {}, {}
    for period in (0, 15):
        stream = tmp_path / f"p{period}.266"
        assert (
            encoder_app.main(
                [
                    "-i",
                    str(src),
                    "-b",
                    str(stream),
                    "-f",
                    "45",
                    "--force-crop",
                    "--key-period",
                    str(period),
                    "--model",
                    "kptps",
                    "--max-kbps",
                    "0",
                ]
            )
            == 0
        )
        assert check_app.main([str(stream)]) == 0
        data = stream.read_bytes()
        dec = decode_stream(data)
        vvc = create_backend("vvenc").decode(strip_sei(data)).frames
        keys = [p.index for p in dec.pictures if p.kind == "key"]
        assert keys == ([0, 15, 30] if period else [0]) and len(dec.frames) == 45
        for k, index in enumerate(keys):  # the output key pictures are the VVC pictures
            np.testing.assert_array_equal(dec.frames[index], vvc[k])
        assert [p.key_picture for p in dec.pictures] == [i // period if period else 0 for i in range(45)]
        base_messages[period] = sum(
            1
            for _, m in dec.sei.messages
            if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO and m.values["BasePic"]
        )
        decoded[period] = dec.frames
    capsys.readouterr()
    assert base_messages == {0: 1, 15: 3}
    assert msssim_per_frame(original, decoded[15]).mean() > msssim_per_frame(original, decoded[0]).mean() + 0.02
    _fails(encoder_app, ["-i", str(src), "-b", str(tmp_path / "bad.266"), "--key-period", "-2"], capsys, "key_period")
    _no_output(tmp_path / "bad.266")


def test_demo_side_by_side_freezes_each_key_picture(data_dir: Path, tmp_path: Path) -> None:
    # gfv-demo with the defaults (sem3d: key pictures where the encoder chooses them, listed in the
    # summary): the third column of the side-by-side video repeats the key picture of each
    # picture's segment
    from refsw.apps import demo_app

    clip = tmp_path / "clip.mp4"
    write_video(clip, read_video(data_dir / "tpsmm_driving.mp4", max_frames=60).frames, 25.0)
    out = tmp_path / "demo"
    assert demo_app.main(["-i", str(clip), "--out", str(out)]) == 0
    decoded = read_video(out / "clip_decoded.mp4").frames
    side = read_video(out / "clip_side_by_side.mp4").frames
    assert side.shape[0] == 60 and side.shape[2] == 3 * decoded.shape[2]
    w = decoded.shape[2]
    # each column is labelled in its top-left corner on a darkened band; below it, the pictures
    assert side[:, :12, w : w + 40].mean() < 0.6 * decoded[:, :12, :40].mean()
    frozen = side[:, 32:, 2 * w :].astype(float)
    decoded = decoded[:, 32:]

    def err(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b.astype(float)).mean())

    keys = json.loads((out / "clip_summary.json").read_text())["key_pictures_at"]
    assert keys[0] == 0
    for k, start in enumerate(keys):
        end = keys[k + 1] if k + 1 < len(keys) else 60
        assert err(frozen[end - 1], decoded[start]) < 3 and err(frozen[start], decoded[start]) < 3  # mp4 coding apart
    if len(keys) > 1:
        assert err(frozen[keys[1]], decoded[0]) > 3 * err(frozen[keys[1]], decoded[keys[1]])
    else:  # one key picture: the third column never changes, the decoded one does
        assert err(frozen[59], decoded[0]) < 3 and err(decoded[59], decoded[0]) > 3


def test_yuv_outputs_carry_the_decoded_key_picture_sample_for_sample(encoded: dict, tmp_path: Path) -> None:
    """The key picture in .yuv and .y4m outputs is what FFmpeg's VVC decoder outputs, byte for byte
    (not a round trip through RGB); the y4m header names VVC's default chroma location."""
    ref = _ffmpeg_i420(encoded["stream"].read_bytes(), check=True).stdout
    size = 256 * 256 * 3 // 2
    assert len(ref) == size  # one coded picture
    yuv, y4m = tmp_path / "d.yuv", tmp_path / "d.y4m"
    for out in (yuv, y4m):
        assert decoder_app.main(["-b", str(encoded["stream"]), "-o", str(out), "--quiet"]) == 0
    raw = yuv.read_bytes()
    assert len(raw) == FRAMES * size and raw[:size] == ref
    header, _, body = y4m.read_bytes().partition(b"\n")
    assert b" C420mpeg2" in header and body.startswith(b"FRAME\n") and body[6 : 6 + size] == ref
    # through RGB the key picture would differ (the reason for writing the decoder's samples)
    from refsw.media.colour import i420_to_rgb, rgb_to_i420

    planes = np.frombuffer(ref, np.uint8)
    y, u, v = planes[: 256 * 256], planes[256 * 256 : 256 * 256 * 5 // 4], planes[256 * 256 * 5 // 4 :]
    rgb = i420_to_rgb(y.reshape(1, 256, 256), u.reshape(1, 128, 128), v.reshape(1, 128, 128))
    assert b"".join(p.tobytes() for p in rgb_to_i420(rgb)) != ref
