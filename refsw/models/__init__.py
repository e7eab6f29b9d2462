"""GFV models behind one typed interface (:mod:`refsw.models.interface`) and one registry.

A *model* ties together what the encoder extracts (:class:`Analyser`), how it is carried in the
GFV SEI message (:class:`ParameterLayout`) and what the decoder runs (:class:`Generator`). The
decoder finds the model from the stream alone: the base GFV message's ``gfv_uri`` names it
(:func:`find_by_uri`), or a network the stream carries in an NNPFC message.
"""

from __future__ import annotations

from importlib import import_module

from .interface import (
    Ability,
    Analyser,
    CheckpointError,
    Generator,
    KeySemantics,
    ModelError,
    ModelSpec,
    NoFaceInClipError,
    ParameterLayout,
    RepresentationMismatch,
    UnknownModelError,
    generator_uri,
    parse_generator_uri,
)
from .registry import MODELS, NETWORK_LOADERS, register_model, register_network_loader

__all__ = [
    "MODELS",
    "Ability",
    "Analyser",
    "CheckpointError",
    "Generator",
    "KeySemantics",
    "ModelError",
    "ModelSpec",
    "NoFaceInClipError",
    "ParameterLayout",
    "RepresentationMismatch",
    "UnknownModelError",
    "available_models",
    "find_by_uri",
    "generator_uri",
    "get_model",
    "parse_generator_uri",
    "register_model",
    "register_network_loader",
    "resolve_uri",
]

#: Model modules, in registration order; each registers itself when imported.
MODEL_NAMES = ("sem3d", "kptps", "fomm", "cfte", "cttr", "fv2v")


def _load() -> None:
    """Imports every model module (each registers itself on its first import; a module imported
    directly before, e.g. ``refsw.models.sem3d``, is registered already)."""
    from . import cfte, cttr, fomm, fv2v, kptps, sem3d  # noqa: F401


def get_model(name: str) -> ModelSpec:
    """The model registered as ``name``.

    Raises:
        UnknownModelError: with the list of available models.
    """
    _load()
    if name not in MODELS:
        raise UnknownModelError(f"unknown model {name}; available: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def find_by_uri(uri: str | None) -> ModelSpec | None:
    """The model whose URI equals the stream's ``gfv_uri``, or ``None``. A URI of this software's
    form (:func:`parse_generator_uri`) imports only the model it names (a learned model's module
    imports PyTorch, about 230 MB); no URI imports none."""
    if uri is None:
        return None
    named = parse_generator_uri(uri)
    if named is not None and named[0] in MODEL_NAMES:
        import_module(f"{__name__}.{named[0]}")  # registers itself
    else:
        _load()
    return next((spec for spec in MODELS.values() if uri == spec.uri), None)


def resolve_uri(uri: str | None, carried: dict[str, bytes]) -> ModelSpec | None:
    """The model that animates a stream whose base GFV message names ``uri``.

    A network the stream carries (``carried``: NNPFC ``nnpfc_mode_idc`` 0 payloads keyed by the
    SHA-256 of their bytes) whose hash the URI names comes first, loaded by the registered model
    of that name; then the registered model with exactly that URI; else ``None``.

    Raises:
        CheckpointError: the carried network cannot be loaded, or is of another model.
    """
    named = parse_generator_uri(uri)
    if named is not None and named[1].startswith("sha256:") and named[1][7:] in carried:
        if named[0] in MODEL_NAMES:
            import_module(f"{__name__}.{named[0]}")  # registers its network loader
        loader = NETWORK_LOADERS.get(named[0])
        if loader is None:
            raise CheckpointError(f"gfv_uri names a {named[0]} network, which this decoder cannot load")
        loaded = loader(carried[named[1][7:]])
        if loaded.name != named[0]:
            raise CheckpointError(
                f"gfv_uri names a {named[0]} network, the NNPFC message carries a {loaded.name} network"
            )
        return loaded
    return find_by_uri(uri)


def available_models() -> list[str]:
    """Names of the registered models (those whose checkpoints are present)."""
    _load()
    return sorted(MODELS)
