"""``fomm``: First Order Motion Model (Siarohin et al., NeurIPS 2019), the GFVC common
software's FOMM, trained here (``refsw/models/weights/fomm.pt``).

Parameters ``(60,)`` float64: 10 keypoints (x, y), normalised, then 10 Jacobians 2x2
row-major. Carriage: the keypoints as GFV 2-D coordinates (coordinate precision factor 7), the
Jacobians as matrix type 0 (one per keypoint, matrix element precision factor 5); mapping
table in ``docs/models.md``.
"""

from __future__ import annotations

from .interface import ModelSpec
from .learned import learned_spec, network_spec
from .registry import register_model, register_network_loader

register_network_loader("fomm", network_spec)


@register_model
def fomm() -> ModelSpec | None:
    """FOMM with its committed checkpoint (``None`` without it)."""
    return learned_spec("fomm")
