"""Edits of the decoded facial semantics, applied before generation (``gfv-decode --edit``).

A receiver of a GFV stream whose parameters have meanings (``sem3d``: head pose, eyes, mouth,
pupils; ``fv2v``: head pose) can change them before the generator runs, as interactive face video
coding does with 3DMM semantics: close the eyes, open the mouth, turn the head, zoom. An
:class:`EditPlan` says which values apply to which output picture; the model applies them to its
own parameters (:attr:`refsw.models.ModelSpec.apply_edit`), so the decoder has no model names.

Keys (:data:`EDIT_KEYS`) and values:

=============================  =====================================================  =======
key                            meaning                                                neutral
=============================  =====================================================  =======
``eye_left``, ``eye_right``    eye openness factor (0 closed, 1 as decoded); left =   1
                               the eye on the picture's left
``eyes``                       openness factor of both eyes (multiplies the above)    1
``mouth``                      mouth opening factor (0 closed, 1 as decoded)          1
``gaze_x``, ``gaze_y``         pupil offset added, in eye widths (+x right, +y down)  0
``yaw``, ``pitch``, ``roll``   head rotation added, degrees: +yaw turns the face to   0
                               the picture's right, +pitch up, +roll clockwise
``zoom``                       face scale factor (about the face centre)              1
``tx``, ``ty``                 face translation, fractions of the picture width /    0
                               height (+x right, +y down)
=============================  =====================================================  =======

Absolute values: ``eye_left``, ``eye_right``, ``eyes`` and ``mouth`` also take an absolute value
written with a second ``=`` (``--edit eyes==0.1``): the model's own measure (``sem3d``: eye lid gap
/ eye width, about 0.25-0.35 for an open eye; mouth inner-lip gap / mouth width, about 0.3-0.5 for
a wide open mouth). In a values mapping it appears under the key with a trailing ``=``
(``{"eyes=": 0.1}``, :data:`ABSOLUTE_KEYS`); the absolute value is set first, factors multiply it.

Pictures: the output picture index (display order, from 0). ``--edit-frames A:B`` limits the
``--edit`` values to pictures ``A <= i < B`` (either end may be left out, as a Python slice). An
edit script (:meth:`EditPlan.from_yaml`) gives key frames; each key is interpolated linearly
between the key frames that give it and holds its first / last value before / after them. Where a
plan has both, the ``--edit`` values apply on top of the script's: factors multiply, offsets add,
absolute values replace.

The decoder (:func:`refsw.decoder.decode_stream`) applies the plan to the reconstructed parameters
of every output picture: generated and interpolated pictures, and key pictures too: a key picture
with an edit is re-synthesised by the generator from its own (edited) parameters instead of being
output as the VVC decoder gave it, so an edit over all pictures changes every output picture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from refsw.models.editing import EDIT_KEYS, HEAD_POSE_KEYS

if TYPE_CHECKING:
    from refsw.models import ModelSpec

#: Keys whose value is a factor (neutral 1); the others are offsets (neutral 0).
FACTOR_KEYS = frozenset({"eye_left", "eye_right", "eyes", "mouth", "zoom"})
#: Keys of absolute values (``"eyes="``): the factor keys of the eyes and the mouth with a ``=``.
ABSOLUTE_KEYS = ("eye_left=", "eye_right=", "eyes=", "mouth=")

#: Accepted value ranges (inclusive; zoom's lower end is exclusive of 0).
RANGES: dict[str, tuple[float, float]] = {
    "eye_left": (0.0, 3.0), "eye_right": (0.0, 3.0), "eyes": (0.0, 3.0), "mouth": (0.0, 5.0),
    "gaze_x": (-0.5, 0.5), "gaze_y": (-0.5, 0.5),
    "yaw": (-90.0, 90.0), "pitch": (-90.0, 90.0), "roll": (-180.0, 180.0),
    "zoom": (0.25, 4.0), "tx": (-1.0, 1.0), "ty": (-1.0, 1.0),
    "eye_left=": (0.0, 1.0), "eye_right=": (0.0, 1.0), "eyes=": (0.0, 1.0), "mouth=": (0.0, 2.0),
}  # fmt: skip

#: What a model needs for each key, for :func:`check_supported`'s message.
_SEMANTICS = {
    **dict.fromkeys(("eye_left", "eye_right", "eyes"), "eye"),
    "mouth": "mouth",
    **dict.fromkeys(("gaze_x", "gaze_y"), "gaze (pupil)"),
    **dict.fromkeys(HEAD_POSE_KEYS, "head-pose"),
}


class EditError(ValueError):
    """A bad edit: unknown key, bad value, bad picture range, bad script, or an edit the stream's
    generator does not support. The message is one line."""


def _is_neutral(key: str, value: float) -> bool:
    return not key.endswith("=") and value == (1.0 if key in FACTOR_KEYS else 0.0)


def check_value(key: str, value: Any) -> float:
    """``value`` of edit ``key`` (an :data:`EDIT_KEYS` or :data:`ABSOLUTE_KEYS` entry) as a float.

    Raises:
        EditError: unknown key, not a finite number, or outside :data:`RANGES`.
    """
    if key.endswith("=") and key[:-1] in EDIT_KEYS and key not in RANGES:
        absolute = ", ".join(k[:-1] for k in ABSOLUTE_KEYS)
        raise EditError(f"edit {key[:-1]}: no absolute value (KEY==VALUE is for {absolute})")
    if key not in RANGES:
        raise EditError(f"unknown edit key {key!r}; use one of {', '.join(EDIT_KEYS)}")
    if isinstance(value, bool):
        raise EditError(f"edit {key}: {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EditError(f"edit {key}: {value!r} is not a number") from None
    lo, hi = RANGES[key]
    if not math.isfinite(number) or not lo <= number <= hi:
        raise EditError(f"edit {key}: {value} is outside [{lo:g}, {hi:g}]")
    return number


def _check_values(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: check_value(k, v) for k, v in values.items()}


def _combine(under: Mapping[str, float], over: Mapping[str, float]) -> dict[str, float]:
    """``over`` applied on top of ``under``: factors multiply, offsets add, absolute values replace."""
    out = dict(under)
    for k, v in over.items():
        if k in out and not k.endswith("="):
            v = out[k] * v if k in FACTOR_KEYS else out[k] + v
        out[k] = v
    return {k: v for k, v in out.items() if not _is_neutral(k, v)}


def parse_frames(frames: str | None) -> tuple[int, int | None]:
    """``(first, stop)`` of a picture range ``"A:B"`` (``A <= i < B``; ``"A:"``, ``":B"``,
    ``None``: open ends); ``stop`` ``None`` means to the last picture.

    Raises:
        EditError: not of that form, a negative index, or an empty range.
    """
    if frames is None:
        return 0, None
    a, sep, b = frames.partition(":")
    try:
        first = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else None
    except ValueError:
        first = stop = -1
    if not sep or first < 0 or (stop is not None and stop < 0):
        raise EditError(f"picture range {frames!r}: use A:B with picture indices A < B (A or B may be left out)")
    if stop is not None and stop <= first:
        raise EditError(f"picture range {frames!r} is empty")
    return first, stop


@dataclass(frozen=True)
class EditPlan:
    """Which edit values apply to which output picture.

    Attributes:
        constant: values (:data:`EDIT_KEYS` / :data:`ABSOLUTE_KEYS` -> float) of the pictures
            ``first <= i < stop``.
        first: first picture of ``constant``.
        stop: picture after the last of ``constant`` (``None``: to the end).
        keyframes: ``(picture, values)`` in increasing picture order (an edit script); each key
            is interpolated linearly between the key frames giving it, held outside them.
    """

    constant: dict[str, float] = field(default_factory=dict)
    first: int = 0
    stop: int | None = None
    keyframes: tuple[tuple[int, dict[str, float]], ...] = ()

    @classmethod
    def parse(cls, edits: Sequence[str], frames: str | None = None) -> EditPlan:
        """The plan of ``--edit KEY=VALUE ...`` (``KEY==VALUE``: absolute value) over the picture
        range ``frames`` (:func:`parse_frames`).

        Raises:
            EditError: not ``KEY=VALUE``, unknown key, bad value, a key given twice, bad range,
                or a range without edits.
        """
        values: dict[str, float] = {}
        for item in edits:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or not key or not text.strip():
                raise EditError(f"edit {item!r}: use KEY=VALUE (KEY==VALUE for an absolute value)")
            if text.startswith("="):
                key, text = key + "=", text[1:]
            if key in values:
                raise EditError(f"edit {key} given twice")
            values[key] = check_value(key, text.strip())
        if frames is not None and not values:
            raise EditError("--edit-frames needs --edit values")
        first, stop = parse_frames(frames)
        return cls({k: v for k, v in values.items() if not _is_neutral(k, v)}, first, stop)

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> EditPlan:
        """The plan applying ``values`` to all pictures.

        Raises:
            EditError: unknown key or bad value.
        """
        return cls({k: v for k, v in _check_values(values).items() if not _is_neutral(k, v)})

    @classmethod
    def from_yaml(cls, path: str | Path) -> EditPlan:
        """The plan of an edit script: a YAML mapping with a list ``keyframes`` of mappings, each
        with ``picture`` (output picture index) and edit values, for example::

            keyframes:
              - {picture: 0, yaw: 0, eyes: 1}
              - {picture: 25, yaw: 15, eyes: 0}
              - {picture: 50, yaw: 0, "mouth=": 0.3}

        Raises:
            EditError: the file cannot be read, is not such a mapping, has a bad key or value, or
                two key frames of the same picture.
            FileNotFoundError / OSError: the file cannot be opened.
        """
        import yaml

        text = Path(path).read_text(encoding="utf-8")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise EditError(f"edit script {path}: not YAML ({str(err).splitlines()[0]})") from None
        frames = doc.get("keyframes") if isinstance(doc, dict) else None
        if not isinstance(frames, list) or not frames:
            raise EditError(f"edit script {path}: expected a mapping with a non-empty list 'keyframes'")
        out: dict[int, dict[str, float]] = {}
        for i, entry in enumerate(frames):
            if not isinstance(entry, dict) or "picture" not in entry:
                raise EditError(f"edit script {path}: key frame {i} is not a mapping with 'picture'")
            values = dict(entry)
            picture = values.pop("picture")
            if isinstance(picture, bool) or not isinstance(picture, int) or picture < 0:
                raise EditError(f"edit script {path}: key frame {i}: picture {picture!r} is not an index >= 0")
            if picture in out:
                raise EditError(f"edit script {path}: two key frames of picture {picture}")
            try:
                out[picture] = _check_values({str(k): v for k, v in values.items()})
            except EditError as err:
                raise EditError(f"edit script {path}: key frame {i}: {err}") from None
        return cls(keyframes=tuple(sorted(out.items())))

    @property
    def is_empty(self) -> bool:
        """No picture is changed."""
        return not self.constant and not any(
            not _is_neutral(k, v) for _, values in self.keyframes for k, v in values.items()
        )

    @property
    def keys(self) -> frozenset[str]:
        """Every key the plan sets (absolute keys with their ``=``)."""
        return frozenset(self.constant) | {k for _, values in self.keyframes for k in values}

    def _script_at(self, picture: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for key in {k for _, values in self.keyframes for k in values}:
            points = [(p, v[key]) for p, v in self.keyframes if key in v]
            xs, ys = zip(*points, strict=True)
            out[key] = float(np.interp(picture, xs, ys))
        return out

    def values_at(self, picture: int) -> dict[str, float]:
        """The values (non-neutral only) that apply to output picture ``picture``; ``{}``: the
        picture is not changed."""
        script = self._script_at(picture) if self.keyframes else {}
        inside = picture >= self.first and (self.stop is None or picture < self.stop)
        return _combine(script, self.constant if inside else {})


def check_supported(plan: EditPlan, spec: ModelSpec) -> None:
    """Refuses a plan with a key the stream's model does not support.

    Raises:
        EditError: e.g. ``edit 'yaw' needs a model with head-pose semantics (sem3d, fv2v); the
            stream's generator is fomm``.
    """
    from refsw.models import MODELS, available_models

    available_models()  # loads the registry
    for key in sorted(plan.keys):
        base = key.rstrip("=")
        if base in spec.edit_keys:
            continue
        able = ", ".join(name for name, s in sorted(MODELS.items()) if base in s.edit_keys)
        raise EditError(
            f"edit {base!r} needs a model with {_SEMANTICS[base]} semantics ({able or 'none available'}); "
            f"the stream's generator is {spec.name}"
        )


def edited_params(plan: EditPlan, spec: ModelSpec, picture: int, params: np.ndarray) -> np.ndarray | None:
    """``params`` of output picture ``picture`` with the plan's values applied by the model
    (:attr:`refsw.models.ModelSpec.apply_edit`), or ``None`` when the plan leaves the picture as
    it is. Keys are checked by :func:`check_supported` first.

    Raises:
        EditError: a key the model does not support.
    """
    values = plan.values_at(picture)
    if not values:
        return None
    if spec.apply_edit is None:
        check_supported(EditPlan.from_values(values), spec)
    assert spec.apply_edit is not None  # check_supported raised otherwise: no model edits nothing
    return np.asarray(spec.apply_edit(np.asarray(params, dtype=np.float64), values), dtype=np.float64)
