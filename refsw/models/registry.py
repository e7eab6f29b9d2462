"""The model registry: one :class:`~refsw.models.interface.ModelSpec` per name and URI.

Model modules register themselves with :func:`register_model` when imported; this module
imports none of them (the package, :mod:`refsw.models`, loads them on first use).
"""

from __future__ import annotations

from collections.abc import Callable

from .interface import ModelSpec

MODELS: dict[str, ModelSpec] = {}

#: Loaders of networks carried in a stream, per model name: ``(checkpoint bytes) -> ModelSpec``;
#: registered even where the model's own checkpoint is missing, so such streams still decode.
NETWORK_LOADERS: dict[str, Callable[[bytes], ModelSpec]] = {}


def register_model(spec: ModelSpec | Callable[[], ModelSpec | None]) -> ModelSpec | None:
    """Adds a model: a :class:`ModelSpec`, or (as a decorator) a function returning one, or
    ``None`` when the model cannot be offered here (for example its checkpoint is missing).

    Raises:
        ValueError: a model with the same name or URI is registered already.
    """
    made = spec if isinstance(spec, ModelSpec) else spec()
    if made is None:
        return None
    if made.name in MODELS or any(m.uri == made.uri for m in MODELS.values()):
        raise ValueError(f"model {made.name} ({made.uri}) registered twice")
    MODELS[made.name] = made
    return made


def register_network_loader(name: str, loader: Callable[[bytes], ModelSpec]) -> None:
    """Declares that model ``name`` can load a network carried in a stream with ``loader``.

    Raises:
        ValueError: ``name`` has a loader already.
    """
    if name in NETWORK_LOADERS:
        raise ValueError(f"network loader of model {name} registered twice")
    NETWORK_LOADERS[name] = loader
