"""Build a case with symnum's public API: the new symnum (any backend) or SymNum 0.2.1.

Both have the same import name and the same operators (``symnum.gradient(f, shape)``
and friends), so this module serves the harness and the 0.2.1 worker alike; it imports
nothing beyond NumPy at the top level.
"""

from __future__ import annotations

import time

import numpy as np
from prepared import Prepared

__all__ = ["find_njit_dispatcher", "prepare_symnum"]

#: Attributes where a numba-backend function may expose its njit dispatcher.
_DISPATCHER_ATTRS = ("njit", "jitted", "dispatcher", "numba_func", "kernel_njit", "py_njit")


def find_njit_dispatcher(func):
    """The numba dispatcher behind ``func`` (callable from user @njit code), or None."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return None
    if isinstance(func, Dispatcher):
        return func
    for attr in _DISPATCHER_ATTRS:
        candidate = getattr(func, attr, None)
        if isinstance(candidate, Dispatcher):
            return candidate
    return None


def _transposed(fn, has_m):
    """SymNum 0.2.1 has no batch axis, but its generated code indexes ``x[0]``...:
    given ``X.T`` (n, N), NumPy broadcasting evaluates all points at once whenever no
    output entry is a constant. Results are moved back to (N, *out)."""
    if has_m:
        return lambda xs, ms: np.moveaxis(
            np.asarray(fn(xs.T)(np.moveaxis(ms, 0, -1)), dtype=np.float64), -1, 0
        )
    return lambda xs, ms: np.moveaxis(np.asarray(fn(xs.T), dtype=np.float64), -1, 0)


def _numba_sampler(case, gv):
    """The compiled MALA loop (user @njit code) calling symnum's numba gradient: passed
    as is (the numba backend registers a typeof for its functions), else through the
    dispatcher attribute; reported as missing when neither compiles."""
    from handwritten import numba_mala

    mala = numba_mala()
    x0, eps, noise, log_u = case.sampler_inputs(4)
    errors = []
    for how, target in (("the function itself", gv), ("its dispatcher", find_njit_dispatcher(gv))):
        if target is None:
            continue
        try:
            mala(target, x0, eps, noise, log_u)
        except Exception as exc:  # noqa: BLE001 - try the next way, report if none works
            errors.append(f"{how}: {type(exc).__name__}")
            continue
        return (
            ("compiled", lambda x0, eps, noise, log_u, t=target: mala(t, x0, eps, noise, log_u)),
            f"compiled loop (user @njit calling {how})",
        )
    return (
        "missing: symnum's numba gradient is not callable from user @njit code "
        f"({'; '.join(errors) or 'no dispatcher found'})",
        None,
    )


def prepare_symnum(case, backend: str | None = None, legacy: bool = False) -> Prepared:
    """Build ``case`` with symnum's numeric operators; ``backend=None`` for 0.2.1.

    The build time covers trace + differentiate + generate + compile + first call (some
    backends compile lazily on first call)."""
    import symnum
    import symnum.numpy as snp

    kwargs = {} if backend is None else {"backend": backend}
    operator = getattr(symnum, case.symnum_op)
    func = case.model.array_func(snp)
    x, m = case.point()
    start = time.perf_counter()
    fn = operator(func, (case.n,), **kwargs)
    fn(x)(m) if case.has_m else fn(x)
    build_s = time.perf_counter() - start

    if case.has_m:
        stmt = "f(x)(m)"

        def point(x, m):
            return fn(x)(m)

        batch = lambda xs, ms: fn(xs)(ms)  # noqa: E731
    else:
        stmt = "f(x)"

        def point(x, m):
            return fn(x)

        batch = lambda xs, ms: fn(xs)  # noqa: E731
    batch_mode = "native"
    if legacy:
        batch = _transposed(fn, case.has_m)
        batch_mode = "transposed broadcasting"

    sampler = "no sampler for this case"
    sampler_mode = None
    if case.sampler_eps is not None:
        gv = symnum.gradient(func, (case.n,), return_aux=True, **kwargs)
        gv(x)
        sampler = ("python", gv)
        if backend == "numba":
            sampler, sampler_mode = _numba_sampler(case, gv)
    return Prepared(
        case,
        stmt=stmt,
        namespace={"f": fn},
        point=point,
        batch=batch,
        batch_mode=batch_mode,
        sampler=sampler,
        sampler_mode=sampler_mode,
        build_s=build_s,
    )
