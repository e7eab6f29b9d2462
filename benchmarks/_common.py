"""Pieces shared by the benchmark scripts (imported from their own folder)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctc.metrics.msssim import msssim_per_frame
from ctc.metrics.vmaf import vmaf_per_frame


def against_frozen(frames: np.ndarray, decoded: np.ndarray, fps: float) -> tuple[float, float, float, float]:
    """``(MS-SSIM, MS-SSIM of the frozen frame, VMAF, VMAF of the frozen frame)``, each the mean
    over pictures of ``decoded`` (and of its picture 0 repeated) against the source ``frames``
    (both ``(N, H, W, 3)`` uint8 RGB; ``fps`` pictures/s for VMAF)."""
    frozen = np.repeat(decoded[:1], len(frames), axis=0)
    return (float(msssim_per_frame(frames, decoded).mean()), float(msssim_per_frame(frames, frozen).mean()),
            float(vmaf_per_frame(frames, decoded, fps).mean()), float(vmaf_per_frame(frames, frozen, fps).mean()))


def write_csv(path: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """The printed table as CSV."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
