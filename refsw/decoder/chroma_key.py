"""The decoder's use of the GFV chroma key information (``gfv-decode --background``).

By default the decoder outputs what the generator gives (the keyed background as decoded). With a
replacement background, the samples of each output picture within the thresholds of the key
colour of the stream's first base GFV message carrying chroma key information are replaced
(:meth:`refsw.media.chroma_key.ChromaKey.composite`). The key mask is taken on each output
picture: a key picture's is its own decoded samples; a generated picture carries the key
picture's samples along the generator's warp, so keying its colours keys the warped key mask
(``docs/gfv_sei.md#chroma-key``).
"""

from __future__ import annotations

import numpy as np

from refsw.media.chroma_key import ChromaKey, ChromaKeyError
from sei.registry import PayloadType
from sei.stream import StreamSEI


def stream_chroma_key(sei: StreamSEI) -> ChromaKey | None:
    """The chroma key of the stream's first base GFV message that carries one, else ``None``."""
    for m in sei.of_type(PayloadType.GENERATIVE_FACE_VIDEO):
        v = m.values or {}
        key = ChromaKey.from_gfv(v) if v.get("BasePic") else None
        if key is not None:
            return key
    return None


def replace_background(frames: np.ndarray, sei: StreamSEI, background: np.ndarray | tuple[int, int, int]) -> np.ndarray:
    """``frames`` ``(N, H, W, 3)`` uint8 RGB with the stream's keyed background replaced by
    ``background`` (an ``(R, G, B)`` colour or an ``(H', W', 3)`` uint8 RGB picture).

    Raises:
        ChromaKeyError: the stream carries no chroma key information
            (``gfv_chroma_key_info_present_flag`` 0 in every base message), or the key is not
            a background key, or ``background`` is malformed.
    """
    key = stream_chroma_key(sei)
    if key is None:
        raise ChromaKeyError(
            "the stream carries no chroma key (gfv_chroma_key_info_present_flag 0): encode with "
            "gfv-encode --chroma-key R,G,B to replace its background"
        )
    return key.composite(frames, background)
