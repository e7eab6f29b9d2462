"""Registry of GFV models (analysis + representation + SEI mapping + generator)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """One GFV model.

    Attributes:
        name: registry key (``gfv-encode --model NAME``).
        uri_tag: ``gfv_uri_tag`` / ``nnpfc_uri_tag`` written in the stream.
        uri: ``gfv_uri`` naming the generator and its version; the decoder matches on it.
        representation: human description of what the GFV messages carry.
        make_analyzer: factory of the encoder-side analysis model.
        make_generator: factory of the decoder-side generator.
        make_mapping: factory of the GFV SEI mapping (parameters <-> syntax values).
        analyse_decoded_key: the encoder takes the key picture's parameters from the decoded key
            picture (True) or from its source picture (False); measured per model
            (``docs/models.md``, "Mapping onto the GFV SEI message").
    """

    name: str
    uri_tag: str
    uri: str
    representation: str
    make_analyzer: Callable[..., Any]
    make_generator: Callable[..., Any]
    make_mapping: Callable[..., Any]
    analyse_decoded_key: bool = True


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Adds ``spec``. Raises ValueError on a duplicate name or URI."""
    if spec.name in MODELS or any(m.uri == spec.uri for m in MODELS.values()):
        raise ValueError(f"model {spec.name!r} ({spec.uri}) registered twice")
    MODELS[spec.name] = spec
    return spec


def _load() -> None:
    if not MODELS:
        from . import kptps  # noqa: F401  (registers itself)
        from .learned import register_learned_models

        register_learned_models()


def get_model(name: str) -> ModelSpec:
    """The model registered as ``name``.

    Raises:
        KeyError: with the list of known models.
    """
    _load()
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def find_by_uri(uri: str | None) -> ModelSpec | None:
    """The model whose ``uri`` equals the stream's ``gfv_uri``, or ``None``."""
    _load()
    for spec in MODELS.values():
        if uri is not None and uri == spec.uri:
            return spec
    return None


def available_models() -> list[str]:
    """Names of the registered models (those whose checkpoints are present)."""
    _load()
    return sorted(MODELS)
