"""The quality figures the apps print at the end of a run (as VTM and vvenc print PSNR-Y/U/V):
PSNR per plane (YUV 4:2:0, BT.601 limited range, as the CTC), MS-SSIM and VMAF, averaged over
the pictures."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from refsw.progress import bar

from .msssim import msssim_per_frame
from .psnr import psnr_yuv_per_frame
from .vmaf import vmaf_per_frame

#: Cap of a plane's PSNR when it has no error at all (identical pictures), in dB.
MAX_PSNR_DB = 100.0


@dataclass(frozen=True)
class QualitySummary:
    """Mean quality of decoded pictures against their references.

    Attributes:
        pictures: number of pictures compared.
        psnr_y / psnr_u / psnr_v: mean PSNR per plane in dB (capped at :data:`MAX_PSNR_DB`).
        msssim: mean MS-SSIM (Wang et al. 2003) of the RGB pictures, in [0, 1].
        vmaf: mean VMAF (v0.6.1, libvmaf through FFmpeg), in [0, 100].
    """

    pictures: int
    psnr_y: float
    psnr_u: float
    psnr_v: float
    msssim: float
    vmaf: float

    def text(self) -> str:
        """One line, VTM-style."""
        return (
            f"quality ({self.pictures} pictures): PSNR Y {self.psnr_y:.2f} dB  U {self.psnr_u:.2f} dB  "
            f"V {self.psnr_v:.2f} dB  MS-SSIM {self.msssim:.4f}  VMAF {self.vmaf:.2f}"
        )

    def as_dict(self) -> dict[str, float | int]:
        """For the JSON summaries."""
        return asdict(self)


def quality_summary(reference: np.ndarray, decoded: np.ndarray, fps: float) -> QualitySummary:
    """:class:`QualitySummary` of ``decoded`` against ``reference``.

    Args:
        reference / decoded: ``(N, H, W, 3)`` uint8 RGB, the same shape (H and W even).
        fps: picture rate (VMAF's temporal features).

    Raises:
        refsw.metrics.common.MetricInputError: shapes or dtypes that do not match.
        refsw.metrics.common.MetricError: VMAF cannot run (FFmpeg without libvmaf).
    """
    steps = bar("quality metrics", total=3, unit="metric")
    psnr = psnr_yuv_per_frame(reference, decoded, max_db=MAX_PSNR_DB)
    steps.update()
    msssim = float(msssim_per_frame(reference, decoded).mean())
    steps.update()
    vmaf = float(vmaf_per_frame(reference, decoded, fps).mean())
    steps.update()
    steps.close()
    return QualitySummary(
        pictures=len(reference),
        psnr_y=float(psnr.y.mean()),
        psnr_u=float(psnr.u.mean()),
        psnr_v=float(psnr.v.mean()),
        msssim=msssim,
        vmaf=vmaf,
    )
