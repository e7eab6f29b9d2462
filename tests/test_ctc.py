"""Tests of the CTC runner (``gfv-ctc run``), sequence preparation (``gfv-ctc prepare``), the
reports and the VTM backend's configuration errors.

The end-to-end run uses a tiny test: one clip, 10 pictures, two rate points per codec. It is
run once with local processes (then re-run: everything cached) and once on a 2-worker Dask
LocalCluster; both must give the same CSV rows apart from the timings.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from ctc.cli import main
from ctc.config import ConfigError, load_config
from ctc.prepare import resample_indices
from ctc.report import CSV_COLUMNS, CSV_TIME_COLUMNS
from refsw.codecs import CodecError, create_backend
from refsw.media.video_io import write_video

FRAMES = 10
METRICS = ["psnr_yuv", "vmaf", "lpips"]


def _tiny_config(tmp: Path, clip: Path, output: Path) -> Path:
    text = f"""
name: tiny
output: {output}
frames: {FRAMES}
sequences:
  - {{name: TINY, source: "{clip}", class: T}}
codecs:
  - {{name: GFVC_kptps, type: gfvc, role: test, model: kptps, qps: [32, 52]}}
  - {{name: VVC_vvenc_LD, type: video, role: anchor, backend: vvenc, qps: [42, 52]}}
  - {{name: VVC_VTM_LD, type: video, role: test, backend: vtm, enabled: if_available,
     qps: [42, 52]}}
anchor: VVC_vvenc_LD
metrics: {METRICS}
"""
    path = tmp / f"{output.name}.yaml"
    path.write_text(text)
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _without_times(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in CSV_TIME_COLUMNS} for r in rows]


@pytest.fixture(autouse=True)
def _no_vtm_no_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VTM executables and no LPIPS/DISTS weights: both must be reported, not skipped."""
    for var in ("GFV_VTM_ENCODER", "GFV_VTM_DECODER", "GFV_VTM_CFG_DIR", "GFV_METRIC_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def clip(data_dir: Path) -> Path:
    path = data_dir / "lp_d19.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory, clip: Path) -> tuple[Path, Path, list[dict]]:
    """The tiny test run with 2 local worker processes, then re-run; returns the config, the
    output directory and the two JSON summaries printed on stdout."""
    tmp = tmp_path_factory.mktemp("ctc_local")
    unset = ("GFV_VTM_ENCODER", "GFV_VTM_DECODER", "GFV_METRIC_WEIGHTS")
    env = {k: os.environ.pop(k) for k in unset if k in os.environ}
    try:
        out = tmp / "out"
        cfg = _tiny_config(tmp, clip, out)
        summaries = []
        for _ in range(2):
            stdout = tmp / "stdout.json"
            with stdout.open("w") as f, contextlib.redirect_stdout(f):
                code = main(["run", str(cfg), "--workers", "2", "--no-progress"])
            assert code == 0
            summaries.append(json.loads(stdout.read_text()))
    finally:
        os.environ.update(env)
    return cfg, out, summaries


# --------------------------------------------------------------------------- runner


def test_run_writes_csv_rows_with_every_column(local_run: tuple[Path, Path, list[dict]]) -> None:
    _, out, _ = local_run
    rows = _rows(out / "results.csv")
    assert list(rows[0]) == [*CSV_COLUMNS, *METRICS, *CSV_TIME_COLUMNS]
    assert [(r["codec"], r["qp"]) for r in rows] == [
        ("GFVC_kptps", "32"), ("GFVC_kptps", "52"), ("VVC_vvenc_LD", "42"), ("VVC_vvenc_LD", "52"),
    ]  # fmt: skip
    for r in rows:
        assert r["sequence"] == "TINY" and r["class"] == "T" and r["frames"] == str(FRAMES)
        bits = int(r["bits"])
        assert bits > 0
        assert float(r["kbps"]) == pytest.approx(bits * 25 / FRAMES / 1000, rel=1e-6)
        assert 15 < float(r["psnr_yuv"]) < 60 and 0 <= float(r["vmaf"]) <= 100
        assert r["lpips"] == "not available"
        assert float(r["encode_s"]) > 0 and float(r["decode_s"]) > 0
    gfv = [r for r in rows if r["codec"] == "GFVC_kptps"]
    assert all(int(r["bits_key"]) + int(r["bits_gfv"]) + int(r["bits_other"]) == int(r["bits"]) for r in gfv)
    assert int(gfv[0]["bits_key"]) > int(gfv[1]["bits_key"])  # QP 32 key picture > QP 52


def test_rerun_skips_finished_jobs(local_run: tuple[Path, Path, list[dict]]) -> None:
    _, out, (first, second) = local_run
    assert (first["jobs_run"], first["jobs_cached"], first["jobs_failed"]) == (4, 0, 0)
    assert (second["jobs_run"], second["jobs_cached"], second["jobs_failed"]) == (0, 4, 0)
    jobs = sorted(p.name for p in (out / "jobs").glob("*.json"))
    assert jobs == [
        "TINY__GFVC_kptps__qp32.json", "TINY__GFVC_kptps__qp52.json",
        "TINY__VVC_vvenc_LD__qp42.json", "TINY__VVC_vvenc_LD__qp52.json",
    ]  # fmt: skip
    record = json.loads((out / "jobs" / jobs[0]).read_text())
    assert len(record["metrics"]["psnr_yuv"]["per_frame"]) == FRAMES
    assert record["metrics"]["lpips"]["status"] == "not available"
    assert (out / "work" / "streams" / record["bitstream"]).stat().st_size * 8 == record["bits"]


def test_changed_job_settings_invalidate_the_cache(
    local_run: tuple[Path, Path, list[dict]],
) -> None:
    from ctc.runner import _cached, make_jobs, prepare_sequences

    cfg_path, out, _ = local_run
    cfg = load_config(cfg_path)
    job = make_jobs(cfg, prepare_sequences(cfg), ["GFVC_kptps"])[0]
    stored = out / "jobs" / f"{job.job_id}.json"
    assert _cached(stored, job) is not None
    assert _cached(stored, dataclasses.replace(job, metrics=("psnr_yuv",))) is None
    assert _cached(stored, dataclasses.replace(job, sequence_sha256="0" * 64)) is None
    refreshed = dataclasses.replace(
        job, codec=dataclasses.replace(job.codec, encoder=job.codec.encoder.replace(key_period=10))
    )
    assert _cached(stored, refreshed) is None  # the GFVC software's gop_size is a job setting
    # results cached before the SEI packing existed were made per message: packed is another job
    per_message = dataclasses.replace(job.codec, encoder=job.codec.encoder.replace(sei_packing="per-message"))
    assert "sei_packing" not in per_message.job_key()
    assert job.codec.job_key()["sei_packing"] == "per-access-unit"


def test_provenance_and_report_files(local_run: tuple[Path, Path, list[dict]]) -> None:
    _, out, _ = local_run
    prov = json.loads((out / "provenance.json").read_text())
    for key in ("config", "config_files", "git", "packages", "host", "python", "started",
                "finished", "duration_s", "executor", "jobs", "ffmpeg"):  # fmt: skip
        assert key in prov, key
    assert prov["config"]["name"] == "tiny"
    assert "numpy" in prov["packages"] and "torch" in prov["packages"]
    assert prov["jobs"]["cached"] == 4
    assert any("VVC_VTM_LD not run" in n for n in prov["notes"])
    summary = (out / "summary.md").read_text()
    assert "## BD-rate of `GFVC_kptps` against `VVC_vvenc_LD`" in summary
    assert "**Class T**" in summary and "**Overall**" in summary
    assert "lpips: not available" in summary
    assert "VVC_VTM_LD not run" in summary
    for m in ("psnr_yuv", "vmaf"):
        png = out / "plots" / f"rd_{m}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "plots" / "rd_lpips.png").exists()
    assert (out / "work" / ".gitignore").read_text().strip().endswith("*")


def test_dask_local_cluster_gives_the_same_rows(local_run: tuple[Path, Path, list[dict]], tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    from ctc.runner import run_ctc

    cfg_path, out, _ = local_run
    cfg = load_config(cfg_path)
    dask_cfg = dataclasses.replace(cfg, output=tmp_path / "dask", work=tmp_path / "dask" / "work")
    result = run_ctc(dask_cfg, dask_local=2, progress=False)
    assert not result.failed and len(result.ran) == 4
    assert _without_times(_rows(tmp_path / "dask" / "results.csv")) == _without_times(_rows(out / "results.csv"))
    prov = json.loads((tmp_path / "dask" / "provenance.json").read_text())
    assert prov["executor"] == {"kind": "dask-local", "workers": 2}


# --------------------------------------------------------------------------- config


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(
        "name: x\nframes: 5\nsequences: [{name: S, source: /nonexistent.mp4}]\n"
        "codecs: [{name: A, type: video, role: anchor, backend: vvenc, qps: [40]}]\n"
        "anchor: A\nmetrics: [psnr_yuv]\n"
    )
    cfg = load_config(base)
    assert cfg.sequences[0].frames == 5 and cfg.sequences[0].fps == 25
    assert cfg.work == cfg.output / "work"
    for text, message in (
        ("colour: 1\n", "unknown key"),
        ("metrics: [psnr_yuv, nope]\n", "unknown metric"),
        ("anchor: B\n", "anchor 'B'"),
        ("codecs: [{name: A, type: video, role: anchor, backend: vvenc, qps: [40, 40]}]\n",
         "repeated"),
        ("codecs: [{name: A, type: video, role: anchor, backend: vvenc, qps: [40], key_period: 8}]\n",
         "key_period not used by type video"),
        ("codecs: [{name: A, type: gfvc, role: anchor, qps: [40], key_period: -1}]\n", "key_period -1 is negative"),
    ):  # fmt: skip
        over = tmp_path / "over.yaml"
        over.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config([base, over])


def test_config_expands_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        'name: x\nframes: 5\nsequences: [{name: S, source: "${GFV_SHARED:-/default}/data/a.mp4"}]\n'
        "codecs: [{name: A, type: video, role: anchor, backend: vvenc, qps: [40]}]\n"
        "anchor: A\nmetrics: [psnr_yuv]\n"
    )
    monkeypatch.delenv("GFV_SHARED", raising=False)
    assert load_config(path).sequences[0].source == "/default/data/a.mp4"
    monkeypatch.setenv("GFV_SHARED", str(tmp_path))
    assert load_config(path).sequences[0].source == str(tmp_path / "data" / "a.mp4")


# --------------------------------------------------------------------------- prepare


def test_resample_indices_pick_the_displayed_picture() -> None:
    assert resample_indices(12, 30, None).tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert resample_indices(100, 25, 7).tolist() == list(range(7))
    assert resample_indices(5, 12.5, None).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert resample_indices(1000, 30000 / 1001, 6).tolist() == [0, 1, 2, 3, 4, 5]


def test_prepare_writes_bit_exact_ctc_files(clip: Path, tmp_path: Path) -> None:
    stdout = tmp_path / "stdout.json"
    with stdout.open("w") as f, contextlib.redirect_stdout(f):
        code = main(["prepare", str(clip), "--out", str(tmp_path), "--frames", "6", "--name", "X"])
    assert code == 0
    summary = json.loads(stdout.read_text())
    assert summary["frames"] == 6 and summary["source_fps"] == 30.0
    for size in (256, 512):
        rgb_file = tmp_path / f"X_{size}x{size}_25_8bit_444.rgb"
        yuv_file = tmp_path / f"X_{size}x{size}_25_8bit_420.yuv"
        rgb = np.fromfile(rgb_file, np.uint8).reshape(6, 3, size, size).transpose(0, 2, 3, 1)
        yuv = np.fromfile(yuv_file, np.uint8).reshape(6, -1)
        assert yuv.shape[1] == size * size * 3 // 2
        for i in range(6):
            expected = cv2.cvtColor(np.ascontiguousarray(rgb[i]), cv2.COLOR_RGB2YUV_I420)
            assert np.array_equal(yuv[i], expected.ravel()), (size, i)


def test_prepare_resamples_30_hz_by_picking_pictures(tmp_path: Path) -> None:
    from ctc.prepare import prepare_sequence

    levels = np.arange(12) * 16 + 20  # picture i is flat grey at level 20 + 16 i
    frames = np.repeat(levels.astype(np.uint8)[:, None, None, None], 64 * 64 * 3).reshape(12, 64, 64, 3)
    src = tmp_path / "ramp.y4m"
    write_video(src, frames, 30.0)
    result = prepare_sequence(src, tmp_path, name="R", frames=None, sizes=(32,), crop=False)
    assert result.source_indices == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    rgb = np.fromfile(tmp_path / "R_32x32_25_8bit_444.rgb", np.uint8).reshape(10, 3, 32, 32)
    picked = np.rint((rgb.reshape(10, -1).mean(axis=1) - 20) / 16).astype(int)
    assert picked.tolist() == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]


# --------------------------------------------------------------------------- VTM backend


def test_vtm_backend_without_executables_is_a_clear_error() -> None:
    with pytest.raises(CodecError, match=r"no EncoderApp configured.*GFV_VTM_ENCODER"):
        create_backend("vtm")


def test_vtm_backend_passes_the_cfg_through_and_checks_return_codes(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    for name in ("encoder_lowdelay_vtm.cfg", "encoder_randomaccess_vtm.cfg"):
        (cfg_dir / name).write_text("# VTM cfg\n")
    args_file = tmp_path / "args.txt"
    fake = tmp_path / "EncoderApp"
    fake.write_text(f'#!/bin/sh\necho "$@" > {args_file}\necho "ERROR: fake failure"\nexit 3\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    vtm = create_backend("vtm", encoder=fake, decoder=fake, cfg_dir=cfg_dir)
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(CodecError, match="return code 3"):
        vtm.encode(frames, qp=37, fps=25)
    args = args_file.read_text().split()
    assert args[:2] == ["-c", str(cfg_dir / "encoder_lowdelay_vtm.cfg")]
    for flag, value in (("-wdt", "32"), ("-hgt", "32"), ("-f", "2"), ("-q", "37"), ("-fr", "25")):
        assert args[args.index(flag) + 1] == value
    with pytest.raises(CodecError, match="not found"):
        create_backend("vtm", encoder=fake, decoder=fake, cfg_dir=tmp_path)


def test_vtm_backend_round_trip_with_stand_in_apps(tmp_path: Path) -> None:
    """Stand-in EncoderApp/DecoderApp: the encoder stores the input YUV after a start code,
    the decoder writes it back as VTM's 8-bit Y4M; the backend must return the OpenCV I420
    round trip of the input."""

    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    for name in ("encoder_lowdelay_vtm.cfg", "encoder_randomaccess_vtm.cfg"):
        (cfg_dir / name).write_text("# VTM cfg\n")
    enc, dec = tmp_path / "EncoderApp", tmp_path / "DecoderApp"
    enc.write_text(
        f"#!{sys.executable}\nimport sys\na = sys.argv\n"
        "data = open(a[a.index('-i') + 1], 'rb').read()\n"
        "w, h = a[a.index('-wdt') + 1], a[a.index('-hgt') + 1]\n"
        "open(a[a.index('-b') + 1], 'wb').write(b'\\0\\0\\0\\1' + f'{w} {h};'.encode() + data)\n"
    )
    dec.write_text(
        f"#!{sys.executable}\nimport sys\na = sys.argv\nassert a[a.index('-d') + 1] == '8'\n"
        "data = open(a[a.index('-b') + 1], 'rb').read()[4:]\n"
        "head, yuv = data.split(b';', 1)\nw, h = map(int, head.split())\nsize = w * h * 3 // 2\n"
        "out = f'YUV4MPEG2 W{w} H{h} F25:1 Ip A0:0 C420\\n'.encode()\n"
        "for i in range(0, len(yuv), size):\n    out += b'FRAME\\n' + yuv[i:i + size]\n"
        "open(a[a.index('-o') + 1], 'wb').write(out)\n"
    )
    for app in (enc, dec):
        app.chmod(app.stat().st_mode | stat.S_IXUSR)
    vtm = create_backend("vtm", encoder=enc, decoder=dec, cfg_dir=cfg_dir, log_dir=tmp_path / "logs")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    result = vtm.encode(frames, qp=42, fps=25, low_delay=False)
    decoded = vtm.decode(result.bitstream).frames
    expected = np.stack([cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420) for f in frames])
    assert np.array_equal(decoded, expected)
    assert len(list((tmp_path / "logs").glob("*.log"))) == 2
