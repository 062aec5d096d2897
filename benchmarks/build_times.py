"""Build times of derivatives: the symbolic API (canonical results) and compiled functions.

Issue 12, item 3: the symbolic operators return canonical SymPy expressions (equal to
what SymNum 0.2.1 returns) while big derivatives still build fast, because only the
results handed to users are canonicalised, once per distinct node, and compiled
functions never are. Issue 14, item 10: ``logaddexp`` and friends differentiate in time
proportional to the expression.

    python benchmarks/build_times.py            # best of 3 per row, CPU seconds

Each row runs in this process after a warm-up, with the on-disk cache disabled, and
reports the best of ``--repeat`` runs, in CPU seconds of this process (robust to a
busy machine; compilers run in-process for the numpy backend).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("SYMNUM_DISABLE_CACHE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
from cases import logreg_array, rosen_array

import symnum
import symnum.numpy as snp
from symnum.diffops import symbolic as sd


def logaddexp_logreg(n: int):
    """Logistic regression log-likelihood with ``logaddexp``, ``n`` rows of 10 features."""
    rng = np.random.default_rng(0)
    features = rng.standard_normal((n, 10))
    labels = (rng.random(n) < 0.5).astype(float)

    def log_likelihood(beta):
        eta = features @ beta
        return snp.sum(labels * eta - snp.logaddexp(0.0, eta))

    return log_likelihood


def rows():
    logreg, rosen = logreg_array(snp), rosen_array(snp)
    lae = logaddexp_logreg(200)
    beta, x60 = symnum.named_array("w", 10), symnum.named_array("x", 60)
    return [
        ("logreg 100x10 Hessian, symbolic (canonical)", lambda: sd.hessian(logreg)(beta)),
        ("logreg 100x10 Hessian, numpy backend build", lambda: symnum.hessian(logreg, (10,))),
        ("rosen-60 Hessian, symbolic (canonical)", lambda: sd.hessian(rosen)(x60)),
        ("rosen-60 Hessian, numpy backend build", lambda: symnum.hessian(rosen, (60,))),
        (
            "logaddexp logreg N=200 gradient, numpy backend build",
            lambda: symnum.gradient(lae, (10,)),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    symnum.hessian(rosen_array(snp), (3,))  # warm-up: imports, first build
    for label, build in rows():
        times = []
        for _ in range(args.repeat):
            start = time.process_time()
            build()
            times.append(time.process_time() - start)
        print(f"{min(times):8.3f} s  {label}")


if __name__ == "__main__":
    main()
