"""Applying Python functions over symbolic arrays: :class:`vectorize` and
``apply_along_axis``, as in NumPy.

Both call the user's function at build time, once per element (``vectorize``) or per
1-D slice (``apply_along_axis``), on SymPy scalars or SymbolicArrays, and assemble the
results: the generated code holds one copy of the function's expressions per element,
so they suit small arrays and functions written with :mod:`symnum.numpy` (Python
``if`` on a symbolic value cannot be decided; use ``where``).
"""

from __future__ import annotations

import numpy as np

from symnum.array import SymbolicArray, _normalize_axes, _to_basic, is_scalar
from symnum.numpy._base import (
    _as_array,
    _as_int,
    _broadcast_operands,
    _from_object_array,
    _object_array,
)

__all__ = ["apply_along_axis", "vectorize"]


class vectorize:  # noqa: N801 - NumPy's name
    """SymNum implementation of :py:obj:`numpy.vectorize`: ``vectorize(pyfunc)(*args)``
    calls ``pyfunc`` on each element of the broadcast arguments (SymPy scalars) and
    returns an array of the broadcast shape (a scalar if every argument is one), or a
    tuple of arrays if ``pyfunc`` returns tuples.

    ``excluded`` names positions or keywords passed to ``pyfunc`` as they are (not
    broadcast). ``otypes`` and ``cache`` change nothing; ``signature`` (generalised
    ufuncs) is not supported.
    """

    def __init__(  # noqa: PLR0917 - NumPy's signature
        self, pyfunc, otypes=None, doc=None, excluded=None, cache=False, signature=None
    ):
        if signature is not None:
            msg = "vectorize: signature= (generalised ufuncs) is not supported"
            raise NotImplementedError(msg)
        if not callable(pyfunc):
            msg = f"vectorize: pyfunc must be callable, got {type(pyfunc).__name__}"
            raise TypeError(msg)
        del otypes, cache
        self.pyfunc = pyfunc
        self.excluded = frozenset(excluded or ())
        self.__doc__ = pyfunc.__doc__ if doc is None else doc

    def __call__(self, *args, **kwargs):
        positions = [i for i in range(len(args)) if i not in self.excluded]
        names = [k for k in kwargs if k not in self.excluded]
        operands = [args[i] for i in positions] + [kwargs[k] for k in names]
        if not operands:
            return self.pyfunc(*args, **kwargs)
        shape, columns = _broadcast_operands(operands, "vectorize: argument")
        results = []
        for values in zip(*columns, strict=True):
            call_args, call_kwargs = list(args), dict(kwargs)
            for i, value in zip(positions, values, strict=False):
                call_args[i] = value
            for k, value in zip(names, values[len(positions) :], strict=True):
                call_kwargs[k] = value
            results.append(self.pyfunc(*call_args, **call_kwargs))
        if all(is_scalar(op) for op in operands):
            return _assemble([results[0]], ())
        return _assemble(results, shape)


def _assemble(results: list, shape: tuple):
    """The results of ``vectorize`` as arrays of ``shape`` (a tuple of them for tuple
    results); a scalar for shape ``()``."""
    if results and isinstance(results[0], tuple):
        return tuple(_assemble([r[k] for r in results], shape) for k in range(len(results[0])))
    values = [_to_basic(r) for r in results]
    if shape == ():
        return values[0]
    return SymbolicArray._from_flat(values, shape)


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """SymNum implementation of :py:obj:`numpy.apply_along_axis`: ``func1d`` of each
    1-D slice of ``arr`` along ``axis`` (a SymbolicArray), with ``args`` and
    ``kwargs``. The results (all of one shape ``s``) replace the axis: shape
    ``arr.shape[:axis] + s + arr.shape[axis + 1:]``."""
    array = _as_array(arr, "arr")
    if array.ndim == 0:
        msg = "apply_along_axis: arr must have at least one dimension"
        raise np.exceptions.AxisError(msg)
    (axis,) = _normalize_axes(_as_int(axis, "axis"), array.ndim)
    moved = np.moveaxis(_object_array(array), axis, -1)
    outer = moved.shape[:-1]
    if 0 in outer:
        msg = "apply_along_axis: cannot apply a function to 0 slices"
        raise ValueError(msg)
    results = []
    for index in np.ndindex(outer):
        lane = SymbolicArray._from_flat(list(moved[index]), (moved.shape[-1],))
        result = func1d(lane, *args, **kwargs)
        results.append(_as_array(result, "func1d's result"))
    inner = results[0].shape
    if any(r.shape != inner for r in results):
        msg = "apply_along_axis: func1d must return arrays of one shape for every slice"
        raise ValueError(msg)
    out = np.empty((*outer, *inner), dtype=object)
    for index, result in zip(np.ndindex(outer), results, strict=True):
        out[index] = _object_array(result)
    # the result's axes go where `axis` was
    out = np.moveaxis(out, list(range(len(outer), len(outer) + len(inner))),
                      list(range(axis, axis + len(inner))))  # fmt: skip
    return _from_object_array(out)
