"""Fits the 3-D template of the 68 dlib landmarks used for the head pose
(``refsw/metrics/face68_template.npz``) from the shared clips, and checks the pose against
MediaPipe's.

Method (no template is taken from another project):

1. Pictures: the clips below, prepared by :func:`refsw.train.data.load_clip` (face-centred
   256x256, MediaPipe Face Mesh landmarks cached with them); a picture is used when it is near
   frontal (the MediaPipe nose tip lies between 45 % and 55 % of the way between the outer eye
   corners) and dlib finds a face.
2. Lifting: each dlib point gets the depth of the Face Mesh surface under it (linear
   interpolation over a Delaunay triangulation of the mesh's x-y positions; nearest mesh
   vertex outside the mesh). Face Mesh z is in the units of x (picture width).
3. Alignment: generalised Procrustes (rotation, scale, translation) of the 478 mesh points of
   every picture onto their mean; the same transform carries the lifted dlib points; their mean
   is the raw template.
4. Frame: x from the image-left to the image-right points of the 28 mirror pairs, y from the
   eyes to the lips orthogonalised to x (pitch 0 = eye-to-mouth line in the image plane),
   z = x cross y (away from the camera); centred on the mean point, made mirror-symmetric (mean
   with its relabelled mirror), scaled to an outer inter-ocular distance of 1.

``--check``: the dlib + solvePnP pose against a MediaPipe pose (Procrustes rotation of the mesh
onto the frontal mean mesh of step 3, in the template frame) on clips with head turns; prints
the per-axis mean absolute difference after removing each clip's mean offset, and the
correlation.

Command: ``python -m refsw.train.face68_template [--check]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

from refsw.metrics.face68 import TEMPLATE_PATH, head_pose, landmarks68, rotation_to_euler
from refsw.train.data import load_clip

FIT_CLIPS = (
    "mead_m030_front_neutral_level1_001",
    "mead_m030_front_happy_level3_001",
    "mead_w009_front_angry_level3_001",
    "mead_w009_front_fear_level3_001",
    "lp_d19",
    "lp_d0",
    "tpsmm_driving",
)
CHECK_CLIPS = ("st_furious_talk2_clip1", "st_furious_talk2_clip3", "st_furious_talk2_clip7", "lp_d3")
PICTURES_PER_CLIP = 40

#: The 300-W mirror pairs (image-left index, image-right index).
MIRROR_PAIRS = (
    [(i, 16 - i) for i in range(8)]
    + [(17 + i, 26 - i) for i in range(5)]
    + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
)


def mirror_permutation() -> np.ndarray:
    """Index map of the 68 points under a left-right mirror."""
    perm = np.arange(68)
    for a, b in MIRROR_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def mesh_pixels(landmarks: np.ndarray, size: int) -> np.ndarray:
    """``(..., 478, 3)`` Face Mesh landmarks of ``load_clip`` (x, y, z in [-1, 1] units) to pixels."""
    out = (landmarks.astype(np.float64) + np.array([1.0, 1.0, 0.0])) * size / 2
    return out - np.array([0.5, 0.5, 0.0])


def lift(points2d: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """``(68, 3)``: each 2-D point with the depth of the mesh surface under it."""
    z = LinearNDInterpolator(mesh[:, :2], mesh[:, 2])(points2d)
    outside = ~np.isfinite(z)
    if outside.any():
        z[outside] = NearestNDInterpolator(mesh[:, :2], mesh[:, 2])(points2d[outside])
    return np.column_stack([points2d, z])


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, t)`` minimising ``|s R src + t - dst|`` (Umeyama), rows are points."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float((sig * np.diag(d)).sum() / (a**2).sum())
    return scale, rot, mu_d - scale * rot @ mu_s


def frontal(mesh: np.ndarray) -> bool:
    """Nose tip (mesh 1) between 45 % and 55 % of the way between the outer eye corners (33, 263)."""
    r = (mesh[1, 0] - mesh[33, 0]) / (mesh[263, 0] - mesh[33, 0])
    return 0.45 <= r <= 0.55


def collect() -> tuple[np.ndarray, np.ndarray]:
    """``(meshes (M, 478, 3), lifted dlib points (M, 68, 3))`` of the frontal pictures."""
    meshes, lifted = [], []
    for name in FIT_CLIPS:
        clip = load_clip(name)
        size = clip.frames.shape[1]
        idx = [i for i in range(len(clip.frames)) if clip.found[i]]
        idx = [i for i in idx if frontal(mesh_pixels(clip.landmarks[i], size))]
        idx = idx[:: max(1, len(idx) // PICTURES_PER_CLIP)][:PICTURES_PER_CLIP]
        pts = landmarks68(clip.frames[idx])
        used = 0
        for i, p in zip(idx, pts):
            if np.isfinite(p).all():
                mesh = mesh_pixels(clip.landmarks[i], size)
                meshes.append(mesh)
                lifted.append(lift(p, mesh))
                used += 1
        print(f"{name}: {used} frontal pictures")
    return np.stack(meshes), np.stack(lifted)


def procrustes_mean(meshes: np.ndarray, lifted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Procrustes: ``(mean mesh, mean of the lifted points carried along)``."""
    ref = meshes[0]
    for _ in range(5):
        aligned_mesh, aligned_pts = [], []
        for m, p in zip(meshes, lifted):
            s, r, t = similarity(m, ref)
            aligned_mesh.append(s * m @ r.T + t)
            aligned_pts.append(s * p @ r.T + t)
        ref = np.mean(aligned_mesh, axis=0)
    return ref, np.mean(aligned_pts, axis=0)


def template_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(rotation rows = new axes, centre, scale)`` of the frame described in step 4."""
    left = np.array([a for a, _ in MIRROR_PAIRS])
    right = np.array([b for _, b in MIRROR_PAIRS])
    x = (points[right] - points[left]).mean(0)
    x /= np.linalg.norm(x)
    y = points[48:68].mean(0) - points[36:48].mean(0)
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    centre = points.mean(0)
    scale = 1.0 / np.linalg.norm(points[45] - points[36])
    return np.stack([x, y, z]), np.asarray(centre), float(scale)


def fit() -> tuple[np.ndarray, np.ndarray, int]:
    """``(template (68, 3), mean mesh in the template frame (478, 3), pictures used)``."""
    meshes, lifted = collect()
    mean_mesh, raw = procrustes_mean(meshes, lifted)
    axes, centre, scale = template_frame(raw)
    template = scale * (raw - centre) @ axes.T
    mesh = scale * (mean_mesh - centre) @ axes.T
    mirrored = template[mirror_permutation()] * np.array([-1.0, 1.0, 1.0])
    symmetric = (template + mirrored) / 2
    rescale = 1.0 / np.linalg.norm(symmetric[45] - symmetric[36])
    return rescale * symmetric, rescale * mesh, len(meshes)


def mediapipe_pose(landmarks: np.ndarray, size: int, ref_mesh: np.ndarray) -> np.ndarray:
    """``(N, 3)`` yaw, pitch, roll (degrees) of the Face Mesh: Procrustes rotation onto ``ref_mesh``."""
    out = []
    for lm in landmarks:
        _, r, _ = similarity(ref_mesh, mesh_pixels(lm, size))
        out.append(rotation_to_euler(r))
    return np.array(out)


def check(ref_mesh: np.ndarray) -> None:
    """Prints the agreement of the dlib + solvePnP pose with the MediaPipe pose."""
    diffs = []
    for name in CHECK_CLIPS:
        clip = load_clip(name)
        ours = head_pose(landmarks68(clip.frames), (clip.frames.shape[1], clip.frames.shape[2]))
        theirs = mediapipe_pose(clip.landmarks, clip.frames.shape[1], ref_mesh)
        ok = np.isfinite(ours).all(1) & clip.found
        d = ours[ok] - theirs[ok]
        offset = d.mean(0)
        diffs.append(d - offset)
        corr = [np.corrcoef(ours[ok, k], theirs[ok, k])[0, 1] for k in range(3)]
        print(
            f"{name}: {ok.sum()}/{len(ok)} pictures; yaw range {np.ptp(ours[ok, 0]):.1f} deg (dlib) "
            f"{np.ptp(theirs[ok, 0]):.1f} (MediaPipe); offset yaw/pitch/roll "
            + "/".join(f"{v:+.1f}" for v in offset)
            + "; MAD after offset "
            + "/".join(f"{v:.2f}" for v in np.abs(d - offset).mean(0))
            + "; r "
            + "/".join(f"{v:.3f}" for v in corr)
        )
    all_d = np.abs(np.concatenate(diffs))
    print("all: mean absolute difference after offset yaw/pitch/roll " + "/".join(f"{v:.2f}" for v in all_d.mean(0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TEMPLATE_PATH)
    parser.add_argument("--check", action="store_true", help="compare the pose with MediaPipe's afterwards")
    args = parser.parse_args()
    template, mesh, pictures = fit()
    np.savez(args.out, points=template, mean_mesh=mesh, pictures=pictures, clips=np.array(FIT_CLIPS))
    print(f"wrote {args.out} ({pictures} pictures)")
    if args.check:
        check(mesh)


if __name__ == "__main__":
    main()
