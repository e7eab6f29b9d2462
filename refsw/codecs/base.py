"""Codec backend interface, result types, errors and the backend registry.

A backend wraps one external video encoder/decoder (VVC key pictures of the GFV bitstream, HEVC
anchors). Backends only build command lines and convert pictures; they check their executable at
construction and the return code of every run, and keep the tool's log (the unchecked return
codes of CompressAI-Vision ``codecs/std_codecs.py`` are the lesson).

Backends register themselves by name with :func:`register_backend`; a second registration of
the same name is refused.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "ANNEXB_START_CODES",
    "BackendRegistryError",
    "CodecBackend",
    "CodecError",
    "CodecInputError",
    "DecodeResult",
    "EncodeResult",
    "available_backends",
    "create_backend",
    "get_backend_class",
    "register_backend",
]

#: Annex-B byte stream start codes (H.266 / H.265 Annex B): 4-byte and 3-byte forms.
ANNEXB_START_CODES = (b"\x00\x00\x00\x01", b"\x00\x00\x01")


#: One GOP entry in the syntax of VTM's ``FrameN`` configuration lines (VVenC reads the same):
#: type, POC, QP offset, QP offset model offset and scale, Cb and Cr QP offsets, QP factor, the
#: six deblocking offsets, temporal id, then list 0 (active, count, delta POCs) and list 1
#: (active, count). Here a P picture at QP offset 0 that refers to the picture before it: with a
#: GOP size of 1, every picture after the first intra picture at the same QP (``equal_qp``).
EQUAL_QP_GOP_ENTRY = "P 1 0 0.0 0.0 0 0 1.0 0 0 0 0 0 0 0 1 1 1 0 0"


class CodecError(RuntimeError):
    """A codec run failed (non-zero return code, empty or undecodable bitstream...).

    The message ends with the tail of the tool's log when a tool was run.
    """


class CodecInputError(CodecError, ValueError):
    """The arguments cannot be coded (bad QP, odd or too small picture, wrong dtype...).

    Raised before any tool is run. Also a :class:`ValueError`.
    """


class BackendRegistryError(LookupError):
    """Unknown backend name, or a second registration of an existing name."""


@dataclass(frozen=True)
class EncodeResult:
    """Output of :meth:`CodecBackend.encode`.

    Attributes:
        bitstream: Annex-B byte stream (H.266 or H.265), ``len(bitstream)`` **bytes**.
        num_frames: number of coded pictures.
        width: coded picture width in luma samples.
        height: coded picture height in luma samples.
        log: the encoder's console output (stderr then stdout).
    """

    bitstream: bytes
    num_frames: int
    width: int
    height: int
    log: str

    @property
    def num_bits(self) -> int:
        """Size of the bitstream in **bits** (``8 * len(bitstream)``), as counted by the GFVC
        rate computation (``filesize * 8``)."""
        return 8 * len(self.bitstream)


@dataclass(frozen=True)
class DecodeResult:
    """Output of :meth:`CodecBackend.decode`.

    Attributes:
        frames: ``(N, H, W, 3)`` ``uint8`` RGB, converted from the decoded 8-bit 4:2:0 pictures
            with OpenCV ``COLOR_YUV2RGB_I420`` (BT.601 limited range), in output order.
        log: the decoder's messages.
    """

    frames: np.ndarray
    log: str


class CodecBackend(ABC):
    """One external encoder/decoder pair behind a small typed interface.

    Subclasses set :attr:`name` (the registry key) and implement :meth:`encode` and
    :meth:`decode`. Constructors raise :class:`CodecError` when the executable or library is
    missing.
    """

    #: Registry key, e.g. ``"vvenc"``.
    name: ClassVar[str]
    #: The encoder can write the decoded picture hash SEI message (H.266 D.2, payloadType 132;
    #: constructor option ``decoded_picture_hash``: 1 MD5, 2 CRC, 3 checksum, VTM's numbering).
    writes_picture_hash: ClassVar[bool] = False

    @abstractmethod
    def encode(
        self, frames_rgb: np.ndarray, *, qp: int, fps: float, low_delay: bool = True, equal_qp: bool = False
    ) -> EncodeResult:
        """Encode RGB pictures.

        Args:
            frames_rgb: ``(N, H, W, 3)`` ``uint8`` RGB, N >= 1.
            qp: quantisation parameter of the first picture (and, with ``equal_qp``, of every
                picture; else the encoder's GOP structure may add QP offsets to inter pictures).
            fps: frame rate in Hz (written to the stream's timing information).
            low_delay: ``True`` codes in output order without picture reordering (first
                picture intra, then inter pictures referring to the past only).
            equal_qp: with ``low_delay``, every picture at ``qp``: each inter picture predicted
                from the one before it, without the QP cascade of a low-delay GOP. For the GFV
                key pictures, each of which a generator animates for a whole segment.

        Returns:
            The bitstream and its metadata.

        Raises:
            CodecInputError: invalid arguments (detected before running anything).
            CodecError: the encoder failed.
        """

    @abstractmethod
    def decode(self, bitstream: bytes) -> DecodeResult:
        """Decode an Annex-B bitstream to RGB pictures.

        Args:
            bitstream: Annex-B byte stream.

        Returns:
            ``(N, H, W, 3)`` ``uint8`` RGB pictures and the decoder's messages.

        Raises:
            CodecError: the stream is empty, corrupt or yields no picture.
        """


_B = TypeVar("_B", bound=type[CodecBackend])
_REGISTRY: dict[str, type[CodecBackend]] = {}


def register_backend(cls: _B) -> _B:
    """Class decorator adding a backend class under ``cls.name``.

    Raises:
        BackendRegistryError: ``cls.name`` is missing or already registered.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise BackendRegistryError(f"{cls.__qualname__} has no backend name")
    if name in _REGISTRY:
        raise BackendRegistryError(f"codec backend {name!r} already registered by {_REGISTRY[name].__qualname__}")
    _REGISTRY[name] = cls
    logger.debug("registered codec backend %s (%s)", name, cls.__qualname__)
    return cls


def get_backend_class(name: str) -> type[CodecBackend]:
    """The backend class registered as ``name``.

    Raises:
        BackendRegistryError: no backend of that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BackendRegistryError(
            f"unknown codec backend {name!r}; available: {', '.join(available_backends())}"
        ) from None


def create_backend(name: str, **options: Any) -> CodecBackend:
    """Instantiate the backend registered as ``name`` with keyword ``options``.

    Raises:
        BackendRegistryError: no backend of that name.
        CodecError: the backend's executable is missing.
    """
    return get_backend_class(name)(**options)


def available_backends() -> tuple[str, ...]:
    """Registered backend names, sorted."""
    return tuple(sorted(_REGISTRY))
