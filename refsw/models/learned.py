"""The learned GFV models (FOMM, CFTE, CTTR, FV2V): checkpoints, analysis, generators, SEI layouts.

Each model has an *analyser* (encoder side: pictures -> one parameter vector per picture), a
*generator* (decoder side: decoded key picture + parameter vector -> picture) and a
:class:`~refsw.models.gfv_mapping.GFVLayout` (parameter vector <-> GFV syntax). Parameter vectors,
``(D,)`` float64, normalised units:

========  ===  ========================================================================
model     D    layout
========  ===  ========================================================================
fomm      60   10 keypoints (x, y) then 10 Jacobians 2x2 row-major
cfte      16   the 4x4 compact feature, row-major
cttr      16   as cfte (the generator also uses the previous picture's feature)
fv2v      57   head rotation 3x3 row-major, translation (3), expression deltas 15 x (x, y, z)
========  ===  ========================================================================

The GFV mapping of each model is the table in ``docs/models.md``. Checkpoints
(``refsw/models/weights/<name>.pt``) hold the fp16 state dict, the network config and how they
were trained; the generator URI carries the checkpoint's SHA-256, so a stream names the exact
network that must animate it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from ..progress import progress
from .editing import HEAD_POSE_KEYS, apply_fv2v_edit
from .gfv_mapping import GFVLayout, LayoutMapping, MatrixEntry
from .interface import Ability, CheckpointError, ModelSpec, generator_uri
from .nets.blocks import displacement, fuse_heads, motion_2d, warp
from .relative import RelativeMotion, keypoints_and_jacobians, rotation_first

if TYPE_CHECKING:  # the network classes, for the casts where a branch on the model name fixes the class
    from .nets.cfte import CFTE, CFTEGenerator
    from .nets.fomm import FOMM, OcclusionAwareGenerator
    from .nets.fv2v import FV2V, FV2VGenerator

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Largest integer accepted in a checkpoint's network config (widths, depths: a network carried
#: in a stream is untrusted input and must not make the decoder build something huge).
MAX_CONFIG_INT = 4096


@dataclass(frozen=True)
class LearnedModelInfo:
    """What distinguishes one learned model; its module registers it (:func:`learned_spec`).

    Attributes:
        name: ``fomm`` / ``cfte`` / ``cttr`` / ``fv2v``.
        layout: its GFV layout, with the precision factors chosen from the sweep in
            ``docs/models.md``.
        representation: what its GFV messages carry.
        detail_transfer: its generator adds the key picture's residual detail
            (:class:`LearnedGenerator`), chosen from ``benchmarks/bench_models.py``.
        analyse_decoded_key: the encoder takes the key picture's parameters from the decoded key
            picture (True) or from its source picture (False), chosen from the same benchmark.
        abilities: what it declares beyond encoding and decoding.
        edit_keys / apply_edit: as :class:`~refsw.models.interface.ModelSpec`'s (head pose for FV2V).
        relative_motion: its :attr:`ModelSpec.relative_motion` (:mod:`refsw.models.relative`).
    """

    name: str
    layout: GFVLayout
    representation: str
    detail_transfer: bool = True
    analyse_decoded_key: bool = False
    abilities: Ability = Ability.CARRIED_NETWORK
    edit_keys: frozenset[str] = frozenset()
    apply_edit: Callable[[np.ndarray, Mapping[str, float]], np.ndarray] | None = None
    relative_motion: RelativeMotion | None = None


#: The learned models (each registered by its module: :mod:`refsw.models.fomm`, ...).
LEARNED: dict[str, LearnedModelInfo] = {
    info.name: info
    for info in (
        LearnedModelInfo(
            name="fomm",
            layout=GFVLayout(
                dim=60,
                num_kps=10,
                z=False,
                coord_start=0,
                matrices=(MatrixEntry(0, 10, 2, 2, 20),),
                coordinate_precision_factor=7,
                matrix_element_precision_factor=5,
            ),
            representation="FOMM: 10 2-D keypoints (GFV coordinates) + 10 Jacobians 2x2 (matrix type 0)",
            analyse_decoded_key=True,
            relative_motion=keypoints_and_jacobians(10),
        ),
        LearnedModelInfo(
            name="cfte",
            layout=GFVLayout(dim=16, matrices=(MatrixEntry(7, 1, 4, 4, 0),), matrix_element_precision_factor=6),
            representation="CFTE: one 4x4 compact feature (matrix type 7)",
        ),
        LearnedModelInfo(
            name="cttr",
            layout=GFVLayout(dim=16, matrices=(MatrixEntry(7, 1, 4, 4, 0),), matrix_element_precision_factor=5),
            representation="CTTR: one 4x4 compact feature (matrix type 7), temporal trajectory, 256/384/512",
            abilities=Ability.CARRIED_NETWORK | Ability.PREVIOUS_PICTURE,
        ),
        LearnedModelInfo(
            name="fv2v",
            layout=GFVLayout(
                dim=57,
                num_kps=15,
                z=True,
                coord_start=12,
                matrices=(MatrixEntry(4, 1, 3, 3, 0), MatrixEntry(5, 1, 3, 1, 9)),
                coordinate_precision_factor=5,
                matrix_element_precision_factor=8,
            ),
            representation="FV2V: head rotation 3x3 (type 4), translation (type 5), "
            "15 expression deltas (3-D coordinates)",
            abilities=Ability.CARRIED_NETWORK | Ability.EDITS,
            edit_keys=HEAD_POSE_KEYS,
            apply_edit=apply_fv2v_edit,
            relative_motion=rotation_first,
        ),
    )
}


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def checkpoint_uri(name: str, checkpoint: bytes) -> str:
    """``gfv_uri`` / ``nnpfc_uri`` naming model ``name`` with exactly these checkpoint bytes."""
    return generator_uri(name, f"sha256:{sha256_hex(checkpoint)}")


def load_checkpoint(data: bytes) -> dict[str, Any]:
    """Parses checkpoint bytes (``torch.save`` of ``{"model", "config", "state_dict", "meta"}``)
    with ``weights_only=True`` (no code is executed).

    Raises:
        CheckpointError: not such a checkpoint.
    """
    try:
        ck = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for foreign bytes)
        raise CheckpointError(f"not a GFV generator checkpoint ({type(err).__name__})") from None
    if not isinstance(ck, dict) or not {"model", "config", "state_dict"} <= set(ck):
        raise CheckpointError("not a GFV generator checkpoint (missing model/config/state_dict)")
    if not isinstance(ck["model"], str) or ck["model"] not in LEARNED:
        raise CheckpointError(f"checkpoint of unknown model {ck['model']!r}")
    cfg = ck["config"]
    if not isinstance(cfg, dict) or not isinstance(ck["state_dict"], dict):
        raise CheckpointError("checkpoint config or state_dict is not a mapping")
    for key, value in cfg.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, int) and not -1 <= v <= MAX_CONFIG_INT for v in values):
            raise CheckpointError(f"checkpoint config {key}={value!r} is out of range")
    return ck


def weights_path(name: str) -> Path:
    """Committed checkpoint of model ``name``."""
    return WEIGHTS_DIR / f"{name}.pt"


@lru_cache(maxsize=8)
def _read_weights(name: str) -> bytes:
    path = weights_path(name)
    if not path.is_file():
        raise CheckpointError(f"model {name}: checkpoint {path} is missing (train it with gfv-train {name})")
    return path.read_bytes()


def build_network(ck: dict[str, Any]) -> torch.nn.Module:
    """The network of a loaded checkpoint, fp32, in eval mode.

    Raises:
        CheckpointError: the state dict does not fit the config.
    """
    name, cfg = ck["model"], dict(ck["config"])
    try:
        if name == "fomm":
            from .nets.fomm import FOMM, FOMMConfig

            net: torch.nn.Module = FOMM(FOMMConfig(**cfg))
        elif name in ("cfte", "cttr"):
            from .nets.cfte import CFTE, CFTEConfig

            cfg["src_channels"] = tuple(cfg.get("src_channels", CFTEConfig.src_channels))
            net = CFTE(CFTEConfig(**cfg))
        else:
            from .nets.fv2v import FV2V, FV2VConfig

            net = FV2V(FV2VConfig(**cfg))
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["state_dict"].items()})
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError, IndexError, ZeroDivisionError) as err:
        raise CheckpointError(f"{name} checkpoint does not fit its config: {str(err).splitlines()[0]}") from None
    return net.eval()


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].float().clamp(0, 1) * 255).round_().to(torch.uint8).permute(1, 2, 0).numpy()


@dataclass
class LearnedModel:
    """A loaded model: network, layout and identity.

    Attributes:
        name: ``fomm`` / ``cfte`` / ``cttr`` / ``fv2v``.
        net: the network (eval mode).
        layout: its GFV layout.
        checkpoint: the checkpoint bytes (what NNPFC mode 0 carries).
        uri: the generator URI (:func:`generator_uri`).
        meta: training provenance stored in the checkpoint.
    """

    name: str
    net: torch.nn.Module
    layout: GFVLayout
    checkpoint: bytes
    uri: str
    meta: dict

    @classmethod
    def from_bytes(cls, data: bytes) -> LearnedModel:
        """Loads checkpoint bytes (a committed file or an NNPFC ``nnpfc_mode_idc`` 0 payload).

        Raises:
            CheckpointError: not a loadable checkpoint.
        """
        ck = load_checkpoint(data)
        return cls(
            ck["model"],
            build_network(ck),
            LEARNED[ck["model"]].layout,
            data,
            checkpoint_uri(ck["model"], data),
            dict(ck.get("meta") or {}),
        )

    @classmethod
    def committed(cls, name: str) -> LearnedModel:
        """The committed checkpoint of ``name`` (cached)."""
        return _committed(name)

    # ------------------------------------------------------------------ encoder side
    @torch.inference_mode()
    def analyse(self, frames: np.ndarray, chunk: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Per-picture parameters.

        Args:
            frames: ``(N, H, W, 3)`` uint8 RGB, square; picture 0 the decoded key picture.

        Returns:
            ``(params (N, D) float64, found (N,) bool)``; ``found`` is all True (the networks
            always give parameters; there is no face detection to fail).
        """
        out = []
        for s in progress(range(0, len(frames), chunk), f"{self.name} analysis", unit=f"{chunk} pictures"):
            x = _to_tensor(frames[s : s + chunk])
            if self.name == "fomm":
                kp = cast("FOMM", self.net).kp_detector(x)
                out.append(torch.cat([kp["value"].flatten(1), kp["jacobian"].flatten(1)], 1))
            elif self.name in ("cfte", "cttr"):
                out.append(cast("CFTE", self.net).extractor(x).flatten(1))
            else:
                from .nets.fv2v import rotation_matrix

                he = cast("FV2V", self.net).he_estimator(x)
                rot = rotation_matrix(he["yaw"], he["pitch"], he["roll"])
                out.append(torch.cat([rot.flatten(1), he["t"], he["exp"].flatten(1)], 1))
        params = torch.cat(out).double().numpy()
        if self.mesh_pose and len(params) > 1:
            from .landmarks import NoFaceInClipError, track_meshes

            try:
                meshes, _ = track_meshes(frames, label="fv2v head pose")
            except NoFaceInClipError:
                log.warning("fv2v: no face for the Face Mesh head pose; the estimator's pose is kept")
            else:
                params = mesh_posed(params, meshes)
        return params, np.ones(len(params), dtype=bool)

    @property
    def mesh_pose(self) -> bool:
        """FV2V whose encoder takes the head pose from the Face Mesh (:attr:`FV2VConfig.mesh_pose`)."""
        return self.name == "fv2v" and bool(getattr(getattr(self.net, "cfg", None), "mesh_pose", False))

    def live(self) -> LiveLearnedAnalysis:
        """Per-picture analysis for live encoding (``gfv-encode --live``): :meth:`analyse` of each
        picture alone; with :attr:`mesh_pose`, the head pose relative to the first picture with a
        face (:func:`mesh_posed`), tracked causally."""
        return LiveLearnedAnalysis(self)

    def make_generator(self, deterministic: bool = False) -> LearnedGenerator:
        """A new decoder-side generator (``deterministic``: see :class:`LearnedGenerator`)."""
        return LearnedGenerator(self, deterministic=deterministic)


def mesh_posed(params: np.ndarray, meshes: np.ndarray) -> np.ndarray:
    """FV2V parameters with the head pose of pictures 1.. taken from the Face Mesh
    (:attr:`FV2VConfig.mesh_pose`, :func:`~refsw.models.nets.fv2v.mesh_relative_pose`).

    Args:
        params: ``(N, 57)`` float64 FV2V parameters from its estimator; row 0 the key picture's,
            which anchors the others and is returned unchanged.
        meshes: ``(N, 478, 3)`` Face Mesh landmarks of the same pictures
            (:func:`~refsw.models.landmarks.track_meshes` units).

    Returns:
        ``(N, 57)`` float64: rows 1.. with elements 0..8 (rotation) and 9..11 (translation) replaced.
    """
    from .nets.fv2v import mesh_relative_pose
    from .sem3d import head_poses

    mr, mt = (torch.from_numpy(a) for a in head_poses(meshes))
    n = len(params)
    p = torch.from_numpy(np.asarray(params, dtype=np.float64))
    rot, t = mesh_relative_pose(
        p[:1, :9].reshape(1, 3, 3).expand(n, 3, 3),
        p[:1, 9:12].expand(n, 3),
        mr,
        mt,
        mr[:1].expand(n, 3, 3),
        mt[:1].expand(n, 3),
    )
    out = np.array(params, dtype=np.float64)
    out[1:, :9] = rot[1:].reshape(-1, 9).numpy()
    out[1:, 9:12] = t[1:].numpy()
    return out


class LiveLearnedAnalysis:
    """A learned model's analyser fed one picture at a time (``gfv-encode --live``); see
    :meth:`LearnedModel.live`."""

    def __init__(self, model: LearnedModel) -> None:
        self.model = model
        self.tracker: Any = None
        self._anchor: tuple[np.ndarray, np.ndarray] | None = None  # estimator params, mesh
        if model.mesh_pose:
            from .landmarks import MeshTracker

            self.tracker = MeshTracker().__enter__()

    def push(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        """``frame`` ``(H, W, 3)`` uint8 RGB -> ``(params (D,) float64, found)``."""
        params = self.model.analyse(frame[None])[0][0]
        if self.tracker is None:
            return params, True
        from .landmarks import NoFaceInClipError

        try:
            mesh, _ = self.tracker.track(frame)
        except NoFaceInClipError:
            return params, True  # no face yet: the estimator's pose
        if self._anchor is None:
            self._anchor = (params, mesh)
            return params, True
        both = mesh_posed(np.stack([self._anchor[0], params]), np.stack([self._anchor[1], mesh]))
        return both[1], True

    def close(self) -> None:
        """Releases the face tracker."""
        if self.tracker is not None:
            self.tracker.__exit__(None, None, None)
            self.tracker = None


@lru_cache(maxsize=8)
def _committed(name: str) -> LearnedModel:
    return LearnedModel.from_bytes(_read_weights(name))


class LearnedGenerator:
    """Decoder-side synthesis with a learned model.

    All four models run in fp32; FOMM / CFTE / CTTR with channels-last tensors (oneDNN on the
    CPU). The feature decoder once ran in bfloat16 autocast: on a CPU without native bfloat16
    (no AVX-512 BF16 / AMX) that is emulated and was 6 times slower than fp32 (FOMM 0.386
    against 0.061 s, CFTE 0.371 against 0.056 s per picture on this project's 2-core AMD EPYC,
    2 threads), and its pictures depended on the CPU. A picture whose parameters equal the key
    picture's is the key picture itself.

    Residual detail transfer (``detail_transfer``; default per model, :attr:`LearnedModelInfo.detail_transfer`):
    the generator re-synthesises the key picture from its own parameters once; what it loses
    there (decoded key picture minus that synthesis: fine detail, ``(1, 3, H, W)`` float32) is
    warped with each picture's 2-D motion field relative to that self-synthesis (field minus the
    self-synthesis' displacement; FV2V: the 3-D field's x, y averaged over depth) and added to
    the synthesised picture. For small motion it keeps the key picture's sharpness (measured in
    ``docs/models.md``). The encoder runs the same generator, so its decisions see it.
    """

    def __init__(
        self,
        model: LearnedModel,
        detail_transfer: bool | None = None,
        optimise: bool = True,
        deterministic: bool = False,
    ) -> None:
        """``optimise=False``: the plain network, without the speed-ups that change no output bit
        (for tests and measurements; the output is the same). ``deterministic=True``: the
        portable path for regression hashes: the plain network, one thread and torch's
        reference convolutions instead of oneDNN's ISA-specific kernels, so that the output does
        not depend on the x86 CPU's vector extensions (slower; its pictures differ slightly from
        the default path's)."""
        if deterministic:
            optimise = False
            capability = torch.backends.cpu.get_cpu_capability()
            if capability.startswith("AVX512"):
                log.warning(
                    "deterministic path on ATen's %s kernels: its pictures equal an AVX2 CPU's only with "
                    "ATEN_CPU_CAPABILITY=avx2 set before torch runs (gfv-encode/gfv-decode --deterministic set it)",
                    capability,
                )
        self.deterministic = deterministic
        self.model = model
        if detail_transfer is None:
            detail_transfer = LEARNED[model.name].detail_transfer
        self.detail_transfer = detail_transfer
        self.optimise = optimise
        # channels-last 2-D tensors run faster with oneDNN (on a copy: the analysis network, shared
        # through the cache, keeps its kernels); FV2V's 3-D convolutions stay as they are
        # (type: ignore: torch's stubs lack Module.to(memory_format=), which exists at run time)
        self.net = model.net if model.name == "fv2v" else copy.deepcopy(model.net).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if model.name != "fv2v" and optimise:
            gen = cast("OcclusionAwareGenerator | CFTEGenerator", self.net.generator)
            # the 7x7 output convolutions that read the same features run as one
            fuse_heads(gen.dense_motion, "mask" if model.name == "fomm" else "flow", "occlusion")
            if gen.image_skip is not None:
                fuse_heads(gen, "final", "image_skip")
        self._key: np.ndarray | None = None
        self._key_params: np.ndarray | None = None
        self._state: dict[str, Any] = {}
        self._last: tuple[tuple[bytes, bytes | None], np.ndarray] | None = None
        self.uses_previous = model.name == "cttr"

    @contextlib.contextmanager
    def _numerics(self) -> Iterator[None]:
        """Deterministic mode: one thread and no oneDNN for the duration of one call."""
        if not self.deterministic:
            yield
            return
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.backends.mkldnn.flags(enabled=False):
                yield
        finally:
            torch.set_num_threads(threads)

    @torch.inference_mode()
    def set_key_picture(self, key_picture: np.ndarray, key_params: np.ndarray) -> None:
        """Sets the picture to animate.

        Args:
            key_picture: ``(H, W, 3)`` uint8 RGB decoded key picture.
            key_params: ``(D,)`` float64 parameters of the key picture (from the base GFV message).
        """
        with self._numerics():
            self._set_key_picture(key_picture, key_params)

    def _set_key_picture(self, key_picture: np.ndarray, key_params: np.ndarray) -> None:
        self._key = key_picture
        self._key_params = np.asarray(key_params, dtype=np.float64)
        self._last = None
        src = _to_tensor(key_picture[None])
        if self.model.name != "fv2v":
            src = src.contiguous(memory_format=torch.channels_last)
        st: dict[str, Any] = {"source": src, "source_params": self._params_tensors(self._key_params)}
        if self.model.name == "fv2v":
            fv2v = cast("FV2V", self.net)
            st["features"] = fv2v.generator.encode(src)
            st["kp_canonical"] = fv2v.kp_detector(src)  # decoder-side re-analysis of the key picture
        else:
            gen = cast("OcclusionAwareGenerator | CFTEGenerator", self.net.generator)
            st["motion"] = gen.dense_motion.prepare(src, st["source_params"]) if self.optimise else None
            st["features"] = gen.encode(src)
        self._state = st
        if self.detail_transfer:
            pred, deformation = self._synthesise(st["source_params"], None)
            st["residual"] = src.float() - pred.float()
            st["key_displacement"] = displacement(deformation)

    def _synthesise(self, drv: Any, previous: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Synthesis of driving parameters ``drv`` (tensors of :meth:`_params_tensors`) without
        the detail transfer: ``(picture (1, 3, H, W), 2-D motion field (1, h, w, 2))``
        (FV2V: its 3-D field's x, y averaged over depth, as its image skip uses it)."""
        st = self._state
        gen = cast("OcclusionAwareGenerator | CFTEGenerator | FV2VGenerator", self.net.generator)
        if self.model.name == "fv2v":  # fp32 throughout (3-D sampling grids need the precision)
            out = gen(st["source"], self._fv2v_kp(drv), self._fv2v_kp(st["source_params"]), features=st["features"])
            return out["prediction"], motion_2d(out["deformation"])
        if self.model.name == "fomm":
            motion = gen.dense_motion(st["source"], drv, st["source_params"], prepared=st["motion"])
        else:
            prev = None
            if self.model.name == "cttr":
                # the trajectory restarts after the key picture (or a repeat of it): no velocity
                assert self._key_params is not None  # set with the key picture, before any synthesis
                restart = previous is None or np.array_equal(previous, self._key_params)
                prev = drv if restart else self._params_tensors(cast(np.ndarray, previous))  # not restart: not None
            motion = gen.dense_motion(st["source"], drv, st["source_params"], prev, prepared=st["motion"])
        out = cast("OcclusionAwareGenerator | CFTEGenerator", gen).decode(st["source"], st["features"], motion)
        return out["prediction"], motion["deformation"]

    def _params_tensors(self, p: np.ndarray) -> Any:
        t = torch.from_numpy(np.asarray(p, dtype=np.float32))[None]
        if self.model.name == "fomm":
            return {"value": t[:, :20].view(1, 10, 2), "jacobian": t[:, 20:].view(1, 10, 2, 2)}
        if self.model.name in ("cfte", "cttr"):
            return t.view(1, 1, 4, 4)
        return t

    def _fv2v_kp(self, p: torch.Tensor) -> torch.Tensor:
        from .nets.fv2v import transform_keypoints

        return transform_keypoints(
            self._state["kp_canonical"], p[:, :9].view(1, 3, 3), p[:, 9:12], p[:, 12:].view(1, 15, 3)
        )

    @torch.inference_mode()
    def generate(self, params: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """One output picture.

        Args:
            params: ``(D,)`` float64 parameters of the picture.
            previous: ``(D,)`` parameters of the previous output picture (CTTR's trajectory;
                ``None``: the key picture's).

        Returns:
            ``(H, W, 3)`` uint8 RGB; the key picture itself when ``params`` equal the key
            picture's (whatever ``previous`` is).

        Raises:
            RuntimeError: :meth:`set_key_picture` was not called.
        """
        if self._key is None:
            raise RuntimeError("set_key_picture() must be called before generate()")
        assert self._key_params is not None  # set together with self._key
        params = np.asarray(params, dtype=np.float64)
        if np.array_equal(params, self._key_params):
            return self._key
        # a picture that repeats the last synthesised one (CTTR: with the same previous too) is
        # that picture: the encoder sends repeats where the tracked motion pauses
        key = (
            params.tobytes(),
            None if not self.uses_previous or previous is None else np.asarray(previous, dtype=np.float64).tobytes(),
        )
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        st = self._state
        with self._numerics():
            pred, deformation = self._synthesise(self._params_tensors(params), previous)
            pred = pred.float()
            if self.detail_transfer:
                pred = pred + warp(st["residual"], deformation - st["key_displacement"])
        out = _to_uint8(pred)
        self._last = (key, out)
        return out


def learned_spec(name: str) -> ModelSpec | None:
    """The :class:`ModelSpec` of learned model ``name`` with its committed checkpoint, or ``None``
    when the checkpoint is not in :data:`WEIGHTS_DIR` (the model is then not offered)."""
    if not weights_path(name).is_file():
        log.debug("model %s: no checkpoint, not registered", name)
        return None
    return _spec(LearnedModel.committed(name))


def _spec(model: LearnedModel) -> ModelSpec:
    info = LEARNED[model.name]
    return ModelSpec(
        name=model.name,
        uri=model.uri,
        representation=info.representation,
        make_analyser=lambda: model,
        make_generator=model.make_generator,
        make_layout=lambda coordinate_precision_factor=None, matrix_element_precision_factor=None: LayoutMapping(
            info.layout.with_precision(coordinate_precision_factor, matrix_element_precision_factor), model.uri
        ),
        analyse_decoded_key=info.analyse_decoded_key,
        abilities=info.abilities,
        network=model.checkpoint,
        edit_keys=info.edit_keys,
        apply_edit=info.apply_edit,
        relative_motion=info.relative_motion,
    )


def network_spec(checkpoint: bytes) -> ModelSpec:
    """The :class:`ModelSpec` of a network carried in a stream (NNPFC ``nnpfc_mode_idc`` 0).

    Raises:
        CheckpointError: the bytes are not a loadable checkpoint of a learned model.
    """
    return _spec(LearnedModel.from_bytes(checkpoint))
