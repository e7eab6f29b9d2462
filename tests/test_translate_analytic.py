"""The analytic translators (issue 17 item 1): sem3d -> kptps through the canonical face, the
sem3d <-> fv2v head rotation; measured in docs/translators.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from refsw.models import get_model
from refsw.translate import get_translator
from refsw.translate.analytic import HeadPoseTranslator, Sem3dToKptps
from refsw.translate.registry import TRANSLATORS


@pytest.fixture(scope="module")
def analysed(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """sem3d and kptps analyses of 40 pictures of a held-out person (st_obama)."""
    from refsw.train.data import load_clip

    frames = load_clip("st_obama_clip2", data_dir=data_dir, max_frames=40).frames[:40]
    return (
        np.asarray(get_model("sem3d").make_analyser().analyse(frames)[0]),
        np.asarray(get_model("kptps").make_analyser().analyse(frames)[0]),
    )


def test_analytic_pairs_are_registered() -> None:
    # v2 of the head-pose pair: it also moves the translation (v1 moved the rotation only)
    for pair, version in ((("sem3d", "kptps"), "v1"), (("sem3d", "fv2v"), "v2"), (("fv2v", "sem3d"), "v2")):
        assert "analytic" in TRANSLATORS[pair]
        assert get_translator(*pair, kind="analytic").uri == f"urn:gfv-refsw:translator:{pair[0]}:{pair[1]}:{version}"


def test_sem3d_to_kptps_follows_the_landmarks(analysed: tuple[np.ndarray, np.ndarray]) -> None:
    sem3d, kptps = analysed
    out = Sem3dToKptps().translate(sem3d, sem3d[0], kptps[0])
    assert out.shape == kptps.shape
    np.testing.assert_array_equal(out[0], kptps[0])  # the key picture maps to the target key exactly
    moving = kptps.reshape(len(kptps), -1).std(0) > 1e-3
    corr = [
        np.corrcoef(out.reshape(len(out), -1)[:, j], kptps.reshape(len(kptps), -1)[:, j])[0, 1]
        for j in np.flatnonzero(moving)
    ]
    assert np.mean(corr) > 0.9
    frozen = np.abs(kptps - kptps[:1]).mean()
    assert np.abs(out - kptps).mean() < 0.3 * frozen  # much nearer B's own analysis than the key's


def test_head_pose_round_trip_and_key() -> None:
    rng = np.random.default_rng(1)
    key_s = rng.normal(size=24)
    key_s[:9] = Rotation.from_rotvec([0.1, -0.2, 0.05]).as_matrix().ravel()
    key_f = rng.normal(size=57)
    key_f[:9] = Rotation.from_rotvec([0.0, 0.3, -0.1]).as_matrix().ravel()
    params = np.repeat(key_s[None], 5, 0)
    params[:, :9] = Rotation.from_rotvec(rng.normal(scale=0.2, size=(5, 3))).as_matrix().reshape(5, 9)
    params[:, 9:11] += rng.normal(scale=0.05, size=(5, 2))  # the head centre moves too
    params[0] = key_s
    to_f = HeadPoseTranslator("sem3d", "fv2v").translate(params, key_s, key_f)
    np.testing.assert_array_equal(to_f[0], key_f)
    np.testing.assert_array_equal(to_f[:, 12:], np.repeat(key_f[None, 12:], 5, 0))  # the expression stays
    back = HeadPoseTranslator("fv2v", "sem3d").translate(to_f, key_f, key_s)
    np.testing.assert_allclose(back[:, :11], params[:, :11], atol=1e-9)  # rotation, head centre x, y
    np.testing.assert_array_equal(back[:, 11:], np.repeat(key_s[None, 11:], 5, 0))
    angle = np.linalg.norm(Rotation.from_matrix(to_f[1, :9].reshape(3, 3) @ key_f[:9].reshape(3, 3).T).as_rotvec())
    ref = np.linalg.norm(Rotation.from_matrix(params[1, :9].reshape(3, 3) @ key_s[:9].reshape(3, 3).T).as_rotvec())
    assert angle == pytest.approx(ref)  # the relative turn keeps its size
    # a head that only shifts shifts fv2v's keypoints by as much (same picture axes)
    shifted = np.stack([key_s, key_s])
    shifted[1, 9:11] += [0.1, -0.05]
    moved = HeadPoseTranslator("sem3d", "fv2v").translate(shifted, key_s, key_f)
    np.testing.assert_allclose(moved[1, :9], key_f[:9], atol=1e-12)
    np.testing.assert_allclose(moved[1, 9:12] - key_f[9:12], [0.1, -0.05, 0.0], atol=1e-12)


def test_default_kind_does_not_depend_on_import_order() -> None:
    # the learned module imported first (as a test or a tool may do) registers its sem3d -> kptps
    # translator before the analytic one; the default is still the analytic kind
    import importlib
    import sys

    from refsw.translate import registry

    saved = {k: dict(v) for k, v in registry.TRANSLATORS.items()}
    modules = {
        m: sys.modules.pop(f"refsw.translate.{m}")
        for m in registry.TRANSLATOR_MODULES
        if f"refsw.translate.{m}" in sys.modules
    }
    try:
        registry.TRANSLATORS.clear()
        importlib.import_module("refsw.translate.learned")
        assert next(iter(registry.TRANSLATORS[("sem3d", "kptps")])) == "learned"
        assert registry.get_translator("sem3d", "kptps").uri.endswith(":v1")  # the analytic translator
    finally:
        registry.TRANSLATORS.clear()
        registry.TRANSLATORS.update(saved)
        sys.modules.update(modules)
