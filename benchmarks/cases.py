"""Benchmark cases, each written once per framework, and the shared numeric reference.

A *model* is a function written three ways:

* ``array_func(np_)`` -> ``f(x)`` over a NumPy-like module (``symnum.numpy`` -- the new
  one or SymNum 0.2.1's, ``jax.numpy``, ``autograd.numpy``);
* ``scalar_func(mod, xs)`` over a list of scalar symbols, with ``mod`` supplying
  ``cos``/``sin``/``sqrt``/``exp``/``log`` (``sympy``, ``symengine`` or ``casadi``);
* hand-written NumPy derivatives (in :mod:`handwritten`).

A *case* is a model plus an operator (gradient, Hessian, Jacobian, matrix-Tressian or
matrix-Hessian product). The reference values come from SymPy: exact derivatives of
``scalar_func`` evaluated with mpmath at 30 digits, independent of every contender.

This module imports only NumPy at the top level: the SymNum 0.2.1 worker imports it in a
virtual environment that has nothing but numpy, sympy and symnum 0.2.1.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["CASES", "MODELS", "Case", "Model", "reference", "select_cases"]

# --- the README target -------------------------------------------------------------

README_Y = np.array([1.0, 0.0])
README_SIGMA = 0.3
README_A = ((1.0, -0.5), (-0.5, 1.0))


def readme_forward_array(np_):
    def forward_func(x):
        return np_.array([[1.0, -0.5], [-0.5, 1.0]]) @ np_.array(
            [np_.cos(-(x[1] ** 2) + 3 * x[0]), np_.sin(x[0] - 1)]
        )

    return forward_func


def readme_array(np_):
    forward_func = readme_forward_array(np_)

    def neg_log_dens(x):
        return (np_.sum((README_Y - forward_func(x)) ** 2 / README_SIGMA**2) + np_.sum(x**2)) / 2

    return neg_log_dens


def readme_forward_scalar(mod, x):
    u = (mod.cos(-(x[1] ** 2) + 3 * x[0]), mod.sin(x[0] - 1))
    return [README_A[i][0] * u[0] + README_A[i][1] * u[1] for i in range(2)]


def readme_scalar(mod, x):
    fwd = readme_forward_scalar(mod, x)
    data = sum((README_Y[i] - fwd[i]) ** 2 for i in range(2)) / README_SIGMA**2
    return (data + sum(xi**2 for xi in x)) / 2


def _total(mod, terms):
    # Python's sum() re-flattens a growing SymPy Add at every step (quadratic time).
    add = getattr(mod, "Add", None)
    return add(*terms) if add is not None else sum(terms[1:], terms[0])


# --- Rosenbrock ----------------------------------------------------------------------


def rosen_array(np_):
    def rosenbrock(x):
        return np_.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    return rosenbrock


def rosen_scalar(mod, x):
    terms = [100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1)]
    return _total(mod, terms)


# --- a torus in R^3 as a constraint manifold c(q) = 0 ---------------------------------

TORUS_R, TORUS_r = 1.0, 0.5


def torus_array(np_):
    def torus_constraint(q):
        return np_.array(
            [(np_.sqrt(q[0] ** 2 + q[1] ** 2) - TORUS_R) ** 2 + q[2] ** 2 - TORUS_r**2]
        )

    return torus_constraint


def torus_scalar(mod, q):
    return [(mod.sqrt(q[0] ** 2 + q[1] ** 2) - TORUS_R) ** 2 + q[2] ** 2 - TORUS_r**2]


# --- Bayesian logistic regression, 100 points, 10 parameters --------------------------


@cache
def logreg_data():
    """(X (100, 10), y (100,)): fixed synthetic data (seeded)."""
    rng = np.random.default_rng(20261126)
    x = rng.standard_normal((100, 10)) * 0.5
    w_true = rng.standard_normal(10)
    p = 1 / (1 + np.exp(-x @ w_true))
    y = (rng.uniform(size=100) < p).astype(np.float64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def logreg_array(np_):
    x_data, y_data = logreg_data()

    def neg_log_posterior(w):
        z = x_data @ w
        return np_.sum(np_.log(1 + np_.exp(z)) - y_data * z) + np_.sum(w**2) / 2

    return neg_log_posterior


def logreg_scalar(mod, w):
    x_data, y_data = logreg_data()
    terms = []
    for i in range(x_data.shape[0]):
        z = _total(mod, [float(x_data[i, j]) * w[j] for j in range(len(w))])
        terms.append(mod.log(1 + mod.exp(z)) - float(y_data[i]) * z)
    terms.extend(wj**2 / 2 for wj in w)
    return _total(mod, terms)


# --- models and cases ------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    name: str
    n: int
    array_func: object  # np_ -> f(x)
    scalar_func: object  # (mod, xs) -> expr, or list of exprs for vector-valued models
    vector: bool  # vector-valued (Jacobian, matrix-Hessian product) or scalar
    out_dim: int = 1  # length of the output vector (vector models)
    scale: float = 0.5  # spread of the test points around `centre`
    centre: float = 0.0


MODELS = {
    "readme": Model("readme", 2, readme_array, readme_scalar, False),
    "readme_fwd": Model(
        "readme_fwd", 2, readme_forward_array, readme_forward_scalar, True, out_dim=2
    ),
    "rosen2": Model("rosen2", 2, rosen_array, rosen_scalar, False, scale=0.1, centre=1.0),
    "rosen10": Model("rosen10", 10, rosen_array, rosen_scalar, False, scale=0.02, centre=1.0),
    "rosen60": Model("rosen60", 60, rosen_array, rosen_scalar, False, scale=0.005, centre=1.0),
    "torus": Model("torus", 3, torus_array, torus_scalar, True, out_dim=1, scale=0.4, centre=0.5),
    "logreg": Model("logreg", 10, logreg_array, logreg_scalar, False, scale=0.3),
}


def _warmup_array(np_):
    def warmup(x):
        return (
            np_.sum(np_.sin(x) * np_.cos(x))
            + np_.sum(np_.array([[1.0, 0.5], [0.5, 1.0]]) @ x[:2])
            + np_.log(1 + x[0] ** 2)
            + np_.sqrt(1 + x[1] ** 2)
            + np_.exp(x[2])
        )

    return warmup


def _warmup_scalar(mod, x):
    return _total(
        mod,
        [
            *(mod.sin(xi) * mod.cos(xi) for xi in x),
            1.5 * x[0] + 1.5 * x[1],
            mod.log(1 + x[0] ** 2),
            mod.sqrt(1 + x[1] ** 2),
            mod.exp(x[2]),
        ],
    )


#: Not a benchmark case: its gradient and Hessian are built first in every build worker,
#: so one-off first-use costs (first jit, first numba compile, SymPy's lazy set-up of
#: functions and printers) are not charged to the case being timed.
WARMUP = Model("warmup", 3, _warmup_array, _warmup_scalar, False)

#: operator -> (symnum function name, needs an extra matrix argument m)
OPS = {
    "grad": ("gradient", False),
    "hess": ("hessian", False),
    "jac": ("jacobian", False),
    "mtp": ("matrix_tressian_product", True),
    "mhp": ("matrix_hessian_product", True),
}


@dataclass(frozen=True)
class Case:
    model: Model
    op: str
    sampler_eps: float | None = None  # MALA step size; None: no sampler for this case

    @property
    def name(self) -> str:
        return f"{self.model.name}-{self.op}"

    @property
    def n(self) -> int:
        return self.model.n

    @property
    def symnum_op(self) -> str:
        return OPS[self.op][0]

    @property
    def has_m(self) -> bool:
        return OPS[self.op][1]

    @property
    def m_shape(self) -> tuple[int, ...] | None:
        if self.op == "mtp":
            return (self.n, self.n)
        if self.op == "mhp":
            return (self.model.out_dim, self.n)
        return None

    @property
    def out_shape(self) -> tuple[int, ...]:
        n = self.n
        return {
            "grad": (n,),
            "hess": (n, n),
            "jac": (self.model.out_dim, n),
            "mtp": (n,),
            "mhp": (n,),
        }[self.op]

    def points(self, count: int, seed: int = 0) -> np.ndarray:
        """``count`` test points, shape (count, n), reproducible."""
        rng = np.random.default_rng([seed, self.n, len(self.model.name)])
        pts = self.model.centre + self.model.scale * rng.standard_normal((count, self.n))
        return np.ascontiguousarray(pts)

    def matrices(self, count: int, seed: int = 1) -> np.ndarray | None:
        """``count`` matrix arguments for the product operators, shape (count, *m_shape)."""
        if not self.has_m:
            return None
        rng = np.random.default_rng([seed, self.n, 7])
        return np.ascontiguousarray(rng.standard_normal((count, *self.m_shape)))

    def point(self):
        """(x, m) for the single-point measurements (m is None without a matrix arg)."""
        m = self.matrices(1)
        return self.points(1)[0].copy(), (None if m is None else m[0].copy())

    def sampler_inputs(self, steps: int, seed: int = 2):
        """(x0, eps, noise (steps, n), log_u (steps,)): identical for every contender."""
        rng = np.random.default_rng([seed, self.n])
        noise = rng.standard_normal((steps, self.n))
        log_u = np.log(rng.uniform(size=steps))
        return self.points(1, seed=3)[0].copy(), float(self.sampler_eps), noise, log_u


CASES = [
    Case(MODELS["readme"], "grad", sampler_eps=0.3),
    Case(MODELS["readme"], "hess"),
    Case(MODELS["readme"], "mtp"),
    Case(MODELS["readme_fwd"], "jac"),
    Case(MODELS["rosen2"], "grad", sampler_eps=0.02),
    Case(MODELS["rosen2"], "hess"),
    Case(MODELS["rosen10"], "grad", sampler_eps=0.005),
    Case(MODELS["rosen10"], "hess"),
    Case(MODELS["rosen60"], "grad", sampler_eps=0.002),
    Case(MODELS["rosen60"], "hess"),
    Case(MODELS["torus"], "jac"),
    Case(MODELS["torus"], "mhp"),
    Case(MODELS["logreg"], "grad", sampler_eps=0.1),
    Case(MODELS["logreg"], "hess"),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def select_cases(patterns: str | None) -> list[Case]:
    """Cases whose names match any comma-separated glob in ``patterns`` (all if None)."""
    if not patterns:
        return list(CASES)
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = [c for c in CASES if any(fnmatch.fnmatchcase(c.name, p) for p in pats)]
    unknown = [p for p in pats if not any(fnmatch.fnmatchcase(c.name, p) for c in CASES)]
    if unknown:
        names = ", ".join(c.name for c in CASES)
        msg = f"no case matches {', '.join(unknown)}; cases: {names}"
        raise ValueError(msg)
    return chosen


# --- symbolic derivatives over scalar symbols (SymPy, SymEngine, CasADi-free) --------


def scalar_derivatives(case: Case, mod, xs, ms=None, with_value=False):
    """Derivative expressions of ``case`` over the scalar symbols ``xs`` using ``mod``
    (``sympy`` or ``symengine``), as nested lists shaped like the output; ``ms`` are the
    matrix symbols (nested lists, ``case.m_shape``) for the products.

    ``with_value=True`` (gradient only) returns ``(gradient, value)``."""
    f = case.model.scalar_func(mod, xs)
    n = len(xs)
    if case.op == "grad":
        grad = [mod.diff(f, xi) for xi in xs]
        return (grad, f) if with_value else grad
    if case.op == "hess":
        grad = [mod.diff(f, xi) for xi in xs]
        return [[mod.diff(grad[i], xs[j]) for j in range(n)] for i in range(n)]
    if case.op == "jac":
        return [[mod.diff(fa, xj) for xj in xs] for fa in f]
    if case.op == "mtp":
        grad = [mod.diff(f, xi) for xi in xs]
        hess = [[mod.diff(grad[i], xs[j]) for j in range(n)] for i in range(n)]
        contracted = sum(hess[i][j] * ms[i][j] for i in range(n) for j in range(n))
        return [mod.diff(contracted, xi) for xi in xs]
    if case.op == "mhp":
        jac = [[mod.diff(fa, xj) for xj in xs] for fa in f]
        contracted = sum(jac[a][j] * ms[a][j] for a in range(len(f)) for j in range(n))
        return [mod.diff(contracted, xi) for xi in xs]
    raise ValueError(case.op)


@cache
def _reference_func(case_name: str):
    import sympy

    case = CASES_BY_NAME[case_name]
    xs = list(sympy.symbols(f"x0:{case.n}"))
    args = [xs]
    ms = None
    if case.has_m:
        rows, cols = case.m_shape
        flat = list(sympy.symbols(f"m0:{rows * cols}"))
        ms = [flat[r * cols : (r + 1) * cols] for r in range(rows)]
        args.append(flat)
    expr = scalar_derivatives(case, sympy, xs, ms)
    return sympy.lambdify(args, expr, modules="mpmath")


def _logreg_reference(case: Case, w):
    # SymPy needs minutes for this Hessian (100 exp/log terms), so the reference is
    # the closed form X^T (s - y) + w, X^T diag(s (1 - s)) X + I, in mpmath.
    import mpmath

    x_data, y_data = logreg_data()
    rows = [[mpmath.mpf(float(v)) for v in row] for row in x_data]
    s = []
    for row in rows:
        z = mpmath.fsum(a * b for a, b in zip(row, w, strict=True))
        s.append(1 / (1 + mpmath.exp(-z)))
    p = len(w)
    if case.op == "grad":
        return [
            mpmath.fsum(
                (si - float(yi)) * row[j] for si, yi, row in zip(s, y_data, rows, strict=True)
            )
            + w[j]
            for j in range(p)
        ]
    return [
        [
            mpmath.fsum(si * (1 - si) * row[j] * row[k] for si, row in zip(s, rows, strict=True))
            + (1 if j == k else 0)
            for k in range(p)
        ]
        for j in range(p)
    ]


def reference(case: Case, x, m=None) -> np.ndarray:
    """Reference output of ``case`` at one point, float64, computed with mpmath at 30
    significant digits from SymPy's exact derivatives (closed forms for logreg)."""
    import mpmath

    with mpmath.workdps(30):
        xs = [mpmath.mpf(float(v)) for v in np.asarray(x).ravel()]
        if case.model.name == "logreg":
            out = _logreg_reference(case, xs)
        elif case.has_m:
            ms = [mpmath.mpf(float(v)) for v in np.asarray(m).ravel()]
            out = _reference_func(case.name)(xs, ms)
        else:
            out = _reference_func(case.name)(xs)
        return np.array([float(v) for v in np.ravel(np.array(out, dtype=object))]).reshape(
            case.out_shape
        )


def close(actual, expected, rtol: float = 1e-8) -> tuple[bool, float]:
    """Whether ``actual`` matches ``expected`` (shape and values), and the max error
    relative to the largest reference entry."""
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False, float("inf")
    if actual.shape != expected.shape:
        return False, float("inf")
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    err = float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0
    return bool(err <= rtol), err


# --- models with data (issue 11): the N sweep of benchmarks/data_bench.py ---------------
#
# Written as a user writes them: data are constant NumPy arrays captured by the model
# function, never arguments. ``array_func(np_, sp, data)`` takes a NumPy-like module
# (``symnum.numpy``, ``jax.numpy``, ``pytensor.tensor``) and a module ``sp`` supplying
# ``gammaln`` and ``logsumexp`` (``symnum.scipy.special``, ``jax.scipy.special``,
# ``pytensor.tensor``). Nothing here assumes how a framework treats the data (unrolled
# rows today, loops later): the same functions serve both.

LOGREG_D = 10
POISSON_D = 5
GMM_K = 3


@cache
def logreg_sweep_data(n: int) -> dict:
    """{"X": (n, 10), "y": (n,)}: synthetic logistic-regression data, seeded by ``n``."""
    rng = np.random.default_rng([20261201, n])
    x = rng.standard_normal((n, LOGREG_D)) * 0.5
    w_true = rng.standard_normal(LOGREG_D)
    p = 1 / (1 + np.exp(-x @ w_true))
    y = (rng.uniform(size=n) < p).astype(np.float64)
    return _frozen(X=x, y=y)


def logreg_sweep_array(np_, sp, data):
    x_data, y_data = data["X"], data["y"]

    def neg_log_posterior(beta):
        z = x_data @ beta
        return np_.sum(np_.log1p(np_.exp(z)) - y_data * z) + np_.sum(beta**2) / 2

    return neg_log_posterior


@cache
def poisson_data(n: int) -> dict:
    """{"X": (n, 5), "y": (n,) counts}: synthetic Poisson-regression data, seeded."""
    rng = np.random.default_rng([20261202, n])
    x = rng.standard_normal((n, POISSON_D)) * 0.3
    w_true = rng.standard_normal(POISSON_D) * 0.5
    y = rng.poisson(np.exp(0.5 + x @ w_true)).astype(np.float64)
    return _frozen(X=x, y=y)


def poisson_array(np_, sp, data):
    x_data, y_data = data["X"], data["y"]

    def neg_log_posterior(beta):
        eta = x_data @ beta
        log_lik = np_.sum(y_data * eta - np_.exp(eta) - sp.gammaln(y_data + 1))
        return -log_lik + np_.sum(beta**2) / 2

    return neg_log_posterior


@cache
def gmm_data(n: int) -> dict:
    """{"x": (n,)}: draws from a 1-D mixture of three Gaussians, seeded."""
    rng = np.random.default_rng([20261203, n])
    which = rng.choice(GMM_K, size=n, p=[0.3, 0.5, 0.2])
    x = np.array([-2.0, 0.5, 3.0])[which] + np.array([0.6, 1.0, 0.4])[which] * (
        rng.standard_normal(n)
    )
    return _frozen(x=x)


def gmm_array(np_, sp, data):
    x_data = data["x"]
    half_log_2pi = 0.5 * float(np.log(2 * np.pi))

    def neg_log_posterior(theta):
        # theta = (means (3), log scales (3), unnormalised log weights (3))
        mu, log_sigma, logits = theta[0:3], theta[3:6], theta[6:9]
        log_w = logits - sp.logsumexp(logits)
        r = (mu[None, :] - x_data[:, None]) / np_.exp(log_sigma)[None, :]
        log_comp = (log_w - log_sigma)[None, :] - r**2 / 2 - half_log_2pi
        return -np_.sum(sp.logsumexp(log_comp, axis=1)) + np_.sum(theta**2) / 2

    return neg_log_posterior


NEGBIN_D = 5


@cache
def negbin_data(n: int) -> dict:
    """{"X": (n, 5), "y": (n,) overdispersed counts}: negative-binomial data, seeded."""
    rng = np.random.default_rng([20261204, n])
    x = rng.standard_normal((n, NEGBIN_D)) * 0.3
    w_true = rng.standard_normal(NEGBIN_D) * 0.5
    mu = np.exp(0.5 + x @ w_true)
    r = 2.0  # dispersion: variance mu + mu**2 / r
    y = rng.negative_binomial(r, r / (r + mu)).astype(np.float64)
    return _frozen(X=x, y=y)


def negbin_array(np_, sp, data):
    x_data, y_data = data["X"], data["y"]

    def neg_log_posterior(theta):
        # theta = (regression weights (5), log dispersion): the data meet the scalar r
        # through NumPy's operators (y_data + r), as users write it
        r = np_.exp(theta[NEGBIN_D])
        mu = np_.exp(x_data @ theta[:NEGBIN_D])
        log_lik = np_.sum(
            sp.gammaln(y_data + r)
            - sp.gammaln(r)
            + r * np_.log(r / (r + mu))
            + y_data * np_.log(mu / (r + mu))
        )
        return -log_lik + np_.sum(theta**2) / 2

    return neg_log_posterior


INTERCEPTS_K = 20
INTERCEPTS_D = 3


@cache
def intercepts_data(n: int) -> dict:
    """{"X": (n, 3), "g": (n,) group numbers 0..19, "y": (n,)}: a linear model with
    a random intercept per group, seeded."""
    rng = np.random.default_rng([20261205, n])
    x = rng.standard_normal((n, INTERCEPTS_D))
    g = rng.integers(0, INTERCEPTS_K, n)
    alpha = rng.standard_normal(INTERCEPTS_K)
    y = alpha[g] + x @ rng.standard_normal(INTERCEPTS_D) + 0.5 * rng.standard_normal(n)
    return _frozen(X=x, g=g, y=y)


def intercepts_array(np_, sp, data):
    x_data, g_data, y_data = data["X"], data["g"], data["y"]
    k = INTERCEPTS_K

    def neg_log_posterior(theta):
        # theta = (group intercepts (20), slopes (3), log noise scale): intercepts are
        # picked per row by the group numbers, theta[:k][g_data]
        alpha, beta, log_sigma = theta[:k], theta[k : k + INTERCEPTS_D], theta[-1]
        resid = (y_data - alpha[g_data] - x_data @ beta) * np_.exp(-log_sigma)
        log_lik = np_.sum(-0.5 * resid**2 - log_sigma)
        return -log_lik + np_.sum(theta**2) / 2

    return neg_log_posterior


def _frozen(**arrays) -> dict:
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


@dataclass(frozen=True)
class DataModel:
    """A model whose log density sums over ``n`` data rows; ``sizes`` are the N it is
    benchmarked at and ``ops`` its operators (``val``, ``grad``, ``hess``, ``mtp``)."""

    name: str
    dim: int  # number of parameters
    make_data: object  # n -> {name: array}
    array_func: object  # (np_, sp, data) -> f(theta)
    sizes: tuple[int, ...]
    ops: tuple[str, ...]
    scale: float = 0.3  # spread of the test point around zero


#: the data models of issue 11's "Performance" section
DATA_MODELS = {
    "logreg": DataModel(
        "logreg",
        LOGREG_D,
        logreg_sweep_data,
        logreg_sweep_array,
        sizes=(100, 1_000, 10_000, 100_000),
        ops=("grad", "hess"),
    ),
    "gmm": DataModel(
        "gmm", 3 * GMM_K, gmm_data, gmm_array, sizes=(40,), ops=("val", "grad", "hess", "mtp")
    ),
    "poisson": DataModel(
        "poisson",
        POISSON_D,
        poisson_data,
        poisson_array,
        sizes=(1_000,),
        ops=("val", "grad", "hess", "mtp"),
    ),
    "negbin": DataModel(
        "negbin",
        NEGBIN_D + 1,
        negbin_data,
        negbin_array,
        sizes=(10_000,),
        ops=("val", "grad", "hess"),
    ),
    "intercepts": DataModel(
        "intercepts",
        INTERCEPTS_K + INTERCEPTS_D + 1,
        intercepts_data,
        intercepts_array,
        sizes=(10_000,),
        ops=("val", "grad", "hess"),
    ),
}

#: Not a benchmark case: built first in every data-bench worker (no data, nothing in
#: common with the cases), so one-off first-use costs are not charged to the case.
DATA_WARMUP = DataModel(
    "warmup", 3, lambda n: {}, lambda np_, sp, data: _warmup_array(np_), sizes=(0,), ops=()
)

#: data operator -> symnum function name ("val" is the function itself)
DATA_OPS = {
    "val": "numpify",
    "grad": "gradient",
    "hess": "hessian",
    "mtp": "matrix_tressian_product",
}


@dataclass(frozen=True)
class DataCase:
    """One operator of one data model at one data size ``n`` (rows)."""

    model: DataModel
    op: str
    n: int

    @property
    def name(self) -> str:
        return f"{self.model.name}-{self.op}@{self.n}"

    @property
    def dim(self) -> int:
        return self.model.dim

    @property
    def has_m(self) -> bool:
        return self.op == "mtp"

    @property
    def out_shape(self) -> tuple[int, ...]:
        d = self.dim
        return {"val": (), "grad": (d,), "hess": (d, d), "mtp": (d,)}[self.op]

    def data(self) -> dict:
        return self.model.make_data(self.n)

    def array_func(self, np_, sp):
        return self.model.array_func(np_, sp, self.data())

    def point(self):
        """(theta (dim,), m (dim, dim) or None): the test point, reproducible."""
        rng = np.random.default_rng([11, self.dim, len(self.model.name)])
        theta = self.model.scale * rng.standard_normal(self.dim)
        m = rng.standard_normal((self.dim, self.dim)) if self.has_m else None
        return theta, m


def parse_data_case(name: str) -> DataCase:
    """The :class:`DataCase` named ``model-op@n`` (its :attr:`DataCase.name`)."""
    try:
        head, n = name.rsplit("@", 1)
        model, op = head.split("-", 1)
        case = DataCase(DATA_MODELS[model], op, int(n))
    except (KeyError, ValueError) as exc:
        msg = f"not a data case name: {name!r} (expected e.g. 'logreg-grad@1000')"
        raise ValueError(msg) from exc
    if op not in DATA_OPS:
        msg = f"unknown operator {op!r} in {name!r}; operators: {', '.join(DATA_OPS)}"
        raise ValueError(msg)
    return case


def data_cases(models=None, sizes=None, ops=None) -> list[DataCase]:
    """Every (model, op, n) of :data:`DATA_MODELS`, optionally restricted to the given
    model names, data sizes (replacing each model's own) and operators."""
    chosen = []
    for name in models or DATA_MODELS:
        if name not in DATA_MODELS:
            msg = f"unknown data model {name!r}; models: {', '.join(DATA_MODELS)}"
            raise ValueError(msg)
        model = DATA_MODELS[name]
        for op in model.ops:
            if ops and op not in ops:
                continue
            chosen.extend(DataCase(model, op, n) for n in (sizes or model.sizes))
    return chosen


# --- references of the data models: closed forms (float64) and mpmath -------------------


def _glm_reference(case: DataCase, theta, m, link):
    """Closed forms for sum_i phi(x_i . theta) - y . X theta (+ constants) + |theta|^2 / 2
    with phi = ``link`` ("softplus" or "exp"): value, X^T (phi' - y) + theta,
    X^T diag(phi'') X + I and the contraction of the third derivative with ``m``."""
    data = case.data()
    x, y = data["X"], data["y"]
    z = x @ theta
    if link == "softplus":
        s = 1 / (1 + np.exp(-z))
        d0, d1, d2, d3 = np.log1p(np.exp(z)), s, s * (1 - s), s * (1 - s) * (1 - 2 * s)
        const = 0.0
    else:
        from math import lgamma

        e = np.exp(z)
        d0 = d1 = d2 = d3 = e
        const = sum(lgamma(v + 1) for v in y)
    if case.op == "val":
        return np.array(np.sum(d0 - y * z) + const + theta @ theta / 2)
    if case.op == "grad":
        return x.T @ (d1 - y) + theta
    if case.op == "hess":
        return (x.T * d2) @ x + np.eye(len(theta))
    # mtp: d/dtheta_l sum_jk H_jk m_jk = sum_i phi'''(z_i) (x_i^T m x_i) x_il
    quad = np.einsum("ij,jk,ik->i", x, m, x)
    return x.T @ (d3 * quad)


def _negbin_reference(case: DataCase, theta):
    """Closed forms for the negative binomial (NB2) log likelihood in eta = X w and
    t = log r: value, gradient and Hessian of its negation plus |theta|^2 / 2."""
    from scipy.special import digamma, gammaln, polygamma

    data = case.data()
    x, y = data["X"], data["y"]
    w, t = theta[:NEGBIN_D], theta[NEGBIN_D]
    r, mu = np.exp(t), np.exp(x @ w)
    rm = r + mu
    if case.op == "val":
        lik = gammaln(y + r) - gammaln(r) + r * np.log(r / rm) + y * np.log(mu / rm)
        return np.array(-np.sum(lik) + theta @ theta / 2)
    d_eta = y - (y + r) * mu / rm
    d_r = digamma(y + r) - digamma(r) + np.log(r) + 1 - np.log(rm) - (r + y) / rm
    if case.op == "grad":
        return -np.append(x.T @ d_eta, np.sum(r * d_r)) + theta
    d_eta2 = -(y + r) * mu * r / rm**2
    d_r2 = polygamma(1, y + r) - polygamma(1, r) + 1 / r - 1 / rm - (mu - y) / rm**2
    d_eta_t = r * (-mu * (mu - y) / rm**2)
    hess = np.empty((NEGBIN_D + 1, NEGBIN_D + 1))
    hess[:NEGBIN_D, :NEGBIN_D] = (x.T * d_eta2) @ x
    hess[:NEGBIN_D, NEGBIN_D] = hess[NEGBIN_D, :NEGBIN_D] = x.T @ d_eta_t
    hess[NEGBIN_D, NEGBIN_D] = np.sum(r * r * d_r2 + r * d_r)
    return -hess + np.eye(NEGBIN_D + 1)


def _intercepts_reference(case: DataCase, theta):
    """Closed forms for the random-intercepts model: residuals r_i = (y_i - a_i . u)
    e^-s with u = (intercepts, slopes) and a_i = (one-hot group, x_i)."""
    data = case.data()
    x, g, y = data["X"], data["g"], data["y"]
    k = INTERCEPTS_K
    design = np.hstack([np.eye(k)[g], x])
    u, s = theta[:-1], theta[-1]
    scale = np.exp(-s)
    resid = (y - design @ u) * scale
    if case.op == "val":
        return np.array(np.sum(0.5 * resid**2 + s) + theta @ theta / 2)
    if case.op == "grad":
        return np.append(-design.T @ resid * scale, np.sum(1 - resid**2)) + theta
    n_u = len(u)
    hess = np.empty((n_u + 1, n_u + 1))
    hess[:n_u, :n_u] = scale**2 * design.T @ design
    hess[:n_u, n_u] = hess[n_u, :n_u] = 2 * scale * design.T @ resid
    hess[n_u, n_u] = 2 * np.sum(resid**2)
    return hess + np.eye(n_u + 1)


def _mixed_derivative(f, theta, directions, h):
    """D_{d_1} ... D_{d_k} f at ``theta`` by the central stencil
    sum over signs s of s_1 ... s_k f(theta + h sum_i s_i d_i) / (2h)^k: error O(h^2),
    cancellation ~k |log10 h| digits, so run it at a high working precision."""
    import itertools

    total = 0
    for signs in itertools.product((1, -1), repeat=len(directions)):
        point = list(theta)
        for s, d in zip(signs, directions, strict=True):
            for j, dj in enumerate(d):
                if dj:
                    point[j] += s * h * dj
        sign = 1
        for s in signs:
            sign *= s
        total += sign * f(point)
    return total / (2 * h) ** len(directions)


def _gmm_reference(case: DataCase, theta, m):
    """The GMM by mpmath: the log density written out, its derivatives by central
    differences at 80 digits (truncation ~1e-20, far below the 1e-8 checked)."""
    import mpmath

    x_data = [mpmath.mpf(float(v)) for v in case.data()["x"]]

    def f(t):
        mu, ls, lg = t[0:3], t[3:6], t[6:9]
        lse_w = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in lg))
        total = mpmath.mpf(0)
        for xi in x_data:
            comps = [
                lg[k] - lse_w - ls[k] - ((xi - mu[k]) / mpmath.exp(ls[k])) ** 2 / 2
                for k in range(GMM_K)
            ]
            total -= mpmath.log(mpmath.fsum(mpmath.exp(c) for c in comps))
        prior = mpmath.fsum(v**2 for v in t) / 2
        return total + len(x_data) * mpmath.log(2 * mpmath.pi) / 2 + prior

    d = case.dim
    unit = [[1 if i == j else 0 for i in range(d)] for j in range(d)]
    with mpmath.workdps(80):
        t = [mpmath.mpf(float(v)) for v in theta]
        if case.op == "val":
            return np.array(float(f(t)))
        if case.op == "grad":
            h = mpmath.mpf(10) ** -15
            return np.array([float(_mixed_derivative(f, t, [unit[j]], h)) for j in range(d)])
        if case.op == "hess":
            h = mpmath.mpf(10) ** -12
            out = np.empty((d, d))
            for j in range(d):
                for k in range(j, d):
                    out[j, k] = out[k, j] = float(_mixed_derivative(f, t, [unit[j], unit[k]], h))
            return out
        # mtp_l = sum_jk m_jk f_jkl = sum_r lambda_r D_{v_r} D_{v_r} D_{e_l} f, with
        # (m + m^T) / 2 = sum_r lambda_r v_r v_r^T (float64 eigenvectors, exact enough)
        lam, vecs = np.linalg.eigh((m + m.T) / 2)
        h = mpmath.mpf(10) ** -10
        out = []
        for l in range(d):  # noqa: E741
            acc = mpmath.mpf(0)
            for r in range(d):
                v = [mpmath.mpf(float(c)) for c in vecs[:, r]]
                acc += float(lam[r]) * _mixed_derivative(f, t, [v, v, unit[l]], h)
            out.append(float(acc))
        return np.array(out)


def data_reference(case: DataCase) -> np.ndarray:
    """Reference output of ``case`` at ``case.point()``: closed forms in float64 for the
    regressions (relative error ~1e-14), mpmath at 30 digits for the mixture."""
    theta, m = case.point()
    if case.model.name == "gmm":
        return _gmm_reference(case, theta, m)
    if case.model.name == "negbin":
        return _negbin_reference(case, theta)
    if case.model.name == "intercepts":
        return _intercepts_reference(case, theta)
    link = "softplus" if case.model.name == "logreg" else "exp"
    return _glm_reference(case, theta, m, link)
