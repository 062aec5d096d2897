"""Checking a symnum.numpy function against the NumPy function of the same name.

:func:`check_like_numpy` calls both on the same operands: where NumPy raises, symnum
must raise the same exception type; otherwise the values agree, on numeric input and on
symbolic input (``named_array`` operands) evaluated at the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from _assert import assert_close

from symnum import named_array
from symnum.array import SymbolicArray


def evaluate(result, rule: dict):
    """A symbolic result (or tuple of them) evaluated by ``rule`` (symbol -> Float)."""
    if isinstance(result, (tuple, list)):
        return [evaluate(r, rule) for r in result]
    if isinstance(result, SymbolicArray):
        return np.array([float(el.xreplace(rule)) for el in result.flat]).reshape(result.shape)
    return float(sympy.sympify(result).xreplace(rule))


def operands(shapes, seed: int = 0):
    """Random values of ``shapes``, symbolic arrays of those shapes, and the rule
    mapping each symbol to its value."""
    rng = np.random.default_rng(seed)
    values = [rng.uniform(0.5, 2.0, size=s) for s in shapes]
    symbols = [named_array(f"a{i}", s) for i, s in enumerate(shapes)]
    rule = {
        el: sympy.Float(v)
        for sym, val in zip(symbols, values, strict=True)
        for el, v in zip(sym.flat, val.ravel().tolist(), strict=True)
    }
    return values, symbols, rule


def check_like_numpy(module, name: str, shapes, *args, joined: bool = False, **kwargs):
    """``module.<name>`` agrees with ``numpy.<name>`` on operands of ``shapes``.

    The operands come first, then ``args`` and ``kwargs``; ``joined`` passes them as
    one list (``stack``, ``concatenate``, ...).
    """
    values, symbols, rule = operands(shapes, seed=len(name))

    def call(namespace, ops):
        leading = [list(ops)] if joined else list(ops)
        return getattr(namespace, name)(*leading, *args, **kwargs)

    try:
        expected = call(np, values)
    except Exception as exc:  # noqa: BLE001 - any NumPy error must be ours too
        for ops in (values, symbols):
            with pytest.raises(type(exc)):
                call(module, ops)
        return
    compare(expected, call(module, values), call(module, symbols), rule)


def compare(expected, numeric, symbolic, rule: dict) -> None:
    """NumPy's ``expected`` result (or tuple or list of them) against symnum's on numeric
    input and its symbolic result evaluated by ``rule``: same shapes, same values."""
    if isinstance(expected, (tuple, list)):
        assert len(numeric) == len(symbolic) == len(expected)
        triples = zip(expected, numeric, evaluate(symbolic, rule), strict=True)
    else:
        assert np.shape(symbolic) == np.shape(expected)
        triples = [(expected, numeric, evaluate(symbolic, rule))]
    for want, got_numeric, got_symbolic in triples:
        assert_close(got_numeric, want, rtol=1e-12, atol=1e-14)
        assert_close(got_symbolic, want, rtol=1e-12, atol=1e-14)
