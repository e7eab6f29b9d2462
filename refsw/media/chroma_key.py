"""Chroma keying of decoded pictures as the GFV base message's ``gfv_chroma_key_*`` information
describes it (JVET-AM0334, Variant C syntax; Variant B's older form is read too).

Reading of the semantics used here (``docs/gfv_sei.md#chroma-key``): the key value
``gfv_chroma_key_value[c]`` is an 8-bit R, G, B colour (c = 0, 1, 2; a component not present
takes VTM's default (50, 220, 100)); a sample's distance to the key is the Euclidean distance of
its R, G, B values to the key colour; at or below the lower threshold ``thr_lower`` the sample is
keyed (weight of the picture 0), at or above the upper threshold ``thr_upper = thr_lower +
gfv_chroma_key_thr_upper_delta_minus1 + 1`` it is kept (weight 1), linearly in between (a soft
edge). Without thresholds VTM's defaults apply (48 and 75). ``gfv_chroma_key_purpose_idc`` 1 says
the keyed samples are background (0: unspecified, taken as background here; 2: face recognition,
not a background: refused).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sei.messages.gfv import DEFAULT_CHROMA_KEY, DEFAULT_THR_LOWER, DEFAULT_THR_UPPER_DELTA_MINUS1

#: ``gfv_chroma_key_purpose_idc`` values (JVET-AM0334): 0 unspecified, 1 background, 2 face recognition.
PURPOSE_UNSPECIFIED, PURPOSE_BACKGROUND, PURPOSE_FACE_RECOGNITION = 0, 1, 2


class ChromaKeyError(ValueError):
    """A chroma key that cannot be written or applied (the message says why)."""


@dataclass(frozen=True)
class ChromaKey:
    """The chroma key information of a GFV base message.

    Attributes:
        value: key colour ``(R, G, B)``, 0..255 each.
        thr_lower: lower threshold (RGB distance, 0..255), ``None``: not signalled.
        thr_upper: upper threshold (RGB distance, ``thr_lower + 1 .. thr_lower + 256``),
            ``None``: not signalled.
        purpose_idc: ``gfv_chroma_key_purpose_idc`` (0..2).

    Raises:
        ChromaKeyError: a value out of its range, or only one threshold.
    """

    value: tuple[int, int, int] = DEFAULT_CHROMA_KEY
    thr_lower: int | None = None
    thr_upper: int | None = None
    purpose_idc: int = PURPOSE_BACKGROUND

    def __post_init__(self) -> None:
        if len(self.value) != 3 or any(not 0 <= c <= 255 for c in self.value):
            raise ChromaKeyError(f"chroma key colour {self.value} must be three values 0..255")
        if (self.thr_lower is None) != (self.thr_upper is None):
            raise ChromaKeyError("give both chroma key thresholds (LOWER,UPPER) or none")
        if self.thr_lower is not None and self.thr_upper is not None:
            if not 0 <= self.thr_lower <= 255:
                raise ChromaKeyError(f"chroma key lower threshold {self.thr_lower} outside 0..255")
            if not self.thr_lower < self.thr_upper <= self.thr_lower + 256:
                raise ChromaKeyError(
                    f"chroma key upper threshold {self.thr_upper} outside {self.thr_lower + 1}..{self.thr_lower + 256}"
                )
        if self.purpose_idc not in (0, 1, 2):
            raise ChromaKeyError(f"gfv_chroma_key_purpose_idc {self.purpose_idc} outside 0..2")

    @classmethod
    def parse(cls, text: str) -> ChromaKey:
        """``"R,G,B"`` or ``"R,G,B,LOWER,UPPER"`` (``gfv-encode --chroma-key``), purpose background.

        Raises:
            ChromaKeyError: not 3 or 5 integers, or out of range.
        """
        try:
            numbers = [int(part) for part in text.split(",")]
        except ValueError:
            raise ChromaKeyError(f"chroma key {text!r} is not R,G,B[,LOWER,UPPER] integers") from None
        if len(numbers) not in (3, 5):
            raise ChromaKeyError(f"chroma key {text!r} is not R,G,B[,LOWER,UPPER]")
        r, g, b = numbers[:3]
        lower, upper = (numbers[3], numbers[4]) if len(numbers) == 5 else (None, None)
        return cls((r, g, b), lower, upper)

    @property
    def thresholds(self) -> tuple[int, int]:
        """``(lower, upper)`` in force: the signalled ones or VTM's defaults (48, 75)."""
        if self.thr_lower is not None and self.thr_upper is not None:
            return self.thr_lower, self.thr_upper
        return DEFAULT_THR_LOWER, DEFAULT_THR_LOWER + DEFAULT_THR_UPPER_DELTA_MINUS1 + 1

    def syntax_values(self) -> dict:
        """The Variant C syntax elements of the base GFV message (every component present)."""
        v: dict = {
            "gfv_chroma_key_info_present_flag": 1,
            "gfv_chroma_key_purpose_idc": self.purpose_idc,
            "gfv_chroma_key_value_present_flag": {c: 1 for c in range(3)},
            "gfv_chroma_key_value": dict(enumerate(self.value)),
            "gfv_chroma_key_thr_present_flag": int(self.thr_lower is not None),
        }
        if self.thr_lower is not None and self.thr_upper is not None:
            v.update(
                gfv_chroma_key_thr_lower=self.thr_lower,
                gfv_chroma_key_thr_upper_delta_minus1=self.thr_upper - self.thr_lower - 1,
            )
        return v

    @classmethod
    def from_gfv(cls, v: dict) -> ChromaKey | None:
        """The chroma key of a parsed base GFV message (Variant C, or B: ``gfv_chroma_key_thr_value``
        [0] lower, [1] upper, no purpose: background), ``None`` when it carries none."""
        if not v.get("gfv_chroma_key_info_present_flag"):
            return None
        present = v.get("gfv_chroma_key_value_present_flag", {})
        r, g, b = (v["gfv_chroma_key_value"][c] if present.get(c) else DEFAULT_CHROMA_KEY[c] for c in range(3))
        thr = v.get("gfv_chroma_key_thr_present_flag")
        lower: int | None = None
        upper: int | None = None
        if isinstance(thr, dict):  # Variant B: two thresholds, each present or VTM's default
            defaults = cls().thresholds
            lower, upper = (v["gfv_chroma_key_thr_value"][i] if thr.get(i) else defaults[i] for i in range(2))
        elif thr:
            lower = v["gfv_chroma_key_thr_lower"]
            upper = lower + v["gfv_chroma_key_thr_upper_delta_minus1"] + 1
        return cls((r, g, b), lower, upper, v.get("gfv_chroma_key_purpose_idc", PURPOSE_BACKGROUND))

    def weight(self, pictures: np.ndarray) -> np.ndarray:
        """Weight of the picture against the background: ``(..., H, W)`` float32 in [0, 1] for
        ``pictures`` ``(..., H, W, 3)`` uint8 RGB (0: keyed, 1: kept)."""
        lower, upper = self.thresholds
        distance = np.linalg.norm(pictures.astype(np.float32) - np.asarray(self.value, np.float32), axis=-1)
        return np.clip((distance - lower) / (upper - lower), 0.0, 1.0).astype(np.float32)

    def composite(self, pictures: np.ndarray, background: np.ndarray | tuple[int, int, int]) -> np.ndarray:
        """``pictures`` ``(N, H, W, 3)`` uint8 RGB with the keyed samples replaced by
        ``background``: a colour ``(R, G, B)`` or a picture ``(H', W', 3)`` uint8 RGB (resized to
        ``(H, W)`` with OpenCV's area / cubic interpolation).

        Raises:
            ChromaKeyError: the purpose is face recognition (the key marks no background), or the
                background is not a colour or an RGB picture.
        """
        import cv2

        if self.purpose_idc == PURPOSE_FACE_RECOGNITION:
            raise ChromaKeyError("the stream's chroma key is for face recognition (purpose 2), not a background")
        h, w = pictures.shape[1:3]
        bg = np.asarray(background)
        if bg.shape == (3,):
            if any(not 0 <= int(c) <= 255 for c in bg):
                raise ChromaKeyError(f"background colour {tuple(bg)} must be three values 0..255")
            plate: np.ndarray = np.broadcast_to(bg.astype(np.float32), (h, w, 3))
        elif bg.ndim == 3 and bg.shape[2] == 3 and bg.dtype == np.uint8:
            how = cv2.INTER_AREA if bg.shape[0] > h or bg.shape[1] > w else cv2.INTER_CUBIC
            plate = cv2.resize(bg, (w, h), interpolation=how).astype(np.float32)
        else:
            raise ChromaKeyError(f"background must be an (R, G, B) colour or an (H, W, 3) uint8 picture: {bg.shape}")
        alpha = self.weight(pictures)[..., None]
        out = alpha * pictures.astype(np.float32) + (1.0 - alpha) * plate
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
