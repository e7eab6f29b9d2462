"""The check of RGB frame arrays, and the error raised for bad input pictures.

Every part of the software that takes pictures takes them as one ``(N, H, W, 3)`` ``uint8`` RGB
array; :func:`check_frames` is the one check of that contract. Callers with their own error
hierarchy (the codec backends) pass their exception class.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["InputError", "check_even_size", "check_frames"]


class InputError(ValueError):
    """A bad input: missing/unreadable file, not a video, zero frames, bad size or array."""


def check_frames(
    frames: np.ndarray, what: str, *, error: Callable[[str], Exception] = InputError
) -> tuple[int, int, int]:
    """Check that ``frames`` is a non-empty ``(N, H, W, 3)`` ``uint8`` array.

    Args:
        frames: Array to check.
        what: Name of the input (a path, a function or an encoder name), the prefix of the
            error message.
        error: Exception class (or factory) raised with the message; :class:`InputError` by
            default.

    Returns:
        ``(N, H, W)``, each ``>= 1``.

    Raises:
        InputError: (or ``error``) If ``frames`` is not a numpy ``uint8`` array, not 4-D with
            3 channels last, or has a zero-sized dimension.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise error(f"{what}: frames must be a uint8 numpy array")
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise error(f"{what}: frames must have shape (N, H, W, 3), got {frames.shape}")
    if min(frames.shape[:3]) == 0:
        raise error(f"{what}: zero frames or empty frame size {frames.shape}")
    n, h, w, _ = frames.shape
    return n, h, w


def check_even_size(height: int, width: int, what: str, *, error: Callable[[str], Exception] = InputError) -> None:
    """Check that a frame size can be sampled in 4:2:0 (both sides even).

    Args:
        height: Frame height in pixels.
        width: Frame width in pixels.
        what: Prefix of the error message.
        error: Exception class (or factory) raised; :class:`InputError` by default.

    Raises:
        InputError: (or ``error``) If ``height`` or ``width`` is odd.
    """
    if height % 2 or width % 2:
        raise error(f"{what}: 4:2:0 needs an even frame size, got {width}x{height}")
