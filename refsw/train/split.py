"""Person split of the shared clips (``../shared/data``): training and validation persons.

The data README says which clips show the same person (``st_furious_talk*``,
``st_happyenglish_*``, ``st_obama_*``, ``st_feifeili_*``, each MEAD actor ``m030`` / ``w009``);
a person is a clip-name prefix of :data:`PERSONS`, every other clip is its own person. The
validation persons are exactly the held-out persons of the ``sem3d`` basis
(:data:`refsw.train.sem3d_basis.HELD_OUT_PERSONS`), so every number measured on them is measured
on faces none of the trained parts has seen. The parameter translators (:mod:`refsw.translate.learned`)
record this split in their checkpoints; the learned models' retraining (issue 19) reuses it.
"""

from __future__ import annotations

from pathlib import Path

from .data import default_data_dir
from .sem3d_basis import HELD_OUT_PERSONS

#: Clip-name prefixes that group several clips of one person (data README).
PERSONS = (
    "st_furious_talk",
    "st_happyenglish",
    "st_obama",
    "st_feifeili",
    "mead_m030",
    "mead_w009",
)

#: Validation persons (clip-name prefixes): the ``sem3d`` basis' held-out persons.
VALIDATION_PERSONS = HELD_OUT_PERSONS


def person_of(clip: str) -> str:
    """The person (a :data:`PERSONS` prefix, or the clip name itself) shown in clip ``clip``."""
    return next((p for p in PERSONS if clip.startswith(p)), clip)


def is_validation(clip: str) -> bool:
    """Whether clip ``clip`` shows a validation person."""
    return clip.startswith(VALIDATION_PERSONS)


def split_clips(data_dir: Path | None = None) -> dict[str, list[str]]:
    """``{"train": [...], "validation": [...]}``: the clip names (file stems of
    ``data_dir/*.mp4``, sorted) of the training and validation persons; no person is in both.

    Raises:
        FileNotFoundError: ``data_dir`` (default :func:`refsw.train.data.default_data_dir`) holds
            no clip.
    """
    data_dir = data_dir or default_data_dir()
    names = sorted(p.stem for p in data_dir.glob("*.mp4"))
    if not names:
        raise FileNotFoundError(f"no clip (*.mp4) in {data_dir}")
    return {
        "train": [n for n in names if not is_validation(n)],
        "validation": [n for n in names if is_validation(n)],
    }
