"""Checking a symnum function against a NumPy function given as callables.

:func:`check_calls` is :func:`_like_numpy.check_like_numpy` for functions that are not
``numpy.<name>`` (``numpy.linalg.<name>``) or whose symbolic operands are not leading
positional arguments (``average``'s weights): ``call(namespace_function, *operands)``.
:func:`check_call` is the same with symnum's function first and a seed from the number
of operands.
"""

from __future__ import annotations

import pytest
from _like_numpy import compare, operands


def check_calls(numpy_func, symnum_func, shapes, call=None, *, seed: int = 0) -> None:
    """``symnum_func`` agrees with ``numpy_func`` on operands of ``shapes``.

    ``call(func, *ops)`` calls either function (default: ``func(*ops)``). Where NumPy
    raises, symnum raises the same exception type, on numeric and symbolic operands;
    otherwise the values (and shapes) agree on both.
    """
    call = call or (lambda func, *ops: func(*ops))
    values, symbols, rule = operands(shapes, seed=seed)
    try:
        expected = call(numpy_func, *values)
    except Exception as exc:  # noqa: BLE001 - any NumPy error must be ours too
        for ops in (values, symbols):
            with pytest.raises(type(exc)):
                call(symnum_func, *ops)
        return
    numeric, symbolic = call(symnum_func, *values), call(symnum_func, *symbols)
    if isinstance(expected, tuple):
        assert isinstance(numeric, tuple)
    compare(expected, numeric, symbolic, rule)


def check_call(ours, reference, shapes):
    """``ours`` agrees with ``reference`` (a NumPy expression) on numeric and symbolic
    operands of ``shapes``, or raises the exception type NumPy raises."""
    check_calls(reference, ours, shapes, seed=len(shapes))
