"""Numerical calculus on arrays in :mod:`symnum.numpy`: ``interp`` (piecewise-linear
interpolation), ``gradient`` (finite differences, NumPy's formulas), ``ediff1d``, and
``polyder`` / ``polyint`` (derivatives and integrals of polynomial coefficients).

``interp`` of a symbolic ``x`` is a chain of comparisons with the constant knots
``xp``: the generated code finds the segment at run time, and the derivative is the
slope of that segment (``fp`` may be symbolic too: the derivative with respect to
the values at the knots is the interpolation weight). ``gradient`` and ``ediff1d`` are
linear combinations of neighbouring elements, with NumPy's coefficients (uniform or
given coordinates, first or second order at the edges).

On numeric input (all numbers) the values are NumPy's, as SymPy numbers or
SymbolicArrays of them like the rest of :mod:`symnum.numpy`.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy
from sympy import S

from symnum.array import SymbolicArray, _normalize_axes, _to_basic
from symnum.numpy._base import (
    _as_array,
    _as_int,
    _elementwise,
    _from_object_array,
    _object_array,
    _select,
)
from symnum.numpy.derived import _eq, _gt, _lt, mod
from symnum.numpy.order import _from_numbers, _numbers

__all__ = ["ediff1d", "gradient", "interp", "polyder", "polyint"]


# --------------------------------------------------------------------------------------
# Interpolation


def _knots(xp, fp, period):
    """``xp`` (numbers, increasing) and ``fp`` (SymPy scalars) as lists, with NumPy's
    checks, and for a ``period`` the knots wrapped into one period and extended by one
    knot on each side."""
    xp_array = np.asarray(xp)
    if xp_array.dtype == object or np.iscomplexobj(xp_array):
        xp_numbers = _numbers(_as_array(xp, "xp"))
        if xp_numbers is None or np.iscomplexobj(xp_numbers):
            msg = "interp: xp must be real numbers (constant knots), not symbolic"
            raise TypeError(msg)
        xp_array = xp_numbers
    xp_array = xp_array.astype(float)
    fp_array = _as_array(fp, "fp")
    if xp_array.ndim != 1 or fp_array.ndim != 1:
        msg = "object too deep for desired array"
        raise ValueError(msg)
    if xp_array.shape[0] != fp_array.shape[0]:
        msg = "fp and xp are not of the same length."
        raise ValueError(msg)
    if xp_array.shape[0] == 0:
        msg = "array of sample points is empty"
        raise ValueError(msg)
    values = list(fp_array._data)
    if period is not None:
        period = float(period)
        if period == 0:
            msg = "period must be a non-zero value"
            raise ValueError(msg)
        period = abs(period)
        xp_array = xp_array % period
        order = np.argsort(xp_array, kind="stable")
        xp_array = xp_array[order]
        values = [values[i] for i in order]
        xp_array = np.concatenate([xp_array[-1:] - period, xp_array, xp_array[:1] + period])
        values = [values[-1], *values, values[0]]
    return xp_array.tolist(), values


def _interp_scalar(x, xp: list, fp: list, left, right):
    """The piecewise-linear interpolant at ``x``: ``left`` below the first knot,
    ``right`` above the last, the segment's line between; nan for nan."""
    pieces = [(left, _lt(x, xp[0]))]
    for k in range(len(xp) - 1):
        if xp[k + 1] == xp[k]:
            continue  # a zero-width segment is never chosen
        slope = (fp[k + 1] - fp[k]) / sympy.Float(xp[k + 1] - xp[k])
        pieces.append((slope * (x - sympy.Float(xp[k])) + fp[k], _lt(x, xp[k + 1])))
    pieces += [(fp[-1], _eq(x, xp[-1])), (right, _gt(x, xp[-1]))]
    return _select(pieces, S.NaN)


def interp(x, xp, fp, left=None, right=None, period=None):  # noqa: PLR0917 - NumPy's signature
    """SymNum implementation of :py:obj:`numpy.interp`: the piecewise-linear
    interpolant through the knots ``(xp, fp)`` at ``x``.

    ``xp`` are numbers (1-D, increasing; with ``period``, any order), ``fp`` numbers or
    symbolic values of the same length, ``x`` anything of any shape (the result has its
    shape; a scalar for a scalar). Below the first knot the value is ``left`` (default
    ``fp[0]``), above the last ``right`` (default ``fp[-1]``), nan for nan. With
    ``period``, ``x`` and ``xp`` are taken modulo ``period`` (``left`` / ``right``
    ignored). Symbolic ``x`` costs one comparison per knot in the generated code.
    """
    xs, values = _knots(xp, fp, period)
    if period is not None:
        x = mod(x, abs(float(period)))
        left = right = None
    left = values[0] if left is None else _to_basic(left)
    right = values[-1] if right is None else _to_basic(right)
    x_numbers = _numbers(_as_array(x, "x"))
    fp_numbers = _numbers(SymbolicArray._from_flat(values, (len(values),)))
    bounds = [b for b in (left, right) if not (isinstance(b, sympy.Expr) and b.is_Number)]
    if x_numbers is not None and fp_numbers is not None and not bounds:
        value = np.interp(x_numbers, xs, fp_numbers, float(left), float(right))
        return _from_numbers(value)
    return _elementwise(lambda v: _interp_scalar(v, xs, values, left, right), x, name="interp: x")


# --------------------------------------------------------------------------------------
# Finite differences


def _spacings(varargs, shape: tuple, axes: tuple[int, ...]) -> list:
    """One spacing per axis in ``axes``: a scalar (uniform) or the axis's coordinates
    (a 1-D NumPy or object array of its length), as NumPy's ``gradient`` reads them."""
    if len(varargs) == 0:
        return [S.One] * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return [_to_basic(varargs[0])] * len(axes)
    if len(varargs) != len(axes):
        msg = "invalid number of arguments"
        raise TypeError(msg)
    spacings = []
    for given, ax in zip(varargs, axes, strict=True):
        if np.ndim(given) == 0:
            spacings.append(_to_basic(given))
            continue
        coordinates = _object_array(_as_array(given, "varargs"))
        if coordinates.ndim != 1:
            msg = "distances must be either scalars or 1d"
            raise ValueError(msg)
        if coordinates.shape[0] != shape[ax]:
            msg = "when 1d, distances must match the length of the corresponding dimension"
            raise ValueError(msg)
        spacings.append(coordinates)
    return spacings


def _gradient_along(values: np.ndarray, spacing, edge_order: int) -> np.ndarray:
    """NumPy's ``gradient`` of the object array ``values`` along its last axis."""
    f = values
    out = np.empty(f.shape, dtype=object)
    if np.ndim(spacing) == 0:
        h = spacing
        out[..., 1:-1] = (f[..., 2:] - f[..., :-2]) / (2 * h)
        if edge_order == 1:
            out[..., 0] = (f[..., 1] - f[..., 0]) / h
            out[..., -1] = (f[..., -1] - f[..., -2]) / h
        else:
            out[..., 0] = (-3 * f[..., 0] + 4 * f[..., 1] - f[..., 2]) / (2 * h)
            out[..., -1] = (3 * f[..., -1] - 4 * f[..., -2] + f[..., -3]) / (2 * h)
        return out
    dx = spacing[1:] - spacing[:-1]
    dx1, dx2 = dx[:-1], dx[1:]
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    out[..., 1:-1] = a * f[..., :-2] + b * f[..., 1:-1] + c * f[..., 2:]
    if edge_order == 1:
        out[..., 0] = (f[..., 1] - f[..., 0]) / dx[0]
        out[..., -1] = (f[..., -1] - f[..., -2]) / dx[-1]
        return out
    d1, d2 = dx[0], dx[1]
    a, b, c = -(2 * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2), -d1 / (d2 * (d1 + d2))
    out[..., 0] = a * f[..., 0] + b * f[..., 1] + c * f[..., 2]
    d1, d2 = dx[-2], dx[-1]
    a, b, c = d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2), (2 * d2 + d1) / (d2 * (d1 + d2))
    out[..., -1] = a * f[..., -3] + b * f[..., -2] + c * f[..., -1]
    return out


def gradient(f, *varargs, axis=None, edge_order=1):
    """SymNum implementation of :py:obj:`numpy.gradient`: second-order central
    differences inside, first- or second-order (``edge_order``) one-sided differences
    at the edges, along each axis in ``axis`` (None: all).

    ``varargs`` are the spacings as in NumPy: none (1), one scalar for every axis, or one
    per axis, each a scalar or the coordinates along that axis (1-D, its length); they
    may be symbolic. Returns an array of ``f``'s shape for one axis, else a tuple of
    them, one per axis (NumPy 2's container).
    """
    edge_order = _as_int(edge_order, "edge_order")
    if edge_order not in (1, 2):
        msg = "'edge_order' greater than 2 not supported"
        raise ValueError(msg)
    array = _as_array(f, "f")
    axes = tuple(range(array.ndim)) if axis is None else _normalize_axes(axis, array.ndim)
    spacings = _spacings(varargs, array.shape, axes)
    numbers = _numbers(array)
    numeric_spacing = all(
        (np.ndim(s) == 0 and isinstance(s, sympy.Expr) and s.is_Number)
        or (np.ndim(s) == 1 and all(isinstance(v, (int, float)) or v.is_Number for v in s))
        for s in spacings
    )
    if numbers is not None and numeric_spacing:
        spacing_values = [
            float(s) if np.ndim(s) == 0 else np.array(s, dtype=float) for s in spacings
        ]
        result = np.gradient(numbers, *spacing_values, axis=axes, edge_order=edge_order)
        if isinstance(result, (tuple, list)):
            return tuple(_from_numbers(r) for r in result)
        return _from_numbers(result)
    values = _object_array(array)
    results = []
    for ax, spacing in zip(axes, spacings, strict=True):
        if array.shape[ax] < edge_order + 1:
            msg = (
                "Shape of array too small to calculate a numerical gradient, at least "
                "(edge_order + 1) elements are required."
            )
            raise ValueError(msg)
        moved = np.moveaxis(values, ax, -1)
        if np.ndim(spacing) == 1:
            step = np.array([_to_basic(v) for v in spacing], dtype=object)
        else:
            step = spacing
        results.append(
            _from_object_array(np.moveaxis(_gradient_along(moved, step, edge_order), -1, ax))
        )
    return results[0] if len(results) == 1 else tuple(results)


def ediff1d(ary, to_end=None, to_begin=None):
    """SymNum implementation of :py:obj:`numpy.ediff1d`: the differences of consecutive
    elements of the flattened ``ary``, with ``to_begin`` and ``to_end`` (flattened)
    joined before and after. 1-D, of length ``ary.size - 1`` plus theirs."""
    flat = list(_as_array(ary, "ary")._data)
    values = [b - a for a, b in itertools.pairwise(flat)]
    begin = [] if to_begin is None else list(_as_array(to_begin, "to_begin")._data)
    end = [] if to_end is None else list(_as_array(to_end, "to_end")._data)
    joined = [*begin, *values, *end]
    return SymbolicArray._from_flat([_to_basic(v) for v in joined], (len(joined),))


# --------------------------------------------------------------------------------------
# Polynomial coefficients (highest power first, as numpy.polyval)


def _coefficients(p) -> list:
    array = _as_array(p, "p")
    if array.ndim != 1:
        msg = f"p must be a 1-D sequence of coefficients, got shape {array.shape}"
        raise ValueError(msg)
    return list(array._data)


def _polynomial(values: list):
    return SymbolicArray._from_flat([_to_basic(v) for v in values], (len(values),))


def polyder(p, m=1):
    """SymNum implementation of :py:obj:`numpy.polyder`: the coefficients of the
    ``m``-th derivative of the polynomial with coefficients ``p`` (highest power
    first); 1-D, ``m`` shorter (empty once ``m`` exceeds the degree, as NumPy)."""
    m = _as_int(m, "m")
    if m < 0:
        msg = "Order of derivative must be positive (see polyint)"
        raise ValueError(msg)
    values = _coefficients(p)
    for _ in range(m):
        n = len(values) - 1
        values = [c * (n - i) for i, c in enumerate(values[:-1])]
    return _polynomial(values)


def polyint(p, m=1, k=None):
    """SymNum implementation of :py:obj:`numpy.polyint`: the coefficients of the
    ``m``-th antiderivative of the polynomial ``p`` (highest power first), with the
    integration constants ``k`` (a scalar or ``m`` of them, the first for the first
    integration; default 0); 1-D, ``m`` longer."""
    m = _as_int(m, "m")
    if m < 0:
        msg = "Order of integral must be positive (see polyder)"
        raise ValueError(msg)
    constants = [S.Zero] * m if k is None else list(_as_array(k, "k").flatten()._data)
    if len(constants) == 1 and m > 1:
        constants = constants * m
    if len(constants) < m:
        msg = "k must be a scalar or a rank-1 array of length 1 or >m."
        raise ValueError(msg)
    values = _coefficients(p)
    for j in range(m):
        n = len(values)
        values = [c / sympy.Integer(n - i) for i, c in enumerate(values)] + [constants[j]]
    return _polynomial(values)
