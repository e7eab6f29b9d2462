"""The learned GFV models' quality bars on real clips (split from ``test_models.py`` so that the
two pytest-xdist workers share the slow part): each beats the frozen key picture on the unseen and
the held-out clip, CTTR's sequential decision holds as the decoder renders, and the decoder's
speed-ups change no output bit."""

from __future__ import annotations

import numpy as np
import pytest

from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.metrics.msssim import msssim_per_frame
from refsw.metrics.vmaf import vmaf_per_frame
from refsw.models.learned import LearnedModel
from refsw.train.data import TEST_CLIPS, VALIDATION_CLIPS, load_clip

LEARNED = ("fomm", "cfte", "cttr", "fv2v")


@pytest.mark.slow
def test_sequential_decision_holds_as_the_decoder_renders(shared_dir) -> None:
    # CTTR's pictures depend on the previous picture's parameters: every picture the encoder
    # moves must still beat the key picture on SSIM and VMAF in the decoded video
    from refsw.metrics.ssim import luma as _luma
    from refsw.metrics.ssim import ssim_luma

    # (the clip no model was trained on, with motion: the stage-3 CTTR moves no picture of the
    # almost still lp_d19, HELD_OUT_MISSES)
    frames = load_clip(TEST_CLIPS[0], data_dir=shared_dir / "data").frames[:45:3]
    decoded = decode_stream(encode_video(frames, 25.0, max_kbps=0.0, model="cttr")[0]).frames
    moved = [i for i in range(1, len(frames)) if not np.array_equal(decoded[i], decoded[0])]
    assert moved
    frozen = np.repeat(decoded[:1], len(frames), axis=0)
    vm, vm_frozen = vmaf_per_frame(frames, decoded, 25.0), vmaf_per_frame(frames, frozen, 25.0)
    for i in moved:
        gain = ssim_luma(_luma(decoded[i]), _luma(frames[i])) - ssim_luma(_luma(decoded[0]), _luma(frames[i]))
        assert gain >= 0.001 and vm[i] >= vm_frozen[i]


@pytest.mark.slow
@pytest.mark.parametrize("name", ("fomm", "cttr"))
def test_decoder_speed_ups_give_the_same_pictures(name: str, shared_dir) -> None:
    # the motion network's per-key-picture work done once and the fused 7x7 output convolutions
    # change no output bit against the plain network
    # (on large motions: a rounding difference showed in 6 of 100 pictures there)
    from refsw.models.learned import LearnedGenerator

    # every second picture of 40: the same range of motion as before at half the test time
    frames = load_clip(TEST_CLIPS[0], data_dir=shared_dir / "data", max_frames=40).frames[::2]
    model = LearnedModel.committed(name)
    params = model.analyse(frames)[0]
    fast, plain = LearnedGenerator(model), LearnedGenerator(model, optimise=False)
    assert "fused_heads" not in vars(plain.net.generator) and "fused_heads" in vars(fast.net.generator)
    fast.set_key_picture(frames[0], params[0])
    plain.set_key_picture(frames[0], params[0])
    for i in range(1, len(params)):
        np.testing.assert_array_equal(fast.generate(params[i], params[i - 1]), plain.generate(params[i], params[i - 1]))


def _bar(
    name: str, clip_name: str, frames_n: int, shared_dir, stride: int = 1
) -> tuple[float, float, float, float, int]:
    frames = load_clip(clip_name, data_dir=shared_dir / "data").frames[::stride][:frames_n]
    stream, _ = encode_video(
        frames, 25.0, max_kbps=0.0, model=name, key_period=0
    )  # one key picture: the frozen bar below
    decoded = decode_stream(stream)
    dec = decoded.frames
    frozen = np.repeat(dec[:1], len(frames), axis=0)
    moved = sum(not np.array_equal(f, dec[0]) for f in dec[1:])
    return (
        msssim_per_frame(frames, dec).mean(),
        msssim_per_frame(frames, frozen).mean(),
        vmaf_per_frame(frames, dec, 25.0).mean(),
        vmaf_per_frame(frames, frozen, 25.0).mean(),
        moved,
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNED)
def test_beats_frozen_frame_on_the_unseen_clip(name: str, shared_dir) -> None:
    # every third picture of the first 2.4 s: the motion of the clip, at a test's cost (the
    # mesh-pose FV2V needs no longer stretch and no VMAF tie any more, docs/models.md)
    ms, ms_frozen, vm, vm_frozen, moved = _bar(name, TEST_CLIPS[0], 20, shared_dir, stride=3)
    assert moved > 0
    assert ms > ms_frozen
    assert vm > vm_frozen


#: Models that do not beat the frozen key picture on the almost still ``lp_d19`` (issue 19,
#: docs/models.md#retraining-on-the-person-split-issue-19), with what was measured.
HELD_OUT_MISSES = {
    "fomm": "the stage-3 FOMM (person split) moves no picture of lp_d19's first 50: it ties with the frozen "
    "key picture (stage 2 moved a few, VMAF +0.03); it is kept for its gains on the other 16 validation clips",
    "cttr": "the stage-3 CTTR (person split) moves no picture of lp_d19's first 50: it ties with the frozen "
    "key picture (stage 2: MS-SSIM +0.0002, VMAF +0.39); it is kept for its gains on 13 of the 17 validation clips",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=HELD_OUT_MISSES[n], strict=True)) if n in HELD_OUT_MISSES else n
        for n in LEARNED
    ],
)
def test_beats_frozen_frame_on_the_held_out_clip(name: str, shared_dir) -> None:
    # lp_d19 is almost static; each model moves a few pictures where both SSIM and VMAF gain
    # (the first 50 pictures, as benchmarks/bench_sem3d.py --validation measures them)
    ms, ms_frozen, vm, vm_frozen, moved = _bar(name, VALIDATION_CLIPS[0], 50, shared_dir)
    assert moved > 0 and ms > ms_frozen and vm > vm_frozen
