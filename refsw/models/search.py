"""Encoder-side analysis by synthesis for keypoint-driven generators.

The decoder is deterministic, so the encoder can run it. For every picture it tries keypoints
that move only part of the way from the key picture's keypoints to the tracked ones,
``kps(alpha) = key + alpha * (tracked - key)``, and keeps the alpha whose synthesised picture
is most similar (luma SSIM, Wang et al., IEEE TIP 2004) to the source picture; a warp must beat
the previous candidate by ``margin`` to be chosen. Alpha 0 reproduces the key picture exactly, so a
picture is never synthesised worse than repeating the key picture, and landmark jitter that
would misalign a still face is not sent. The decoder needs nothing new: it just receives the
chosen keypoints (a rate-distortion decision in the spirit of the encoder decisions of the VTM
reference encoder).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Default candidate alphas.
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _luma(picture: np.ndarray) -> np.ndarray:
    return picture.astype(np.float32) @ _LUMA


def _blur(x: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(x, (11, 11), 1.5)


def ssim_luma(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two luma pictures ``(H, W)`` float32 in [0, 255] (Gaussian window, sigma 1.5)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = _blur(a), _blur(b)
    va, vb, cov = _blur(a * a) - ma * ma, _blur(b * b) - mb * mb, _blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return float(s.mean())


def choose_keypoints(frames: np.ndarray, kps: np.ndarray, generator, alphas: Sequence[float] = ALPHAS,
                     margin: float = 0.002, step: float = 0.0) -> np.ndarray:
    """Per-picture keypoints chosen by synthesis.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB source pictures; picture 0 is replaced by the key picture
            already given to ``generator.set_key_picture``.
        kps: ``(N, K, 2)`` float64 tracked normalised keypoints; ``kps[0]`` are the key picture's.
        generator: object with ``generate(kps (K, 2)) -> (H, W, 3) uint8``.
        alphas: candidate fractions of the motion from the key picture, in increasing order.
        margin: SSIM gain a larger alpha needs over the best smaller one.
        step: quantisation step of the coordinates (``2**-precision``); candidates are snapped to
            it so that what is searched is exactly what the decoder reconstructs. ``kps`` must
            already lie on that grid. 0 disables snapping.

    Returns:
        ``(N, K, 2)`` float64 keypoints to transmit (row 0 unchanged).
    """
    out = kps.copy()
    key = kps[0]
    for i in range(1, len(kps)):
        target = _luma(frames[i])
        best, best_score = key, -np.inf
        for a in alphas:
            cand = key + a * (kps[i] - key)
            if step:
                cand = np.round(cand / step) * step
            score = ssim_luma(_luma(generator.generate(cand)), target)
            if score > best_score + (margin if a else 0.0):
                best, best_score = cand, score
        out[i] = best
    return out
