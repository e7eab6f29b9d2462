"""gfv-translate and gfv-decode --translate-to (issue 17 items 2-3): streams rewritten for another
model, byte-identical NAL units, bit-exact identity, the translator's NNPFC message, the default
fallback to a translator when the stream's generator is missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refsw.apps import check_app, translate_app
from refsw.decoder import UnknownGeneratorError, decode_stream
from refsw.encoder import encode_video
from refsw.translate.source import TRANSLATOR_NNPFC_ID, signalled_translator, source_layout
from refsw.translate.stream import TranslateError, translate_stream
from sei.carriage import strip_sei
from sei.context import DecodingContext
from sei.nal import NalUnitType, read_nal_units
from sei.registry import PayloadType
from sei.stream import read_stream_sei

GFV = PayloadType.GENERATIVE_FACE_VIDEO
NNPFC = PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS
SEI_NUTS = (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT)


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> np.ndarray:
    from refsw.train.data import load_clip

    return load_clip("st_obama_clip1", data_dir=data_dir, max_frames=8).frames[:8]


@pytest.fixture(scope="module")
def streams(frames: np.ndarray) -> dict[str, bytes]:
    """Two key-picture segments per model; sem3d with its parameter subsampling (pictures
    without a GFV message) and its GFVE pupils."""
    return {
        m: encode_video(frames, 25.0, max_kbps=0.0, model=m, decision="none", key_period=4)[0]
        for m in ("sem3d", "kptps", "fomm")
    }


def _payloads(stream: bytes, ptype: int) -> list[bytes]:
    sei = read_stream_sei(stream, DecodingContext(), want_trace=False)
    return [m.payload for _, m in sei.messages if m.payload_type == ptype]


@pytest.mark.parametrize("model", ["sem3d", "kptps", "fomm"])
def test_identity_reproduces_every_gfv_payload(streams: dict[str, bytes], model: str) -> None:
    stream = streams[model]
    out = translate_stream(stream, model)
    assert out.messages == len(_payloads(stream, GFV)) > 0
    for ptype in (GFV, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT):
        assert _payloads(out.stream, ptype) == _payloads(stream, ptype)
    assert out.stream == stream  # nothing translated: every NAL unit and start code as it was
    assert signalled_translator(read_stream_sei(out.stream)) is None


def test_translated_stream_keeps_other_nal_units_and_passes_check(
    streams: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = streams["sem3d"]
    src, dst = tmp_path / "in.266", tmp_path / "out.266"
    src.write_bytes(stream)
    assert translate_app.main(["-b", str(src), "--to", "kptps", "-o", str(dst)]) == 0
    out = dst.read_bytes()
    assert check_app.main(["-b", str(dst)]) == 0
    assert "conformant" in capsys.readouterr().out

    def kept(s: bytes) -> list[bytes]:
        return [n.data for n in read_nal_units(s) if n.nal_unit_type not in SEI_NUTS]

    assert kept(out) == kept(stream) and strip_sei(out) == strip_sei(stream)
    before = read_stream_sei(stream)
    after = read_stream_sei(out)
    cnts = [(m.values or {})["gfv_cnt"] for m in before.of_type(GFV)]
    assert [(m.values or {})["gfv_cnt"] for m in after.of_type(GFV)] == cnts
    bases = [m.values for m in after.of_type(GFV) if (m.values or {})["BasePic"]]
    assert bases and all(v["gfv_uri"] == "urn:gfv-refsw:generator:kptps:v1" for v in bases if v)
    assert not after.of_type(PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT)  # kptps has no pupils
    ids = {(m.values or {})["nnpfc_id"]: (m.values or {}).get("nnpfc_uri") for m in after.of_type(NNPFC)}
    assert ids == {
        1: "urn:gfv-refsw:generator:kptps:v1",
        TRANSLATOR_NNPFC_ID: "urn:gfv-refsw:translator:sem3d:kptps:v1",
    }
    assert signalled_translator(after) == ("sem3d", "kptps", "v1", ids[TRANSLATOR_NNPFC_ID])
    decoded = decode_stream(out)
    assert decoded.generator == "kptps" and len(decoded.frames) == 8
    assert any("translated from sem3d to kptps" in n for n in decoded.notes)


def test_decode_translate_to_matches_the_rewritten_stream(streams: dict[str, bytes]) -> None:
    """On the fly and rewritten: the same pictures up to the GFV grid of the rewritten stream."""
    stream = streams["sem3d"]
    on_the_fly = decode_stream(stream, translate_to="kptps")
    rewritten = decode_stream(translate_stream(stream, "kptps").stream)
    assert on_the_fly.generator == rewritten.generator == "kptps"
    assert any("through translator urn:gfv-refsw:translator:sem3d:kptps:v1" in n for n in on_the_fly.notes)
    diff = np.abs(on_the_fly.frames.astype(int) - rewritten.frames.astype(int)).mean()
    assert on_the_fly.frames.shape == rewritten.frames.shape and diff < 2.0


def test_missing_generator_falls_back_to_a_translator(
    streams: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decoder without sem3d's generator decodes a sem3d stream through sem3d -> kptps."""
    from refsw.decoder import generators
    from refsw.models import resolve_uri

    def without_sem3d(uri: str | None, carried: dict[str, bytes]):
        return None if uri and ":sem3d:" in uri else resolve_uri(uri, carried)

    monkeypatch.setattr(generators, "resolve_uri", without_sem3d)
    decoded = decode_stream(streams["sem3d"])
    assert decoded.generator == "kptps"
    notes = [n for n in decoded.notes if "is not available here" in n]
    assert len(notes) == 1 and "sem3d" in notes[0] and "kptps" in notes[0] and "translator" in notes[0]
    monkeypatch.setattr(generators, "resolve_uri", lambda uri, carried: None)
    decoded = decode_stream(streams["kptps"])  # kptps -> a learned translator's target
    assert decoded.generator not in (None, "kptps")
    from refsw.translate import registry

    monkeypatch.setattr(registry, "TRANSLATORS", {})
    monkeypatch.setattr(registry, "TRANSLATOR_MODULES", ())
    with pytest.raises(UnknownGeneratorError, match="not available here"):  # no translator at all
        decode_stream(streams["kptps"])


def test_source_layout_without_the_models_checkpoint(
    streams: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """fomm's GFV messages parse with fomm's layout while fomm is not registered."""
    from refsw.models import registry

    sei = read_stream_sei(streams["fomm"])
    uri = next((m.values or {})["gfv_uri"] for m in sei.of_type(GFV) if (m.values or {})["BasePic"])
    monkeypatch.setattr(registry, "MODELS", {k: v for k, v in registry.MODELS.items() if k != "fomm"})
    name, layout = source_layout(uri)
    params = layout.params(sei.of_type(GFV)[1].recon)
    assert name == "fomm" and params.shape == (60,) and np.abs(params[:20]).max() <= 1.0


def test_translate_app_errors(streams: dict[str, bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, out = tmp_path / "in.266", tmp_path / "out.266"
    src.write_bytes(streams["kptps"])
    plain = tmp_path / "plain.266"
    plain.write_bytes(strip_sei(streams["kptps"]))
    cases = [
        (["-b", str(src), "--to", "nosuch", "-o", str(out)], "unknown model nosuch"),
        (
            ["-b", str(src), "--to", "cttr", "--translator", "analytic", "-o", str(out)],
            "no analytic translator from kptps to cttr",
        ),
        (["-b", str(plain), "--to", "kptps", "-o", str(out)], "not a GFV stream"),
        (["-b", str(src), "--to", "kptps", "-o", str(src)], "exists; pass -y"),
    ]
    for argv, message in cases:
        assert translate_app.main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    with pytest.raises(TranslateError, match="not a GFV stream"):
        translate_stream(strip_sei(streams["kptps"]), "kptps")


def test_tiny_interop_ctc_run(data_dir: Path, tmp_path: Path) -> None:
    """cfg/ctc/interop.yaml in small: one clip, 6 pictures, one QP; native sem3d, its frozen
    baseline, sem3d decoded by kptps through the analytic translator, native kptps."""
    import contextlib
    import csv
    import io

    from ctc.cli import main as ctc_main
    from ctc.config import REPO_ROOT, load_config

    assert len(load_config(REPO_ROOT / "cfg/ctc/interop.yaml").codecs) == 6 * 7  # the full matrix loads
    out = tmp_path / "out"
    cfg = tmp_path / "tiny_interop.yaml"
    gfvc = "type: gfvc, encoder_cfg: [encoder/gfvc_ctc.yaml], qps: [42]"
    cfg.write_text(f"""
name: tiny_interop
output: {out}
frames: 6
sequences:
  - {{name: TINY, source: "{data_dir / "lp_d19.mp4"}", class: T}}
codecs:
  - {{name: GFVC_sem3d, role: anchor, model: sem3d, {gfvc}}}
  - {{name: GFVC_sem3d_frozen, model: sem3d, frozen: true, {gfvc}}}
  - {{name: GFVC_sem3d_to_kptps, model: sem3d, translate_to: kptps, translator: analytic, {gfvc}}}
  - {{name: GFVC_kptps, model: kptps, {gfvc}}}
anchor: GFVC_sem3d
metrics: [msssim]
""")
    with contextlib.redirect_stdout(io.StringIO()):
        assert ctc_main(["run", str(cfg), "--workers", "1", "--no-progress"]) == 0
    with (out / "results.csv").open(newline="") as f:
        rows = {r["codec"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"GFVC_sem3d", "GFVC_sem3d_frozen", "GFVC_sem3d_to_kptps", "GFVC_kptps"}
    assert rows["GFVC_sem3d_to_kptps"]["bits"] == rows["GFVC_sem3d"]["bits"] == rows["GFVC_sem3d_frozen"]["bits"]
    assert all(0 < float(r["msssim"]) <= 1 for r in rows.values())
    assert float(rows["GFVC_sem3d_to_kptps"]["msssim"]) != float(rows["GFVC_kptps"]["msssim"])
    assert (out / "plots" / "interop_msssim.png").is_file() and (out / "plots" / "interop_kbps.png").is_file()
