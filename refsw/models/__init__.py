"""Face representations, analysis models and generators behind one registry.

A *model* ties together what the encoder extracts (analysis), how it is carried in the GFV SEI
message (mapping), and what the decoder runs (generator). The decoder finds the model from the
stream alone: the base GFV message's ``gfv_uri`` names it.
"""

from .registry import (
    MODELS,
    ModelSpec,
    available_models,
    find_by_uri,
    get_model,
    register_model,
)

__all__ = ["MODELS", "ModelSpec", "available_models", "find_by_uri", "get_model", "register_model"]
