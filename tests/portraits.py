"""Portraits of faces that are not in the shared clips, from images that installed packages ship
(nothing downloaded), for ``gfv-decode --base-picture``:

* ``hopper``: photo of Grace Hopper (``grace_hopper.jpg``, matplotlib's sample data);
* ``astronaut``: photo of Eileen Collins (``skimage.data.astronaut()``, scikit-image);
* ``hopper_painting``: ``hopper`` through OpenCV's stylisation filter (``cv2.stylization``), a
  painting-like picture;
* ``hopper_cartoon``, ``astronaut_cartoon``: cartoons: OpenCV's edge-preserving filter, colour
  quantisation to 12 colours (k-means) and dark outlines from an adaptive threshold.
"""

from __future__ import annotations

import cv2
import numpy as np

NAMES = ("hopper", "astronaut", "hopper_painting", "hopper_cartoon", "astronaut_cartoon")
#: Colours of the cartoon (k-means clusters).
COLOURS = 12


def painting(picture: np.ndarray) -> np.ndarray:
    """A painting-like version of ``picture`` ``(H, W, 3)`` uint8 RGB."""
    return cv2.stylization(picture, sigma_s=60, sigma_r=0.45)


def cartoon(picture: np.ndarray) -> np.ndarray:
    """A cartoon-like version of ``picture`` ``(H, W, 3)`` uint8 RGB: flat colours, dark outlines."""
    smooth = cv2.edgePreservingFilter(picture, flags=cv2.RECURS_FILTER, sigma_s=60, sigma_r=0.4)
    samples = smooth.reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(0)  # k-means++ seeding: the same cartoon every time
    stop = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, label, centre = cv2.kmeans(samples, COLOURS, None, stop, 3, cv2.KMEANS_PP_CENTERS)
    flat = centre[label.ravel()].reshape(smooth.shape)
    grey = cv2.medianBlur(cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 5)
    return (flat * (edges[..., None] > 0)).astype(np.uint8)


def portrait(name: str) -> np.ndarray:
    """Portrait ``name`` (one of :data:`NAMES`) as ``(H, W, 3)`` uint8 RGB, at its own size."""
    import imageio.v3 as iio
    import skimage.data
    from matplotlib import cbook

    photos = {
        "hopper": lambda: np.asarray(iio.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
        "astronaut": skimage.data.astronaut,
    }
    base, _, style = name.partition("_")
    picture = photos[base]()
    return {"": picture, "painting": painting(picture), "cartoon": cartoon(picture)}[style]
