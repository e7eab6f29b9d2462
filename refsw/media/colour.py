"""RGB <-> YUV 4:2:0 (I420) conversion: the one convention of the whole software.

The conversions are OpenCV's ``COLOR_RGB2YUV_I420`` and ``COLOR_YUV2RGB_I420``, which is what
the JVET GFVC common software uses (JVET-AG0042 software: ``rgb444_to_yuv420.py`` and the VTM
key-picture coder), so the 4:2:0 pictures given to VTM/VVenC/x265 and to the YUV metrics are
bit-identical to the anchors'. Exactly (checked against OpenCV 4.11 on random pictures):

* **Matrix and range**: ITU-R BT.601, limited ("studio") range: Y in 16..235, Cb/Cr in
  16..240 for in-gamut RGB; 8-bit full-range R'G'B' (0..255), no transfer function applied.
* **RGB -> YUV**: fixed point with 20 fractional bits, rounded half up, e.g.
  ``Y = (269484 R + 528482 G + 102760 B + (16 << 20) + (1 << 19)) >> 20``
  (0.257, 0.504, 0.098); Cb from (-0.148, -0.291, 0.439), Cr from (0.439, -0.368, -0.071),
  offset 128.
* **Chroma siting**: each Cb/Cr sample is computed from the *top-left* pixel of its 2x2 block
  (decimation, no filtering), i.e. chroma co-sited with the top-left luma sample
  (H.273 ``ChromaSampleLocType`` 2).
* **YUV -> RGB**: each Cb/Cr sample is used for its whole 2x2 block (nearest neighbour, no
  interpolation); ``R = (1220542 max(Y-16, 0) + 1673527 (Cr-128) + (1 << 19)) >> 20`` clipped
  to 0..255 (1.164, 1.596; G uses -0.391 Cb - 0.813 Cr, B 2.018 Cb).

All arrays are ``uint8``; frame sizes must be even. Planes are returned as separate
C-contiguous arrays.
"""

from __future__ import annotations

import cv2
import numpy as np

from .frames import InputError, check_even_size, check_frames

__all__ = ["Planes", "i420_to_rgb", "rgb_to_i420"]

#: ``(y, u, v)`` 8-bit 4:2:0 planes: ``(N, H, W)``, ``(N, H/2, W/2)``, ``(N, H/2, W/2)`` ``uint8``.
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def rgb_to_i420(frames: np.ndarray) -> Planes:
    """Convert RGB frames to YUV 4:2:0 planes (BT.601 limited range, OpenCV, see module doc).

    Args:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB, ``N >= 1``, ``H`` and ``W`` even.

    Returns:
        ``(y, u, v)``: ``y`` is ``(N, H, W)`` ``uint8``; ``u`` (Cb) and ``v`` (Cr) are
        ``(N, H/2, W/2)`` ``uint8``. Bit-identical to ``cv2.COLOR_RGB2YUV_I420`` per frame.

    Raises:
        InputError: If ``frames`` is not ``(N, H, W, 3)`` uint8 or ``H``/``W`` is odd.
    """
    n, h, w = check_frames(frames, "rgb_to_i420")
    check_even_size(h, w, "rgb_to_i420")
    y = np.empty((n, h, w), np.uint8)
    u = np.empty((n, h // 2, w // 2), np.uint8)
    v = np.empty_like(u)
    plane = h * w
    for i in range(n):
        packed = cv2.cvtColor(np.ascontiguousarray(frames[i]), cv2.COLOR_RGB2YUV_I420).ravel()
        y[i] = packed[:plane].reshape(h, w)
        u[i] = packed[plane : plane + plane // 4].reshape(h // 2, w // 2)
        v[i] = packed[plane + plane // 4 :].reshape(h // 2, w // 2)
    return y, u, v


def i420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Convert YUV 4:2:0 planes to RGB frames (BT.601 limited range, OpenCV, see module doc).

    Args:
        y: ``(N, H, W)`` ``uint8`` luma, ``N >= 1``, ``H`` and ``W`` even.
        u: ``(N, H/2, W/2)`` ``uint8`` Cb.
        v: ``(N, H/2, W/2)`` ``uint8`` Cr.

    Returns:
        ``(N, H, W, 3)`` ``uint8`` RGB, bit-identical to ``cv2.COLOR_YUV2RGB_I420`` per frame.

    Raises:
        InputError: If the planes are not 3-D uint8 arrays, are empty, have an odd size or
            inconsistent shapes.
    """
    for name, plane in (("y", y), ("u", u), ("v", v)):
        if not isinstance(plane, np.ndarray) or plane.dtype != np.uint8 or plane.ndim != 3:
            raise InputError(f"i420_to_rgb: {name} must be a 3-D uint8 array (N, rows, cols)")
    n, h, w = y.shape
    if n == 0 or h == 0 or w == 0:
        raise InputError(f"i420_to_rgb: empty luma plane {y.shape}")
    check_even_size(h, w, "i420_to_rgb")
    chroma_shape = (n, h // 2, w // 2)
    if u.shape != chroma_shape or v.shape != chroma_shape:
        raise InputError(f"i420_to_rgb: chroma planes must be {chroma_shape}, got {u.shape} and {v.shape}")
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        packed = np.concatenate((y[i].ravel(), u[i].ravel(), v[i].ravel()))
        out[i] = cv2.cvtColor(packed.reshape(h * 3 // 2, w), cv2.COLOR_YUV2RGB_I420)
    return out
