"""Parameter subsampling: which output pictures get a GFV message (encoder decision).

A GFV message costs its payload and 16 bits of framing even where the face hardly moves. The
encoder may omit the messages of pictures that the decoder rebuilds by interpolating the
parameters of the neighbouring messages (:func:`refsw.models.gfv_mapping.interpolate`, the
decoder's rule): ``gfv_cnt``
then counts output pictures from the key picture (values are skipped, never repeated), the
SPTI SEI message gives the output picture interval (``spti_num_units_in_elemental_interval`` /
``spti_time_scale``), and every picture of a segment up to its last message is output. This is a
proposal of this software (no published text says how a decoder fills pictures without a GFV
message; ``docs/gfv_sei.md#parameter-subsampling``).

:func:`choose_sent` is greedy: from the last sent picture it sends the farthest picture (at most
``max_interval`` ahead) for which the interpolation reproduces every picture in between within
``tolerance`` (per parameter, in the parameters' units); the key picture and the segment's last
picture are always sent. A still face costs one message every ``max_interval`` pictures.
"""

from __future__ import annotations

import numpy as np

from refsw.models.gfv_mapping import interpolate


def choose_sent(vectors: np.ndarray, tolerance: np.ndarray | float, max_interval: int) -> np.ndarray:
    """Indices of the pictures whose GFV message is sent.

    Args:
        vectors: ``(N, D)`` float64 parameters of a segment's pictures as the decoder
            reconstructs them (on the quantisation grids), row 0 the key picture.
        tolerance: ``(D,)`` or scalar: largest interpolation error allowed per parameter.
        max_interval: most pictures from one sent picture to the next (1: send every picture).

    Returns:
        ``(M,)`` int64 ascending, starting with 0 and ending with N - 1.

    Raises:
        ValueError: ``max_interval`` < 1.
    """
    if max_interval < 1:
        raise ValueError(f"max_interval {max_interval} must be at least 1")
    n = len(vectors)
    sent = [0]
    while sent[-1] < n - 1:
        s = sent[-1]
        best = s + 1
        for e in range(min(n - 1, s + max_interval), s + 1, -1):
            f = (np.arange(s + 1, e) - s) / (e - s)
            approx = vectors[s] + f[:, None] * (vectors[e] - vectors[s])
            if (np.abs(approx - vectors[s + 1 : e]) <= tolerance).all():
                best = e
                break
        sent.append(best)
    return np.asarray(sent, dtype=np.int64)


__all__ = ["choose_sent", "interpolate"]
