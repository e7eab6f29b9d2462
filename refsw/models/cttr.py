"""``cttr``: CFTE 2.0 with a temporal trajectory (the GFVC common software's CTTR), trained here
(``refsw/models/weights/cttr.pt``).

Parameters ``(16,)`` float64 as :mod:`refsw.models.cfte` (matrix type 7, matrix element
precision factor 5); its generator also reads the previous picture's feature
(:attr:`Ability.PREVIOUS_PICTURE`). Mapping table in ``docs/models.md``.
"""

from __future__ import annotations

from .interface import ModelSpec
from .learned import learned_spec, network_spec
from .registry import register_model, register_network_loader

register_network_loader("cttr", network_spec)


@register_model
def cttr() -> ModelSpec | None:
    """CTTR with its committed checkpoint (``None`` without it)."""
    return learned_spec("cttr")
