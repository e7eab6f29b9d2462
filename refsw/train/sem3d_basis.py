"""Builds the ``sem3d`` face basis (``refsw/models/weights/sem3d_basis.npz``) from the shared clips.

The canonical face, rigid landmarks, semantic blendshapes and PCA expression basis
(:func:`refsw.models.face3d.build_basis`) come from the MediaPipe meshes of every tracked picture of
the clips of :data:`BASIS_CLIPS`: all clips of ``../shared/data`` except those of the persons held
out (:data:`HELD_OUT_PERSONS`, by clip-name prefix: the held-out clips of the learned models and
one actor of each source collection), so the basis is measured on faces it was not built from.
Command (it writes the file and prints the explained variance)::

    python -m refsw.train.sem3d_basis
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from refsw.models.face3d import build_basis

from .data import default_data_dir, load_clip

#: Clip-name prefixes of the persons not used to build the basis.
HELD_OUT_PERSONS = ("lp_d19", "tpsmm_driving", "dagan_driving", "dpe_d", "mead_w009", "st_obama", "st_happyenglish")
#: Number of PCA coefficients stored (the model carries the first few).
NUM_STORED = 8


def basis_clips(data_dir: Path) -> list[str]:
    """Names of the clips the basis is built from."""
    names = sorted(p.stem for p in data_dir.glob("*.mp4"))
    return [n for n in names if not n.startswith(HELD_OUT_PERSONS)]


def main(argv: list[str] | None = None) -> int:
    """Builds and writes the basis; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "models" / "weights" / "sem3d_basis.npz"
    )
    parser.add_argument("--every", type=int, default=2, help="use every k-th picture of each clip")
    args = parser.parse_args(argv)
    data_dir = default_data_dir()
    clips = basis_clips(data_dir)
    meshes = []
    for name in clips:
        clip = load_clip(name, data_dir=data_dir)
        meshes.append(clip.landmarks[clip.found][:: args.every].astype(np.float64))
    basis = build_basis(meshes, num_coefficients=NUM_STORED)
    basis.save(
        args.out,
        command="python -m refsw.train.sem3d_basis",
        clips=",".join(clips),
        pictures=str(sum(len(m) for m in meshes)),
    )
    print(f"{args.out}: {len(clips)} clips, {sum(len(m) for m in meshes)} pictures, K={NUM_STORED}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
