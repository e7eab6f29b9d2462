"""One key picture's segment, GFV message by GFV message: the parameters of each output picture.

The file decoder (:func:`refsw.decoder.decode_stream`) and the live decoder
(:class:`refsw.decoder.live.LiveDecoder`) share this stepping: each GFV message is paired with
its GFVE message (same ``gfv_id`` / ``gfv_cnt``; a message without one takes the segment's
latest, as the encoder sends a GFVE message only where its values change), reconstructed into
the model's parameters, and preceded by the pictures that have no message (parameter
subsampling timed by the SPTI SEI message), whose parameters are interpolated between the two
messages around them (:func:`refsw.models.gfv_mapping.interpolate`). Each step also carries the
previous output picture's parameters, which generators with
:attr:`refsw.models.Ability.PREVIOUS_PICTURE` read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from refsw.models import Ability, ModelSpec
from refsw.models.gfv_mapping import interpolate
from sei.sei_message import SEIMessage

#: ``(gfv_id, gfv_cnt) -> GFVE reconstruction or None``.
Enhancement = Callable[[int, int], dict | None]


@dataclass
class Step:
    """One output picture of a segment.

    Attributes:
        kind: ``"key"`` (a base GFV message), ``"generated"`` (another GFV message) or
            ``"interpolated"`` (no message: parameters interpolated).
        gfv_id: ``gfv_id`` of its message (of the next message for an interpolated picture).
        gfv_cnt: its ``gfv_cnt``.
        params: the model's parameters (float64, the layout's shape).
        previous: the previous output picture's parameters in the segment (``None`` after the
            key picture).
        message: its GFV message (``None`` for an interpolated picture).
    """

    kind: str
    gfv_id: int
    gfv_cnt: int
    params: np.ndarray
    previous: np.ndarray | None
    message: SEIMessage | None


class SegmentSteps:
    """The steps of one segment, fed its GFV messages in ``gfv_cnt`` order.

    Args:
        layout: the model's :class:`~refsw.models.ParameterLayout` (reads the reconstructed
            values, with ``recon["gfve"]``).
        enhancement: the GFVE reconstruction that enhances a ``(gfv_id, gfv_cnt)`` message, or
            ``None``.
    """

    def __init__(self, layout: Any, enhancement: Enhancement) -> None:
        self.layout = layout
        self.enhancement = enhancement
        self.latest_gfve: dict | None = None
        self.last: tuple[int, np.ndarray] | None = None  # (gfv_cnt, params) of the previous message
        self.previous: np.ndarray | None = None

    def params(self, m: SEIMessage) -> np.ndarray:
        """The parameters of GFV message ``m`` (its GFVE message, or the segment's latest).

        Raises:
            refsw.models.RepresentationMismatch: the message does not carry the layout.
        """
        v = cast(dict, m.values)
        gfve = self.enhancement(v["gfv_id"], v["gfv_cnt"])
        self.latest_gfve = self.latest_gfve if gfve is None else gfve
        return cast(np.ndarray, self.layout.params({**(m.recon or {}), "gfve": self.latest_gfve}))

    def steps(self, m: SEIMessage) -> list[Step]:
        """The output pictures message ``m`` completes: the interpolated pictures since the
        previous message, then ``m``'s own.

        Raises:
            refsw.models.RepresentationMismatch: the message does not carry the layout.
        """
        v = cast(dict, m.values)
        p = self.params(m)
        out: list[Step] = []
        if self.last is not None and v["gfv_cnt"] > self.last[0] + 1:
            c0, p0 = self.last
            for cnt in range(c0 + 1, v["gfv_cnt"]):
                q = interpolate(p0, p, (cnt - c0) / (v["gfv_cnt"] - c0))
                out.append(Step("interpolated", v["gfv_id"], cnt, q, self.previous, None))
                self.previous = q
        self.last = (v["gfv_cnt"], p)
        if v["BasePic"]:
            out.append(Step("key", v["gfv_id"], v["gfv_cnt"], p, None, m))
            self.previous = None
        else:
            out.append(Step("generated", v["gfv_id"], v["gfv_cnt"], p, self.previous, m))
            self.previous = p
        return out


def generate(spec: ModelSpec, generator: Any, params: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """``generator``'s picture ``(H, W, 3)`` uint8 RGB for ``params``; ``previous`` is handed
    only to generators of models with :attr:`Ability.PREVIOUS_PICTURE`."""
    if Ability.PREVIOUS_PICTURE in spec.abilities:
        return cast(np.ndarray, generator.generate(params, previous=previous))
    return cast(np.ndarray, generator.generate(params))
