"""The encoder's configuration: one typed, layered tree shared by ``gfv-encode``, the CTC runner
and the benchmarks.

Every option and its default is defined once, in :class:`EncoderConfig`. Configuration files
(YAML mappings of option names) are applied in order, later wins, then the command line; an
unknown key is refused with its name (as VTM layers ``-c a.cfg -c b.cfg``).
Encoder configuration files ship in the ``cfg`` package (``cfg/encoder/*.yaml``) and are found
with :func:`importlib.resources` (:func:`cfg_path`), so an installed (non-editable) package
finds them too.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from refsw.media.chroma_key import ChromaKey, ChromaKeyError
from sei.carriage import SEI_PACKINGS

#: Encoder decisions (:mod:`refsw.encoder.decision`): ``auto`` the model's own default
#: (``ModelSpec.default_decision``: ``pose`` for ``sem3d``, ``ssim+vmaf`` for the others);
#: ``ssim+vmaf`` a picture moves only where both its SSIM and its VMAF beat the key picture;
#: ``ssim`` SSIM only; ``pose`` every picture keeps its analysed expression and takes the share of
#: its head-pose change whose synthesised picture is closest to the source (models with
#: ``ModelSpec.pose_share``); ``none`` the analysed parameters as they are.
DECISIONS = ("auto", "ssim+vmaf", "ssim", "pose", "none")

#: ``nnpfc_mode_idc`` values the encoder writes: 1 the generator named by URI, 0 the network in
#: the NNPFC payload.
NNPFC_MODES = (1, 0)

#: ``decoded_picture_hash`` values, VTM's ``--SEIDecodedPictureHash`` numbering: 0 none, 1 MD5,
#: 2 CRC, 3 checksum (``dph_sei_hash_type`` one less).
DECODED_PICTURE_HASHES = (0, 1, 2, 3)

#: CTC picture sizes for cropped input.
SIZES = (256, 384, 512)


class ConfigError(ValueError):
    """A configuration file or value is invalid (the message names the file and the key)."""


@dataclass(frozen=True)
class EncoderConfig:
    """Options of the GFV encoder (each default is defined here only).

    Attributes:
        model: GFV model (:func:`refsw.models.get_model`): ``sem3d`` (default), ``kptps``, ``fomm``, ``cfte``,
            ``cttr``, ``fv2v``.
        qp: key-picture QP, 0..63 (VVC); with a rate cap (``max_kbps``) the lowest QP used.
        max_kbps: rate cap in kbit/s (1000 bit/s) over the whole stream, key pictures, GFV
            messages, parameter sets and every other SEI message included, at the clip's picture
            rate: a stream above it has its key pictures coded again at the lowest higher QP, up
            to ``max_qp``, that brings it within (:func:`refsw.encoder.encode_video`). 0: no cap,
            every key picture at ``qp`` (the CTC's fixed-QP rate points). Not applied by
            ``gfv-encode --live``, which writes each picture as it comes.
        max_qp: the highest key-picture QP the rate cap may use, 0..63 (at or below ``qp``: the
            cap cannot raise the QP).
        key_period: a key picture every N output pictures (the GFVC common software's
            ``gop_size``); 0: picture 0 only (as the GFVC CTC, ``cfg/encoder/gfvc_ctc.yaml``);
            ``None``: the model's (``ModelSpec.default_key_period``: 50, sem3d 0). Models that say
            what a picture shows (sem3d) move each periodic key picture to the best picture near
            its due time and insert refreshes (:mod:`refsw.encoder.keys`).
        coordinate_precision_factor: ``gfv_coordinate_precision_factor_minus1`` + 1; ``None``:
            the model's (kptps 7: one pixel at 256x256). Range checked by the model's layout.
        matrix_element_precision_factor: ``gfv_matrix_element_precision_factor_minus1`` + 1;
            ``None``: the model's (``docs/models.md``).
        nnpfc_mode: ``nnpfc_mode_idc`` of the NNPFC message: 1 URI, 0 network in the payload.
        nnpfa: 1 activates the NNPFC with an NNPFA message; 0 writes none, for streams that stock
            VTM 23.13 must read (its DecoderApp reads an NNPFA through an NNPFC-typed pointer and
            may abort with "No NNPFC, no NNPFA"); the base GFV message still names the generator
            in ``gfv_uri``, which is what this decoder uses.
        decoded_picture_hash: the VVC encoder writes a decoded picture hash SEI message (H.266
            D.2) after every key picture, numbered as VTM's ``--SEIDecodedPictureHash``: 2 CRC
            (default; 16 bits per colour component, 6 bytes a key picture), 1 MD5 (128 bits per
            component), 3 checksum (32 bits); 0 none. ``gfv-decode`` verifies each type.
        size: CTC picture size for cropped input (256, 384 or 512 luma samples square).
        frames: pictures to code, 0 = all.
        backend: VVC codec backend of the key pictures (:func:`refsw.codecs.create_backend`).
        decision: encoder decision, one of :data:`DECISIONS`.
        sei_packing: ``per-access-unit`` (the GFV messages of a key picture's access unit in one
            suffix SEI NAL unit) or ``per-message`` (VTM EncoderApp's one message per SEI NAL
            unit); :data:`sei.carriage.SEI_PACKINGS`.
        deterministic: the encoder's own synthesis runs the generator's portable fp32 path.
        gfv_max_interval: parameter subsampling (:mod:`refsw.encoder.subsample`): a GFV message
            at least every N pictures, the decoder interpolating the pictures without one; 1:
            every picture; ``None``: the model's (sem3d 12, the others 1).
        gfv_interpolation_tolerance: a picture's message is left out only where interpolation
            reproduces its parameters within this many quantisation steps.
        max_payload_bits: payload cap in GFV + GFVE payload bits per picture on average: a
            stream above it is coded again with the interpolation tolerance 1.25 times larger, up
            to 4 times (2.44 x ``gfv_interpolation_tolerance``), before the rate cap acts; only
            for models that subsample their parameters (sem3d). 0 (default): no cap. Issue 15's
            60 bits brings its 3 clips above it within, at a cost measured in ``docs/models.md``
            (VMAF -0.9 to -2.0 on them), so it is not the default.
        chroma_key: ``"R,G,B"`` or ``"R,G,B,LOWER,UPPER"``: the base GFV messages carry this chroma
            key (``gfv_chroma_key_*``, purpose 1 background; thresholds as RGB distances,
            :mod:`refsw.media.chroma_key`); ``None``: no chroma key information.

    Raises:
        ConfigError: a value outside its range or of the wrong type, naming the key.
    """

    model: str = "sem3d"
    qp: int = 32
    max_kbps: float = 5.0
    max_qp: int = 51
    key_period: int | None = None
    coordinate_precision_factor: int | None = None
    matrix_element_precision_factor: int | None = None
    nnpfc_mode: int = 1
    nnpfa: int = 1
    decoded_picture_hash: int = 2
    size: int = 256
    frames: int = 0
    backend: str = "vvenc"
    decision: str = "auto"
    sei_packing: str = "per-access-unit"
    deterministic: bool = False
    gfv_max_interval: int | None = None
    gfv_interpolation_tolerance: float = 4.0
    max_payload_bits: float = 0.0
    chroma_key: str | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kinds: dict[str, tuple[type | tuple[type, ...], str]] = {
                "str": (str, "a str"),
                "int": (int, "an integer"),
                "int | None": (int, "an integer"),
                "str | None": (str, "a str"),
                "bool": (bool, "a bool"),
                "float": ((int, float), "a number"),
            }
            want, what = kinds[str(f.type)]
            if value is None and "None" in str(f.type):
                continue
            if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
                raise ConfigError(f"{f.name} must be {what}, not {value!r}")
        if not 0 <= self.qp <= 63:
            raise ConfigError(f"qp {self.qp} outside 0..63")
        if self.max_payload_bits < 0:
            raise ConfigError(f"max_payload_bits {self.max_payload_bits} is negative")
        if self.max_kbps < 0:
            raise ConfigError(f"max_kbps {self.max_kbps} is negative")
        if not 0 <= self.max_qp <= 63:
            raise ConfigError(f"max_qp {self.max_qp} outside 0..63")
        if self.key_period is not None and self.key_period < 0:
            raise ConfigError(f"key_period {self.key_period} is negative")
        if self.gfv_max_interval is not None and self.gfv_max_interval < 1:
            raise ConfigError(f"gfv_max_interval {self.gfv_max_interval} must be at least 1")
        if self.gfv_interpolation_tolerance < 0:
            raise ConfigError(f"gfv_interpolation_tolerance {self.gfv_interpolation_tolerance} is negative")
        if self.frames < 0:
            raise ConfigError(f"frames {self.frames} is negative")
        if self.nnpfa not in (0, 1):
            raise ConfigError(f"nnpfa {self.nnpfa} is not 0 or 1")
        if self.decoded_picture_hash not in DECODED_PICTURE_HASHES:
            raise ConfigError(f"decoded_picture_hash {self.decoded_picture_hash} is not 0, 1, 2 or 3")
        if self.nnpfc_mode not in NNPFC_MODES:
            raise ConfigError(f"nnpfc_mode {self.nnpfc_mode} is not 0 or 1")
        if self.size not in SIZES:
            raise ConfigError(f"size {self.size} is not one of {', '.join(map(str, SIZES))}")
        if self.decision not in DECISIONS:
            raise ConfigError(f"decision {self.decision} is not one of {', '.join(DECISIONS)}")
        if self.chroma_key is not None:
            try:
                ChromaKey.parse(self.chroma_key)
            except ChromaKeyError as err:
                raise ConfigError(str(err)) from None
        if self.sei_packing not in SEI_PACKINGS:
            raise ConfigError(f"sei_packing {self.sei_packing} is not one of {', '.join(SEI_PACKINGS)}")

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The option names, in definition order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> EncoderConfig:
        """A copy with some options changed (checked as on construction).

        Raises:
            ConfigError: an unknown option or an invalid value.
        """
        unknown = set(changes) - set(self.keys())
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every option and its value (for the configuration echo and result provenance)."""
        return dataclasses.asdict(self)


def cfg_path(name: str) -> Path:
    """A file shipped in the ``cfg`` package, e.g. ``"encoder/gfvc_ctc.yaml"``.

    Raises:
        ConfigError: no such file.
    """
    path = Path(str(importlib.resources.files("cfg").joinpath(name)))
    if not path.is_file():
        raise ConfigError(f"no configuration file {name} in the cfg package")
    return path


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The options of one YAML configuration file (a mapping; may be empty).

    Raises:
        ConfigError: unreadable, not YAML, or not a mapping (naming the file).
    """
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read config {path}: {err}".splitlines()[0]) from err
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} is not a mapping of options")
    return data


def load_encoder_config(
    files: Sequence[str | Path] = (), overrides: Mapping[str, Any] | None = None, base: EncoderConfig | None = None
) -> EncoderConfig:
    """``base`` (default: :class:`EncoderConfig`'s defaults), then ``files`` in order, then the
    ``overrides`` whose value is not ``None`` (the command line).

    Raises:
        ConfigError: an unreadable file, an unknown key (named, with its file) or an invalid value.
    """
    config = base or EncoderConfig()
    for path in files:
        data = read_config_file(path)
        unknown = set(data) - set(EncoderConfig.keys())
        if unknown:
            raise ConfigError(f"config {path}: unknown option(s) {', '.join(sorted(map(str, unknown)))}")
        try:
            config = config.replace(**data)
        except ConfigError as err:
            raise ConfigError(f"config {path}: {err}") from None
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return config.replace(**given)
