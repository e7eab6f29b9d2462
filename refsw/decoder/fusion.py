"""Fusion of a driving picture with its generated picture (``gfv_fusion_pic_flag`` 1).

A *driving picture* is a coded picture whose GFV message (``gfv_cnt`` 0) is not a base message;
the base message before it names the generator and its key picture stays the generator's key
picture. ``gfv_fusion_pic_flag`` 1 says the decoded driving picture may be input to the generator
for fusion (JVET-AK0238, JVET-AM0334; VTM parses the flag and discards it). The fusion here, this
software's choice (``docs/gfv_sei.md#fusion``): the generated picture's detail (what the generator
takes from the key picture) on the decoded driving picture's coarse content (where things are,
colour, light, background): ``out = generated + G_sigma * (decoded - generated)``, a Gaussian
low-pass of the difference. With the flag 0 the output is the generated picture.
"""

from __future__ import annotations

import numpy as np

#: Standard deviation of the Gaussian low-pass in pixels at 256x256 (scaled with the picture height).
SIGMA_AT_256 = 3.0


def fuse(generated: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB: ``generated`` with the low frequencies of ``decoded`` (both
    ``(H, W, 3)`` uint8 RGB), Gaussian sigma :data:`SIGMA_AT_256` * H / 256 pixels."""
    import cv2

    sigma = SIGMA_AT_256 * generated.shape[0] / 256.0
    difference = decoded.astype(np.float32) - generated.astype(np.float32)
    coarse = cv2.GaussianBlur(difference, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.round(generated.astype(np.float32) + coarse), 0, 255).astype(np.uint8)
