"""Benchmark of the parameter translators' inference time (issue 17 bar: at most 1 ms per picture).

For every ordered pair A != B of :data:`refsw.models.MODEL_NAMES` with a translator of ``--kind``
(default learned; ``any``: the preferred one), the time of one :meth:`Translator.translate` call
per picture (N = 1, as a decoder translating picture by picture calls it; median of ``--repeat``
calls) and per picture of a batch of ``--batch`` pictures (fastest of 5) (a whole stream rewritten at once), on
real parameters (the parameter dataset of clip ``--clip``, :mod:`refsw.translate.dataset`).

Usage: python benchmarks/bench_translate.py [--kind learned] [--repeat 200] [--batch 250] [--clip lp_d19]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from refsw.models import MODEL_NAMES
from refsw.translate import NoTranslatorError, get_translator
from refsw.translate.dataset import as_params, load_dataset


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", default="learned", help="learned, analytic or any")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--clip", default="lp_d19")
    args = p.parse_args()
    data = load_dataset([args.clip])[0]
    kind = None if args.kind == "any" else args.kind
    print(f"{'A -> B':<16} {'kind':<9} {'ms/picture (N=1)':>17} {'ms/picture (batch)':>19}  bar")
    worst = 0.0
    for a in MODEL_NAMES:
        for b in MODEL_NAMES:
            if a == b:
                continue
            try:
                t = get_translator(a, b, kind)
            except NoTranslatorError:
                continue
            pa = as_params(a, data[a])
            tk = as_params(b, data[b][:1])[0]
            single = []
            for r in range(args.repeat):
                row = pa[1 + r % (len(pa) - 1)][None]
                t0 = time.perf_counter()
                t.translate(row, pa[0], tk)
                single.append(time.perf_counter() - t0)
            batch = pa[1 : 1 + args.batch]
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                t.translate(batch, pa[0], tk)
                runs.append((time.perf_counter() - t0) / len(batch))
            per_batch = min(runs)
            ms = 1e3 * float(np.median(single))
            worst = max(worst, ms)
            ok = "ok" if ms <= 1.0 else "OVER"
            print(f"{a + ' -> ' + b:<16} {args.kind:<9} {ms:>17.3f} {1e3 * per_batch:>19.4f}  {ok}")
    print(f"worst: {worst:.3f} ms per picture (bar 1 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
