"""``fv2v``: face-vid2vid (Wang et al., "One-Shot Free-View Neural Talking-Head Synthesis for
Video Conferencing", CVPR 2021), the GFVC common software's FV2V, trained here
(``refsw/models/weights/fv2v.pt``).

Parameters ``(57,)`` float64: head rotation 3x3 row-major (matrix type 4), translation (3,
matrix type 5), then 15 expression deltas (x, y, z) as GFV 3-D coordinates (coordinate
precision factor 4, matrix element precision factor 6); mapping table in ``docs/models.md``.
"""

from __future__ import annotations

from .interface import ModelSpec
from .learned import learned_spec, network_spec
from .registry import register_model, register_network_loader

register_network_loader("fv2v", network_spec)


@register_model
def fv2v() -> ModelSpec | None:
    """face-vid2vid with its committed checkpoint (``None`` without it)."""
    return learned_spec("fv2v")
