"""``fv2v``: face-vid2vid (Wang et al., "One-Shot Free-View Neural Talking-Head Synthesis for
Video Conferencing", CVPR 2021), the GFVC common software's FV2V, trained here
(``refsw/models/weights/fv2v.pt``).

Parameters ``(57,)`` float64: head rotation 3x3 row-major (matrix type 4), translation (3,
matrix type 5), then 15 expression deltas (x, y, z) as GFV 3-D coordinates (coordinate
precision factor 4, matrix element precision factor 6); mapping table in ``docs/models.md``.
"""

from __future__ import annotations

from .gfv_mapping import GFVLayout, MatrixEntry
from .interface import ModelSpec
from .learned import LEARNED, LearnedModelInfo, learned_spec, network_spec
from .registry import register_model, register_network_loader

LEARNED["fv2v"] = LearnedModelInfo(
    name="fv2v",
    layout=GFVLayout(dim=57, num_kps=15, z=True, coord_start=12,
                     matrices=(MatrixEntry(4, 1, 3, 3, 0), MatrixEntry(5, 1, 3, 1, 9)),
                     coordinate_precision_factor=4, matrix_element_precision_factor=6),
    representation="FV2V: head rotation 3x3 (type 4), translation (type 5), 15 expression deltas (3-D coordinates)",
)

register_network_loader("fv2v", network_spec)


@register_model
def fv2v() -> ModelSpec | None:
    """face-vid2vid with its committed checkpoint (``None`` without it)."""
    return learned_spec("fv2v")
