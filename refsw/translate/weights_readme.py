"""Writes ``refsw/translate/weights/README.md`` from the committed checkpoints' provenance.

Command (after ``gfv-train translator ...``)::

    python -m refsw.translate.weights_readme
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

from refsw.models import MODEL_NAMES

from .learned import WEIGHTS_DIR, checkpoint_path

HEADER = """# Learned parameter translators (JVET-AG0048)

One file per ordered pair of models, `<A>_to_<B>.npz`: A's trans-encoder eps_A (in -> 64 -> 64 ->
64 -> 64), B's trans-decoder delta_B (64 -> 64 -> 64 -> 64 -> out), the linear path W, the
normalisation statistics and `meta` (JSON: command, steps, data, time, scores); format and
inference in `refsw/translate/learned.py`, training in `refsw/translate/train.py`, results in
`docs/translators.md#learned-translators`. The translator URI a rewritten stream carries is
`urn:gfv-refsw:translator:<A>:<B>:sha256:<SHA-256 of the file>`.

Made on this project's shared 2-core CPU machine, nothing downloaded:

1. Parameter dataset: `python -m refsw.translate.dataset` (every model's analysis of the first 250
   pictures of all 54 clips of `../shared/data`, 8,719 pictures, snapped to each model's GFV grid; cached under
   `~/.cache/gfv-refsw/translator/`). It took 27 minutes (08:43 to 09:11 UTC, two processes beside other
   engineers' jobs, load average about 10). Each model's cached parameters name the generator
   URI of their analyser; after the stage-3 FOMM, CFTE and CTTR checkpoints (issue 19) the same
   command made only their parameters again (273 s for CFTE, about 5 minutes for FOMM, 146 s for
   CTTR, one thread).
2. Every pair: `gfv-train translator A B` (the command of each file is in the table; work
   directories `runs/translator/<A>_to_<B>`, git-ignored; re-running resumes). The 24 pairs with
   FOMM, CFTE or CTTR on either side were trained again for the stage-3 checkpoints (work
   directories `/work/runs/translator_v19/<A>_to_<B>`, fresh for each pair, 9-36 s each).
3. The picture-loss stage (issue 17, `refsw/translate/picture.py`) for the 20 pairs whose B has a
   PyTorch generator (FOMM, CFTE, CTTR, FV2V): the same command with `--picture-steps 50
   --picture-lr 0.0005` (batch 4), resumed from the parameter stage's `last.pt` (work directories
   `/work/runs/translator_pic/<A>_to_<B>`), two pairs at a time, one thread each. The stage is
   kept only where it lowers the selection persons' picture L1 (column `picture L1`, before ->
   after; `kept`).
4. The gain for kptps as B (`--picture-gain`: the translated change times 0.5 .. 1, the gain with
   the lowest selection picture L1, baked into `out_scale`; column `picture L1` shows the gain)
   for fomm, cfte, cttr and fv2v -> kptps, from the same work directories
   (`/work/runs/gain_test/<A>_to_kptps`, copies of the parameter stage's `last.pt`).
5. This file: `python -m refsw.translate.weights_readme`.

Data: the person split of `refsw/train/split.py` (validation persons = the held-out persons of the
sem3d basis: `lp_d19`, `tpsmm_driving`, `dagan_driving`, `dpe_d`, `mead_w009*`, `st_obama*`,
`st_happyenglish*`; 17 clips). The 37 training clips are split again by person: every 5th person
(`selection_clips` in `meta`) chooses the ridge penalty of W and whether the network is kept;
the others fit. Loss: the relative parameter loss (normalised per element), then, where kept, the
picture L1 through B's generator beside it (see `docs/translators.md`). `explained`: the fraction
of B's change from the clip's first picture that the translation explains on the validation
persons (1 - MSE / mean square, over the normalised elements).

The translators depend on the exact analysers: `meta` names the source and target generator
URIs (checkpoint hashes) whose analysis they were trained on; retrained learned models
(issue 19) need retrained translators.

| file | command | steps | ridge | network kept | picture L1 (selection) | explained | train s | bytes | SHA-256 |
|---|---|---|---|---|---|---|---|---|---|
"""


def main() -> int:
    """Writes the README; returns the exit status."""
    rows = []
    for a in MODEL_NAMES:
        for b in MODEL_NAMES:
            path = checkpoint_path(a, b)
            if a == b or not path.is_file():
                continue
            data = path.read_bytes()
            with np.load(path) as z:
                meta = json.loads(str(z["meta"]))
            stages = []  # the picture-loss stage and the gain, as far as they ran
            if "picture_selection_l1" in meta:
                l1 = meta["picture_selection_l1"]
                kept = "kept" if meta["picture_kept"] else "not kept"
                stages.append(f"{l1['before']:.4f} -> {l1['after']:.4f}, {kept}")
            if "picture_gain" in meta:
                l1 = meta["picture_gain_l1"]
                gain = f"{meta['picture_gain']:g}"
                stages.append(f"gain {gain}: {l1['1']:.4f} -> {l1[gain]:.4f}")
            picture = "; ".join(stages) or "-"
            rows.append(
                f"| `{path.name}` | `{meta['command']}` | {meta['steps']} | {meta['ridge_penalty']:g} | "
                f"{'yes' if meta['network_kept'] else 'no'} | {picture} | {meta['validation_explained']:.3f} | "
                f"{meta['train_seconds']:.0f} | {len(data):,} | `{hashlib.sha256(data).hexdigest()[:16]}...` |"
            )
    (WEIGHTS_DIR / "README.md").write_text(HEADER + "\n".join(rows) + "\n")
    print(f"{WEIGHTS_DIR / 'README.md'}: {len(rows)} translators", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
