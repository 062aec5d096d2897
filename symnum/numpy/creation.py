"""Constants and array creation of :mod:`symnum.numpy`.

Constants are SymPy's exact singletons (``pi``, ``inf``, ``nan``, ...). ``eye``,
``ones``, ``zeros``, ``full`` and ``identity`` build SymbolicArrays of SymPy numbers;
``array`` builds a SymbolicArray only if its input holds symbolic values.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
from sympy import S

from symnum.array import SymbolicArray, _normalize_shape, _to_basic, is_sympy_array

__all__ = [
    "NAN",
    "NINF",
    "PINF",
    "Inf",
    "Infinity",
    "NaN",
    "array",
    "e",
    "euler_gamma",
    "eye",
    "full",
    "identity",
    "inf",
    "infty",
    "nan",
    "newaxis",
    "ones",
    "pi",
    "zeros",
]

pi = S.Pi
inf = infty = Inf = Infinity = PINF = S.Infinity
nan = NaN = NAN = S.NaN
NINF = S.NegativeInfinity
e = S.Exp1
euler_gamma = S.EulerGamma
newaxis = None


def _contains_symbolic(obj) -> bool:
    if isinstance(obj, (SymbolicArray, sympy.Basic)) or is_sympy_array(obj):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_symbolic(item) for item in obj)
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        return any(_contains_symbolic(item) for item in obj.flat)
    return False


def array(object_, dtype=None):
    """SymNum implementation of :py:obj:`numpy.array`.

    Returns a SymbolicArray (the shape of the nested input) if ``object_`` holds
    symbolic values (SymPy objects or SymbolicArrays) and a NumPy array otherwise;
    SymbolicArrays and numeric NumPy arrays are returned unchanged.
    """
    if isinstance(object_, SymbolicArray) or (
        isinstance(object_, np.ndarray) and object_.dtype != object
    ):
        return object_
    if _contains_symbolic(object_):
        return SymbolicArray(object_, dtype=dtype)
    return np.array(object_, dtype)


def _dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


def _constant_array(value, shape, dtype=None) -> SymbolicArray:
    shape = _normalize_shape(shape)
    return SymbolicArray._from_flat([_to_basic(value)] * math.prod(shape), shape, _dtype(dtype))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803
    """SymNum implementation of :py:obj:`numpy.eye`: shape ``(N, M)`` (``M`` default ``N``).

    Ones on the ``k``-th diagonal (0 the main one, positive above), zeros elsewhere.
    """
    M = N if M is None else M  # noqa: N806
    one, zero = S.One, S.Zero
    data = [one if j - i == k else zero for i in range(N) for j in range(M)]
    return SymbolicArray._from_flat(data, (N, M), _dtype(dtype))


def identity(n, dtype=None):
    """SymNum implementation of :py:obj:`numpy.identity`: the ``(n, n)`` identity."""
    return eye(n, n, 0, dtype)


def ones(shape, dtype=None):
    """SymNum implementation of :py:obj:`numpy.ones`: ones of ``shape`` (int or tuple)."""
    return _constant_array(1, shape, dtype)


def zeros(shape, dtype=None):
    """SymNum implementation of :py:obj:`numpy.zeros`: zeros of ``shape`` (int or tuple)."""
    return _constant_array(0, shape, dtype)


def full(shape, fill_value, dtype=None):
    """SymNum implementation of :py:obj:`numpy.full`: ``fill_value`` (a scalar, possibly
    symbolic) repeated in ``shape`` (int or tuple)."""
    return _constant_array(fill_value, shape, dtype)
