"""Pieces shared by the benchmark scripts (imported from their own folder)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refsw.metrics.msssim import msssim_per_frame
from refsw.metrics.vmaf import vmaf_per_frame


def frozen_of(decoded) -> np.ndarray:
    """The frozen-frame baseline of a :class:`refsw.decoder.DecodedVideo`: each decoded key
    picture repeated over its segment (with one key picture: picture 0 repeated), ``(N, H, W, 3)``."""
    from refsw.decoder import segment_key_indices

    return decoded.frames[segment_key_indices([p.kind == "key" for p in decoded.pictures])]


def against_frozen(
    frames: np.ndarray, decoded: np.ndarray, fps: float, frozen: np.ndarray | None = None
) -> tuple[float, float, float, float]:
    """``(MS-SSIM, MS-SSIM of the frozen frame, VMAF, VMAF of the frozen frame)``, each the mean
    over pictures of ``decoded`` (and of ``frozen``, default its picture 0 repeated; see
    :func:`frozen_of`) against the source ``frames`` (all ``(N, H, W, 3)`` uint8 RGB; ``fps``
    pictures/s for VMAF)."""
    if frozen is None:
        frozen = np.repeat(decoded[:1], len(frames), axis=0)
    return (
        float(msssim_per_frame(frames, decoded).mean()),
        float(msssim_per_frame(frames, frozen).mean()),
        float(vmaf_per_frame(frames, decoded, fps).mean()),
        float(vmaf_per_frame(frames, frozen, fps).mean()),
    )


def print_row(cells: Sequence[str], width: int = 14) -> None:
    """One row of a printed table: the cells right-aligned in ``width`` characters, flushed."""
    print(" ".join(f"{c:>{width}s}" for c in cells), flush=True)


def write_csv(path: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """The printed table as CSV."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def machine_speed(seconds: float = 1.0) -> float:
    """This machine's speed right now: GFLOP/s of float32 512x512 matrix products with torch's
    current thread count. Printed with speed tables, because the shared host's speed varies by up
    to a third between runs: compare speeds of runs only together with this figure."""
    import time

    import torch

    a, b = torch.randn(512, 512), torch.randn(512, 512)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    return 2 * 512**3 * n / (time.perf_counter() - t0) / 1e9


#: Column names of :func:`motion_columns`.
MOTION_HEADER = ("akd", "akd_frozen", "eye_corr", "mouth_corr", "pose_err_deg", "blinks", "talks")


def motion_columns(frames: np.ndarray, decoded: np.ndarray, frozen: np.ndarray, fps: float) -> list[str]:
    """The motion-fidelity columns (:data:`MOTION_HEADER`) of a decoded clip and its frozen
    baseline against ``frames`` (:func:`refsw.metrics.motion.motion_fidelity`: dlib's 68 points,
    not the analysis' MediaPipe): AKD of both, eye and mouth correlation, mean head-pose error in
    degrees, whether the input blinks / talks."""
    from refsw.metrics.motion import motion_fidelity

    ours, still = motion_fidelity(frames, decoded, fps), motion_fidelity(frames, frozen, fps)
    return [
        f"{ours.akd:.4f}",
        f"{still.akd:.4f}",
        f"{ours.eye_corr.value:.3f}",
        f"{ours.mouth_corr.value:.3f}",
        f"{ours.pose_err_deg['mean']:.2f}",
        "y" if ours.activity.blinks else "n",
        "y" if ours.activity.talks else "n",
    ]
