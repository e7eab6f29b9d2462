"""Learned parameter translators (JVET-AG0048): A's parameters -> shared latent -> B's parameters.

As the GFVC common software's ``Paramtranscoder`` (JVET-AG0048; Yin, Chen, Wang, Ye, DCC 2024):
a per-format *trans-encoder* eps_A (four fully connected layers, in -> 64 -> 64 -> 64 -> 64, ReLU
between) maps A's normalised parameters to a shared latent of N = 64, a per-format
*trans-decoder* delta_B (64 -> 64 -> 64 -> 64 -> out) maps it to B's output space. Unlike the
common software, which maps each picture's parameters absolutely, the translation here is
*relative* to the key picture, so that the key picture maps exactly to B's own analysis of it,
and the networks read A's *change* from the key picture, with a linear path W beside them::

    dx       = (v_A - A_key) / s_A                                   (A's normalised change)
    d        = s_B * (dx W + delta_B(eps_A(dx)) - delta_B(eps_A(0))) (B's output space, B's units)
    v_B      = target_key + d                                        (additive parts)
    R_B      = exp([d_rot]x) R(target_key)                           (sem3d / fv2v rotation)

Measured on the validation persons (``docs/translators.md#learned-translators``): networks fed
the absolute parameters, ``delta_B(eps_A(v_A)) - delta_B(eps_A(A_key))``, learn the training
persons' faces and explain less of an unseen person's change than nothing (negative explained
variance on fomm -> sem3d and cfte -> fv2v), the change form generalises, and a ridge-regressed W
alone is often as good; training keeps the network only where it helps on held-out training
persons (:mod:`refsw.translate.train`), else delta_B's last layer is zero.

B's output space is B's parameter vector, except that a head rotation (``sem3d`` and ``fv2v``
elements 0..8, :mod:`refsw.models.relative`) is replaced by a rotation vector (3, radians):
the change of head rotation from the key picture is ``exp([d_rot]x)`` (Rodrigues' formula), left-
multiplied onto the target key picture's rotation. A picture whose A parameters equal the key
picture's gives ``target_key`` bit for bit.

Inputs and outputs are normalised per element: ``s_A`` and ``s_B`` are the root mean square of
A's and of B's change between two pictures of a clip of the training persons; both are in the
checkpoint.

Checkpoints (``weights/<A>_to_<B>.npz``, one per ordered pair, made by
:mod:`refsw.translate.train`): ``enc_w0..3``, ``enc_b0..3``, ``dec_w0..3``, ``dec_b0..3`` float32
(``w`` ``(in, out)``), ``linear`` ``(in, out)``, ``in_std`` (s_A), ``out_scale`` (s_B) float32
and ``meta`` (a JSON
string: source, target, training command, steps, split, losses). Inference is numpy only (no
PyTorch import). The translator URI names the checkpoint's bytes:
``urn:gfv-refsw:translator:<A>:<B>:sha256:<hex>``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from refsw.models import MODEL_NAMES, CheckpointError

from .interface import translator_uri
from .registry import register_translator

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Models whose parameters start with a head rotation 3x3 row-major (elements 0..8).
ROTATION_MODELS = frozenset({"sem3d", "fv2v"})
#: Layers of each trans-encoder and trans-decoder (JVET-AG0048).
LAYERS = 4
#: Width of the hidden layers and of the shared latent (JVET-AG0048's N).
LATENT = 64


class TranslatorCheckpointError(CheckpointError):
    """Bytes that are not a learned translator checkpoint (or not for the pair asked)."""


def checkpoint_path(source: str, target: str) -> Path:
    """The committed checkpoint of the learned translator ``source`` -> ``target``."""
    return WEIGHTS_DIR / f"{source}_to_{target}.npz"


def output_size(model: str, dim: int) -> int:
    """Size of model ``model``'s output space for a parameter vector of ``dim`` elements (a head
    rotation counts 3, as a rotation vector)."""
    return dim - 6 if model in ROTATION_MODELS else dim


def rotation_vectors(rotations: np.ndarray) -> np.ndarray:
    """``(N, 3)`` float64 rotation vectors (axis times angle, radians) of ``(N, 9)`` row-major
    3x3 matrices, each first projected onto the nearest rotation
    (:func:`refsw.models.relative.nearest_rotation`)."""
    from scipy.spatial.transform import Rotation

    from refsw.models.relative import nearest_rotation

    mats = np.stack([nearest_rotation(r) for r in np.asarray(rotations, dtype=np.float64).reshape(-1, 9)])
    return Rotation.from_matrix(mats).as_rotvec()


def rodrigues(vectors: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` float64 rotation matrices of ``(N, 3)`` rotation vectors (Rodrigues'
    formula); a zero vector gives the identity exactly."""
    w = np.asarray(vectors, dtype=np.float64)
    theta = np.linalg.norm(w, axis=1)
    safe = np.where(theta > 0, theta, 1.0)
    k = w / safe[:, None]
    kx = np.zeros((len(w), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx[:, 1, 0], kx[:, 2, 0], kx[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
    s, c = np.sin(theta)[:, None, None], (1.0 - np.cos(theta))[:, None, None]
    return np.eye(3) + s * kx + c * (kx @ kx)


def output_space(model: str, params: np.ndarray) -> np.ndarray:
    """``(N, out)`` float64: model ``model``'s parameters ``(N, D)`` in its output space
    (:func:`output_size`; the training targets)."""
    p = np.asarray(params, dtype=np.float64).reshape(len(params), -1)
    if model not in ROTATION_MODELS:
        return p
    return np.concatenate([rotation_vectors(p[:, :9]), p[:, 9:]], 1)


def apply_change(model: str, target_key: np.ndarray, change: np.ndarray) -> np.ndarray:
    """``(N, D)`` float64: model ``model``'s key-picture parameters ``target_key`` ``(D,)`` moved
    by ``change`` ``(N, out)`` in its output space (additive; a rotation vector left-multiplies
    its rotation onto the key picture's)."""
    key = np.asarray(target_key, dtype=np.float64).ravel()
    if model not in ROTATION_MODELS:
        return key + change
    out = np.empty((len(change), key.size))
    out[:, 9:] = key[9:] + change[:, 3:]
    out[:, :9] = (rodrigues(change[:, :3]) @ key[:9].reshape(3, 3)).reshape(-1, 9)
    return out


def _mlp(x: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Fully connected layers with ReLU between them (none after the last)."""
    for i, (w, b) in enumerate(weights):
        x = x @ w + b
        if i < len(weights) - 1:
            np.maximum(x, 0.0, out=x)
    return x


class LearnedTranslator:
    """A trained translator ``source`` -> ``target`` (:class:`refsw.translate.Translator`).

    Args:
        data: the checkpoint bytes (the module docstring gives the format).
        source / target: the pair the caller expects.

    Raises:
        TranslatorCheckpointError: not a translator checkpoint, a checkpoint of another pair, or
            weights whose shapes do not chain.
    """

    def __init__(self, data: bytes, source: str, target: str) -> None:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("meta")))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
            raise TranslatorCheckpointError(f"not a translator checkpoint ({type(err).__name__})") from None
        if not isinstance(meta, dict) or (meta.get("source"), meta.get("target")) != (source, target):
            got = f"{meta.get('source')} -> {meta.get('target')}" if isinstance(meta, dict) else "no pair"
            raise TranslatorCheckpointError(f"translator checkpoint of {got}, expected {source} -> {target}")
        try:
            self.encoder = [
                (arrays[f"enc_w{i}"].astype(np.float64), arrays[f"enc_b{i}"].astype(np.float64)) for i in range(LAYERS)
            ]
            self.decoder = [
                (arrays[f"dec_w{i}"].astype(np.float64), arrays[f"dec_b{i}"].astype(np.float64)) for i in range(LAYERS)
            ]
            self.linear = arrays["linear"].astype(np.float64)
            self.in_std = arrays["in_std"].astype(np.float64)
            self.out_scale = arrays["out_scale"].astype(np.float64)
        except KeyError as err:
            raise TranslatorCheckpointError(f"translator checkpoint lacks {err.args[0]}") from None
        shapes = [self.in_std.shape[0]] + [w.shape[1] for w, _ in self.encoder + self.decoder]
        chained = all(
            w.shape[0] == shapes[i] and b.shape == (w.shape[1],) for i, (w, b) in enumerate(self.encoder + self.decoder)
        )
        if not chained or self.linear.shape != (shapes[0], shapes[-1]) or self.out_scale.shape != (shapes[-1],):
            raise TranslatorCheckpointError(f"translator checkpoint {source} -> {target}: weight shapes do not chain")
        self.source, self.target = source, target
        self.meta = meta
        self.uri = translator_uri(source, target, "sha256:" + hashlib.sha256(data).hexdigest())

    def change(self, params: np.ndarray, source_key: np.ndarray) -> np.ndarray:
        """``(N, out)`` float64: B's change from the key picture (output space, B's units) for
        A's parameters ``(N, *A)``; exactly zero for a picture whose parameters equal the key's.

        Raises:
            ValueError: A's parameters do not have the checkpoint's size.
        """
        x = np.asarray(params, dtype=np.float64).reshape(len(params), -1)
        key = np.asarray(source_key, dtype=np.float64).reshape(1, -1)
        if x.shape[1] != self.in_std.size or key.shape[1] != self.in_std.size:
            raise ValueError(
                f"{self.source} parameters of {x.shape[1]} elements, the translator takes {self.in_std.size}"
            )
        dx = np.concatenate([np.zeros_like(key), (x - key) / self.in_std])
        y = _mlp(_mlp(dx, self.encoder), self.decoder)
        d = (dx[1:] @ self.linear + y[1:] - y[0]) * self.out_scale
        d[np.all(x == key, axis=1)] = 0.0
        return d

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """B's parameters ``(N, *B)`` float64 of A's ``(N, *A)`` (see :class:`refsw.translate.Translator`)."""
        target_key = np.asarray(target_key, dtype=np.float64)
        out = apply_change(self.target, target_key, self.change(params, source_key))
        same = np.all(np.asarray(params, dtype=np.float64).reshape(len(params), -1) == np.ravel(source_key), axis=1)
        out[same] = target_key.ravel()
        return out.reshape(len(out), *target_key.shape)


@lru_cache(maxsize=64)
def load_learned(source: str, target: str) -> LearnedTranslator:
    """The committed learned translator ``source`` -> ``target`` (cached).

    Raises:
        TranslatorCheckpointError: its checkpoint is missing or broken.
    """
    path = checkpoint_path(source, target)
    if not path.is_file():
        raise TranslatorCheckpointError(
            f"learned translator {source} -> {target}: {path} is missing (gfv-train translator {source} {target})"
        )
    return LearnedTranslator(path.read_bytes(), source, target)


def _factory(source: str, target: str) -> Callable[[], LearnedTranslator]:
    return lambda: load_learned(source, target)


def _register() -> None:
    for a in MODEL_NAMES:
        for b in MODEL_NAMES:
            if a != b and checkpoint_path(a, b).is_file():
                register_translator(a, b, _factory(a, b), kind="learned")


_register()
