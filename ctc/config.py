"""CTC run configuration: one YAML tree describing a whole test (``cfg/ctc/*.yaml``).

A test is a list of sequences, the codecs under test and the anchor (each with its rate
points), and the metrics, as in the JVET CTC documents (JVET-AG2035 for GFVC). Example::

    name: shared_clips
    output: ctc/results/shared_clips      # results (CSV, summary.md, plots, provenance)
    work: ctc/results/shared_clips/work   # prepared sequences, bitstreams (never committed)
    size: 256                             # CTC picture size (256 or 512)
    fps: 25                               # CTC picture rate (Hz), per sequence: fps
    frames: 75                            # default number of pictures per sequence
    threads_per_job: 1                    # torch/OpenCV threads inside one job
    sequences:
      - {name: LP_D0, source: "${GFV_SHARED:-../shared}/data/lp_d0.mp4", class: A}
    codecs:
      - {name: GFVC_kptps, type: gfvc, role: test, model: kptps, qps: [22, 32, 42, 52]}
      - {name: VVC_vvenc_LD, type: video, role: anchor, backend: vvenc, qps: [37, 42, 47, 52]}
      - {name: VVC_VTM_LD, type: video, role: test, backend: vtm, enabled: if_available,
         qps: [37, 42, 47, 52]}
    anchor: VVC_vvenc_LD
    metrics: [psnr_yuv, msssim, vmaf, ssim, lpips, dists]
    bd_method: pchip

Several files may be given; they are merged in order, later wins (mappings merge key by key,
lists are replaced). String values may use ``${VAR}`` and ``${VAR:-default}``; relative paths
are relative to the repository root (the directory holding ``cfg/``; for an installed package,
the current directory). Sequence sources are
either videos of any format (prepared with :mod:`ctc.prepare`: face crop, 25 Hz, first
``frames`` pictures) or CTC raw files already at the test size
(``NAME_256x256_25_8bit_444.rgb`` / ``_420.yuv``), used as they are.

Codec entries: ``type: gfvc`` runs :func:`refsw.encoder.encode_video` with an encoder
configuration (:class:`refsw.config.EncoderConfig`): ``encoder_cfg``, a list of encoder
configuration files applied in order (a path, or a file of the ``cfg`` package such as
``encoder/gfvc_ctc.yaml``: one key picture, as the GFVC CTC), then the entry's own encoder
options (``model``, ``coordinate_precision_factor``, ``key_period``, ``backend``, ``decision``,
...; not ``qp``, ``frames`` or ``size``, which the test sets); the rate points are key-picture
QPs, every key picture at the point's QP (the encoder's rate cap ``max_kbps`` is off in the
CTC). ``type: video`` runs a
:mod:`refsw.codecs` backend over the whole sequence (options ``backend``, ``low_delay``
(default true), ``backend_options`` passed to the backend's constructor). ``enabled`` is
``true`` (default), ``false`` or ``if_available`` (skipped, with a note in the results, when the
backend cannot be created, e.g. VTM without configured executables).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from refsw.config import ConfigError as EncoderConfigError
from refsw.config import EncoderConfig, cfg_path, load_encoder_config

__all__ = [
    "REPO_ROOT",
    "CodecSpec",
    "ConfigError",
    "CtcConfig",
    "SequenceSpec",
    "expand_env",
    "load_config",
]


def _repo_root() -> Path:
    """The source checkout this package runs from (the directory holding ``setup.cfg`` and
    ``cfg/``), or, for an installed package, the current directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "setup.cfg").is_file() and (here / "cfg").is_dir() else Path.cwd()


#: Directory relative paths in a configuration are resolved against.
REPO_ROOT = _repo_root()
_ENV = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_KEYS = {
    "name", "description", "output", "work", "size", "fps", "frames", "threads_per_job",
    "sequences", "codecs", "anchor", "metrics", "bd_method",
}  # fmt: skip
_SEQ_KEYS = {"name", "source", "frames", "fps", "class"}
#: Encoder options a gfvc entry may set (the test sets qp, frames and size).
_ENCODER_KEYS = set(EncoderConfig.keys()) - {"qp", "frames", "size", "max_kbps", "max_qp"}  # the CTC sets these
_CODEC_KEYS = {
    "name", "type", "role", "enabled", "qps", "backend", "low_delay", "backend_options", "encoder_cfg",
    "translate_to", "translator", "frozen",
} | _ENCODER_KEYS  # fmt: skip
#: Decoder options of a gfvc entry (the interoperability study, issue 17).
_DECODER_KEYS = {"translate_to", "translator", "frozen"}


class ConfigError(ValueError):
    """The configuration cannot be read or is invalid (the message names the file and key)."""


@dataclass(frozen=True)
class SequenceSpec:
    """One test sequence.

    Attributes:
        name: sequence name (file and table label).
        source: absolute path of the source video or CTC raw file.
        frames: number of pictures coded.
        fps: picture rate (Hz) of the prepared sequence.
        cls: class label (sequences of a class are averaged together).
    """

    name: str
    source: str
    frames: int
    fps: int
    cls: str


@dataclass(frozen=True)
class CodecSpec:
    """One codec configuration with its rate points.

    Attributes:
        name: codec label used in files and tables.
        type: ``"gfvc"`` (GFV codec) or ``"video"`` (a conventional codec backend).
        role: ``"test"`` or ``"anchor"``.
        enabled: ``"true"``, ``"false"`` or ``"if_available"``.
        qps: rate points (QPs; key-picture QPs for ``gfvc``).
        backend: codec backend name (:func:`refsw.codecs.create_backend`).
        encoder: the encoder configuration (``gfvc`` only; ``backend`` and ``encoder.backend``
            agree).
        low_delay: low-delay GOP (``video`` only).
        backend_options: keyword arguments of the backend's constructor (``video`` only).
        translate_to: ``gfvc`` only: decode through a parameter translator to this model
            (``gfv-decode --translate-to``); the rate is that of the encoder model's stream.
        translator: ``gfvc`` only, with ``translate_to``: the translator kind (``analytic`` /
            ``learned``; ``None``: the pair's preferred kind).
        frozen: ``gfvc`` only: output the frozen-frame baseline (each decoded key picture repeated
            over its segment) instead of the generated pictures, at the stream's key pictures.
    """

    name: str
    type: str
    role: str
    enabled: str
    qps: tuple[int, ...]
    backend: str
    encoder: EncoderConfig | None = None
    low_delay: bool = True
    backend_options: dict[str, Any] = field(default_factory=dict)
    translate_to: str | None = None
    translator: str | None = None
    frozen: bool = False

    def job_key(self) -> dict[str, Any]:
        """What determines a job's result, for the result cache."""
        enc = self.encoder
        defaults = EncoderConfig()
        # the keys results were cached under before the encoder configuration existed stay as
        # they were ("precision" is the coordinate precision factor); other options only when
        # they differ from the defaults, except the SEI packing: results cached before it existed
        # were made per message, so any other packing is part of the key
        fixed = ("model", "coordinate_precision_factor", "key_period", "backend", "qp", "frames", "size", "sei_packing")
        extra = (
            {}
            if enc is None
            else {k: v for k, v in enc.as_dict().items() if k not in fixed and v != getattr(defaults, k)}
        )
        if enc is not None and enc.sei_packing != "per-message":
            extra["sei_packing"] = enc.sei_packing
        return {
            "type": self.type,
            "backend": self.backend,
            "model": enc.model if enc else None,
            "precision": enc.coordinate_precision_factor if enc else None,
            "low_delay": self.low_delay,
            "backend_options": self.backend_options,
            **({"key_period": enc.key_period} if enc and enc.key_period else {}),
            **extra,
            **{k: getattr(self, k) for k in ("translate_to", "translator", "frozen") if getattr(self, k)},
        }


@dataclass(frozen=True)
class CtcConfig:
    """A resolved CTC configuration (see the module docstring).

    Attributes:
        name: test name.
        description: free text.
        output: results directory.
        work: working directory (prepared sequences, bitstreams).
        size: picture size (square side, luma samples).
        fps: default picture rate of the sequences (Hz).
        threads_per_job: torch/OpenCV threads inside one job.
        sequences: the test sequences, in table order.
        codecs: the codec configurations, in table order (disabled ones removed).
        anchor: name of the anchor codec.
        metrics: metric names, per picture (:func:`refsw.metrics.get_metric`) or per clip
            (:func:`refsw.metrics.get_clip_metric`).
        bd_method: BD interpolation (``"pchip"`` or ``"cubic"``).
        files: the configuration files, in merge order.
        resolved: the merged configuration tree after variable expansion (for provenance).
    """

    name: str
    description: str
    output: Path
    work: Path
    size: int
    fps: int
    threads_per_job: int
    sequences: tuple[SequenceSpec, ...]
    codecs: tuple[CodecSpec, ...]
    anchor: str
    metrics: tuple[str, ...]
    bd_method: str
    files: tuple[str, ...]
    resolved: dict[str, Any]

    def codec(self, name: str) -> CodecSpec:
        """The codec called ``name``.

        Raises:
            KeyError: no such codec.
        """
        for c in self.codecs:
            if c.name == name:
                return c
        raise KeyError(name)


def expand_env(value: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` with the environment's values.

    Raises:
        ConfigError: ``${VAR}`` without default names an unset variable.
    """

    def repl(m: re.Match[str]) -> str:
        name, default = m["name"], m["default"]
        if name in os.environ and (os.environ[name] or default is None):
            return os.environ[name]
        if default is None:
            raise ConfigError(f"environment variable {name} is not set (used as ${{{name}}})")
        return default

    return _ENV.sub(repl, value)


def _expand_tree(node: Any) -> Any:
    if isinstance(node, str):
        return expand_env(node)
    if isinstance(node, dict):
        return {k: _expand_tree(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand_tree(v) for v in node]
    return node


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _path(value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (REPO_ROOT / p).resolve()


def _encoder_cfg_path(name: str) -> Path:
    """An encoder configuration file: a file of the ``cfg`` package, else a path."""
    try:
        return cfg_path(name)
    except EncoderConfigError:
        return _path(name)


def _int(value: Any, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where} must be an integer >= {low}, got {value!r}")
    return value


def _check_keys(entry: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping")
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return entry


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"{where} must match {_NAME.pattern}, got {value!r}")
    return value


def _sequence(entry: Any, index: int, default_frames: int | None, fps: int) -> SequenceSpec:
    where = f"sequences[{index}]"
    entry = _check_keys(entry, _SEQ_KEYS, where)
    for key in ("name", "source"):
        if key not in entry:
            raise ConfigError(f"{where}: missing {key!r}")
    frames = entry.get("frames", default_frames)
    if frames is None:
        raise ConfigError(f"{where}: no 'frames' (and no top-level default)")
    return SequenceSpec(
        name=_name(entry["name"], f"{where}.name"),
        source=str(_path(str(entry["source"]))),
        frames=_int(frames, f"{where}.frames"),
        fps=_int(entry.get("fps", fps), f"{where}.fps"),
        cls=str(entry.get("class", "all")),
    )


def _codec(entry: Any, index: int) -> CodecSpec:
    where = f"codecs[{index}]"
    entry = _check_keys(entry, _CODEC_KEYS, where)
    name = _name(entry.get("name"), f"{where}.name")
    kind = entry.get("type")
    if kind not in ("gfvc", "video"):
        raise ConfigError(f"{where}.type must be 'gfvc' or 'video', got {kind!r}")
    role = entry.get("role", "test")
    if role not in ("test", "anchor"):
        raise ConfigError(f"{where}.role must be 'test' or 'anchor', got {role!r}")
    enabled = entry.get("enabled", True)
    enabled = {True: "true", False: "false"}.get(enabled, enabled)
    if enabled not in ("true", "false", "if_available"):
        raise ConfigError(f"{where}.enabled must be true, false or if_available, got {enabled!r}")
    qps = entry.get("qps")
    if not isinstance(qps, list) or not qps:
        raise ConfigError(f"{where}.qps must be a non-empty list of QPs")
    qps_t = tuple(_int(q, f"{where}.qps", low=0) for q in qps)
    if len(set(qps_t)) != len(qps_t):
        raise ConfigError(f"{where}.qps has repeated values")
    options = entry.get("backend_options", {}) or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{where}.backend_options must be a mapping")
    if kind == "gfvc":
        unused = {"low_delay", "backend_options"} & set(entry)
        if unused:
            raise ConfigError(f"{where}: {', '.join(sorted(unused))} not used by type gfvc")
        files = entry.get("encoder_cfg", [])
        if not isinstance(files, list) or not all(isinstance(x, str) for x in files):
            raise ConfigError(f"{where}.encoder_cfg must be a list of encoder configuration files")
        try:
            encoder = load_encoder_config(
                [_encoder_cfg_path(x) for x in files], {k: entry[k] for k in _ENCODER_KEYS if k in entry}
            )
        except EncoderConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        return CodecSpec(
            name=name,
            type=kind,
            role=role,
            enabled=enabled,
            qps=qps_t,
            backend=encoder.backend,
            encoder=encoder,
            **_decoder_options(entry, where),
        )
    unused = ({"encoder_cfg"} | _ENCODER_KEYS - {"backend"} | _DECODER_KEYS) & set(entry)
    if unused:
        raise ConfigError(f"{where}: {', '.join(sorted(unused))} not used by type video")
    if "backend" not in entry:
        raise ConfigError(f"{where}: missing 'backend'")
    low_delay = entry.get("low_delay", True)
    if not isinstance(low_delay, bool):
        raise ConfigError(f"{where}.low_delay must be true or false")
    return CodecSpec(
        name=name,
        type=kind,
        role=role,
        enabled=enabled,
        qps=qps_t,
        backend=str(entry["backend"]),
        low_delay=low_delay,
        backend_options=dict(options),
    )


def _decoder_options(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """``translate_to``, ``translator`` and ``frozen`` of a gfvc entry, checked."""
    from refsw.models import MODEL_NAMES

    target = entry.get("translate_to")
    if target is not None and target not in MODEL_NAMES:
        raise ConfigError(f"{where}.translate_to must be one of {', '.join(MODEL_NAMES)}, got {target!r}")
    kind = entry.get("translator")
    if kind is not None and (kind not in ("analytic", "learned") or target is None):
        raise ConfigError(f"{where}.translator must be analytic or learned, with translate_to")
    frozen = entry.get("frozen", False)
    if not isinstance(frozen, bool) or (frozen and target is not None):
        raise ConfigError(f"{where}.frozen must be true or false, and not with translate_to")
    return {"translate_to": target, "translator": kind, "frozen": frozen}


def load_config(files: list[str | Path] | str | Path) -> CtcConfig:
    """Read, merge, expand and check CTC configuration files.

    Args:
        files: one path or several (merged in order, later wins).

    Returns:
        The resolved configuration; disabled codecs (``enabled: false``) are dropped.

    Raises:
        ConfigError: unreadable file, unknown key, missing or invalid value, duplicate names,
            a missing or non-anchor ``anchor``, or an unknown metric.
    """
    paths = [files] if isinstance(files, (str, Path)) else list(files)
    if not paths:
        raise ConfigError("no configuration file given")
    tree: dict[str, Any] = {}
    for p in paths:
        try:
            data = yaml.safe_load(Path(p).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read {p}: {err}".splitlines()[0]) from err
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: not a mapping")
        tree = _merge(tree, data)
    tree = _expand_tree(tree)
    _check_keys(tree, _TOP_KEYS, "configuration")
    where = ", ".join(str(p) for p in paths)
    try:
        return _build(tree, paths)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def _build(tree: dict[str, Any], paths: list[str | Path]) -> CtcConfig:
    from refsw.metrics import available_clip_metrics, available_metrics

    name = _name(tree.get("name"), "name")
    size = _int(tree.get("size", 256), "size")
    fps = _int(tree.get("fps", 25), "fps")
    default_frames = tree.get("frames")
    seqs = tree.get("sequences")
    if not isinstance(seqs, list) or not seqs:
        raise ConfigError("sequences must be a non-empty list")
    sequences = tuple(_sequence(s, i, default_frames, fps) for i, s in enumerate(seqs))
    codecs_raw = tree.get("codecs")
    if not isinstance(codecs_raw, list) or not codecs_raw:
        raise ConfigError("codecs must be a non-empty list")
    codecs = tuple(_codec(c, i) for i, c in enumerate(codecs_raw))
    for what, names in (
        ("sequence", [s.name for s in sequences]),
        ("codec", [c.name for c in codecs]),
    ):
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"repeated {what} name(s): {', '.join(dup)}")
    codecs = tuple(c for c in codecs if c.enabled != "false")
    anchor = tree.get("anchor")
    anchors = [c for c in codecs if c.name == anchor]
    if not anchors:
        raise ConfigError(f"anchor {anchor!r} is not an enabled codec")
    if anchors[0].role != "anchor" or anchors[0].enabled != "true":
        raise ConfigError(f"anchor {anchor!r} must have role 'anchor' and be enabled: true")
    metrics = tree.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ConfigError("metrics must be a non-empty list")
    known = set(available_metrics()) | set(available_clip_metrics())
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ConfigError(f"unknown metric(s) {', '.join(map(str, unknown))}; available: {', '.join(sorted(known))}")
    bd_method = tree.get("bd_method", "pchip")
    if bd_method not in ("pchip", "cubic"):
        raise ConfigError(f"bd_method must be 'pchip' or 'cubic', got {bd_method!r}")
    output = _path(str(tree.get("output", f"ctc/results/{name}")))
    work = _path(str(tree["work"])) if "work" in tree else output / "work"
    return CtcConfig(
        name=name,
        description=str(tree.get("description", "")),
        output=output,
        work=work,
        size=size,
        fps=fps,
        threads_per_job=_int(tree.get("threads_per_job", 1), "threads_per_job"),
        sequences=sequences,
        codecs=codecs,
        anchor=str(anchor),
        metrics=tuple(str(m) for m in metrics),
        bd_method=bd_method,
        files=tuple(str(Path(p).resolve()) for p in paths),
        resolved=tree,
    )
