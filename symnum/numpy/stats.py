"""Covariance and correlation in :mod:`symnum.numpy`: ``cov`` and ``corrcoef``, with
NumPy's conventions (variables in rows unless ``rowvar=False``, ``ddof`` / ``bias``,
frequency and analytic weights).

Symbolic observations give symbolic matrices (sums of products of deviations from the
mean); on numbers the values are NumPy's, as SymPy numbers in a SymbolicArray (or a
scalar for a single variable) like the rest of :mod:`symnum.numpy`.
"""

from __future__ import annotations

import warnings

import numpy as np
import sympy

from symnum.array import SymbolicArray, _to_basic
from symnum.numpy._base import _as_array, _as_int, _conj, _reject_unsupported, _result
from symnum.numpy.order import _from_numbers, _numbers

__all__ = ["corrcoef", "cov"]


def _as_rows(a, name: str, rowvar: bool) -> SymbolicArray:
    """``a`` as a 2-D array with one variable per row (NumPy's reading of it)."""
    x = _as_array(a, name)
    if x.ndim > 2:
        msg = f"{name} has more than 2 dimensions"
        raise ValueError(msg)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    return x.T if not rowvar and x.shape[0] != 1 else x


def _observations(m, y, rowvar: bool) -> SymbolicArray:
    """The variables of ``m`` (and ``y``) as the rows of one 2-D array, as NumPy."""
    x = _as_rows(m, "m", rowvar)
    if y is None:
        return x
    other = _as_rows(y, "y", rowvar)
    if other.shape[1] != x.shape[1]:
        msg = "all the input array dimensions except for the concatenation axis must match"
        raise ValueError(msg)
    rows = x.shape[0] + other.shape[0]
    return SymbolicArray._from_flat([*x._data, *other._data], (rows, x.shape[1]))


def _weight_array(weights, name: str, n: int) -> np.ndarray:
    """``weights`` (``fweights`` or ``aweights``) as a float array, with NumPy's checks."""
    w = np.asarray(weights, dtype=float)
    if name == "fweights" and not np.all(w == np.around(w)):
        msg = "fweights must be integer"
        raise TypeError(msg)
    if w.ndim > 1:
        msg = f"cannot handle multidimensional {name}"
        raise RuntimeError(msg)
    if w.shape[0] != n:
        msg = f"incompatible numbers of samples and {name}"
        raise RuntimeError(msg)
    if np.any(w < 0):
        msg = f"{name} cannot be negative"
        raise ValueError(msg)
    return w


def _weights(fweights, aweights, n: int) -> np.ndarray | None:
    """The product of the frequency and analytic weights (NumPy's checks), or None."""
    given = [
        _weight_array(w, name, n)
        for w, name in ((fweights, "fweights"), (aweights, "aweights"))
        if w is not None
    ]
    if not given:
        return None
    return given[0] if len(given) == 1 else given[0] * given[1]


def _means_and_divisor(rows, weights, ddof: int, weighted_aweights):
    """The (weighted) mean of each row and NumPy's divisor of the covariance; a
    ``ValueError`` where no degrees of freedom are left."""
    n = len(rows[0])
    if weights is None:
        means = [sympy.Add(*row) / n for row in rows]
        fact = sympy.Integer(n - ddof)
    else:
        total = sympy.Add(*weights)
        means = [
            sympy.Add(*(wk * v for wk, v in zip(weights, row, strict=True))) / total for row in rows
        ]
        if ddof == 0:
            fact = total
        elif weighted_aweights is None:
            fact = total - ddof
        else:
            fact = total - ddof * sympy.Float(float(np.sum(weighted_aweights))) / total
    if fact <= 0:
        msg = (
            f"cov: no degrees of freedom left (N - ddof = {fact}); NumPy gives inf and"
            " nan here, which no derivative can follow"
        )
        raise ValueError(msg)
    return means, fact


def cov(  # noqa: PLR0917 - NumPy's signature
    m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None
):
    """SymNum implementation of :py:obj:`numpy.cov`: the covariance matrix of the
    variables (rows of ``m``, and of ``y`` after them; columns if ``rowvar`` is false)
    over the observations.

    Divided by ``N - ddof`` (``ddof`` defaults to 1, 0 with ``bias``); ``fweights``
    (integer counts) and ``aweights`` (relative weights) are numbers, as in NumPy.
    Shape ``(k, k)`` for ``k`` variables; a scalar for one. Where ``N - ddof <= 0``
    NumPy warns and gives inf / nan; on symbols that is a ``ValueError``.
    """
    _reject_unsupported("cov", dtype=dtype)
    if ddof is not None:
        ddof = _as_int(ddof, "ddof")
    x = _observations(m, y, rowvar)
    variables, n = x.shape
    w = _weights(fweights, aweights, n)
    numbers = _numbers(x)
    if numbers is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = np.cov(numbers, None, True, bias, ddof, fweights, aweights)
        return _from_numbers(value)
    if ddof is None:
        ddof = 0 if bias else 1
    rows = [list(x._data[i * n : (i + 1) * n]) for i in range(variables)]
    weights = None if w is None else [sympy.Float(v) for v in w]
    # NumPy's divisor with analytic weights uses sum(w * aweights)
    weighted_a = None if aweights is None else w * np.asarray(aweights, dtype=float)
    means, fact = _means_and_divisor(rows, weights, ddof, weighted_a)
    deviations = [[v - mean for v in row] for row, mean in zip(rows, means, strict=True)]
    entries = []
    for i in range(variables):
        for j in range(variables):
            if j < i:  # Hermitian
                entries.append(_conj(entries[j * variables + i]))
                continue
            terms = zip(deviations[i], deviations[j], strict=True)
            if weights is None:
                products = [u * _conj(v) for u, v in terms]
            else:
                products = [wk * u * _conj(v) for wk, (u, v) in zip(weights, terms, strict=True)]
            entries.append(sympy.Add(*products) / fact)
    if variables == 1:
        return _to_basic(entries[0])
    return _result(entries, (variables, variables))


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """SymNum implementation of :py:obj:`numpy.corrcoef`: the correlation coefficients
    ``cov[i, j] / sqrt(cov[i, i] cov[j, j])`` of the variables (see :func:`cov`).

    Shape ``(k, k)`` for ``k`` variables (a scalar for one); the diagonal is exactly 1.
    On symbols the entries are not clipped to ``[-1, 1]`` (NumPy clips rounding errors;
    a clip would zero the derivative at the bounds).
    """
    _reject_unsupported("corrcoef", dtype=dtype)
    x_obs = _observations(x, y, rowvar)
    numbers = _numbers(x_obs)
    if numbers is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return _from_numbers(np.corrcoef(numbers))
    c = cov(x_obs)
    if not isinstance(c, SymbolicArray):  # one variable
        return sympy.Integer(1)
    k = c.shape[0]
    data = c._data
    scale = [sympy.sqrt(data[i * k + i]) for i in range(k)]
    entries = [
        data[i * k + j] / (scale[i] * scale[j]) if i != j else sympy.Integer(1)
        for i in range(k)
        for j in range(k)
    ]
    return _result(entries, (k, k))
