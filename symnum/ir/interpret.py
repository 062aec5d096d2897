"""Reference interpreter: the executable meaning of every IR op.

:func:`evaluate` runs an IR :class:`~symnum.ir.Function` statement by statement on NumPy
scalars and returns its output tree (closures become Python callables). It is slow and
simple on purpose: every backend is tested against it.

Semantics, shared by all backends:

* IEEE 754 double (or complex double) arithmetic with no exceptions: ``1/0`` is ``inf``,
  ``log(-1)`` is ``nan`` on a real kernel (NumPy's behaviour, warnings suppressed);
* booleans are ``1.0`` / ``0.0``; a condition is true when non-zero (NaN is true);
* ``MAX`` / ``MIN`` propagate NaN (like ``numpy.maximum``);
* ``SIGN`` is ``-1``, ``0`` or ``1`` (NaN for NaN);
* a :class:`~symnum.ir.Loop` runs its body once per row of the data parameters, in
  row order; its reductions start from ``0`` (ADD), ``1`` (MUL), ``-inf`` (MAX) or
  ``inf`` (MIN) and fold each row's value in with the op of the same name (so MAX and
  MIN propagate NaN);
* the special functions (``ERF``, ``ERFC``, ``LGAMMA``, ``GAMMA``, ``DIGAMMA``,
  ``POLYGAMMA``, ``NDTRI``, ``ERFINV``, ``ERFCINV``) are real-only and defined by
  :mod:`symnum.ir.specfun`, the one implementation every backend runs or mirrors (its
  docstring lists the values at the poles and infinities).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from symnum.ir import (
    REDUCTIONS,
    Closure,
    Elem,
    Function,
    Loop,
    Op,
    Output,
    Var,
    iter_outputs,
    specfun,
)

__all__ = ["OPS", "apply", "evaluate"]


# -- the op table -----------------------------------------------------------------------


def _real_only(fn: Callable[..., float], name: str) -> Callable:
    def apply_real(*args):
        if any(isinstance(a, (complex, np.complexfloating)) for a in args):
            msg = f"{name} is only defined for real arguments"
            raise TypeError(msg)
        return np.float64(fn(*(float(a) for a in args)))

    return apply_real


def _flag(value) -> np.float64:
    return np.float64(1.0 if value else 0.0)


def _add(*args):
    total = args[0]
    for a in args[1:]:
        total = total + a
    return total


def _mul(*args):
    total = args[0]
    for a in args[1:]:
        total = total * a
    return total


#: Op -> function of NumPy scalars (float64 or complex128) returning a NumPy scalar.
OPS: dict[Op, Callable] = {
    Op.ADD: _add,
    Op.SUB: np.subtract,
    Op.MUL: _mul,
    Op.DIV: np.true_divide,
    Op.NEG: np.negative,
    Op.POW: np.power,
    Op.ABS: np.abs,
    Op.SIGN: np.sign,
    Op.FLOOR: np.floor,
    Op.CEIL: np.ceil,
    Op.SQRT: np.sqrt,
    Op.CBRT: np.cbrt,
    Op.EXP: np.exp,
    Op.EXP2: np.exp2,
    Op.EXPM1: np.expm1,
    Op.LOG: np.log,
    Op.LOG2: np.log2,
    Op.LOG10: np.log10,
    Op.LOG1P: np.log1p,
    Op.SIN: np.sin,
    Op.COS: np.cos,
    Op.TAN: np.tan,
    Op.ASIN: np.arcsin,
    Op.ACOS: np.arccos,
    Op.ATAN: np.arctan,
    Op.ATAN2: np.arctan2,
    Op.SINH: np.sinh,
    Op.COSH: np.cosh,
    Op.TANH: np.tanh,
    Op.ASINH: np.arcsinh,
    Op.ACOSH: np.arccosh,
    Op.ATANH: np.arctanh,
    Op.HYPOT: np.hypot,
    Op.FMOD: _real_only(specfun.fmod, "fmod"),
    Op.MAX: np.maximum,
    Op.MIN: np.minimum,
    Op.ERF: _real_only(specfun.erf, "erf"),
    Op.ERFC: _real_only(specfun.erfc, "erfc"),
    Op.LGAMMA: _real_only(specfun.lgamma, "lgamma"),
    Op.GAMMA: _real_only(specfun.gamma, "gamma"),
    Op.DIGAMMA: _real_only(specfun.digamma, "digamma"),
    Op.POLYGAMMA: _real_only(specfun.polygamma, "polygamma"),
    Op.NDTRI: _real_only(specfun.ndtri, "ndtri"),
    Op.ERFINV: _real_only(specfun.erfinv, "erfinv"),
    Op.ERFCINV: _real_only(specfun.erfcinv, "erfcinv"),
    Op.REAL: np.real,
    Op.IMAG: np.imag,
    Op.CONJ: np.conj,
    Op.ISNAN: lambda a: _flag(np.isnan(a)),
    Op.ISINF: lambda a: _flag(np.isinf(a)),
    Op.ISFINITE: lambda a: _flag(np.isfinite(a)),
    Op.LT: lambda a, b: _flag(a < b),
    Op.LE: lambda a, b: _flag(a <= b),
    Op.GT: lambda a, b: _flag(a > b),
    Op.GE: lambda a, b: _flag(a >= b),
    Op.EQ: lambda a, b: _flag(a == b),
    Op.NE: lambda a, b: _flag(a != b),
    Op.NOT: lambda a: _flag(a == 0),
    Op.AND: lambda a, b: _flag(a != 0 and b != 0),
    Op.OR: lambda a, b: _flag(a != 0 or b != 0),
    Op.XOR: lambda a, b: _flag((a != 0) != (b != 0)),
    Op.SELECT: lambda c, a, b: a if c != 0 else b,
}
assert set(OPS) == set(Op), "the interpreter must define every op"  # noqa: S101


def _scalar(value):
    if isinstance(value, (complex, np.complexfloating)):
        return np.complex128(value)
    return np.float64(value)


def apply(op: Op, values) -> np.float64 | np.complex128:
    """``op`` applied to Python or NumPy numbers, with IEEE semantics (no warnings)."""
    with np.errstate(all="ignore"):
        result = OPS[op](*(_scalar(v) for v in values))
    return _scalar(result)


# -- evaluation -------------------------------------------------------------------------


def _read(atom, env: dict, arrays: dict):
    if type(atom) is Var:
        return env[atom.id]
    if type(atom) is Elem:
        return arrays[atom.param][atom.index]
    return _scalar(atom.value)


def _run(body, env: dict, arrays: dict, data: dict | None = None) -> None:
    """Run ``body``; ``data`` holds the data outputs' arrays by output position."""
    with np.errstate(all="ignore"):
        for stmt in body:
            if type(stmt) is Loop:
                _loop(stmt, env, arrays, data or {})
                continue
            args = [_read(a, env, arrays) for a in stmt.args]
            env[stmt.target] = _scalar(OPS[stmt.op](*args))


def _loop(loop: Loop, env: dict, arrays: dict, data: dict) -> None:
    rows = arrays["__rows__"]
    accumulators = {r.target: _scalar(REDUCTIONS[r.op]) for r in loop.reductions}
    row_arrays = dict(arrays)
    for row in range(rows["n"]):
        row_arrays.update((name, array[row]) for name, array in rows["arrays"].items())
        local = dict(env)
        _run(loop.body, local, row_arrays)
        for r in loop.reductions:
            value = _read(r.value, local, row_arrays)
            accumulators[r.target] = _scalar(OPS[r.op](accumulators[r.target], value))
        for position in loop.stores:
            out = data[position]
            out[1][row] = [_read(a, local, row_arrays) for a in out[0].atoms]
    env.update(accumulators)


def _bind(params, args, where: str) -> dict:
    if len(args) != len(params):
        msg = f"{where} takes {len(params)} arguments, got {len(args)}"
        raise TypeError(msg)
    arrays = {}
    rows: dict = {"n": None, "arrays": {}}
    for param, arg in zip(params, args, strict=True):
        array = np.asarray(arg, dtype=param.dtype)
        if param.data:
            if array.shape[1:] != param.shape or array.ndim != len(param.shape) + 1:
                msg = (
                    f"data argument {param.name!r} of {where} must have shape "
                    f"(n, {', '.join(map(str, param.shape))}), got {array.shape}"
                )
                raise ValueError(msg)
            if rows["n"] not in (None, array.shape[0]):
                msg = f"data arguments of {where} have different numbers of rows"
                raise ValueError(msg)
            rows["n"] = array.shape[0]
            rows["arrays"][param.name] = array.reshape(array.shape[0], param.size)
            continue
        if array.shape != param.shape:
            msg = (
                f"argument {param.name!r} of {where} must have shape {param.shape}, "
                f"got {array.shape}"
            )
            raise ValueError(msg)
        arrays[param.name] = array.reshape(-1)
    if rows["n"] is None:
        rows["n"] = 0
    arrays["__rows__"] = rows
    return arrays


def _outputs(tree, env: dict, arrays: dict, data: dict | None = None, counter=None):
    counter = [0] if counter is None else counter
    if isinstance(tree, tuple):
        return tuple(_outputs(sub, env, arrays, data, counter) for sub in tree)
    position = counter[0]
    counter[0] += 1
    if isinstance(tree, Output):
        if tree.data:
            values = data[position][1]
            return values.reshape((values.shape[0], *tree.shape))
        values = [_read(a, env, arrays) for a in tree.atoms]
        array = np.array(values, dtype=tree.dtype).reshape(tree.shape)
        return array[()] if tree.shape == () else array
    if isinstance(tree, Closure):
        return _closure(tree, env, arrays)
    msg = f"output tree node of unexpected type {type(tree).__name__}"
    raise TypeError(msg)


def _closure(closure: Closure, env: dict, arrays: dict):
    def call(*args):
        inner_arrays = dict(arrays)
        inner_arrays.update(_bind(closure.params, args, "closure"))
        inner_env = dict(env)
        _run(closure.body, inner_env, inner_arrays)
        return _outputs(closure.outputs, inner_env, inner_arrays)

    return call


def evaluate(fn: Function, *args):
    """Run ``fn`` on ``args`` (one array per parameter, of the parameter's shape; a
    data parameter's argument has shape ``(n, *shape)``, ``n`` common to all of them).

    Returns the output tree: NumPy arrays of the outputs' shapes and dtypes (NumPy
    scalars for shape ``()``; ``(n, *shape)`` for data outputs), tuples for tuples, and
    Python callables for closures.
    """
    arrays = _bind(fn.params, args, f"function {fn.name}")
    n = arrays["__rows__"]["n"]
    data = {
        position: (leaf, np.zeros((n, leaf.size), dtype=leaf.dtype))
        for position, leaf in enumerate(iter_outputs(fn.outputs))
        if isinstance(leaf, Output) and leaf.data
    }
    env: dict = {}
    _run(fn.body, env, arrays, data)
    return _outputs(fn.outputs, env, arrays, data)
