"""Encoder-side analysis by synthesis for keypoint-driven generators.

The decoder is deterministic, so the encoder can run it. For every picture it tries keypoints
that move only part of the way from the key picture's keypoints to the tracked ones,
``kps(alpha) = key + alpha * (tracked - key)``, snapped to the coordinate quantisation grid so
that what is tried is exactly what the decoder will reconstruct. Alpha 0 reproduces the key
picture exactly. A larger alpha is chosen only when its synthesised picture is closer to the
source picture than the key picture is: its luma SSIM (Wang et al., IEEE TIP 2004) gains at
least ``margin``; optionally (``use_vmaf``) its per-picture VMAF score (VMAF v0.6.1 via FFmpeg's
libvmaf) must not drop either. So a picture is never synthesised worse than repeating the key
picture, and landmark jitter that would misalign a still face is not sent. This is an encoder
decision only: the decoder and the bitstream syntax do not change (the same kind of
rate-distortion-style choice a VTM encoder makes with its own criteria).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from refsw.metrics.ssim import luma as _luma
from refsw.metrics.ssim import ssim_luma
from refsw.progress import progress

log = logging.getLogger(__name__)

#: Default candidate alphas (fractions of the tracked motion).
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_keypoints(
    frames: np.ndarray,
    kps: np.ndarray,
    generator,
    *,
    fps: float = 25.0,
    alphas: Sequence[float] = ALPHAS,
    margin: float = 0.001,
    step: float = 0.0,
    use_vmaf: bool = False,
    vmaf: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None = None,
    snap: Callable[[np.ndarray], np.ndarray] | None = None,
    uses_previous: bool = False,
) -> np.ndarray:
    """Per-picture keypoints chosen by synthesis.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB source pictures (picture 0 is the key picture's source).
        kps: ``(N, K, 2)`` float64 tracked normalised keypoints on the quantisation grid;
            ``kps[0]`` are the key picture's (already given to ``generator.set_key_picture``).
        generator: object with ``generate(kps (K, 2)) -> (H, W, 3) uint8``.
        fps: picture rate (for VMAF's temporal feature).
        alphas: candidate fractions of the motion, starting with 0.
        margin: SSIM gain a candidate needs over the key picture.
        step: quantisation step of the coordinates (``2**-precision``); 0 disables snapping.
        snap: puts candidates on the quantisation grid(s) (overrides ``step``; learned models
            whose parameter vector mixes coordinate and matrix precisions). Any parameter
            shape works: ``kps`` may be ``(N, D)`` parameter vectors.
        uses_previous: the generator also reads the previous picture's parameters (CTTR,
            :attr:`refsw.models.Ability.PREVIOUS_PICTURE`): pictures are decided one by one in
            output order, each candidate rendered after the parameters chosen for the picture
            before, as the decoder renders it (:func:`_decide_sequentially`).
        use_vmaf: also require that the per-picture VMAF does not drop.
        vmaf: per-picture VMAF function ``(ref, dist, fps) -> (N,)``; ``None`` uses
            :func:`refsw.metrics.vmaf.vmaf_per_frame`.

    Returns:
        ``(N, K, 2)`` float64 keypoints to transmit (row 0 unchanged).
    """
    if use_vmaf and vmaf is None:
        from refsw.metrics.vmaf import vmaf_per_frame as vmaf
    n = len(kps)
    key = kps[0]
    cands = np.empty((len(alphas), n) + kps.shape[1:])
    for a_idx, a in enumerate(alphas):
        c = key + a * (kps - key)
        cands[a_idx] = snap(c) if snap is not None else (np.round(c / step) * step if step else c)
    cands[:, 0] = key
    key_picture = generator.generate(key)  # alpha 0: the key picture itself (TPS identity)
    frozen = np.repeat(key_picture[None], n, axis=0)  # picture 0 is not decided: its source
    frozen[0] = frames[0]
    key_luma = _luma(key_picture)
    ssim = np.zeros((len(alphas), n))
    for i in range(1, n):
        ssim[0, i] = ssim_luma(key_luma, _luma(frames[i]))
    if uses_previous:
        # use_vmaf: vmaf is set (given, or vmaf_per_frame above)
        frozen_vmaf = cast("Callable[..., np.ndarray]", vmaf)(frames, frozen, fps) if use_vmaf else None
        out, chosen = _decide_sequentially(frames, cands, generator, frozen, ssim[0], frozen_vmaf, margin, vmaf, fps)
        log.info("analysis by synthesis: candidate histogram %s", np.bincount(chosen, minlength=len(alphas)).tolist())
        return out
    pictures = np.repeat(frozen[None], len(alphas), axis=0)
    for i in progress(range(1, n), "encoder decision"):
        target = _luma(frames[i])
        for a_idx in range(1, len(alphas)):
            pictures[a_idx, i] = generator.generate(cands[a_idx, i])
            ssim[a_idx, i] = ssim_luma(_luma(pictures[a_idx, i]), target)
    if use_vmaf:
        assert vmaf is not None  # given, or vmaf_per_frame above
        needed = [a for a in range(len(alphas)) if a == 0 or (ssim[a, 1:] >= ssim[0, 1:] + margin).any()]
        scores = np.full((len(alphas), n), -np.inf)
        for a_idx in needed:
            scores[a_idx] = vmaf(frames, pictures[a_idx], fps)
    else:
        scores = np.zeros((len(alphas), n))
    out = kps.copy()
    out[1:] = key
    chosen = np.zeros(n, dtype=int)
    for i in range(1, n):
        ok = (ssim[:, i] >= ssim[0, i] + margin) & (scores[:, i] >= scores[0, i])
        ok[0] = False
        if ok.any():
            best = int(np.argmax(np.where(ok, ssim[:, i], -np.inf)))
            chosen[i] = best
            out[i] = cands[best, i]
    log.info("analysis by synthesis: alpha histogram %s", np.bincount(chosen, minlength=len(alphas)).tolist())
    return out


def _decide_sequentially(
    frames: np.ndarray,
    cands: np.ndarray,
    generator,
    frozen: np.ndarray,
    key_ssim: np.ndarray,
    frozen_vmaf: np.ndarray | None,
    margin: float,
    vmaf: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None,
    fps: float,
    passes: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Choice for a generator whose pictures depend on the previous picture's parameters (CTTR).

    Pictures are decided in output order, each candidate rendered after the parameters actually
    chosen for the picture before, as the decoder will render it; the best SSIM gain of at least
    ``margin`` wins. ``frozen`` is the sequence of unmoved pictures (``(N, H, W, 3)`` uint8: the
    source picture 0, then the key picture); with ``frozen_vmaf`` (its per-picture VMAF) the
    decided sequence is then scored with VMAF: a candidate whose picture loses VMAF is excluded
    there and the sequence decided again (up to ``passes`` times); what still loses after that
    falls back to the key picture, re-checked until every moved picture keeps both gains.

    Returns:
        ``(params (N, ...) chosen, candidate index per picture (N,) int, 0 = key picture)``.
    """
    n_cands, n = cands.shape[:2]
    key = cands[0, 0]
    excluded = np.zeros((n_cands, n), dtype=bool)
    for _ in range(passes):
        out = np.repeat(key[None], n, axis=0)
        chosen = np.zeros(n, dtype=int)
        pics = frozen.copy()
        for i in progress(range(1, n), "encoder decision"):
            target = _luma(frames[i])
            best = key_ssim[i] + margin
            for c in range(1, n_cands):
                if excluded[c, i]:
                    continue
                pic = generator.generate(cands[c, i], previous=out[i - 1])
                score = ssim_luma(_luma(pic), target)
                if score >= best:
                    best, chosen[i], pics[i] = score, c, pic
            out[i] = cands[chosen[i], i]
        if frozen_vmaf is None:
            return out, chosen
        assert vmaf is not None  # choose_keypoints gives frozen_vmaf only with vmaf
        lost = (chosen > 0) & (vmaf(frames, pics, fps) < frozen_vmaf)
        if not lost.any():
            return out, chosen
        excluded[chosen[lost], np.flatnonzero(lost)] = True
    # still losing: fall back to the key picture where a picture loses, until none does (the
    # moved set only shrinks, so this ends)
    while chosen[1:].any():
        pics = frozen.copy()
        for i in np.flatnonzero(chosen):
            pics[i] = generator.generate(out[i], previous=out[i - 1])
        lost = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(chosen):
            lost[i] = ssim_luma(_luma(pics[i]), _luma(frames[i])) < key_ssim[i] + margin
        assert vmaf is not None  # reached only when the passes above had frozen_vmaf (and so vmaf)
        lost |= (chosen > 0) & (vmaf(frames, pics, fps) < frozen_vmaf)
        if not lost.any():
            break
        out[lost] = key
        chosen[lost] = 0
    return out, chosen


#: Candidate shares of a picture's head-pose change for the ``pose`` decision (share 1: as analysed).
POSE_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_pose_share(
    frames: np.ndarray,
    params: np.ndarray,
    generator,
    pose_share: Callable[[np.ndarray, np.ndarray, float], np.ndarray],
    *,
    snap: Callable[[np.ndarray], np.ndarray],
    shares: Sequence[float] = POSE_SHARES,
    margin: float = 0.001,
    steady: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-picture parameters whose head pose moves the share of the analysed change that the
    decoder synthesises best (the ``pose`` decision; ``sem3d``'s default).

    The face mesh's head pose moves with expressions: on ``lp_d19`` a wink and a lopsided smile
    of a still head turn and shift MediaPipe's mesh by up to 5 degrees and 7 pixels (dlib's points
    on the same pictures move by about 1 pixel), and the decoder turned the whole face with it
    (VMAF 54.7 against 59.7 for the frozen key picture). Every picture keeps its analysed
    expression and tries its pose moved by each of ``shares`` of the way from the key picture's
    (``pose_share``); a share below 1 is taken only where its synthesised picture's luma SSIM
    (Wang et al., IEEE TIP 2004) beats the full pose's by ``margin``, so the decoded head follows
    the analysed pose unless the picture says otherwise. The chosen share index is then
    median-filtered over ``steady`` pictures (1: not filtered), so the pose does not alternate
    between shares from picture to picture (measured against the unfiltered choice on 5 clips:
    GFV payload lower on 4, ``lp_d12`` 76.5 -> 70.6 bits per picture; VMAF 0.01-0.24 lower).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB source pictures, picture 0 the key picture's source.
        params: ``(N, D)`` float64 analysed parameters on the GFV grids; ``params[0]`` the key
            picture's (already given to ``generator.set_key_picture``).
        generator: object with ``generate(params (D,)) -> (H, W, 3) uint8``.
        pose_share: ``(key, params, share) -> params`` (:attr:`refsw.models.ModelSpec.pose_share`).
        snap: puts parameters on the GFV grids (``(M, D) -> (M, D)``), so that what is tried is
            what the decoder reconstructs.
        shares: candidate shares, increasing, the last 1.
        margin: luma SSIM gain over the full pose a smaller share needs.
        steady: length of the median filter over the chosen share indices (odd).

    Returns:
        ``(params (N, D) float64 to transmit, chosen share index per picture (N,) int)``; row 0
        unchanged (index ``len(shares) - 1``).

    Raises:
        ValueError: ``shares`` does not end with 1.
    """
    if not shares or shares[-1] != 1.0:
        raise ValueError(f"pose shares must end with 1 (the analysed pose), got {tuple(shares)}")
    p = np.asarray(params, dtype=np.float64)
    n, full = len(p), len(shares) - 1
    cands = np.repeat(p[None], len(shares), axis=0)
    chosen = np.full(n, full)
    for i in progress(range(1, n), "encoder decision (head pose)"):
        target = _luma(frames[i])
        ssim = np.empty(len(shares))
        for s_idx, share in enumerate(shares):
            if s_idx < full:
                cands[s_idx, i] = snap(pose_share(p[0], p[i], share)[None])[0]
            ssim[s_idx] = ssim_luma(_luma(generator.generate(cands[s_idx, i])), target)
        best = int(np.argmax(ssim))
        if ssim[best] >= ssim[full] + margin:
            chosen[i] = best
    if steady > 1 and n > 2:
        from scipy.ndimage import median_filter

        chosen[1:] = median_filter(chosen[1:], steady, mode="nearest")
    out = cands[chosen, np.arange(n)]
    histogram = np.bincount(chosen[1:], minlength=len(shares)).tolist()
    log.info("head-pose share by synthesis: histogram %s over shares %s", histogram, list(shares))
    return out, chosen
