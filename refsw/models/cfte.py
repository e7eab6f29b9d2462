"""``cfte``: Compact Feature Temporal Evolution (Chen et al., "Beyond Keypoint Coding: Temporal
Evolution Inference with Compact Feature Representation for Talking Face Video Compression",
DCC 2022), the GFVC common software's CFTE, trained here (``refsw/models/weights/cfte.pt``).

Parameters ``(16,)`` float64: the 4x4 compact feature, row-major, carried as one matrix of type
7 (matrix element precision factor 6); mapping table in ``docs/models.md``.
"""

from __future__ import annotations

from .interface import ModelSpec
from .learned import learned_spec, network_spec
from .registry import register_model, register_network_loader

register_network_loader("cfte", network_spec)


@register_model
def cfte() -> ModelSpec | None:
    """CFTE with its committed checkpoint (``None`` without it)."""
    return learned_spec("cfte")
