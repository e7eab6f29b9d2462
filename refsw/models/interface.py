"""The typed interface every GFV model implements: analysis, generator, parameter layout.

A *model* ties together what the encoder extracts from pictures (:class:`Analyser`), how its
per-picture parameters are carried in GFV SEI messages (:class:`ParameterLayout`) and what the
decoder runs to synthesise pictures (:class:`Generator`). A :class:`ModelSpec` names the three
factories, the generator's URI and the abilities the model declares (:class:`Ability`), so
callers ask the spec instead of probing objects.

Generator URIs (``gfv_uri`` of the base GFV message, ``nnpfc_uri`` of the NNPFC message) follow
one scheme, :func:`generator_uri`: ``urn:gfv-refsw:generator:<model>:<version>``, where
``<version>`` is ``v<N>`` for a model without trained weights and ``sha256:<64 hex digits>`` of
the checkpoint bytes for a learned one, so a stream names the exact network it needs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: ``gfv_uri_tag`` / ``nnpfc_uri_tag`` of every generator URI this software writes.
URI_TAG = "tag:gfv-refsw.jvet,2026:generator"

_URI_PREFIX = ("urn", "gfv-refsw", "generator")


class ModelError(ValueError):
    """Base of the errors a model raises (analysis, checkpoint, representation)."""


class UnknownModelError(ModelError, KeyError):
    """No registered model has that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown model"


class RepresentationMismatch(ModelError):
    """The GFV messages do not carry what the generator needs."""


class CheckpointError(ModelError):
    """A checkpoint (file or NNPFC payload) cannot be loaded as a GFV generator."""


class NoFaceInClipError(ModelError):
    """No face was found on any picture of the clip."""


def generator_uri(name: str, version: str) -> str:
    """The generator URI of model ``name`` at ``version`` (``"v1"`` or ``"sha256:<hex>"``)."""
    return ":".join((*_URI_PREFIX, name, version))


def parse_generator_uri(uri: str | None) -> tuple[str, str] | None:
    """``(model name, version)`` of a URI made by :func:`generator_uri`, else ``None``."""
    parts = (uri or "").split(":")
    if tuple(parts[:3]) != _URI_PREFIX or len(parts) not in (5, 6) or not parts[3]:
        return None
    version = ":".join(parts[4:])
    if len(parts) == 6 and parts[4] != "sha256":
        return None
    return parts[3], version


class Ability(enum.Flag):
    """What a model can do beyond encoding and decoding.

    Members:
        CARRIED_NETWORK: its network can travel in an NNPFC message (``nnpfc_mode_idc`` 0).
        PREVIOUS_PICTURE: its generator also reads the previous picture's parameters (CTTR).
        EDITS: its parameters have meanings a user can edit (head pose, eyes, mouth).
        TRANSLATION: a parameter translator from / to other representations exists.
    """

    NONE = 0
    CARRIED_NETWORK = enum.auto()
    PREVIOUS_PICTURE = enum.auto()
    EDITS = enum.auto()
    TRANSLATION = enum.auto()


@runtime_checkable
class Analyser(Protocol):
    """Encoder-side analysis: pictures -> one parameter array per picture."""

    def analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``frames`` ``(N, H, W, 3)`` uint8 RGB -> ``(params (N, ...) float64, found (N,) bool)``.

        Raises:
            NoFaceInClipError: no face on any picture (analysers that detect faces).
        """
        ...


@runtime_checkable
class Generator(Protocol):
    """Decoder-side synthesis: decoded key picture + parameters -> picture."""

    def set_key_picture(self, key_picture: np.ndarray, key_params: np.ndarray) -> None:
        """``key_picture`` ``(H, W, 3)`` uint8 RGB, ``key_params`` from the base GFV message."""
        ...

    def generate(self, params: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """One output picture ``(H, W, 3)`` uint8 RGB; ``previous``: the previous picture's
        parameters (read only by models with :attr:`Ability.PREVIOUS_PICTURE`)."""
        ...


@runtime_checkable
class ParameterLayout(Protocol):
    """Where a model's parameters go in the GFV message, and back (the GFV SEI encoder,
    :func:`refsw.encoder.gfv_sei.gfv_messages`, writes what :meth:`vectors` gives)."""

    uri: str
    uri_tag: str

    def vectors(self, params: np.ndarray) -> np.ndarray:
        """Parameters of N pictures as ``(N, D)`` float64 vectors."""
        ...

    def snap(self, params: np.ndarray) -> np.ndarray:
        """``params`` on the GFV grids: what the decoder reconstructs when they are sent."""
        ...

    def params(self, recon: dict) -> np.ndarray:
        """Parameters of one reconstructed GFV message.

        Raises:
            RepresentationMismatch: the message does not carry this layout.
        """
        ...


@dataclass(frozen=True)
class KeySemantics:
    """What each picture shows, as the encoder's key-picture choice needs it
    (:mod:`refsw.encoder.keys`).

    Attributes:
        eyes: ``(N,)`` float64 mean eye openness (any unit; compared with the clip's median).
        mouth: ``(N,)`` float64 mouth opening (same unit for all pictures).
        rotation: ``(N, 3, 3)`` float64 head rotation.
        log_scale: ``(N,)`` float64 ln of the face scale.
    """

    eyes: np.ndarray
    mouth: np.ndarray
    rotation: np.ndarray
    log_scale: np.ndarray


@dataclass(frozen=True)
class ModelSpec:
    """One GFV model.

    Attributes:
        name: registry key (``gfv-encode --model NAME``).
        uri: ``gfv_uri`` / ``nnpfc_uri`` naming the generator (:func:`generator_uri`).
        representation: what the GFV messages carry, for ``--help`` and reports.
        make_analyser: ``() -> Analyser``.
        make_generator: ``(deterministic: bool = False) -> Generator``.
        make_layout: ``(coordinate_precision: int | None = None, matrix_element_precision_factor: int | None =
            None) -> ParameterLayout``; ``None`` takes the model's default precision factor.
        analyse_decoded_key: the encoder takes the key picture's parameters from the decoded key
            picture (True) or from its source picture (False); measured per model.
        default_decision: the encoder decision (:data:`refsw.config.DECISIONS`) that
            ``decision: auto`` means for this model; measured per model.
        key_semantics: ``(params (N, ...)) -> KeySemantics`` for models whose parameters say
            what a picture shows: the encoder then chooses its key pictures
            (:mod:`refsw.encoder.keys`); ``None``: a key picture every ``key_period`` pictures.
        default_key_period: the ``key_period`` of an encoder configuration that sets none.
        default_max_interval: the ``gfv_max_interval`` of an encoder configuration that sets none
            (1: a GFV message for every picture).
        abilities: what the model declares it can do.
        network: the checkpoint bytes (models with :attr:`Ability.CARRIED_NETWORK`).
        uri_tag: ``gfv_uri_tag`` / ``nnpfc_uri_tag``.
        edit_keys: the edit keys (:data:`refsw.decoder.edits.EDIT_KEYS`) the model's parameters
            support (models with :attr:`Ability.EDITS`).
        apply_edit: ``(params (D,) float64, values {key: float}) -> (D,) float64``: one picture's
            reconstructed parameters with the edit values applied (:mod:`refsw.decoder.edits`
            gives the keys' meanings and units); ``None`` for a model without edits.
        relative_motion: ``(base, reference, params) -> params``: the parameters that move
            another picture (analysed as ``base``) as the stream's face moves from its key
            picture (``reference``) to a decoded picture (``params``), for
            ``gfv-decode --base-picture`` (:mod:`refsw.models.relative`); ``None``: the model
            cannot animate another face.
        pose_share: ``(key (D,), params (D,), share) -> (D,)`` float64: ``params`` with only its
            head pose moved ``share`` (0..1) of the way from ``key``'s pose to its own, every
            other element kept (the ``pose`` encoder decision,
            :func:`refsw.encoder.decision.choose_pose_share`); ``None``: the model has no
            separate head pose.
    """

    name: str
    uri: str
    representation: str
    make_analyser: Callable[[], Any]
    make_generator: Callable[..., Any]
    make_layout: Callable[..., Any]
    analyse_decoded_key: bool = True
    default_decision: str = "ssim+vmaf"
    key_semantics: Callable[[np.ndarray], KeySemantics] | None = None
    default_key_period: int = 50
    default_max_interval: int = 1
    abilities: Ability = Ability.NONE
    network: bytes | None = None
    uri_tag: str = URI_TAG
    edit_keys: frozenset[str] = frozenset()
    apply_edit: Callable[[np.ndarray, Mapping[str, float]], np.ndarray] | None = None
    relative_motion: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    pose_share: Callable[[np.ndarray, np.ndarray, float], np.ndarray] | None = None
