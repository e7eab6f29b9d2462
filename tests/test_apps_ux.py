"""What a user of the command-line apps meets (issue: a tool video engineers enjoy): checks before
heavy imports, the end-of-run summaries, one CLI grammar, output hygiene."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from refsw.apps import check_app, decoder_app, demo_app, encoder_app, translate_app
from refsw.media.video_io import write_video
from refsw.progress import bar, set_quiet
from refsw.train.data import VALIDATION_CLIPS, load_clip
from sei.context import DecodingContext
from sei.registry import PayloadType
from sei.stream import read_stream_sei

APPS = {
    "gfv-encode": encoder_app,
    "gfv-decode": decoder_app,
    "gfv-demo": demo_app,
    "gfv-check": check_app,
    "gfv-translate": translate_app,
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Path:
    """12 pictures of the validation clip in the CTC format (256x256), as an mp4 file."""
    frames = load_clip(VALIDATION_CLIPS[0], data_dir=shared_dir / "data", max_frames=12).frames
    path = tmp_path_factory.mktemp("ux") / "clip.mp4"
    write_video(path, frames, 25.0)
    return path


def test_a_missing_input_fails_before_the_heavy_imports(tmp_path: Path) -> None:
    """The input and output checks run before torch, MediaPipe or the codecs are imported."""
    code = (
        "import sys; from refsw.apps.encoder_app import main; "
        f"rc = main(['-i', {str(tmp_path / 'nope.mp4')!r}, '-b', {str(tmp_path / 'o.266')!r}]); "
        "print(rc, 'torch' in sys.modules, 'mediapipe' in sys.modules, 'av' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["1", "False", "False", "False"], run.stdout + run.stderr
    assert "nope.mp4: no such file or directory" in run.stderr
    assert not (tmp_path / "o.266").exists()


@pytest.mark.parametrize("name", sorted(APPS))
def test_version_and_plain_help(name: str, capsys: pytest.CaptureFixture) -> None:
    for flag in ("--version", "--help"):
        with pytest.raises(SystemExit) as exc:
            APPS[name].main([flag])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"{name} (gfv-refsw) " in out and "usage:" in out and "``" not in out


def test_unknown_model_is_an_argparse_choice(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        encoder_app.main(["-i", "x.mp4", "-b", str(tmp_path / "o.266"), "--model", "nosuch"])
    assert exc.value.code == 2 and "invalid choice: 'nosuch'" in capsys.readouterr().err


def test_encoder_and_decoder_summaries(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stream, enc_json = tmp_path / "s.266", tmp_path / "enc.json"
    old = os.umask(0o022)
    try:
        args = ["-i", str(clip), "-b", str(stream), "--ref-metrics", "--summary-json", str(enc_json), "--quiet"]
        assert encoder_app.main(args) == 0
    finally:
        os.umask(old)
    out = capsys.readouterr().out
    for label in ("key pictures", "GFV/GFVE payloads", "SEI framing", "parameter sets", "kbit/s", "frames/s"):
        assert label in out, label
    assert "PSNR Y" in out and "MS-SSIM" in out and "VMAF" in out
    enc = json.loads(enc_json.read_text())
    parts = ("bits_key", "bits_gfv_payload", "bits_sei_framing", "bits_parameter_sets", "bits_other_sei")
    assert sum(enc[k] for k in parts) == enc["total_bits"] == 8 * stream.stat().st_size
    assert enc["key_pictures"] == 1 and enc["frames"] == 12
    assert 10 < enc["quality"]["psnr_y"] < 100 and 0 < enc["quality"]["msssim"] <= 1
    # files are created with the user's umask (0644 under 022), not 0600
    assert stream.stat().st_mode & 0o777 == 0o644 and enc_json.stat().st_mode & 0o777 == 0o644

    decoded, dec_json = tmp_path / "d.y4m", tmp_path / "dec.json"
    args = ["-b", str(stream), "-o", str(decoded), "--ref", str(clip), "--summary-json", str(dec_json), "--quiet"]
    assert decoder_app.main(args) == 0
    out = capsys.readouterr().out
    assert "PSNR Y" in out and "VMAF" in out and "frames/s" in out
    dec = json.loads(dec_json.read_text())
    # the decoder's quality against the input is the encoder's own synthesis
    assert dec["quality"] == pytest.approx(enc["quality"])
    assert dec["pictures"] == 12 and dec["bits"] == enc["total_bits"]
    assert dec["key_pictures"] == 1 and dec["key_pictures"] + dec["generated"] + dec["interpolated"] == 12
    # outputs only where asked: no per-picture log without --pictures-csv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.y4m", "dec.json", "enc.json", "s.266"]


def test_spti_time_base_in_lowest_terms(shared_dir: Path) -> None:
    from refsw.encoder import encode_video

    frames = load_clip(VALIDATION_CLIPS[0], data_dir=shared_dir / "data", max_frames=3).frames
    for fps, want in ((30000 / 1001, Fraction(30000, 1001)), (25.0, Fraction(25, 1))):
        stream, _ = encode_video(frames, fps, max_kbps=0.0, decision="none", key_period=0)
        (spti,) = read_stream_sei(stream, DecodingContext()).of_type(PayloadType.SOURCE_PICTURE_TIMING_INFO)
        v = spti.values
        assert (v["spti_time_scale"], v["spti_num_units_in_elemental_interval"]) == (want.numerator, want.denominator)


def test_progress_bars_off_when_quiet_or_not_a_terminal() -> None:
    set_quiet(True)
    try:
        assert bar("x", total=3).disable
    finally:
        set_quiet(False)
    assert bar("x", total=3).disable  # pytest's captured stderr is not a terminal


def test_configuration_echo_states_the_coded_size(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A 256x256 clip coded at --size 512 (forced crop): the echo says 512x512, not the config's 256."""
    args = ["-i", str(clip), "-b", str(tmp_path / "s.266"), "-f", "2", "--size", "512", "--force-crop", "--quiet"]
    assert encoder_app.main(args) == 0
    err = capsys.readouterr().err
    echo = json.loads(err.split("gfv-encode configuration: ", 1)[1].splitlines()[0])
    assert echo["size"] == "512x512" and echo["frames"] == 2
    assert "(256x256, 25 fps) --force-crop: face-centred crop" in err
