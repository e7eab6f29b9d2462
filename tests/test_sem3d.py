"""The facial-semantics model ``sem3d``: its parameters survive the bitstream (GFV matrices and GFVE
pupils), its generator renders what the parameters say (blink, mouth, gaze, head turn), and a coded
clip follows the input where the frozen key picture does not."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.metrics.msssim import msssim_per_frame
from refsw.models import get_model
from refsw.models.face3d import LEFT_LID_RING, head_pose, pupil_offsets, semantics
from refsw.models.landmarks import detect_mesh, track_meshes
from refsw.models.meshwarp import paint_closed_lid
from refsw.models.sem3d import EYES, LEFT_LID_FOLD, MOUTH, ROT, TRANS, Sem3DMapping, lid_margins, load_basis
from refsw.train.data import load_clip
from sei.registry import PayloadType

pytestmark = pytest.mark.shared

#: A clip the face basis was not built from (a held-out person, refsw/train/sem3d_basis.py).
CLIP = "mead_w009_front_surprised_level3_001"


@pytest.fixture(scope="module")
def clip(shared_dir: Path):
    return load_clip(CLIP, data_dir=shared_dir / "data", max_frames=60)


@pytest.fixture(scope="module")
def generator_and_params(clip):
    spec = get_model("sem3d")
    params, _ = spec.make_analyser().analyse(clip.frames[:1])
    gen = spec.make_generator()
    gen.set_key_picture(clip.frames[0], params[0])
    return gen, params[0]


def _measured(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(semantics (4,), rotation (3, 3), pupil offsets (4,)) measured on a picture."""
    mesh = detect_mesh(picture)
    assert mesh is not None, "no face in the synthesised picture"
    pose = head_pose(mesh, load_basis())
    return semantics(pose.normalise(mesh)), pose.rotation, pupil_offsets(mesh)


def test_parameters_survive_the_bitstream(clip) -> None:
    frames = clip.frames[:12]
    stream, summary = encode_video(frames, 25.0, model="sem3d", key_period=0, qp=37)
    assert summary.key_pictures == 1
    dec = decode_stream(stream)
    assert dec.generator == "sem3d" and len(dec.frames) == len(frames)
    gfv = [m for _, m in dec.sei.messages if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO]
    gfve = {
        m.values["gfve_gfv_cnt"]: m.recon
        for _, m in dec.sei.messages
        if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT
    }
    sent = [g.values["gfv_cnt"] for g in gfv]  # parameter subsampling: the others are interpolated
    assert sent[0] == 0 and sent[-1] == 11 and sent == sorted(set(sent)) and 0 in gfve and set(gfve) <= set(sent)
    assert [p.kind for p in dec.pictures] == ["key"] + [
        "generated" if c in sent else "interpolated" for c in range(1, 12)
    ]
    mapping = Sem3DMapping()
    analysed = mapping.snap(get_model("sem3d").make_analyser().analyse(frames)[0])
    decoded, latest = [], None
    for g in gfv:
        latest = gfve.get(g.values["gfv_cnt"], latest)
        decoded.append(mapping.params({**g.recon, "gfve": latest}))
    np.testing.assert_array_equal(np.stack(decoded), analysed[sent])
    with_gfve = sorted(gfve)  # a GFVE message where the pupils differ from the last ones sent
    assert all((analysed[b, -4:] != analysed[a, -4:]).any() for a, b in zip(with_gfve, with_gfve[1:]))
    decoded = np.stack(decoded)
    assert np.ptp(analysed[:, EYES], axis=0).max() > 0.05  # the clip's eyes move: something is carried
    base = gfv[0].values
    assert [t for t, _ in gfv[0].recon["matrices"]] == [4, 5, 2, 3, 8]
    assert base["gfv_coordinate_present_flag"] == 0 and base["gfv_uri"] == get_model("sem3d").uri


def test_closed_lid_is_painted_near_the_eye_only(clip) -> None:
    picture = clip.frames[0]
    mesh = detect_mesh(picture)
    assert mesh is not None
    fold, upper, lower = (mesh[list(i), :2] for i in (LEFT_LID_FOLD, *lid_margins(LEFT_LID_RING)))
    untouched = picture.copy()
    paint_closed_lid(untouched, fold, upper, lower, 0.0, np.zeros(3))
    np.testing.assert_array_equal(untouched, picture)
    painted = picture.copy()
    paint_closed_lid(painted, fold, lower, lower, 1.0, np.zeros(3))  # the lid down on the lower lid
    changed = np.argwhere((painted != picture).any(-1))
    pixels = (np.concatenate([fold, lower]) + 1.0) * 128 - 0.5
    assert len(changed) > 100
    assert (changed[:, ::-1] >= pixels.min(0) - 4).all() and (changed[:, ::-1] <= pixels.max(0) + 4).all()
    # the open eye (dark iris, bright sclera) becomes skin: the spread of its colours shrinks
    inside = np.zeros(picture.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round((mesh[list(LEFT_LID_RING), :2] + 1.0) * 128 - 0.5).astype(np.int32)], 1)
    assert painted[inside > 0].std(0).mean() < 0.5 * picture[inside > 0].std(0).mean()


def test_identity_reproduces_the_key_picture(clip, generator_and_params) -> None:
    gen, key = generator_and_params
    np.testing.assert_array_equal(gen.generate(key), clip.frames[0])


def test_blink_mouth_gaze_and_head_turn_are_rendered(generator_and_params) -> None:
    gen, key = generator_and_params
    sem0, rot0, pupils0 = _measured(gen.generate(key))

    # closed lids are painted as lid skin with a lash line (meshwarp.paint_closed_lid): the face
    # mesh reads them closed (the issue-16 bar, below 20 % of open), a half-closed eye in between
    closed, half = key.copy(), key.copy()
    closed[EYES] = 0.0
    half[EYES] *= 0.6
    sem, _, _ = _measured(gen.generate(closed))
    sem_half, _, _ = _measured(gen.generate(half))
    assert (sem[2:] < 0.2 * sem0[2:]).all() and (sem[2:] < sem_half[2:]).all(), (sem0, sem)
    assert (sem_half[2:] < 0.9 * sem0[2:]).all(), (sem0, sem_half)

    opened = key.copy()
    opened[MOUTH.start] += 0.3
    sem, _, _ = _measured(gen.generate(opened))
    assert sem[0] > sem0[0] + 0.15, (sem0, sem)

    # Both pupils 3.2 pixels to the right, then to the left: MediaPipe's iris follows in the
    # carried direction (it reads a third to two thirds of the shift on the warped eyes).
    for sign in (1.0, -1.0):
        gaze = key.copy()
        gaze[-4:] += sign * np.array([0.025, 0.0, 0.025, 0.0])
        _, _, pupils = _measured(gen.generate(gaze))
        shift = sign * (pupils - pupils0)
        assert 0.003 < shift[0] < 0.04 and 0.003 < shift[2] < 0.04 and abs(shift[1]) < 0.01, shift

    turned = key.copy()
    yaw = np.deg2rad(12.0)
    turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    turned[ROT] = (turn @ key[ROT].reshape(3, 3)).ravel()
    turned[TRANS.stop - 1] += np.log(1.1)  # and 10 % closer
    _, rot, _ = _measured(gen.generate(turned))
    rel = rot @ rot0.T
    measured_yaw = np.rad2deg(np.arctan2(rel[0, 2], rel[2, 2]))
    assert 7.0 < measured_yaw < 17.0, measured_yaw


def test_coded_clip_follows_the_input(clip) -> None:
    frames = clip.frames[:48]
    stream, _ = encode_video(frames, 25.0, model="sem3d", key_period=0, qp=32)
    dec = decode_stream(stream)
    frozen = np.repeat(dec.frames[:1], len(frames), 0)
    truth, _ = track_meshes(frames, label="")
    ours, _ = track_meshes(dec.frames, label="")
    still, _ = track_meshes(frozen[:1], label="")
    err = np.linalg.norm(ours[1:, :468, :2] - truth[1:, :468, :2], axis=-1).mean()
    err_frozen = np.linalg.norm(still[:, :468, :2] - truth[1:, :468, :2], axis=-1).mean()
    assert err < 0.5 * err_frozen, (err, err_frozen)
    assert msssim_per_frame(frames, dec.frames).mean() > msssim_per_frame(frames, frozen).mean()


def test_default_payload_is_at_most_40_bits_per_picture(shared_dir: Path) -> None:
    """Issue 14's payload target with the default settings (docs/models.md#sem3d-rate): GFV + GFVE
    payload bits per output picture, base message included, on a talking clip that cost 64.7
    bits per picture with the settings before (P 7, dead band 0.5, a message at least every 6
    pictures, 3 steps for every parameter)."""
    frames = load_clip("lp_d14", data_dir=shared_dir / "data", max_frames=100).frames
    stream, summary = encode_video(frames, 25.0, model="sem3d", qp=42)
    assert summary.budget.gfv_payload / len(frames) <= 40.0, summary.text()
    dec = decode_stream(stream)
    assert len(dec.frames) == len(frames) and sum(p.kind == "interpolated" for p in dec.pictures) > len(frames) // 2


def test_key_pictures_are_chosen_by_the_semantics(shared_dir: Path) -> None:
    """Refresh where the head turns beyond what the warp shows; periodic key pictures moved to the
    best picture near their due time; no key picture with closed eyes where open ones are near."""
    from refsw.encoder.keys import CLOSED_EYE, MAX_TURN_DEG, choose_key_pictures, key_quality, turn_degrees

    clip = load_clip("st_furious_talk2_clip6", data_dir=shared_dir / "data", max_frames=120)  # head tilts
    spec = get_model("sem3d")
    params, _ = spec.make_analyser().analyse(clip.frames)
    sem = spec.key_semantics(params)
    refresh = choose_key_pictures(sem, 0)
    assert refresh.starts[0] == 0 and len(refresh.starts) >= 2
    for prev, start, why in zip(refresh.starts, refresh.starts[1:], refresh.reasons[1:]):
        assert why.startswith("refresh: head turned")
        assert turn_degrees(sem.rotation[prev : start + 1], sem.rotation[prev]).max() > MAX_TURN_DEG
    periodic = choose_key_pictures(sem, 40)
    quality = key_quality(sem)
    for prev, start, why in zip(periodic.starts, periodic.starts[1:], periodic.reasons[1:]):
        if why == "periodic":  # due 40 pictures after the previous key picture, moved by 8 at most
            due = prev + 40
            assert abs(start - due) <= 8 and quality[start] >= quality[min(due, len(quality) - 1)]
    # a key picture taken mid-blink is replaced by one with open eyes
    eyes = sem.eyes.copy()
    eyes[:30] = 0.2 * np.median(eyes)
    blink = choose_key_pictures(type(sem)(eyes, sem.mouth, sem.rotation, sem.log_scale), 0)
    assert "refresh: eyes closed in the key picture" in blink.reasons
    closed_at = blink.starts[blink.reasons.index("refresh: eyes closed in the key picture")]
    assert eyes[closed_at] >= CLOSED_EYE * np.median(eyes)
