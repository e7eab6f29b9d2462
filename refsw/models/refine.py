"""Refinement network of the ``kptps`` generator: a small U-Net that corrects the TPS-warped
key picture (residual learning), trained here on ``../shared/data``.

Inputs, concatenated on channels, all at picture resolution: the warped key picture (3, in
[0, 1]), the key picture (3, in [0, 1]) and the warp's displacement field (2, normalised units,
scaled by 10). Output: the refined picture = warped + predicted residual, clamped to [0, 1].
Architecture after Ronneberger et al., "U-Net", MICCAI 2015 (three stride-2 levels, skip
connections, bilinear upsampling), made small enough for 256x256 on two CPU cores.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _block(cin: int, cout: int, stride: int = 1, convs: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True)]
    for _ in range(convs - 1):
        layers += [nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers)


class RefineNet(nn.Module):
    """U-Net residual refiner.

    Args:
        width: channels of the full-resolution level (one convolution each way there; the
            three lower levels use 2*width, 4*width and 6*width channels, two convolutions each).
    """

    IN_CHANNELS = 8

    def __init__(self, width: int = 12) -> None:
        super().__init__()
        w = width
        self.width = width
        self.e1 = _block(self.IN_CHANNELS, w, convs=1)
        self.e2 = _block(w, 2 * w, 2)
        self.e3 = _block(2 * w, 4 * w, 2)
        self.e4 = _block(4 * w, 6 * w, 2)
        self.d3 = _block(10 * w, 4 * w)
        self.d2 = _block(6 * w, 2 * w)
        self.d1 = _block(3 * w, w, convs=1)
        self.out = nn.Conv2d(w, 3, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, warped: torch.Tensor, key: torch.Tensor, disp: torch.Tensor) -> torch.Tensor:
        """Refined picture.

        Args:
            warped: ``(B, 3, H, W)`` float32 in [0, 1], the TPS-warped key picture.
            key: ``(B, 3, H, W)`` float32 in [0, 1], the decoded key picture.
            disp: ``(B, 2, H, W)`` float32 displacement (sampling position minus identity, normalised).

        Returns:
            ``(B, 3, H, W)`` float32 in [0, 1]. H and W must be multiples of 8.
        """
        x1 = self.e1(torch.cat([warped, key, 10.0 * disp], 1))
        x2 = self.e2(x1)
        x3 = self.e3(x2)
        x4 = self.e4(x3)
        up = lambda x, ref: F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
        y = self.d3(torch.cat([up(x4, x3), x3], 1))
        y = self.d2(torch.cat([up(y, x2), x2], 1))
        y = self.d1(torch.cat([up(y, x1), x1], 1))
        return (warped + self.out(y)).clamp(0.0, 1.0)
