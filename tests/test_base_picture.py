"""Animating another face (``gfv-decode --base-picture`` / ``--base-video``, issue 16 item 3), the
chroma key (``gfv-encode --chroma-key``, ``gfv-decode --background``) and the fusion flag (item 4),
on lp_d0 (a man in front of a green screen) coded with sem3d through the command-line apps; the
portraits are made from images installed packages ship (``tests/portraits.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from portraits import portrait

from refsw.apps import decoder_app, encoder_app
from refsw.codecs import create_backend
from refsw.config import ConfigError, EncoderConfig
from refsw.decoder import BasePictureError, decode_stream
from refsw.decoder.base_picture import OtherFaceGenerator, prepare_base
from refsw.decoder.chroma_key import stream_chroma_key
from refsw.decoder.fusion import fuse
from refsw.encoder.gfv_sei import gfv_messages
from refsw.media.chroma_key import ChromaKey, ChromaKeyError
from refsw.media.video_io import write_video
from refsw.metrics.motion import cached_landmarks68, motion_akd_per_picture
from refsw.metrics.psnr import psnr_rgb_per_frame
from refsw.models import get_model
from refsw.models.relative import keypoints_and_jacobians, rotation_first
from refsw.models.sem3d import MOUTH
from refsw.train.data import load_clip
from sei.carriage import AccessUnitSEI, insert_sei
from sei.context import DecodingContext
from sei.registry import PayloadType

#: lp_d0's green screen, as prepared (the mean of the top-left corner is (69, 153, 104)).
KEY = "70,153,104,40,80"
PICTURES = 12


def _yaw(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def test_relative_motion_moves_the_base_by_the_streams_motion() -> None:
    base = np.concatenate([_yaw(-10).ravel(), [0.1, -0.2, 0.3, 0.5]])
    reference = np.concatenate([_yaw(5).ravel(), [0.0, 0.0, 0.0, 0.2]])
    assert np.allclose(rotation_first(base, reference, reference), base)
    moved = rotation_first(base, reference, np.concatenate([_yaw(20).ravel(), [0.05, 0.0, 0.1, 0.4]]))
    assert np.allclose(moved[:9].reshape(3, 3), _yaw(5))  # -10 + (20 - 5)
    assert np.allclose(moved[9:], [0.15, -0.2, 0.4, 0.7])
    rng = np.random.default_rng(1)
    fomm = [np.concatenate([rng.normal(size=4), (np.eye(2) + 0.2 * rng.normal(size=(2, 2, 2))).ravel()]) for _ in "abc"]
    same = keypoints_and_jacobians(2)(fomm[0], fomm[1], fomm[1])
    assert np.allclose(same, fomm[0])


@pytest.fixture(scope="module")
def coded(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, bytes]:
    """Every sixth of lp_d0's first pictures (more motion in few pictures) and their stream, coded by
    gfv-encode with the green screen's key."""
    frames = load_clip("lp_d0", data_dir=shared_dir / "data", max_frames=6 * PICTURES).frames[: 6 * PICTURES : 6]
    work = tmp_path_factory.mktemp("coded")
    write_video(work / "in.y4m", frames, 25.0)
    argv = ["-i", str(work / "in.y4m"), "-b", str(work / "s.266"), "--chroma-key", KEY, "--quiet"]
    assert encoder_app.main(argv) == 0
    return frames, (work / "s.266").read_bytes()


@pytest.fixture(scope="module")
def decoded(coded):
    return decode_stream(coded[1])


@pytest.fixture(scope="module")
def input_semantics(coded) -> np.ndarray:
    """sem3d's analysis of the input pictures."""
    return get_model("sem3d").make_analyser().analyse(coded[0])[0]


@pytest.mark.shared
@pytest.mark.parametrize("name", ["hopper", "hopper_painting", "hopper_cartoon"])
def test_another_face_follows_the_streams_motion(coded, decoded, input_semantics, name: str) -> None:
    frames, stream = coded
    picture = portrait(name)
    base = prepare_base(picture, frames.shape[1:3])
    out = decode_stream(stream, base_picture=picture)
    assert out.frames.shape == frames.shape and not out.key_planes
    # picture 0 is the key picture: no motion, the base picture itself (up to the mesh warp)
    assert np.abs(out.frames[0].astype(int) - base[0]).mean() < 4
    assert np.abs(out.frames.astype(int) - decoded.frames).mean() > 20  # not the stream's face
    # the face mesh finds the face on every output picture and its mouth opens with the input's
    params, found = get_model("sem3d").make_analyser().analyse(out.frames)
    assert found.all()
    assert np.corrcoef(input_semantics[:, MOUTH.start], params[:, MOUTH.start])[0, 1] > 0.8
    if name == "hopper":  # dlib's landmarks (not the generator's detector) on the photo: the motion
        ref = cached_landmarks68(frames)
        moving = np.nanmean(motion_akd_per_picture(ref, cached_landmarks68(out.frames)))
        still = np.nanmean(motion_akd_per_picture(ref, cached_landmarks68(base.repeat(PICTURES, 0))))
        assert moving < 0.6 * still, (moving, still)


@pytest.mark.shared
def test_base_video_gives_each_picture_its_base(coded) -> None:
    frames, stream = coded
    video = np.stack([prepare_base(portrait(n), frames.shape[1:3])[0] for n in ("hopper", "astronaut")])
    out = decode_stream(stream, base_picture=video).frames
    assert np.abs(out[0].astype(int) - video[0]).mean() < 4
    assert all(
        np.abs(out[i].astype(int) - video[1]).mean() < np.abs(out[i].astype(int) - video[0]).mean() for i in (1, 10)
    )


@pytest.mark.shared
def test_no_face_and_no_relative_motion_are_refused(coded, tmp_path: Path) -> None:
    grey = np.full((300, 300, 3), 128, np.uint8)
    with pytest.raises(BasePictureError, match="no face"):
        decode_stream(coded[1], base_picture=grey)
    spec = dataclasses.replace(get_model("sem3d"), relative_motion=None)
    with pytest.raises(BasePictureError, match="cannot animate another face"):
        OtherFaceGenerator(spec, None, prepare_base(portrait("hopper"), (256, 256)))
    (tmp_path / "s.266").write_bytes(coded[1])
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "grey.png", grey)
    argv = ["-b", str(tmp_path / "s.266"), "-o", str(tmp_path / "o.mp4"), "--base-picture", str(tmp_path / "grey.png")]
    assert decoder_app.main([*argv, "--quiet"]) == 1
    assert not (tmp_path / "o.mp4").exists()


def test_chroma_key_option() -> None:
    key = ChromaKey.parse(KEY)
    assert key == ChromaKey((70, 153, 104), 40, 80) and key.thresholds == (40, 80)
    assert ChromaKey.parse("1,2,3").thresholds == (48, 75)  # VTM's defaults
    assert ChromaKey.from_gfv({"BasePic": 1, **key.syntax_values()}) == key
    for bad in ("1,2", "1,2,3,50,40", "1,2,300", "a,b,c"):
        with pytest.raises(ChromaKeyError):
            ChromaKey.parse(bad)
    with pytest.raises(ConfigError):
        EncoderConfig(chroma_key="1,2")


@pytest.mark.shared
def test_background_replaces_the_keyed_green(coded, decoded, tmp_path: Path) -> None:
    frames, stream = coded
    assert stream_chroma_key(decoded.sei) == ChromaKey.parse(KEY)  # written and read back
    assert "gfv_chroma_key_thr_upper_delta_minus1" in decoded.sei.trace_text()
    out = decode_stream(stream, background=(0, 0, 255))
    green = np.linalg.norm(decoded.frames.astype(float) - (70, 153, 104), axis=-1) < 30  # the screen
    face = np.linalg.norm(decoded.frames.astype(float) - (70, 153, 104), axis=-1) > 100
    assert green.mean() > 0.3 and face.mean() > 0.3
    assert np.abs(out.frames[green].astype(int) - (0, 0, 255)).max() < 20
    assert np.array_equal(out.frames[face], decoded.frames[face])
    assert not out.key_planes  # the key pictures' places are not the decoded samples any more
    plate = np.zeros((64, 64, 3), np.uint8)
    plate[:, :, 0] = 200
    (tmp_path / "s.266").write_bytes(stream)
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "plate.png", plate)
    argv = ["-b", str(tmp_path / "s.266"), "-o", str(tmp_path / "o.rgb"), "--background", str(tmp_path / "plate.png")]
    assert decoder_app.main([*argv, "--quiet"]) == 0
    rgb = np.fromfile(tmp_path / "o.rgb", np.uint8).reshape(PICTURES, 3, 256, 256).transpose(0, 2, 3, 1)
    assert np.abs(rgb[green].astype(int) - (200, 0, 0)).max() < 20


@pytest.mark.shared
def test_background_needs_a_chroma_key(coded, tmp_path: Path) -> None:
    from refsw.encoder import encode_video

    stream, _ = encode_video(coded[0][:2], 25.0)
    with pytest.raises(ChromaKeyError, match="no chroma key"):
        decode_stream(stream, background=(0, 0, 0))
    (tmp_path / "s.266").write_bytes(stream)
    argv = ["-b", str(tmp_path / "s.266"), "-o", str(tmp_path / "o.mp4"), "--background", "0,0,0", "--quiet"]
    assert decoder_app.main(argv) == 1 and not (tmp_path / "o.mp4").exists()
    assert decoder_app.main([*argv[:4], "--background", "no-such-colour"]) == 1


def _driving_stream(frames: np.ndarray, key: bytes, fusion_pic_flag: int) -> bytes:
    """A stream of two coded pictures (``key``: frames 0 and 6): a base picture with its segment
    (pictures 0-5), then a driving picture (non-base message, ``gfv_cnt`` 0, the fusion flag)
    with its segment (pictures 6-11)."""
    spec = get_model("sem3d")
    layout = spec.make_layout()
    params = layout.snap(spec.make_analyser().analyse(frames)[0])
    ctx = DecodingContext()
    low = np.zeros(6, bool)
    segments = [
        gfv_messages(layout, params[:6], low, ctx),
        gfv_messages(layout, params[6:12], low, ctx, fusion_pic_flag=fusion_pic_flag),
    ]
    per_au = {
        k: AccessUnitSEI(suffix=[(PayloadType.GENERATIVE_FACE_VIDEO, p) for p, _ in messages])
        for k, messages in enumerate(segments)
    }
    return insert_sei(key, per_au, "per-access-unit")


@pytest.mark.shared
def test_fusion_flag_fuses_the_driving_picture(coded) -> None:
    frames = coded[0][:12]
    codec = create_backend("vvenc")
    key = codec.encode(frames[[0, 6]], qp=32, fps=25.0).bitstream
    driving = codec.decode(key).frames[1]
    fused, plain = (decode_stream(_driving_stream(frames, key, flag)) for flag in (1, 0))
    assert [p.kind for p in fused.pictures][5:8] == ["generated", "fused", "generated"]
    assert [p.kind for p in plain.pictures][5:8] == ["generated"] * 3
    same = [i for i in range(12) if i != 6]
    assert np.array_equal(fused.frames[same], plain.frames[same])  # only the driving picture changes
    assert np.array_equal(fused.frames[6], fuse(plain.frames[6], driving))
    psnr = [float(psnr_rgb_per_frame(frames[6:7], f.frames[6:7]).mean()) for f in (fused, plain)]
    assert psnr[0] > psnr[1] + 1.0, psnr  # the driving picture's content helps
