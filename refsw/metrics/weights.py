"""Where the learned metrics (LPIPS, DISTS) find their weights.

Nothing is downloaded. The weights live in one directory, given as a function argument or
by the environment variable ``GFV_METRIC_WEIGHTS``, holding the published files under these
names (only those of the metrics used are needed):

=====================  =====================================================================
file                   content
=====================  =====================================================================
``vgg16.pth``          torchvision ImageNet VGG16 state dict (``vgg16-397923af.pth``); only
                       the ``features.*`` convolutions are read (LPIPS-VGG and DISTS)
``alexnet.pth``        torchvision ImageNet AlexNet state dict (``alexnet-owt-7be5be79.pth``);
                       ``features.*`` only (LPIPS-Alex)
``LPIPSvgg.pt``        LPIPS-VGG linear weights: the GFVC / IQA-pytorch ``LPIPSvgg.pt`` or
                       lpips v0.1 ``vgg.pth`` (five ``(1, C, 1, 1)`` tensors, C = 64, 128,
                       256, 512, 512)
``lpips_alex.pth``     LPIPS-Alex linear weights, lpips v0.1 ``alex.pth`` (C = 64, 192, 384,
                       256, 256)
``DISTS.pt``           DISTS ``alpha`` and ``beta``, each ``(1, 1475, 1, 1)`` (GFVC /
                       DISTS_pytorch ``weights.pt``)
=====================  =====================================================================

A file is opened with ``torch.load(weights_only=True)``: it must be a mapping of names to
tensors (a ``{"state_dict": {...}}`` wrapper is accepted).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar, cast

import torch
from torch import nn

from .common import MetricError, MetricUnavailable

logger = logging.getLogger(__name__)

__all__ = [
    "ALEXNET_FILE",
    "DISTS_FILE",
    "ENV_VAR",
    "LPIPS_ALEX_FILE",
    "LPIPS_VGG_FILE",
    "VGG16_FILE",
    "cached_model",
    "load_tensors",
    "resolve_weights_dir",
    "weight_files",
]

#: Environment variable naming the weights directory.
ENV_VAR = "GFV_METRIC_WEIGHTS"
VGG16_FILE = "vgg16.pth"
ALEXNET_FILE = "alexnet.pth"
LPIPS_VGG_FILE = "LPIPSvgg.pt"
LPIPS_ALEX_FILE = "lpips_alex.pth"
DISTS_FILE = "DISTS.pt"
#: Loaded models kept per (kind, files); a changed file (mtime or size) is loaded again.
_MODELS: dict[tuple[object, ...], nn.Module] = {}
_MAX_MODELS = 4
ModelT = TypeVar("ModelT", bound=nn.Module)


def resolve_weights_dir(weights_dir: str | os.PathLike[str] | None, what: str) -> Path:
    """The weights directory: ``weights_dir`` if given, else ``$GFV_METRIC_WEIGHTS``.

    Raises:
        MetricUnavailable: neither is set, or the path is not a directory.
    """
    raw = os.fspath(weights_dir) if weights_dir is not None else os.environ.get(ENV_VAR, "")
    if not raw:
        raise MetricUnavailable(
            f"{what}: no weights configured; set {ENV_VAR} to a directory with the published "
            f"weights (see refsw.metrics.weights) or pass weights_dir"
        )
    path = Path(raw)
    if not path.is_dir():
        raise MetricUnavailable(f"{what}: weights directory {path} does not exist")
    return path


def weight_files(names: tuple[str, ...], weights_dir: str | os.PathLike[str] | None, what: str) -> tuple[Path, ...]:
    """Paths of the weight files ``names`` in the weights directory.

    Raises:
        MetricUnavailable: no directory configured, or a file is missing.
    """
    root = resolve_weights_dir(weights_dir, what)
    paths = tuple(root / name for name in names)
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise MetricUnavailable(f"{what}: missing weight file(s) in {root}: {', '.join(missing)}")
    return paths


def load_tensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    """The name -> tensor mapping stored in ``path`` (CPU, insertion order kept).

    Raises:
        MetricError: the file cannot be read or holds something else.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise MetricError(f"{what}: cannot load weights {path}: {exc}") from exc
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise MetricError(f"{what}: {path} is not a mapping of names to tensors")
    return dict(obj)


def cached_model(kind: str, paths: tuple[Path, ...], build: Callable[[], ModelT]) -> ModelT:
    """The model ``build()`` makes from ``paths``, built once per version of those files.

    Args:
        kind: model identity (e.g. ``"lpips-vgg-imagenet"``).
        paths: the weight files the model is built from.
        build: makes the model in eval mode.
    """
    key: tuple[object, ...] = (kind,) + tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    model = _MODELS.get(key)
    if model is None:
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.clear()
        model = _MODELS[key] = build()
        logger.debug("loaded %s from %s", kind, ", ".join(str(p) for p in paths))
    return cast(ModelT, model)
