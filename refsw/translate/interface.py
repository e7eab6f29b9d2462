"""The typed interface of parameter translators: one model's per-picture parameters -> another's.

A *translator* lets a decoder that has generator B animate a stream made for generator A
(JVET-AF0048 / JVET-AG0048; Yin, Chen, Wang, Ye, "Enabling Translatability of Generative Face
Video Coding: A Unified Face Feature Transcoding Framework", DCC 2024): the stream's GFV
messages are parsed with A's parameter layout, each picture's A parameters are mapped to B's, and
B's generator animates the decoded key picture, whose B parameters B's own analyser takes from
the decoded key picture (B's *reference* parameters; the stream only carries A's).

Translator URIs follow the generator URIs' scheme (:func:`refsw.models.generator_uri`):
``urn:gfv-refsw:translator:<A>:<B>:<version>``, ``<version>`` ``v<N>`` for an analytic translator
and ``sha256:<64 hex digits>`` of the checkpoint bytes for a learned one.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from refsw.models import ModelError

_URI_PREFIX = ("urn", "gfv-refsw", "translator")


class NoTranslatorError(ModelError, KeyError):
    """No translator from model A to model B is available here."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no translator"


def translator_uri(source: str, target: str, version: str) -> str:
    """The URI of the translator from model ``source`` to ``target`` at ``version``."""
    return ":".join((*_URI_PREFIX, source, target, version))


def parse_translator_uri(uri: str | None) -> tuple[str, str, str] | None:
    """``(source model, target model, version)`` of a URI made by :func:`translator_uri`, else
    ``None``."""
    parts = (uri or "").split(":")
    if tuple(parts[:3]) != _URI_PREFIX or len(parts) not in (6, 7) or not parts[3] or not parts[4]:
        return None
    if len(parts) == 7 and parts[5] != "sha256":
        return None
    return parts[3], parts[4], ":".join(parts[5:])


@runtime_checkable
class Translator(Protocol):
    """Maps model ``source``'s per-picture parameters to model ``target``'s.

    Attributes:
        source: name of model A (:func:`refsw.models.get_model`), whose parameters come in.
        target: name of model B, whose parameters go out.
        uri: :func:`translator_uri` naming this translator (and its checkpoint).
    """

    source: str
    target: str
    uri: str

    def translate(self, params: np.ndarray, source_key: np.ndarray, target_key: np.ndarray) -> np.ndarray:
        """B's parameters of N pictures.

        Args:
            params: ``(N, *A)`` float64, A's parameters of N pictures as A's layout
                reconstructs them (:meth:`refsw.models.ParameterLayout.params`).
            source_key: ``A`` float64, A's parameters of the segment's key picture (its base GFV
                message).
            target_key: ``B`` float64, B's parameters of the same decoded key picture, from B's
                own analyser (the reference B's generator is set with).

        Returns:
            ``(N, *B)`` float64; the key picture's own A parameters map to ``target_key``
            exactly, so an unmoved face gives B's key picture.
        """
        ...
