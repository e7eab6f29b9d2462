"""The parameter dataset of the learned translators: every model's analysis of the shared clips.

For every clip of the person split (:func:`refsw.train.split.split_clips`), its first
:data:`MAX_PICTURES` pictures are analysed by every model of :data:`refsw.models.MODEL_NAMES`
and snapped to the model's GFV grid (:meth:`refsw.models.ParameterLayout.snap`, default
precision factors), as a decoder reconstructs them from a stream. ``sem3d`` and ``kptps`` take
their face meshes from the clip cache (MediaPipe Face Mesh tracked by
:func:`refsw.train.data.load_clip` with the analyser's settings; the pictures where tracking
failed repeat the previous mesh, as :func:`refsw.models.landmarks.track_meshes` does); the learned
models run their analysis networks on the pictures.

Cache: one ``.npz`` per clip, ``~/.cache/gfv-refsw/translator/<clip>.npz`` (``$GFV_CACHE``),
arrays ``<model>`` ``(N, D_model)`` float64, ``uri_<model>`` (the generator URI of the analyser,
so that a retrained checkpoint's parameters are made again) and ``found`` ``(N,)`` bool. Command
(builds what is missing or stale; 8,719 pictures, see ``refsw/translate/weights/README.md`` for
the time)::

    python -m refsw.translate.dataset
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from refsw.models import MODEL_NAMES, get_model
from refsw.train.data import default_cache_dir, load_clip
from refsw.train.split import split_clips

log = logging.getLogger(__name__)

#: Pictures analysed per clip (the first ones).
MAX_PICTURES = 250
#: A picture's parameter shape where it is not flat (as the analysers give it and the
#: generators and translators take it).
PARAM_SHAPES = {"kptps": (16, 2)}


def as_params(model: str, rows: np.ndarray) -> np.ndarray:
    """``(N, *shape)``: the dataset's flat rows ``(N, D)`` of ``model`` in its parameter shape."""
    return rows.reshape(len(rows), *PARAM_SHAPES.get(model, (-1,)))


def cache_dir() -> Path:
    """``<gfv cache>/translator``."""
    return default_cache_dir() / "translator"


def _filled_meshes(landmarks: np.ndarray, found: np.ndarray) -> np.ndarray:
    """``(N, 478, 3)`` float64 meshes where the pictures before the first tracked one take its
    mesh (the clip cache repeats later failures already)."""
    meshes = landmarks.astype(np.float64)
    if found.any():
        meshes[: int(np.argmax(found))] = meshes[int(np.argmax(found))]
    return meshes


def analyse_clip(
    name: str, max_pictures: int = MAX_PICTURES, models: tuple[str, ...] = MODEL_NAMES
) -> dict[str, np.ndarray]:
    """The snapped parameters of ``models`` for the first ``max_pictures`` pictures of clip
    ``name``: ``{model: (N, D) float64, "uri_<model>": the generator URI whose analysis made
    them (0-d str array), "found": (N,) bool}``."""
    from refsw.models.kptps import KEYPOINTS
    from refsw.models.sem3d import NUM_COEFFICIENTS, analyse_meshes, denoise, load_basis

    clip = load_clip(name, max_frames=max_pictures)
    meshes = _filled_meshes(clip.landmarks, clip.found)
    out: dict[str, np.ndarray] = {"found": clip.found.copy()}
    for model in models:
        spec = get_model(model)
        out[f"uri_{model}"] = np.array(spec.uri)
        if model == "sem3d":
            params = denoise(analyse_meshes(meshes, load_basis().truncated(NUM_COEFFICIENTS)))
        elif model == "kptps":
            params = meshes[:, list(KEYPOINTS), :2].copy()
        else:
            params, _ = spec.make_analyser().analyse(clip.frames)
        out[model] = spec.make_layout().snap(params).reshape(len(params), -1)
    return out


def clip_path(name: str) -> Path:
    """The cache file of clip ``name``."""
    return cache_dir() / f"{name}.npz"


def load_dataset(names: list[str]) -> list[dict[str, np.ndarray]]:
    """The cached analyses of clips ``names`` (building what is missing or stale: :func:`build`)."""
    build(names)
    out = []
    for name in names:
        with np.load(clip_path(name)) as z:
            out.append({k: z[k] for k in z.files})
    return out


def stale_models(arrays: dict[str, np.ndarray]) -> tuple[str, ...]:
    """The models whose parameters in a clip's cached ``arrays`` are missing or were made by
    another analyser than the registered one (``uri_<model>`` differs: a retrained checkpoint)."""
    return tuple(m for m in MODEL_NAMES if m not in arrays or str(arrays.get(f"uri_{m}", "")) != get_model(m).uri)


def build(names: list[str]) -> None:
    """Analyses and caches the clips ``names``: every model for a clip not cached yet, the
    :func:`stale_models` for one that is."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    for name in names:
        path = clip_path(name)
        arrays: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
        models = stale_models(arrays)
        if not models:
            continue
        t0 = time.perf_counter()
        arrays.update(analyse_clip(name, models=models))
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)
        log.warning(
            "%s: %s, %d pictures in %.0f s", name, ", ".join(models), len(arrays["found"]), time.perf_counter() - t0
        )


def main(argv: list[str] | None = None) -> int:
    """Builds the dataset of every clip of the split; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(format="%(message)s")
    split = split_clips()
    t0 = time.perf_counter()
    build(split["validation"] + split["train"])
    print(f"{cache_dir()}: {sum(map(len, split.values()))} clips in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
