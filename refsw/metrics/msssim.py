"""MS-SSIM per frame on RGB, with ``pytorch_msssim``.

Multi-scale SSIM (Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale structural similarity
for image quality assessment", Asilomar 2003): 5 scales with weights
(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), an 11x11 Gaussian window with sigma 1.5 ('valid'
filtering), K1 = 0.01, K2 = 0.03, 2x2 average pooling between scales.

Computed by ``pytorch_msssim.ms_ssim(X, Y, data_range=255, size_average=False)`` on float32
``(N, 3, H, W)`` tensors holding the 0..255 RGB values: each of R, G, B is scored separately
and the three values are averaged. This is the computation of the Konuko fork of the GFVC
software (``evaluate/eval_utils/metrics.py``); the JVET common software has no MS-SSIM.
With 4 downsamplings and the 11-tap window, the shorter side must exceed 160 pixels
(256x256, the CTC size, is fine).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from pytorch_msssim import ms_ssim

from .common import MetricInputError, check_rgb_pair

logger = logging.getLogger(__name__)

__all__ = ["MIN_SIDE", "msssim_per_frame"]

#: The shorter side must be larger than this: (win_size - 1) * 2**4 with win_size 11.
MIN_SIDE = 160
#: Frames per batch handed to pytorch_msssim (bounds memory, not results).
DEFAULT_BATCH = 32


def msssim_per_frame(ref: np.ndarray, dist: np.ndarray, *, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """MS-SSIM of each frame (mean over R, G, B), in [0, 1], 1 for identical frames.

    Args:
        ref: ``(N, H, W, 3)`` ``uint8`` RGB reference, ``min(H, W) > 160``.
        dist: ``(N, H, W, 3)`` ``uint8`` RGB distorted frames.
        batch_size: frames per call to ``pytorch_msssim`` (results do not depend on it).

    Returns:
        ``(N,)`` ``float64`` MS-SSIM per frame.

    Raises:
        MetricInputError: wrong dtype or shapes, or a side of at most 160 pixels.
    """
    n, h, w = check_rgb_pair(ref, dist, "msssim")
    if min(h, w) <= MIN_SIDE:
        raise MetricInputError(f"msssim: frames {w}x{h} too small, the shorter side must exceed {MIN_SIDE}")
    if batch_size < 1:
        raise MetricInputError(f"msssim: batch_size must be positive, got {batch_size}")
    out = np.empty(n, np.float64)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            x = torch.from_numpy(np.ascontiguousarray(ref[start:stop])).permute(0, 3, 1, 2).float()
            y = torch.from_numpy(np.ascontiguousarray(dist[start:stop])).permute(0, 3, 1, 2).float()
            out[start:stop] = ms_ssim(x, y, data_range=255, size_average=False).double().numpy()
    return out
