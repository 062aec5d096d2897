"""The contenders: symnum's backends, its peers and the hand-written floors.

Each contender has a ``name``, a ``group`` (``symnum``, ``peer`` or ``floor``), a
``probe()`` returning None when it can run here (else why not: it is then reported as
missing), and ``prepare(case) -> Prepared`` (raises :class:`UnsupportedCaseError` when it cannot
express the case). SymNum 0.2.1 runs in its own virtual environment: see :mod:`remote`.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import handwritten
import numpy as np
from prepared import Prepared, UnsupportedCaseError

HERE = Path(__file__).resolve().parent

__all__ = ["LOCAL_CONTENDERS", "Contender"]


class Contender:
    name = "?"
    group = "peer"
    modules: tuple[str, ...] = ()
    install = ""

    def probe(self) -> str | None:
        for module in self.modules:
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - any import failure means missing
                return f"missing: {module} not importable ({type(exc).__name__}); {self.install}"
        return None

    def prepare(self, case) -> Prepared:
        raise NotImplementedError

    def __repr__(self):
        return f"<contender {self.name}>"


# --- symnum ----------------------------------------------------------------------------


class Symnum(Contender):
    group = "symnum"

    def __init__(self, backend):
        self.backend = backend
        self.name = f"symnum[{backend}]"

    def probe(self):
        try:
            import symnum
            import symnum.backends

            symnum.gradient  # noqa: B018 - the public API must be there
        except Exception as exc:  # noqa: BLE001
            return f"missing: symnum not usable ({type(exc).__name__}: {exc})"
        if self.backend not in symnum.backends.available():
            return f"missing: backend {self.backend!r} not available here"
        return None

    def prepare(self, case):
        from symnum_contender import prepare_symnum

        return prepare_symnum(case, self.backend)


# --- peers -----------------------------------------------------------------------------


class Jax(Contender):
    name = "jax.jit"
    modules = ("jax",)
    install = "pip install 'jax[cpu]'"

    def prepare(self, case):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        f = case.model.array_func(jnp)
        fun = jax_operator(f, case.op)
        x, m = case.point()
        start = time.perf_counter()
        jitted = jax.jit(fun)
        args = (x, m) if case.has_m else (x,)
        jitted(*args).block_until_ready()
        build_s = time.perf_counter() - start
        vmapped = jax.jit(jax.vmap(fun))
        if case.has_m:

            def point(x, m):
                return np.asarray(jitted(x, m))

            def batch(xs, ms):
                return np.asarray(vmapped(xs, ms))

            stmt = "f(x, m).block_until_ready()"
        else:

            def point(x, m):
                return np.asarray(jitted(x))

            def batch(xs, ms):
                return np.asarray(vmapped(xs))

            stmt = "f(x).block_until_ready()"
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            sampler = ("compiled", _jax_mala(jax, jnp, jax.value_and_grad(f)))
        return Prepared(
            case,
            stmt=stmt,
            namespace={"f": jitted},
            point=point,
            batch=batch,
            batch_mode="jit(vmap)",
            sampler=sampler,
            sampler_mode="lax.fori_loop (jit)",
            build_s=build_s,
        )


def jax_operator(f, op: str):
    """The JAX function computing operator ``op`` of ``f`` (not jitted): ``val`` (f
    itself), ``grad``, ``hess``, ``jac`` (jacfwd), ``mtp`` (gradient of <Hessian, m>) or
    ``mhp`` (gradient of <Jacobian, m>); the products take ``(x, m)``."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    if op == "val":
        return f
    if op == "grad":
        return jax.grad(f)
    if op == "hess":
        return jax.hessian(f)
    if op == "jac":
        return jax.jacfwd(f)
    if op == "mtp":
        hess = jax.hessian(f)
        return jax.grad(lambda x, m: jnp.vdot(hess(x), m))
    if op == "mhp":
        jac = jax.jacfwd(f)
        return jax.grad(lambda x, m: jnp.vdot(jac(x), m))
    msg = f"unknown operator {op!r}"
    raise ValueError(msg)


def _jax_mala(jax, jnp, value_and_grad):
    @jax.jit
    def run(x0, eps, noise, log_u):
        half_eps2 = 0.5 * eps * eps
        inv_2eps2 = 1.0 / (2.0 * eps * eps)

        def body(i, state):
            x, g, v, accepted = state
            step = eps * noise[i]
            y = x - half_eps2 * g + step
            vy, gy = value_and_grad(y)
            back = x - y + half_eps2 * gy
            log_a = v - vy + (step @ step - back @ back) * inv_2eps2
            accept = log_u[i] < log_a
            return (
                jnp.where(accept, y, x),
                jnp.where(accept, gy, g),
                jnp.where(accept, vy, v),
                accepted + accept,
            )

        v0, g0 = value_and_grad(x0)
        x, _, _, accepted = jax.lax.fori_loop(0, noise.shape[0], body, (x0, g0, v0, 0))
        return x, accepted

    def call(x0, eps, noise, log_u):
        x, accepted = run(x0, eps, noise, log_u)
        return np.asarray(x), int(accepted)

    return call


def import_pytensor():
    """``pytensor`` with a fresh, empty compile directory for this process (unless
    ``PYTENSOR_FLAGS`` is set): a build is then as cold as symnum's with an empty cache,
    instead of reusing C modules compiled by earlier runs in ``~/.pytensor``."""
    if "pytensor" not in sys.modules and "PYTENSOR_FLAGS" not in os.environ:
        directory = tempfile.mkdtemp(prefix="symnum-bench-pytensor-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ["PYTENSOR_FLAGS"] = f"compiledir={directory}"
    return importlib.import_module("pytensor")


class PyTensorNumpy:
    """``pytensor.tensor`` under the NumPy names the models use (``np_.array`` of
    scalar expressions becomes a stacked tensor)."""

    def __init__(self, pt):
        self._pt = pt

    def __getattr__(self, name):
        return getattr(self._pt, name)

    def array(self, obj):
        return self._pt.as_tensor_variable(obj)


def pytensor_operator(f, x_shape, op: str, mode: str, m_shape=None):
    """``pytensor.function`` computing operator ``op`` of ``f`` (a function of one
    tensor of shape ``x_shape``) in ``mode`` (``"FAST_RUN"``: the C linker;
    ``"NUMBA"``). Operators as in :func:`jax_operator`; the Hessian and Jacobian are
    ``pytensor.gradient.hessian`` / ``jacobian`` (what a user calls); the products take
    ``(x, m)`` with ``m`` of shape ``m_shape``."""
    import_pytensor()
    import pytensor
    import pytensor.gradient as ptg
    import pytensor.tensor as pt

    x = pt.tensor("x", dtype="float64", shape=x_shape)
    out = f(x)
    inputs = [x]
    if op == "val":
        expr = out
    elif op == "grad":
        expr = pytensor.grad(out, x)
    elif op == "hess":
        expr = ptg.hessian(out, x)
    elif op == "jac":
        expr = ptg.jacobian(out, x)
    elif op in ("mtp", "mhp"):
        m = pt.tensor("m", dtype="float64", shape=m_shape)
        inputs.append(m)
        inner = ptg.hessian(out, x) if op == "mtp" else ptg.jacobian(out, x)
        expr = pytensor.grad(pt.sum(inner * m), x)
    else:
        msg = f"unknown operator {op!r}"
        raise ValueError(msg)
    return pytensor.function(inputs, expr, mode=mode)


class PyTensor(Contender):
    """``pytensor.function`` in one mode: ``FAST_RUN`` (C) or ``NUMBA``."""

    modules = ("pytensor",)
    install = "pip install pytensor"

    def __init__(self, mode, label):
        self.mode = mode
        self.name = f"pytensor ({label})"

    def probe(self):
        reason = super().probe()
        if reason is None and self.mode == "NUMBA":
            try:
                importlib.import_module("numba")
            except ImportError:
                return "missing: NUMBA mode needs numba; pip install numba"
        return reason

    def prepare(self, case):
        import_pytensor()
        import pytensor
        import pytensor.tensor as pt

        np_ = PyTensorNumpy(pt)
        f = case.model.array_func(np_)
        x, m = case.point()
        start = time.perf_counter()
        fun = pytensor_operator(f, (case.n,), case.op, self.mode, case.m_shape)
        fun(x, m) if case.has_m else fun(x)
        build_s = time.perf_counter() - start
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            xv = pt.tensor("x", dtype="float64", shape=(case.n,))
            value = f(xv)
            gv = pytensor.function([xv], [pytensor.grad(value, xv), value], mode=self.mode)
            sampler = ("python", gv)
        return _flat(case, fun, build_s, sampler=sampler, notes=f"mode={self.mode!r}")


class Autograd(Contender):
    name = "autograd"
    modules = ("autograd",)
    install = "pip install autograd"

    def prepare(self, case):
        import autograd
        import autograd.numpy as anp

        f = case.model.array_func(anp)
        x, m = case.point()
        start = time.perf_counter()
        if case.op == "grad":
            fun = autograd.grad(f)
        elif case.op == "hess":
            fun = autograd.hessian(f)
        elif case.op == "jac":
            fun = autograd.jacobian(f)
        elif case.op == "mtp":
            hess = autograd.hessian(f)
            fun = autograd.grad(lambda x, m: anp.sum(hess(x) * m), 0)
        else:
            jac = autograd.jacobian(f)
            fun = autograd.grad(lambda x, m: anp.sum(jac(x) * m), 0)
        fun(x, m) if case.has_m else fun(x)
        build_s = time.perf_counter() - start
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            value_and_grad = autograd.value_and_grad(f)

            def grad_and_value(x):
                v, g = value_and_grad(x)
                return g, v

            sampler = ("python", grad_and_value)
        return _flat(case, fun, build_s, sampler=sampler, sampler_mode="python loop")


def _flat(case, fun, build_s, batch=None, batch_mode="native", **kwargs) -> Prepared:
    """A Prepared for a contender called as ``fun(x)`` / ``fun(x, m)``."""
    if case.has_m:
        stmt = "f(x, m)"
        point = fun
    else:
        stmt = "f(x)"

        def point(x, m):
            return fun(x)

    return Prepared(
        case,
        stmt=stmt,
        namespace={"f": fun},
        point=point,
        loop_call=point,
        batch=batch,
        batch_mode=batch_mode,
        build_s=build_s,
        **kwargs,
    )


def _transposed_batch(fun, has_m):
    """Batches through NumPy broadcasting of generated code indexing ``x[0]``...: pass
    ``X.T`` (n, N) and move the trailing axis back (fails when an output is constant)."""
    if has_m:
        return lambda xs, ms: np.moveaxis(
            np.asarray(fun(xs.T, np.moveaxis(ms, 0, -1)), dtype=np.float64), -1, 0
        )
    return lambda xs, ms: np.moveaxis(np.asarray(fun(xs.T), dtype=np.float64), -1, 0)


class Lambdify(Contender):
    name = "sympy.lambdify"
    modules = ("sympy",)
    install = "pip install sympy"

    def prepare(self, case):
        import sympy
        from cases import scalar_derivatives

        start = time.perf_counter()
        xs = list(sympy.symbols(f"x0:{case.n}"))
        args = [xs]
        ms = None
        if case.has_m:
            rows, cols = case.m_shape
            flat = list(sympy.symbols(f"m0:{rows * cols}"))
            ms = [flat[r * cols : (r + 1) * cols] for r in range(rows)]
            args.append(ms)
        expr = sympy.Array(scalar_derivatives(case, sympy, xs, ms))
        fun = sympy.lambdify(args, expr, modules="numpy", cse=True)
        x, m = case.point()
        fun(x, m) if case.has_m else fun(x)
        build_s = time.perf_counter() - start
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            grad, value = scalar_derivatives(case, sympy, xs, with_value=True)
            sampler = ("python", sympy.lambdify([xs], (sympy.Array(grad), value), cse=True))
        return _flat(
            case,
            fun,
            build_s,
            batch=_transposed_batch(fun, case.has_m),
            batch_mode="transposed broadcasting",
            sampler=sampler,
        )


class SymEngine(Contender):
    name = "symengine.Lambdify"
    modules = ("symengine",)
    install = "pip install symengine"

    def prepare(self, case):
        import symengine as se
        from cases import scalar_derivatives

        start = time.perf_counter()
        xs = list(se.symbols(f"x0:{case.n}"))
        args = list(xs)
        ms = None
        if case.has_m:
            rows, cols = case.m_shape
            flat = list(se.symbols(f"m0:{rows * cols}"))
            ms = [flat[r * cols : (r + 1) * cols] for r in range(rows)]
            args += flat
        expr = scalar_derivatives(case, se, xs, ms)
        try:
            fun = se.Lambdify(args, expr, backend="llvm", cse=True)
            backend = "llvm"
        except Exception:  # noqa: BLE001 - symengine built without LLVM
            fun = se.Lambdify(args, expr, backend="lambda", cse=True)
            backend = "lambda"
        x, m = case.point()
        if case.has_m:
            # One flat input vector: SymEngine's Lambdify takes a single array.
            concat = np.concatenate
            mshape = case.m_shape

            def call(x, m):
                return fun(concat((x, m.reshape(-1))))

            def batch(xs, ms):
                return fun(concat((xs, ms.reshape(len(ms), -1)), axis=1))

            call(x, m)
        else:
            call = fun
            fun(x)

            def batch(xs, ms):
                return fun(xs)

        build_s = time.perf_counter() - start
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            grad, value = scalar_derivatives(case, se, xs, with_value=True)
            gv = se.Lambdify(xs, grad, value, backend=backend, cse=True)
            sampler = ("python", gv)
        prepared = _flat(
            case,
            call,
            build_s,
            batch=batch,
            batch_mode="native (broadcast)",
            sampler=sampler,
            notes=f"Lambdify(backend={backend!r}, cse=True)",
        )
        if case.has_m:
            prepared.stmt = "f(concat((x, m.reshape(-1))))"
            prepared.namespace.update(f=fun, concat=concat, mshape=mshape)
        return prepared


class CasADi(Contender):
    name = "casadi"
    modules = ("casadi",)
    install = "pip install casadi"

    def prepare(self, case):
        import casadi as ca

        start = time.perf_counter()
        n = case.n
        xv = ca.SX.sym("x", n)
        xs = [xv[i] for i in range(n)]
        out = case.model.scalar_func(ca, xs)
        inputs = [xv]
        if case.op == "grad":
            expr = ca.gradient(out, xv)
        elif case.op == "hess":
            expr = ca.hessian(out, xv)[0]
        elif case.op == "jac":
            expr = ca.jacobian(ca.vertcat(*out), xv)
        elif case.op == "mtp":
            mv = ca.SX.sym("m", n, n)
            inputs.append(mv)
            expr = ca.gradient(ca.dot(ca.hessian(out, xv)[0], mv), xv)
        else:
            mv = ca.SX.sym("m", *case.m_shape)
            inputs.append(mv)
            expr = ca.gradient(ca.dot(ca.jacobian(ca.vertcat(*out), xv), mv), xv)
        fun = ca.Function("f", inputs, [expr])
        x, m = case.point()
        fun(x, m) if case.has_m else fun(x)
        build_s = time.perf_counter() - start
        shape = case.out_shape
        maps = {}

        def point(x, m):
            res = fun(x, m) if case.has_m else fun(x)
            return np.asarray(res).reshape(shape)

        def batch(xs, ms):
            count = len(xs)
            if count not in maps:
                maps.clear()
                maps[count] = fun.map(count)
            mapped = maps[count]
            # per-point matrices go side by side: (rows, count * cols)
            res = np.asarray(
                mapped(xs.T, np.concatenate(list(ms), axis=1)) if case.has_m else mapped(xs.T)
            )
            if len(shape) == 1:
                return res.T
            return res.reshape(shape[0], count, shape[1]).transpose(1, 0, 2)

        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            gv_fun = ca.Function("gv", [xv], [ca.gradient(out, xv), out])

            def grad_and_value(x):
                g, v = gv_fun(x)
                return np.asarray(g).ravel(), float(v)

            sampler = ("python", grad_and_value)
        prepared = _flat(
            case, fun, build_s, batch=batch, batch_mode="Function.map", sampler=sampler
        )
        prepared.point = point
        prepared.loop_call = point
        return prepared


# --- floors ----------------------------------------------------------------------------


class NumpyFloor(Contender):
    name = "numpy (hand)"
    group = "floor"

    def prepare(self, case):
        fun, gv = handwritten.NUMPY_FLOORS[case.name]
        sampler = ("python", gv) if case.sampler_eps is not None else "no sampler for this case"
        return _flat(
            case,
            fun,
            float("nan"),
            batch=(lambda xs, ms: fun(xs) if ms is None else fun(xs, ms)),
            sampler=sampler,
        )


class NumbaFloor(Contender):
    name = "numba (hand)"
    group = "floor"
    modules = ("numba",)
    install = "pip install numba"

    def prepare(self, case):
        found = handwritten.numba_floor(case)
        if found is None:
            raise UnsupportedCaseError("no hand-written numba version")
        point, batch, gv = found
        x, m = case.point()
        start = time.perf_counter()
        point(x, m) if case.has_m else point(x)
        build_s = time.perf_counter() - start
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            mala = handwritten.numba_mala()
            sampler = ("compiled", lambda x0, eps, noise, log_u: mala(gv, x0, eps, noise, log_u))
        return _flat(
            case,
            point,
            build_s,
            batch=(lambda xs, ms: batch(xs) if ms is None else batch(xs, ms)),
            batch_mode="njit loop",
            sampler=sampler,
        )


class CExtFloor(Contender):
    """The hand-written CPython extension (benchmarks/floor_ext/, by the C engineer)."""

    name = "C ext (hand)"
    group = "floor"
    _module = None
    _error = None

    def probe(self):
        if not (HERE / "floor_ext" / "build.py").exists():
            return "missing: benchmarks/floor_ext/build.py not found"
        if self._load() is None:
            return f"missing: floor extension failed to build ({self._error})"
        return None

    def _load(self):
        if CExtFloor._module is None and CExtFloor._error is None:
            import importlib.util

            try:
                spec = importlib.util.spec_from_file_location(
                    "floor_ext_build", HERE / "floor_ext" / "build.py"
                )
                builder = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(builder)
                directory = tempfile.mkdtemp(prefix="symnum-bench-floor-")
                atexit.register(shutil.rmtree, directory, ignore_errors=True)
                CExtFloor._module = builder.build(directory)
            except Exception as exc:  # noqa: BLE001 - reported as missing
                CExtFloor._error = f"{type(exc).__name__}: {exc}"
        return CExtFloor._module

    def prepare(self, case):
        module = self._load()
        base = (
            case.model.name.rstrip("0123456789")
            if case.model.name.startswith("rosen")
            else (case.model.name)
        )
        name = f"{base}_{case.op}" if case.model.name != "readme_fwd" else "readme_jac"
        fun = getattr(module, name, None)
        if fun is None:
            raise UnsupportedCaseError(f"no hand-written C function {name}")
        sampler = "no sampler for this case"
        if case.sampler_eps is not None:
            gv = getattr(module, f"{base}_grad_val", None)
            sampler = ("python", gv) if gv is not None else f"no C function {base}_grad_val"
        return _flat(case, fun, float("nan"), sampler=sampler)


def local_contenders():
    """Every in-process contender, in table order (symnum backends first)."""
    backends = ["numpy", "numba", "c"]
    try:
        import symnum.backends

        backends += [b for b in symnum.backends.names() if b not in backends]
    except Exception:  # noqa: BLE001, S110 - symnum missing: reported by probe()
        pass
    return [
        *(Symnum(b) for b in backends),
        Jax(),
        PyTensor("FAST_RUN", "C"),
        PyTensor("NUMBA", "NUMBA"),
        Autograd(),
        Lambdify(),
        SymEngine(),
        CasADi(),
        NumpyFloor(),
        NumbaFloor(),
        CExtFloor(),
    ]


LOCAL_CONTENDERS = local_contenders
