"""Dense piecewise-affine mesh warp: the ``sem3d`` generator's renderer.

The key picture is cut into triangles whose vertices are the MediaPipe face mesh of the key picture
(468 surface landmarks and 10 iris landmarks), two rings around the face oval (so hair, ears and
neck follow the head) and far anchors outside the picture (so the background stays still). The
triangulation (Delaunay, on the key picture) is fixed per key picture; each output picture moves the
vertices to their target positions and maps every output pixel back into the key picture with the
affine map of the target triangle that covers it (backward warping, as in classic image morphing:
Beier & Neely 1992, Wolberg, "Digital Image Warping", 1990). A triangle rasteriser (OpenCV
``fillPoly``) gives the triangle of each output pixel; ``cv2.remap`` resamples the key picture.

Where the mouth opens wider than in the key picture, the warp would stretch the key picture's
lips or its mouth interior: a key picture whose interior shows keeps its teeth with the lips and
opens a cavity between them (:func:`open_key_mouth`); for one with closed lips the opening is
painted with a mouth-interior model (:func:`paint_mouth_interior`). Where an eye closes, the lid
skin and the lash line are painted over it (:func:`paint_closed_lid`).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

#: Far anchors (normalised coordinates) that never move: a 5x5 ring outside the picture.
_FAR = 1.6
FAR_ANCHORS = np.array(
    [[x, y] for x in np.linspace(-_FAR, _FAR, 5) for y in np.linspace(-_FAR, _FAR, 5) if max(abs(x), abs(y)) == _FAR]
)


#: Triangles whose area in the output is less than this share of theirs in the key picture (or
#: turned over: negative) are not drawn, nor those squeezed to less than ``MIN_HEIGHT`` pixels
#: (twice area / longest edge) from at least twice that; their pixels are filled from around them.
MIN_AREA_RATIO, MIN_HEIGHT = 0.1, 1.5


def to_pixels(points: np.ndarray, size: int) -> np.ndarray:
    """Normalised coordinates (-1 = left/top picture edge, +1 = right/bottom edge) -> pixel
    coordinates (pixel centres at integers) of a ``size``-wide picture."""
    return (points + 1.0) * (0.5 * size) - 0.5


class MeshWarp:
    """Warps one key picture with moving control points.

    Args:
        key_picture: ``(H, W, 3)`` uint8 RGB.
        source: ``(P, 2)`` float64 control points in the key picture (normalised), far anchors
            not included (they are added).
        subsets: named boolean masks ``(P,)`` of control points that may be left out of a
            picture's triangulation (e.g. an iris hidden by a closed lid); one triangulation is
            built per combination actually used.
        interpolation: OpenCV interpolation of the resampling (bicubic by default: bilinear
            resampling at sub-pixel offsets blurs the key picture's detail).
    """

    def __init__(
        self,
        key_picture: np.ndarray,
        source: np.ndarray,
        subsets: dict[str, np.ndarray] | None = None,
        interpolation: int = cv2.INTER_CUBIC,
    ) -> None:
        self.interpolation = interpolation
        self.key = np.ascontiguousarray(key_picture)
        self.height, self.width = key_picture.shape[:2]
        self.source = np.concatenate([np.asarray(source, dtype=np.float64), FAR_ANCHORS])
        self.subsets = {k: np.concatenate([v, np.zeros(len(FAR_ANCHORS), bool)]) for k, v in (subsets or {}).items()}
        self._triangulations: dict[frozenset[str], tuple[np.ndarray, np.ndarray]] = {}
        ys, xs = np.mgrid[0 : self.height, 0 : self.width]
        self._pix = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)], 1).astype(np.float32)

    def _triangles(self, left_out: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(kept point indices, triangles (T, 3) into them)`` for one combination of left-out subsets."""
        if left_out not in self._triangulations:
            keep = np.ones(len(self.source), bool)
            for name in left_out:
                keep &= ~self.subsets[name]
            idx = np.flatnonzero(keep)
            pts = self.source[idx]
            _, first = np.unique(np.round(pts, 6), axis=0, return_index=True)
            idx = idx[np.sort(first)]
            self._triangulations[left_out] = (idx, Delaunay(self.source[idx]).simplices.astype(np.int64))
        return self._triangulations[left_out]

    def maps(self, target: np.ndarray, left_out: frozenset[str] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
        """``(map_x, map_y)`` ``(H, W)`` float32 pixel positions in the key picture of every output
        pixel, for control points moved to ``target`` ``(P, 2)`` (normalised, far anchors not
        included)."""
        idx, tris = self._triangles(left_out)
        dst = np.concatenate([np.asarray(target, dtype=np.float64), FAR_ANCHORS])[idx]
        src = self.source[idx]
        dst_px = np.stack([to_pixels(dst[:, 0], self.width), to_pixels(dst[:, 1], self.height)], 1)
        src_px = np.stack([to_pixels(src[:, 0], self.width), to_pixels(src[:, 1], self.height)], 1)
        tri_dst = dst_px[tris]  # (T, 3, 2)
        ids = np.full((self.height, self.width), -1, dtype=np.int32)
        shift = 4
        polys = np.round(tri_dst * (1 << shift)).astype(np.int32)
        lo, hi = tri_dst.min(1), tri_dst.max(1)
        visible = (hi[:, 0] >= -1) & (lo[:, 0] <= self.width) & (hi[:, 1] >= -1) & (lo[:, 1] <= self.height)
        area = np.cross(tri_dst[:, 1] - tri_dst[:, 0], tri_dst[:, 2] - tri_dst[:, 0])
        tri_src = src_px[tris]
        area_src = np.cross(tri_src[:, 1] - tri_src[:, 0], tri_src[:, 2] - tri_src[:, 0])
        # a triangle turned over by a large motion would pull in what lies beyond its neighbours,
        # and one squeezed almost flat maps its few pixels anywhere into its key-picture triangle
        # (a thin dark stroke where that holds a nostril or a lash): neither is drawn, and their
        # pixels take the mapping of the drawn pixels around them
        ratio = area / np.where(np.abs(area_src) > 1e-9, area_src, 1e-9)
        height = _height(tri_dst, area)
        sliver = (height < MIN_HEIGHT) & (height < 0.5 * _height(tri_src, area_src))
        drawn = np.flatnonzero(visible & (np.abs(area) > 1e-6) & (ratio > MIN_AREA_RATIO) & ~sliver)
        affine = np.zeros((len(tris), 3, 2))  # [x, y, 1] @ A -> source
        affine[drawn] = _affine(tri_dst[drawn], tri_src[drawn])
        for t in drawn:
            cv2.fillPoly(ids, [polys[t]], (int(t),), lineType=cv2.LINE_8, shift=shift)
        flat = ids.ravel()
        covered = flat >= 0
        out = self._pix[:, :2].copy()
        a = affine[flat[covered]].astype(np.float32)  # (n, 3, 2)
        out[covered] = np.einsum("nk,nkj->nj", self._pix[covered], a)
        map_x, map_y = (out[:, k].reshape(self.height, self.width) for k in (0, 1))
        if not covered.all() and covered.any():
            map_x, map_y = _fill_holes(map_x, map_y, covered.reshape(self.height, self.width))
        return map_x, map_y

    def resample(self, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB: the key picture sampled at ``map_x``, ``map_y`` (:meth:`maps`)."""
        return cv2.remap(self.key, map_x, map_y, interpolation=self.interpolation, borderMode=cv2.BORDER_REPLICATE)

    def warp(self, target: np.ndarray, left_out: frozenset[str] = frozenset()) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB: the key picture warped so its control points land on ``target``."""
        return self.resample(*self.maps(target, left_out))


def _height(tris: np.ndarray, area: np.ndarray) -> np.ndarray:
    """``(T,)`` least height of triangles ``tris`` ``(T, 3, 2)`` of doubled signed ``area`` ``(T,)``:
    twice their area over their longest edge."""
    return np.abs(area) / np.linalg.norm(tris - np.roll(tris, 1, axis=1), axis=2).max(1).clip(1e-9)


def _affine(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``(T, 3, 2)`` affine maps ``[x, y, 1] @ A`` taking triangles ``dst`` ``(T, 3, 2)`` (not flat)
    onto ``src`` ``(T, 3, 2)``, in closed form (a batched LAPACK solve of 3x3 systems took 0.3 s
    per picture here)."""
    e = dst[:, 1:] - dst[:, :1]  # (T, 2, 2): rows p1 - p0, p2 - p0
    det = e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]
    inv = (
        np.stack([np.stack([e[:, 1, 1], -e[:, 0, 1]], 1), np.stack([-e[:, 1, 0], e[:, 0, 0]], 1)], 1)
        / det[:, None, None]
    )
    linear = inv @ (src[:, 1:] - src[:, :1])  # (T, 2, 2)
    offset = src[:, 0] - np.einsum("tk,tkj->tj", dst[:, 0], linear)
    return np.concatenate([linear, offset[:, None]], 1)


def _fill_holes(map_x: np.ndarray, map_y: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``map_x``, ``map_y`` ``(H, W)`` float32 with their unknown pixels (``known`` ``(H, W)`` bool
    False) filled from the outside in, each ring of pixels with the mean of its known 8-neighbours
    (onion-peel filling): the mapping stays continuous across a hole. (Extending the nearest
    triangle's affine map instead drew thin dark strokes where a thin triangle turned over: the
    map ran far into the key picture.)"""
    known = known.astype(np.float32)
    sums = [np.where(known > 0, m, 0.0).astype(np.float32) for m in (map_x, map_y)]
    kernel = np.ones((3, 3), np.float32)
    while (known == 0).any():
        weight = cv2.filter2D(known, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        new = (known == 0) & (weight > 0)
        if not new.any():
            break
        for m in sums:
            total = cv2.filter2D(m, -1, kernel, borderType=cv2.BORDER_CONSTANT)
            m[new] = total[new] / weight[new]
        known[new] = 1.0
    return sums[0], sums[1]


def _pixel_box(picture: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, int, int, int, int] | None:
    """``(points in pixels (P, 2), x0, y0, x1, y1)``: normalised ``points`` in pixel coordinates of
    ``picture`` and their bounding box with a 3-pixel margin, clipped to the picture; ``None`` when
    the box is empty."""
    h, w = picture.shape[:2]
    pts = np.stack([to_pixels(points[:, 0], w), to_pixels(points[:, 1], h)], 1)
    x0, y0 = np.maximum(np.floor(pts.min(0)).astype(int) - 3, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int) + 4, (w, h))
    return None if x1 <= x0 or y1 <= y0 else (pts, int(x0), int(y0), int(x1), int(y1))


def _fill(poly: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """``(y1 - y0, x1 - x0)`` float32 anti-aliased mask of the pixel polygon ``poly`` ``(P, 2)`` in
    the box ``x0..x1`` x ``y0..y1``."""
    m = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(m, [_fixed(poly - np.array([x0, y0], dtype=np.float64))], (1.0,), lineType=cv2.LINE_AA, shift=4)
    return m


def _across_the_mouth(pts: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(top (1, W), bottom (1, W), t (H, W))`` float64 of the inner-lip contour ``pts`` ``(20, 2)``
    in pixels (:data:`refsw.models.face3d.INNER_LIPS` order) over its box: the upper and lower
    inner lip at each column, and each pixel's place between them (0 at the upper lip, 1 at the
    lower lip; the gap taken as at least a pixel)."""
    upper, lower = pts[:11], np.concatenate([pts[10:], pts[:1]])[::-1]  # both left corner -> right corner
    xs = np.arange(x0, x1, dtype=np.float64)
    ou, ol = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    top = np.interp(xs, upper[ou, 0], upper[ou, 1])[None]
    bottom = np.interp(xs, lower[ol, 0], lower[ol, 1])[None]
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    return top, bottom, (ys - top) / np.maximum(bottom - top, 1.0)


#: Mouth interior: teeth only where the opening is wider than this many pixels, fully at twice
#: that. Dimmer or smaller teeth were measured worse: dlib reads a painted mouth without bright
#: teeth as less open (mouth correlation on dpe_d, mead_w009 angry, lp_d0, lp_d6: 0.51-0.89
#: with a band of a tenth of the mouth width, 0.65-0.97 with the upper half of the opening).
TEETH_MIN_GAP = 4.0


def paint_mouth_interior(
    picture: np.ndarray, inner_lips: np.ndarray, strength: float, dark: np.ndarray, teeth: np.ndarray
) -> None:
    """Paints the mouth opening (in place) where it opens wider than in the key picture.

    A procedural mouth-interior model: upper teeth in the top half of the opening (not in a narrow
    one, :data:`TEETH_MIN_GAP`), a dark interior below, lower teeth along the lower lip when the
    mouth is wide open, soft edges;
    ``strength`` in [0, 1] blends it over the warped picture (0: nothing).

    Args:
        picture: ``(H, W, 3)`` uint8 RGB, the warped picture.
        inner_lips: ``(20, 2)`` float64 inner-lip contour in normalised coordinates, from the left
            corner along the upper lip to the right corner, then back along the lower lip
            (:data:`refsw.models.face3d.INNER_LIPS`).
        strength: blend weight.
        dark: ``(3,)`` float64 RGB of the interior.
        teeth: ``(3,)`` float64 RGB of the teeth.
    """
    box = _pixel_box(picture, inner_lips) if strength > 0 else None
    if box is None:
        return
    pts, x0, y0, x1, y1 = box
    mask = _fill(pts, x0, y0, x1, y1)
    top, bottom, t = _across_the_mouth(pts, x0, y0, x1, y1)
    gap = float(np.median(bottom - top))
    # upper teeth in the upper half of the opening, lower teeth along the lower lip when it is wide
    # open; none in a narrow opening, where the lips' shadow hides them (bright teeth there read
    # as a white slash)
    shown = float(np.clip((gap - TEETH_MIN_GAP) / TEETH_MIN_GAP, 0.0, 1.0))
    teeth_w = np.clip((0.55 - t) / 0.1, 0.0, 1.0) * shown
    if gap > 6.0:
        teeth_w = np.maximum(teeth_w, np.clip((t - 0.85) / 0.1, 0.0, 1.0) * 0.8 * shown)
    shade = np.clip(1.0 - np.abs(t - 0.7) * 2.0, 0.0, 1.0)
    colour = dark[None, None] * (1.0 - 0.4 * shade[..., None])
    colour = colour * (1 - teeth_w[..., None]) + teeth[None, None] * teeth_w[..., None]
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8))
    alpha = cv2.GaussianBlur(0.5 * (mask + inner), (3, 3), 0) * float(np.clip(strength, 0, 1))
    region = picture[y0:y1, x0:x1].astype(np.float32)
    region = region * (1 - alpha[..., None]) + colour * alpha[..., None]
    picture[y0:y1, x0:x1] = np.clip(np.round(region), 0, 255).astype(np.uint8)


def open_key_mouth(picture: np.ndarray, inner_lips: np.ndarray, ratio: float, dark: np.ndarray) -> None:
    """Opens a mouth whose interior shows in the key picture (in place): the jaw drops, the teeth
    stay with the lips.

    The warp stretches the key picture's mouth interior (teeth, tongue) over the whole target
    opening. Here its upper half goes back to the upper lip and its lower half to the lower lip,
    each at the key picture's height (``ratio`` of the opening, measured across the mouth); the
    band that opens between them is a dark cavity, shaded as :func:`paint_mouth_interior`'s.

    Args:
        picture: ``(H, W, 3)`` uint8 RGB, the warped picture.
        inner_lips: ``(20, 2)`` float64 target inner-lip contour in normalised coordinates
            (:data:`refsw.models.face3d.INNER_LIPS` order).
        ratio: the key picture's mouth opening over the target's, in (0, 1]; 1 changes nothing.
        dark: ``(3,)`` float64 RGB of the cavity.
    """
    ratio = float(np.clip(ratio, 1e-3, 1.0))
    box = _pixel_box(picture, inner_lips) if ratio < 1.0 else None
    if box is None:
        return
    pts, x0, y0, x1, y1 = box
    top, bottom, t = _across_the_mouth(pts, x0, y0, x1, y1)
    height = np.maximum(bottom - top, 1.0)
    half = 0.5 * ratio
    # where each half of the key picture's interior lands (as a share of the stretched opening)
    src_t = np.where(t < 0.5, np.minimum(t / ratio, 0.5), np.maximum(1.0 - (1.0 - t) / ratio, 0.5))
    map_y = (top + src_t * height).astype(np.float32)
    map_x = np.broadcast_to(np.arange(x0, x1, dtype=np.float32)[None], map_y.shape).astype(np.float32)
    region = picture[y0:y1, x0:x1].astype(np.float32)
    moved = cv2.remap(picture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    # the cavity: between the halves, with a soft edge of about a pixel
    into = np.minimum(t - half, 1.0 - half - t) * height  # pixels into the band (negative outside)
    cavity = np.clip(into / 1.5 + 0.5, 0.0, 1.0)[..., None]
    shade = np.clip(1.0 - np.abs(t - 0.6) * 2.0, 0.0, 1.0)[..., None]
    colour = dark[None, None] * (1.0 - 0.4 * shade)
    inside = ((t > 0.0) & (t < 1.0)).astype(np.float32)[..., None]
    alpha = _fill(pts, x0, y0, x1, y1)[..., None] * inside
    inner = moved * (1.0 - cavity) + colour * cavity
    region = region * (1.0 - alpha) + inner * alpha
    picture[y0:y1, x0:x1] = np.clip(np.round(region), 0, 255).astype(np.uint8)


#: Closed-lid painting, in fold widths (between the fold's ends, just beyond the eye corners: about
#: 1.15 eye widths): lash-line width, its sag (how far its middle hangs below the lid margin), its
#: shift below the margin, and where the skin colours are taken (above the fold, below the lower lid).
LASH_WIDTH, LASH_SAG, LASH_SHIFT, SKIN_ABOVE, SKIN_BELOW = 0.07, 0.035, 0.035, 0.05, 0.07
#: Brightening of the lid skin patch in its middle (the eyeball under the lid), share of the
#: patch's top and bottom where it fades into the picture, and share of the eye width at each
#: corner where it fades.
LID_BULGE, LID_FEATHER, CORNER_FEATHER = 0.06, 0.3, 0.1


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def paint_closed_lid(
    picture: np.ndarray, fold: np.ndarray, lid: np.ndarray, lower: np.ndarray, strength: float, lash: np.ndarray
) -> None:
    """Paints the skin of an upper lid that comes down over the eye, and the lash line (in place).

    A warp that moves the upper-lid landmarks down stretches the key picture's upper eyelid (the
    fold, the lashes and the shadow of the open eye) over the eyeball, and the face mesh still reads
    such an eye as partly open (``docs/editing.md``). A real closed lid is smooth skin over the
    convex eyeball with a thin dark lash line where the lids meet. So the region between the fold
    (a landmark ring above the lid, which the lids do not move) and the current lid margin is
    painted with a skin patch: along the eye, the picture's colour just above the fold blended down
    to the colour just below the lower lid (a bilinearly blended, Coons-type patch), brightened in
    its middle where the eyeball bulges the lid, fading into the picture at the top and at the eye
    corners; then the lash line is drawn along the lid margin, sagging slightly in its middle.
    ``strength`` in [0, 1] blends both over the picture (0: nothing). Lengths scale with the fold's
    width (:data:`LASH_WIDTH` etc.).

    Args:
        picture: ``(H, W, 3)`` uint8 RGB.
        fold: ``(F, 2)`` float64 fold ring in normalised coordinates, from beyond one eye corner to
            beyond the other.
        lid: ``(U, 2)`` float64 current upper-lid margin, from the first eye corner to the other.
        lower: ``(L, 2)`` float64 lower-lid margin, the same way.
        strength: blend weight.
        lash: ``(3,)`` float64 RGB of the lash line.
    """
    strength = float(np.clip(strength, 0.0, 1.0))
    box = _pixel_box(picture, np.concatenate([fold, lower])) if strength > 0 else None
    if box is None:
        return
    pts, x0, y0, x1, y1 = box
    origin = np.array([x0, y0], dtype=np.float64)
    h, w = picture.shape[:2]
    fold_px, lower_px = pts[: len(fold)] - origin, pts[len(fold) :] - origin
    lid_px = np.stack([to_pixels(lid[:, 0], w), to_pixels(lid[:, 1], h)], 1) - origin
    axis = fold_px[-1] - fold_px[0]
    width = max(float(np.linalg.norm(axis)), 1e-6)
    axis /= width
    normal = np.array([-axis[1], axis[0]]) * (1.0 if axis[0] >= 0 else -1.0)  # towards the lower lid
    region = picture[y0:y1, x0:x1].astype(np.float32)
    u_all = np.concatenate([fold_px, lower_px]) @ axis
    us = np.linspace(u_all.min(), u_all.max(), 16)

    def along(curve: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray]:
        """(offsets across the eye (16,), picture colours there (16, 3), smoothed) of ``curve``
        moved by ``shift`` pixels towards the lower lid, at the positions ``us`` along the eye."""
        u, v = curve @ axis, curve @ normal
        order = np.argsort(u)
        vs = np.interp(us, u[order], v[order]) + shift
        at = (us[:, None] * axis + vs[:, None] * normal).astype(np.float32)
        colours = cv2.remap(region, at[:, :1], at[:, 1:], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return vs, cv2.GaussianBlur(colours.reshape(1, -1, 3), (5, 1), 0)[0]

    v_top, c_top = along(fold_px, -SKIN_ABOVE * width)
    v_bottom, c_bottom = along(lower_px, SKIN_BELOW * width)
    ys, xs = np.mgrid[0 : y1 - y0, 0 : x1 - x0].astype(np.float64)
    u, v = xs * axis[0] + ys * axis[1], xs * normal[0] + ys * normal[1]
    top = np.interp(u, us, v_top)
    t = np.clip((v - top) / np.maximum(np.interp(u, us, v_bottom) - top, 1.0), 0.0, 1.0)[..., None]
    column = [np.stack([np.interp(u, us, c[:, k]) for k in range(3)], -1) for c in (c_top, c_bottom)]
    skin = (column[0] * (1 - t) + column[1] * t) * (1.0 + LID_BULGE * np.sin(np.pi * t))
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(mask, [_fixed(np.concatenate([fold_px, lid_px[::-1]]))], (1.0,), lineType=cv2.LINE_AA, shift=4)
    corner = np.minimum(u - us[0], us[-1] - u) / (CORNER_FEATHER * (us[-1] - us[0]))
    alpha = cv2.GaussianBlur(mask, (3, 3), 0) * _smoothstep(t[..., 0] / LID_FEATHER) * _smoothstep(corner)
    region += (skin.astype(np.float32) - region) * (strength * alpha)[..., None]
    # the lash line, drawn 4x larger and reduced: sub-pixel width and position
    sag = np.sin(np.linspace(0.0, np.pi, len(lid_px)))[:, None] * LASH_SAG * width
    line = np.zeros((4 * (y1 - y0), 4 * (x1 - x0)), np.float32)
    drawn = 4 * (lid_px + normal * (LASH_SHIFT * width + sag)) + 1.5
    cv2.polylines(line, [_fixed(drawn)], False, (1.0,), max(1, round(4 * LASH_WIDTH * width)), cv2.LINE_AA, shift=4)
    beta = cv2.resize(line, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA) * 0.85 * strength
    region += (lash.astype(np.float32) - region) * beta[..., None]
    picture[y0:y1, x0:x1] = np.clip(np.round(region), 0, 255).astype(np.uint8)


def _fixed(points: np.ndarray) -> np.ndarray:
    """``(P, 2)`` pixel coordinates as OpenCV's 4-bit fixed point (``shift=4``) int32."""
    return np.round(points * 16).astype(np.int32)
