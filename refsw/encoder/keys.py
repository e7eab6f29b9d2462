"""Key pictures chosen, not fallen on: where each key picture goes (encoder decision).

With a fixed period a key picture taken mid-blink leaves the decoded person with closed eyes for the
whole segment. For models that say what a picture shows (:class:`refsw.models.KeySemantics`, e.g. ``sem3d``),
the encoder

* takes each periodic key picture (``key_period``) near its due time, at the picture of a window
  around it that makes the best key picture: eyes open, mouth closed, face frontal
  (:func:`key_quality`);
* inserts a key picture where the face leaves what a warp of the current key picture can show
  (adaptive refresh, as the DAC / HDAC schemes of the GFVC literature refresh their reference):
  the head turned by more than :data:`MAX_TURN_DEG` from the key picture, or zoomed by more than
  :data:`MAX_ZOOM` (ln of the scale ratio), or the key picture's eyes closed where the input's are
  open (a closed eye cannot be opened: the iris is not in the key picture).

This is an encoder choice only: the stream syntax and the decoder do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from refsw.models import KeySemantics

#: Head rotation (degrees) from the key picture beyond which a new key picture is inserted.
MAX_TURN_DEG = 20.0
#: |ln(scale ratio)| to the key picture beyond which a new key picture is inserted (25 % zoom).
MAX_ZOOM = 0.22
#: Eye openness, relative to the clip's median, below which an eye counts as closed.
CLOSED_EYE = 0.6
#: Fewest pictures between a key picture and a refresh (each key picture costs several kbit).
MIN_REFRESH_GAP = 25
#: A refresh goes to the best key picture (:func:`key_quality`) among this many from its trigger.
REFRESH_LOOKAHEAD = 6


@dataclass(frozen=True)
class KeyChoice:
    """The chosen key pictures.

    Attributes:
        starts: picture indices of the key pictures, ascending, starting with 0.
        reasons: per key picture ``"first"``, ``"periodic"`` (moved to the best picture near its
            due time) or ``"refresh: <why>"``.
    """

    starts: list[int]
    reasons: list[str]


def turn_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation between ``a`` ``(..., 3, 3)`` and ``b`` ``(3, 3)``."""
    rel = np.einsum("...ij,kj->...ik", a, b)
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def key_quality(sem: KeySemantics) -> np.ndarray:
    """``(N,)`` how good each picture is as a key picture (higher is better): open eyes (relative
    to the clip's median), a closed mouth, a frontal face (the clip's median pose)."""
    eyes = sem.eyes / max(float(np.median(sem.eyes)), 1e-6)
    mouth = sem.mouth / max(float(np.percentile(sem.mouth, 90)), 1e-6)
    median_pose = np.median(sem.rotation, axis=0)
    u, _, vt = np.linalg.svd(median_pose)
    turn = turn_degrees(sem.rotation, u @ vt)
    return np.minimum(eyes, 1.2) - 2.0 * (eyes < CLOSED_EYE) - 0.5 * mouth - turn / 30.0


def choose_key_pictures(sem: KeySemantics, key_period: int, window: int | None = None) -> KeyChoice:
    """The key pictures of a clip.

    Args:
        sem: per-picture semantics of the N pictures.
        key_period: nominal distance between key pictures (0: picture 0 and refreshes only).
        window: a periodic key picture goes to the best picture within this distance of its due
            time (default: a fifth of the period, at most 12 pictures).

    Returns:
        The :class:`KeyChoice`.
    """
    n = len(sem.eyes)
    quality = key_quality(sem)
    window = min(12, key_period // 5) if window is None else window
    closed = sem.eyes < CLOSED_EYE * float(np.median(sem.eyes))
    starts, reasons = [0], ["first"]
    due = key_period if key_period else n
    t = 1
    while t < n:
        key = starts[-1]
        if key_period and t == due - window and due < n:
            hi = min(n - 1, due + window)
            best = t + int(np.argmax(quality[t : hi + 1]))
            starts.append(best)
            reasons.append("periodic")
            due = best + key_period
            t = best + 1
            continue
        why = ""
        turn = float(turn_degrees(sem.rotation[t], sem.rotation[key]))
        if turn > MAX_TURN_DEG:
            why = f"head turned {turn:.0f} degrees"
        elif abs(sem.log_scale[t] - sem.log_scale[key]) > MAX_ZOOM:
            why = f"zoom {np.exp(sem.log_scale[t] - sem.log_scale[key]):.2f}x"
        elif closed[key] and not closed[t]:
            why = "eyes closed in the key picture"
        if why and t - key >= MIN_REFRESH_GAP:
            best = t + int(np.argmax(quality[t : min(n, t + REFRESH_LOOKAHEAD)]))
            starts.append(best)
            reasons.append(f"refresh: {why}")
            if key_period:
                due = best + key_period
            t = best
        t += 1
    return KeyChoice(starts, reasons)
