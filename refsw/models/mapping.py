"""Mapping of 2-D keypoint representations (``kptps``) onto GFV SEI syntax values (and back)."""

from __future__ import annotations

import numpy as np

from .gfv_mapping import GFVLayout, LayoutMapping
from .interface import RepresentationMismatch

__all__ = ["KeypointMapping", "RepresentationMismatch"]


class KeypointMapping(LayoutMapping):
    """``K`` 2-D keypoints <-> GFV coordinates, no matrices: a :class:`LayoutMapping` whose
    per-picture parameters are ``(K, 2)`` arrays (VTM's writer quantisation with nearest
    rounding, closed-loop prediction: the reference of each predicted value is the decoder's
    reconstruction).

    Args:
        num_kps: keypoints per picture (``gfv_num_kps_minus1`` + 1).
        coordinate_precision_factor: ``gfv_coordinate_precision_factor_minus1`` + 1 (step
            2^-factor in normalised units; 2^-7 is one pixel at 256x256).
        uri: ``gfv_uri`` of the base message.

    Raises:
        ModelError: ``coordinate_precision_factor`` outside 1..31 (checked by :class:`GFVLayout`).
    """

    def __init__(self, num_kps: int, coordinate_precision_factor: int, uri: str) -> None:
        super().__init__(
            GFVLayout(dim=2 * num_kps, num_kps=num_kps, coordinate_precision_factor=coordinate_precision_factor), uri
        )
        self.num_kps = num_kps

    def snap(self, kps: np.ndarray) -> np.ndarray:
        """``kps`` ``(..., K, 2)`` clipped to [-1, 1] and rounded to the coordinate grid."""
        step = 2.0**-self.layout.coordinate_precision_factor
        return np.round(np.clip(kps, -1.0, 1.0) / step) * step

    def params(self, recon: dict) -> np.ndarray:
        """``(K, 2)`` float64 keypoints from a reconstructed GFV message.

        Raises:
            RepresentationMismatch: the message has no, 3-D, or a different number of keypoints.
        """
        return super().params(recon).reshape(self.num_kps, 2)

    keypoints = params
