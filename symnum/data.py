"""Data arrays: constant arrays with a long leading axis stay one row template.

Models with data compute the same expression for every row of a constant array and
reduce over the rows (a log-likelihood ``snp.sum(...)`` over ``N`` observations).
Unrolling gives ``N`` times the expressions, so builds grow with ``N``. Instead, when a
NumPy array whose leading axis has at least :func:`get_data_threshold` rows (default
32; the environment variable ``SYMNUM_DATA_THRESHOLD`` or :func:`set_data_threshold`
change it, ``0`` turns the feature off) meets a symbolic array or a SymPy expression
with symbols in an operation, it becomes a :class:`DataArray`: one row of symbols,
standing for "the current row". (NumPy's operators with a SymPy scalar, ``y + r``,
reach this module through ``sympy.Expr.__array_ufunc__``, which :func:`_register`
installs; see :func:`_expr_array_ufunc`.)

* elementwise operations (operators, ufuncs, :mod:`symnum.scipy.special`, ``where``),
  broadcasting against arrays without the data axis, ``@`` / ``dot`` / ``einsum`` /
  ``tensordot`` with small parameter arrays, selecting columns (``X[:, j]``), picking
  parameters by an integer array of data (``alpha[group]``, see :func:`gather`) and each
  row's own column (``log_probs[np.arange(n), y]``, see :func:`pick_per_row`) act on the
  row template;
* ``sum``, ``mean``, ``prod``, ``max`` / ``min``, ``var`` / ``std``, vector norms and
  ``logsumexp`` over the data axis
  (and the ``sum`` / ``prod`` methods, which ``numpy.sum`` calls) give
  :class:`~symnum.sym.data.DataReduce` nodes (``DataSum`` ...), whose derivatives
  are data sums of the template's derivatives;
* operations within each row (``z[:, None]``, reshapes and joins keeping the rows
  apart, see :func:`rearranged` and :func:`joined`; ``cumsum`` / ``diff`` along a row)
  act on the template too, and so do contractions with the rows on another axis of a
  constant (``w @ X.T``, an einsum with ``...``);
* a function of long constant data alone (``gammaln(y + 1)``), in a function traced for
  compiling, is computed once and becomes data itself (see :func:`constant_elementwise`);
* anything that mixes rows (indexing a row, slicing rows, reshapes across rows,
  ``cumsum`` over the rows, sorting, printing) materialises the unrolled array, with the
  same result.

Compiled functions loop over the rows (see :class:`symnum.ir.Loop`); the data are
parameters of the kernel, so the compiled code and its cache entry do not depend on
the data's values or on ``N``. A function can also take its data as arguments: give
such an argument the shape ``(None, *row_shape)`` in :func:`symnum.numpify` (or make it
with :func:`data_argument`); one build then serves data sets of any length.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import string
import sys

import numpy as np
import sympy

from symnum.array import SymbolicArray, _normalize_axes, _symbolic_ufunc, _to_basic
from symnum.sym.data import (
    DataMax,
    DataMin,
    DataProd,
    DataSource,
    DataSum,
    data_sources,
    make,
    row_mapping,
    substitute_row,
)

__all__ = [
    "DataArray",
    "data_argument",
    "data_threshold",
    "get_data_threshold",
    "is_lazy",
    "set_data_threshold",
]


def _threshold_from_env() -> int:
    text = os.environ.get("SYMNUM_DATA_THRESHOLD", "32")
    try:
        value = int(text)
    except ValueError:
        msg = f"SYMNUM_DATA_THRESHOLD must be a non-negative integer, got {text!r}"
        raise ValueError(msg) from None
    return max(value, 0)


_threshold = contextvars.ContextVar("symnum_data_threshold", default=None)
_suspended = contextvars.ContextVar("symnum_data_suspended", default=False)
_trace_sources = contextvars.ContextVar("symnum_data_sources", default=None)
_default_threshold = [None]


def get_data_threshold() -> int:
    """The number of rows from which a constant array becomes a data array (0: never)."""
    value = _threshold.get()
    if value is not None:
        return value
    if _default_threshold[0] is None:
        _default_threshold[0] = _threshold_from_env()
    return _default_threshold[0]


def _check_threshold(rows) -> int:
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 0:
        msg = (
            f"the data threshold must be a non-negative int (0 turns data loops off), got {rows!r}"
        )
        raise ValueError(msg)
    return int(rows)


def set_data_threshold(rows: int) -> None:
    """Set the default number of rows from which constant arrays become data arrays.

    ``0`` turns data loops off: every constant array is unrolled, as in SymNum 0.2.1.
    """
    _default_threshold[0] = _check_threshold(rows)


@contextlib.contextmanager
def data_threshold(rows: int):
    """Context manager: use ``rows`` as the data threshold inside the block."""
    token = _threshold.set(_check_threshold(rows))
    try:
        yield
    finally:
        _threshold.reset(token)


@contextlib.contextmanager
def tracing():
    """One trace of a user's function: the same NumPy array used twice is one source."""
    token = _trace_sources.set({})
    try:
        yield
    finally:
        _trace_sources.reset(token)


@contextlib.contextmanager
def _unrolled():
    """Inside, operations act on templates as on ordinary arrays (no new data arrays)."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


# --------------------------------------------------------------------------------------
# The lazy array


_BASE_DATA = SymbolicArray.__dict__["_data"]


class DataArray(SymbolicArray):
    """A symbolic array whose leading axis runs over the rows of data.

    ``shape`` is ``(n, *template.shape)`` (``n`` is ``None`` for a data argument, whose
    rows arrive with each call). Reading the elements (``_data``) materialises the
    unrolled array, after which the array is an ordinary SymbolicArray.
    """

    __slots__ = ("_anchor", "_n", "_rows", "_template", "_written")

    @classmethod
    def _make(cls, template: SymbolicArray, n: int | None, anchor) -> DataArray:
        """``anchor``: a row symbol of the data axis (see :class:`DataReduce`)."""
        array = object.__new__(cls)
        array._template = template
        array._n = n
        array._anchor = anchor
        array._rows = None
        array._written = None  # or how to write a function of constant data out as before
        array._shape = (n, *template.shape)
        array._dtype = None
        array._inferred_dtype = None
        array._name = None
        array._base = None
        array._writeable = True
        return array

    @property
    def _data(self) -> list:
        if self._rows is None:
            self._rows = self._materialise()
        return self._rows

    @_data.setter
    def _data(self, value) -> None:
        self._rows = value

    @property
    def template(self) -> SymbolicArray:
        """One row: expressions in the function's symbols and the row's symbols."""
        return self._template

    def _materialise(self) -> list:
        if self._written is not None:  # the written-out function of constant data
            return list(self._written()._data)
        if self._n is None:
            msg = (
                "this operation needs the individual rows of a data argument, whose"
                " number of rows is only known when the function is called; use"
                " operations that act row by row (elementwise functions, @ with"
                " parameters, sum / mean / max / min / logsumexp over the rows)"
            )
            raise TypeError(msg)
        template = list(self._template._data)
        sources = data_sources(template)
        rows = []
        for i in range(self._n):
            mapping = row_mapping(sources, i)
            memo: dict = {}
            rows.extend(_to_basic(substitute_row(e, mapping, memo)) for e in template)
        return rows


def require_rows(array) -> None:
    """Raise the ``TypeError`` of a data argument (its rows are only known when the
    function is called) if ``array`` is one; nothing for any other array."""
    if is_lazy(array) and array._n is None:
        array._materialise()


def is_lazy(obj) -> bool:
    """Whether ``obj`` is a data array that has not been materialised."""
    return type(obj) is DataArray and obj._rows is None


def data_argument(name: str, row_shape) -> DataArray:
    """A data argument named ``name``: rows of shape ``row_shape``, any number of them.

    What :func:`symnum.numpify` makes for an argument of shape ``(None, *row_shape)``.
    """
    row_shape = tuple(int(s) for s in row_shape)
    source = DataSource(None, row_shape, name)
    template = SymbolicArray._from_flat(list(source.symbols), row_shape)
    array = DataArray._make(template, None, _anchor_of(source))
    array._name = name
    return array


def _constant_source(values: np.ndarray) -> DataSource:
    sources = _trace_sources.get()
    # the memory read, not the object: views alike of one array (``X.T`` written twice)
    # are one source, bound once
    key = (values.__array_interface__["data"][0], values.shape, values.strides, values.dtype.str)
    if sources is not None and key in sources:
        return sources[key][1]
    if _frozen_rows(values):
        rows = values  # read-only all the way down: nothing to protect, no copy to make
    else:
        # a private copy: the function must not change when the caller's array does,
        # and the caller's array must stay writeable (ascontiguousarray would alias it)
        rows = np.array(values, dtype=np.float64, order="C", copy=True)
        rows.setflags(write=False)
    source = DataSource(rows, values.shape[1:])
    if sources is not None:
        sources[key] = (values, source)  # keep ``values`` alive: its memory stays its own
    return source


def _frozen_rows(values: np.ndarray) -> bool:
    """Whether ``values`` can be bound as it is: C-contiguous, aligned, native float64,
    and read-only, as is every array it views down to the one owning the memory (a
    read-only view of a writeable array still changes with it). Copying 100,000 x 10
    rows is most of what a larger N adds to a numpy build."""
    if not (
        values.dtype == np.float64
        and values.dtype.isnative
        and values.flags.c_contiguous
        and values.flags.aligned
    ):
        return False
    array = values
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return False
        array = array.base
    return array is None or isinstance(array, bytes)


def _from_constant(values: np.ndarray) -> DataArray:
    source = _constant_source(values)
    template = SymbolicArray._from_flat(list(source.symbols), source.row_shape)
    return DataArray._make(template, source.n, _anchor_of(source))


def _anchor_of(source: DataSource):
    return source.symbols[0] if source.symbols else None


def _is_long_constant(obj) -> bool:
    threshold = get_data_threshold()
    return (
        threshold > 0
        and isinstance(obj, np.ndarray)
        and type(obj) is np.ndarray
        and obj.ndim >= 1
        and obj.shape[0] >= threshold
        and obj.dtype.kind in "biuf"
    )


def _ndim(obj) -> int:
    if isinstance(obj, (SymbolicArray, np.ndarray)):
        return obj.ndim
    if isinstance(obj, (list, tuple)):
        return np.ndim(np.asarray(obj, dtype=object))
    return 0


def _lead(obj):
    return obj.shape[0] if isinstance(obj, (SymbolicArray, np.ndarray)) and obj.ndim else None


def involved(*operands) -> bool:
    """Whether an operation on ``operands`` may keep a data axis (a cheap test)."""
    if _suspended.get():
        return False
    if any(is_lazy(x) for x in operands):
        return True
    return any(_has_long_axis(x) for x in operands) and any(
        isinstance(x, SymbolicArray) or _is_symbolic_scalar(x) for x in operands
    )


def _has_long_axis(obj) -> bool:
    # a long constant, or one with its data axis elsewhere (``X.T``; einsum moves it)
    return _is_long_constant(obj) or (
        type(obj) is np.ndarray and obj.ndim > 1 and _is_long_constant(obj.T)
    )


def _is_symbolic_scalar(obj) -> bool:
    """Whether ``obj`` is a SymPy expression with symbols (``theta[0]``, ``exp(r)``)."""
    return isinstance(obj, sympy.Expr) and bool(obj.free_symbols)


def _row_operands(operands):
    """Each operand as it appears in one row, or None if the data axis cannot be kept.

    Returns ``(rows, n)``: ``rows`` has the row template of data arrays, the operands
    without the data axis as they are, and the data axis of length 1 dropped.
    """
    if not involved(*operands):
        return None
    ndim = max(_ndim(x) for x in operands)
    lazy = [x for x in operands if is_lazy(x)]
    anchor = None
    if lazy:
        n, anchor = lazy[0]._n, lazy[0]._anchor
        if any(x._n != n for x in lazy):
            return None
    else:
        long = (x.shape[0] for x in operands if _is_long_constant(x) and x.ndim == ndim)
        n = next(long, None)
        if n is None:  # no operand has the data axis first (``X.T``): written out
            return None
    rows = []
    for x in operands:
        if _ndim(x) < ndim:
            rows.append(x)
        elif is_lazy(x):
            rows.append(x._template)
        elif _lead(x) == 1:
            rows.append(x[0])
        elif (
            n is not None and isinstance(x, np.ndarray) and _is_long_constant(x) and x.shape[0] == n
        ):
            converted = _from_constant(x)
            rows.append(converted._template)
            anchor = anchor or converted._anchor
        elif n is not None and _lead(x) == n and (values := _numbers(x)) is not None:
            # a symbolic array of numbers (gammaln(y + 1) of a constant y): data too
            converted = _from_constant(values)
            rows.append(converted._template)
            anchor = anchor or converted._anchor
        else:
            return None  # e.g. a symbolic array with one entry per row: unroll
    return rows, n, anchor


def constant_elementwise(apply, operands) -> SymbolicArray | None:
    """``apply(*operands)`` of numbers only, one of them a long constant (``gammaln(y +
    1)``, ``log(counts)``), in a traced function: its values, computed now, as data (see
    :func:`_constant_values`); None for anything else (outside a trace, the values are
    computed as they always were, ``snp.sum(gammaln(y + 1))`` a number)."""
    if _trace_sources.get() is None or _suspended.get():
        return None
    if not all(_is_number_operand(x) for x in operands):
        return None
    if not any(_is_long_constant(x) for x in operands):
        return None
    return _constant_values(apply, operands)


def _constant_values(apply, operands) -> SymbolicArray:
    """``apply(*operands)`` of constant data as a data array of its values (float64),
    which reading gives back as they were written out; the written-out array itself if
    its values are not all real numbers.

    A function of data alone is data: as written-out elements, its rows would be SymPy
    values (exact ones of integer arrays, ``log(24)``) that every operation meeting the
    parameters writes out in turn. As values it is a column of the kernel's data,
    computed once here, not at every call.
    """
    written = _written_out(apply, operands)
    try:
        values = np.array([float(e) for e in written._data], dtype=np.float64)
    except TypeError:  # complex values: written out
        return written
    values = values.reshape(written.shape)
    if not _is_long_constant(values):
        return written
    array = _from_constant(values)
    array._written = lambda: written
    return array


def _written_out(apply, operands):
    with _unrolled():
        return apply(*operands)


def _is_number_operand(x) -> bool:
    if type(x) is np.ndarray:
        return x.dtype.kind in "biuf"
    return isinstance(x, (int, float, np.integer, np.floating))  # bool is an int


def _numbers(x) -> np.ndarray | None:
    """A SymbolicArray whose elements are all real numbers, as a float64 array."""
    if not isinstance(x, SymbolicArray) or is_lazy(x):
        return None
    data = x._data
    if not all(e.is_Number and e.is_real is not False for e in data):
        return None
    return np.array([float(e) for e in data], dtype=np.float64).reshape(x.shape)


def elementwise(apply, operands):
    """``apply(*operands)`` as a data array, or None if it must be unrolled.

    ``apply`` is the ordinary (unrolled) implementation of the operation; it is called
    once, on the row templates.
    """
    if _suspended.get():
        return None
    if all(_is_number_operand(x) or _written_constant(x) for x in operands):
        return _constant_values(apply, operands)  # a function of constant data alone
    found = _row_operands(operands)
    if found is None:
        return None
    rows, n, anchor = found
    with _unrolled():
        result = apply(*rows)
    return DataArray._make(_as_template(result), n, anchor)


def _written_constant(x) -> bool:
    return is_lazy(x) and x._written is not None


def _as_template(value) -> SymbolicArray:
    if isinstance(value, SymbolicArray):
        return value
    return SymbolicArray._from_flat([_to_basic(value)], ())


# --------------------------------------------------------------------------------------
# Reductions

_REDUCE_NODES = {"sum": DataSum, "prod": DataProd, "max": DataMax, "min": DataMin}


def reduce(array: DataArray, kind: str, axis, keepdims: bool = False):
    """``kind`` (sum, prod, max, min, mean) of a data array over ``axis``."""
    import symnum.numpy as snp  # noqa: PLC0415

    axes = _normalize_axes(axis, array.ndim)
    template_axes = tuple(a - 1 for a in axes if a > 0)
    local = {"sum": snp.sum, "prod": snp.prod, "max": snp.amax, "min": snp.amin}
    local["mean"] = snp.mean
    with _unrolled():
        reduced = local[kind](array._template, axis=template_axes, keepdims=keepdims)
    if 0 not in axes:
        return DataArray._make(_as_template(reduced), array._n, array._anchor)
    node = DataSum if kind == "mean" else _REDUCE_NODES[kind]
    reduced = _as_template(reduced)
    values = [make(node, e, array._anchor) for e in reduced._data]
    if kind == "mean":
        count = make(DataSum, sympy.Integer(1), array._anchor)
        values = [
            sympy.Mul(v, sympy.Pow(count, -1, evaluate=False), evaluate=False) for v in values
        ]
    shape = ((1,) if keepdims else ()) + reduced.shape
    if shape == ():
        return values[0]
    return SymbolicArray._from_flat(values, shape)


def element_count(array: DataArray, axes) -> sympy.Expr:
    """The number of elements of ``array`` over ``axes`` (normalised), the rows counted
    at run time (``DataSum(1)``, as :func:`reduce`'s mean counts them): the number of
    rows is never a literal of the kernel, so new data of another length reuse it."""
    others = math.prod(array.shape[ax] for ax in axes if ax != 0)
    if 0 not in axes:
        return sympy.Integer(others)
    return make(DataSum, sympy.Integer(1), array._anchor) * others


def logsumexp(array: DataArray, axis, keepdims: bool = False):
    """``scipy.special.logsumexp`` of a data array over ``axis`` (no weights)."""
    import symnum.numpy as snp  # noqa: PLC0415
    from symnum.scipy import special  # noqa: PLC0415

    axes = _normalize_axes(axis, array.ndim)
    template_axes = tuple(a - 1 for a in axes if a > 0)
    template = array._template
    if 0 not in axes:
        with _unrolled():
            result = special.logsumexp(template, axis=template_axes, keepdims=keepdims)
        return DataArray._make(_as_template(result), array._n, array._anchor)
    anchor = array._anchor
    with _unrolled():
        peak = _as_template(snp.amax(template, axis=template_axes, keepdims=True))
        shift = SymbolicArray._from_flat([make(DataMax, e, anchor) for e in peak._data], peak.shape)
        terms = snp.exp(template - shift)
        total = _as_template(snp.sum(terms, axis=template_axes, keepdims=True))
        sums = SymbolicArray._from_flat(
            [make(DataSum, e, anchor) for e in total._data], total.shape
        )
        result = _as_template(shift + snp.log(sums))
    out_shape = tuple(s for k, s in enumerate(template.shape) if k not in template_axes)
    if keepdims:
        out_shape = (1, *result.shape)
    if out_shape == ():
        return result._data[0]
    return SymbolicArray._from_flat(list(result._data), out_shape)


# --------------------------------------------------------------------------------------
# Products


def matmul(a, b):
    """``a @ b`` keeping the data axis, or None if it must be unrolled.

    Handles ``X @ w`` (rows of ``X`` times a parameter vector or matrix ``w`` without
    the data axis) and contractions over the data axis, ``r @ X`` and ``X.T @ r`` for
    a data vector ``r`` (a data sum per column).
    """
    if not involved(a, b):
        return None
    a_nd, b_nd = _ndim(a), _ndim(b)
    # rows of a times a small b: X @ w
    if a_nd >= 2 and b_nd <= 2 and (is_lazy(a) or _is_long_constant(a)) and not _has_rows(b):
        left = a if is_lazy(a) else _from_constant(a)
        with _unrolled():
            result = left._template @ b
        return DataArray._make(_as_template(result), left._n, left._anchor)
    # contraction over the data axis: r @ X (r: (n,), X: (n, k) or (n,))
    if a_nd == 1 and b_nd in (1, 2) and _has_rows(a):
        return _contract_rows(a, b)
    # X.T @ r with a constant X of shape (n, k): X.T has the data axis last
    if (
        a_nd == 2
        and b_nd == 1
        and isinstance(a, np.ndarray)
        and is_lazy(b)
        and a.shape[1] == b._n
        and _is_long_constant(a.T)
    ):
        return _contract_rows(b, a.T)
    # w @ X.T: a vector times a constant whose data axis is last, X @ w
    if (
        a_nd == 1
        and b_nd == 2
        and not _has_rows(a)
        and type(b) is np.ndarray
        and np.shape(a)[0] == b.shape[0]
    ):
        return einsum("i,in->n", (a, b))
    return None


def _has_rows(x) -> bool:
    return is_lazy(x) or _is_long_constant(x)


def _rows_of(x) -> DataArray | None:
    if is_lazy(x):
        return x
    if _is_long_constant(x):
        return _from_constant(x)
    return None


def einsum(subscripts, operands) -> SymbolicArray | DataArray | None:
    """``einsum(subscripts, *operands)`` keeping the data axis, or None (written out).

    The data axis has one label ``l``: the first axis of every data array, and any axis
    of at least the threshold length of a constant array (moved first: ``'dn,d->n'``
    with ``X.T``), appearing once in each term that has it. With ``l`` first in the
    output (``'nd,d->n'``: ``X @ w``) the result is a data array whose row is the einsum
    of the rows; without ``l`` in the output (``'n,nd->d'``: ``r @ X``) each element is
    a data sum over the rows. Subscripts of letters, with at most one ``...`` per term.
    """
    parsed = _einsum_labels(subscripts, operands)
    if parsed is None:
        return None
    terms, output = parsed
    label = _einsum_data_label(terms, operands)
    if label is None or label in output[1:] or any(t.count(label) > 1 for t in terms):
        return None
    operands = list(operands)
    for i, (term, x) in enumerate(zip(terms, operands, strict=True)):
        if type(x) is np.ndarray and label in term[1:]:  # a constant's data axis first
            operands[i] = np.moveaxis(x, term.index(label), 0)
            terms[i] = label + term.replace(label, "")
    found = _einsum_rows(terms, operands, label)
    if found is None:
        return None
    rows, n, anchor = found
    import symnum.numpy as snp  # noqa: PLC0415

    row_subscripts = (
        ",".join(t.replace(label, "") for t in terms) + "->" + output.replace(label, "")
    )
    with _unrolled():
        result = _as_template(snp.einsum(row_subscripts, *rows))
    if output.startswith(label):
        return DataArray._make(result, n, anchor)
    values = [make(DataSum, e, anchor) for e in result._data]
    return values[0] if result.shape == () else SymbolicArray._from_flat(values, result.shape)


def _einsum_data_label(terms, operands) -> str | None:
    """The label of the data axis: the first of a data operand's term, else that of the
    first axis of a constant operand at least the threshold long; None if neither."""
    for term, x in zip(terms, operands, strict=True):
        if is_lazy(x) and term:
            return term[0]
    for term, x in zip(terms, operands, strict=True):
        if type(x) is np.ndarray and x.ndim == len(term):
            for axis, label in enumerate(term):
                if _is_long_constant(np.moveaxis(x, axis, 0)):
                    return label
    return None


def _einsum_rows(terms, operands, label: str):
    """``(rows, n, anchor)``: each operand as it is in one row (the data axis, labelled
    ``label``, dropped), or None if an operand has its data axis elsewhere."""
    rows, n, anchor = [], None, None
    for term, x in zip(terms, operands, strict=True):
        if label not in term:
            if is_lazy(x):  # a data operand whose first axis has another label
                return None
            rows.append(x)
            continue
        if term[0] != label or not (is_lazy(x) or _is_long_constant(x)):
            return None
        data = x if is_lazy(x) else _from_constant(x)
        if n is not None and data._n != n:
            return None
        n, anchor = data._n, anchor or data._anchor
        rows.append(data._template)
    return rows, n, anchor


def _einsum_labels(subscripts, operands) -> tuple[list[str], str] | None:
    """``(terms, output)`` of einsum ``subscripts`` for ``operands``, letters only:
    ``...`` becomes unused letters (right-aligned, as NumPy broadcasts them), and the
    implicit output is NumPy's (the ``...`` axes, then the letters used once, sorted);
    None for anything else (einsum then reports errors)."""
    if not isinstance(subscripts, str):
        return None
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        return None
    broadcast = ""
    if "." in text:
        expanded = _einsum_ellipsis(terms, output, [_ndim(x) for x in operands], text)
        if expanded is None:
            return None
        terms, output, broadcast = expanded
    letters = "".join(terms) + output
    if letters and (not letters.isalpha() or not letters.isascii()):
        return None
    if not arrow:
        joined = "".join(terms)
        output = broadcast + "".join(
            sorted(c for c in set(joined) if joined.count(c) == 1 and c not in broadcast)
        )
    return terms, output


def _einsum_ellipsis(terms, output: str, ndims, text: str):
    """``(terms, output, letters)`` with each ``...`` replaced by (the last of)
    ``letters``, letters unused in ``text``; None if a term or the output is malformed."""
    counts = []
    for term, ndim in zip(terms, ndims, strict=True):
        named = term.replace("...", "")
        if term.count("...") > 1 or "." in named:
            return None
        counts.append(ndim - len(named) if "..." in term else 0)
    if output.count("...") > 1 or "." in output.replace("...", "") or min(counts) < 0:
        return None
    unused = [c for c in string.ascii_letters if c not in text]
    width = max(counts)
    if width > len(unused):
        return None
    letters = "".join(unused[:width])
    terms = [t.replace("...", letters[width - c :]) for t, c in zip(terms, counts, strict=True)]
    return terms, output.replace("...", letters), letters


def tensordot_subscripts(a_ndim: int, b_ndim: int, axes) -> str | None:
    """The einsum subscripts of ``tensordot(a, b, axes)`` (axes normalised and valid),
    or None for axes this cannot read (tensordot then reports them)."""
    try:
        if isinstance(axes, (int, np.integer)):
            axes_a = list(range(a_ndim - int(axes), a_ndim))
            axes_b = list(range(int(axes)))
        else:
            first, second = axes
            axes_a = [int(first)] if np.ndim(first) == 0 else [int(i) for i in first]
            axes_b = [int(second)] if np.ndim(second) == 0 else [int(i) for i in second]
        axes_a = [i % a_ndim for i in axes_a]
        axes_b = [i % b_ndim for i in axes_b]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if len(axes_a) != len(axes_b) or a_ndim + b_ndim > 26:
        return None
    a_labels = [chr(97 + i) for i in range(a_ndim)]
    b_labels = [chr(97 + a_ndim + i) for i in range(b_ndim)]
    for i, j in zip(axes_a, axes_b, strict=True):
        b_labels[j] = a_labels[i]
    free = [c for i, c in enumerate(a_labels) if i not in axes_a]
    free += [c for j, c in enumerate(b_labels) if j not in axes_b]
    return "".join(a_labels) + "," + "".join(b_labels) + "->" + "".join(free)


def _contract_rows(r, x):
    """``sum_i r[i] * x[i, ...]``: one data sum per element of a row of ``x``."""
    r_rows, x_rows = _rows_of(r), _rows_of(x)
    if r_rows is None or x_rows is None or r_rows._n != x_rows._n:
        return None
    with _unrolled():
        products = _as_template(x_rows._template * r_rows._template)
    values = [make(DataSum, e, r_rows._anchor) for e in products._data]
    if products.shape == ():
        return values[0]
    return SymbolicArray._from_flat(values, products.shape)


def column(array: DataArray, index):
    """``array[index]`` keeping the data axis when ``index`` takes every row, else None."""
    if not is_lazy(array):
        return None
    if not isinstance(index, tuple):
        index = (index,)
    if index and index[0] is Ellipsis and array.ndim > 0:
        index = (slice(None), *index)  # ``...`` may take no axes: ``z[..., None]``
    if not index or not isinstance(index[0], slice) or index[0] != slice(None):
        return None
    rest = index[1:]
    with _unrolled():
        result = array._template[rest] if rest else array._template
    return DataArray._make(_as_template(result), array._n, array._anchor)


def rearranged(array, positions) -> DataArray | None:
    """The elements of ``array`` at the flat ``positions`` (an int array shaped like the
    result: a reshape, transpose, ``expand_dims``...), as a data array when every row of
    the result takes the same elements of the same row of ``array`` (the data axis stays
    first and rows stay apart); None otherwise, or for a data argument, whose number of
    rows is unknown."""
    if not is_lazy(array) or array._n is None:
        return None
    template = array._template
    return _rows_pattern(np.asarray(positions), array._n, template.size, template._data,
                         array._anchor)  # fmt: skip


def joined(arrays, join) -> DataArray | None:
    """``join`` (``numpy.stack``, ``hstack``... applied to position arrays) of data arrays
    (and constant arrays of as many rows) as a data array, when every row of the result
    takes the same elements of the same rows of the arrays (``stack(..., axis=1)``,
    ``column_stack``); None otherwise."""
    if not any(is_lazy(a) for a in arrays):
        return None
    lazy = next(a for a in arrays if is_lazy(a))
    require_rows(lazy)
    n, data = lazy._n, []
    for a in arrays:
        if not (is_lazy(a) or (_is_long_constant(a) and a.shape[0] == n)):
            return None
        data.append(a if is_lazy(a) else _from_constant(a))
    if any(a._n != n for a in data):
        return None
    sizes = [a._template.size for a in data]
    total = sum(sizes)
    starts = np.cumsum([0, *sizes[:-1]])
    rows = np.arange(n)[:, None] * total
    positions = [
        (rows + start + np.arange(size)).reshape(a.shape)
        for a, start, size in zip(data, starts, sizes, strict=True)
    ]
    elements = [e for a in data for e in a._template._data]
    return _rows_pattern(np.asarray(join(positions)), n, total, elements, data[0]._anchor)


def _rows_pattern(positions: np.ndarray, n: int, size: int, elements: list, anchor):
    """A data array of ``n`` rows whose row ``i`` is ``elements`` at ``positions[i] - i *
    size``, if that is the same for every row and within one row; else None."""
    if positions.ndim == 0 or positions.shape[0] != n or size == 0 or positions.size == 0:
        return None
    per_row = positions.reshape(n, -1) - (np.arange(n) * size)[:, None]
    pattern = per_row[0]
    if pattern.min() < 0 or pattern.max() >= size or not (per_row == pattern).all():
        return None
    template = SymbolicArray._from_flat([elements[i] for i in pattern.tolist()],
                                        positions.shape[1:])  # fmt: skip
    return DataArray._make(template, n, anchor)


def _expr_array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy ufuncs with a SymPy expression operand: ``sympy.Expr.__array_ufunc__``.

    A NumPy array of data (numbers, at least :func:`get_data_threshold` rows) combined
    elementwise with SymPy expressions that have symbols, as in ``y + r`` or
    ``(y - mu) / sigma`` with ``r = snp.exp(theta[0])``, gives the data array a 0-d
    SymbolicArray would give: one row template, not ``N`` written-out expressions.
    Everything else is NumPy's own behaviour (SymPy defines no ``__array_ufunc__``):
    each expression operand becomes a 0-d object array and the ufunc runs on the
    elements.
    """
    if (
        method == "__call__"
        and not kwargs
        and ufunc.signature is None
        and not _suspended.get()
        and any(_is_long_constant(x) for x in inputs)
        and any(_is_symbolic_scalar(x) for x in inputs)
        and all(isinstance(x, (sympy.Expr, np.ndarray, int, float, np.number)) for x in inputs)
    ):
        operands = [SymbolicArray(x) if isinstance(x, sympy.Expr) else x for x in inputs]
        result = _symbolic_ufunc(ufunc, operands)
        if is_lazy(result):
            return result
    arrays = [np.asarray(x) if isinstance(x, sympy.Basic) else x for x in inputs]
    return getattr(ufunc, method)(*arrays, **kwargs)


def getitem(array: SymbolicArray, index):
    """``array[index]`` keeping a data axis (:func:`column`, :func:`pick_per_row`,
    :func:`gather`), or None."""
    if is_lazy(array):
        kept = column(array, index)
        return kept if kept is not None else pick_per_row(array, index)
    if type(index) is np.ndarray:
        return gather(array, index)
    return None


#: At most this many rows of a parameter array can be picked by an index array of data
#: (``alpha[group]``): each row of the template chooses among them.
GATHER_MAX_CHOICES = 256


def gather(array: SymbolicArray, index) -> DataArray | None:
    """``array[index]`` for a long constant integer index array, as a data array.

    ``alpha[group]`` with ``group`` an integer array of at least :func:`get_data_threshold`
    entries (a random effect per observation) picks, in each row, the element of
    ``alpha`` (or its row, for a 2-D ``alpha``) that the row's group number names (see
    :func:`_one_of`), so its derivative with respect to ``alpha[k]`` is 1 exactly in the
    rows of group ``k``. Returns None (index as usual, written out) for anything else: a
    symbolic or short ``array``, an index that is not a 1-D integer array, an index out
    of bounds (NumPy's ``IndexError`` then), or more than :data:`GATHER_MAX_CHOICES`
    choices.
    """
    if is_lazy(array) or array.ndim == 0:
        return None
    picks = _choice_numbers(index, array.shape[0])
    if picks is None:
        return None
    with _unrolled():
        group = picks._template
        if array.ndim > 1:  # one group number for a whole row of ``array``
            group = SymbolicArray._from_flat(group._data, (1,) * (array.ndim - 1))
        chosen = _one_of([array[j] for j in range(array.shape[0])], group)
    return DataArray._make(_as_template(chosen), picks._n, picks._anchor)


def pick_per_row(array: DataArray, index) -> DataArray | None:
    """``array[np.arange(n), choice]`` for a data array of shape ``(n, k)`` and an
    integer array ``choice`` of ``n`` column numbers (the observed class of each row, in
    a multinomial model): element ``choice[i]`` of row ``i``, as a data array of shape
    ``(n,)``. Returns None (written out, or NumPy's errors) for any other index."""
    if not (
        isinstance(index, tuple)
        and len(index) == 2
        and all(type(i) is np.ndarray and i.ndim == 1 for i in index)
        and array.ndim == 2
        and array._n is not None
        and index[1].shape == (array._n,)
        and np.array_equal(index[0], np.arange(array._n))
    ):
        return None
    return _picked(array, index[1], ())


def take_along_rows(array, indices, axis) -> DataArray | None:
    """``take_along_axis(array, indices, axis=1)`` for a data array of shape ``(n, k)``
    and integer ``indices`` of shape ``(n, 1)``: :func:`pick_per_row`, of shape
    ``(n, 1)``; None for anything else."""
    if not (
        is_lazy(array)
        and array.ndim == 2
        and axis in (1, -1)
        and type(indices) is np.ndarray
        and indices.shape == (array._n, 1)
    ):
        return None
    return _picked(array, indices[:, 0], (1,))


def _picked(array: DataArray, choice, shape: tuple) -> DataArray | None:
    """Element ``choice[i]`` of row ``i`` of ``array`` (n, k); the row's result has
    ``shape`` (``()`` or ``(1,)``)."""
    picks = _choice_numbers(choice, array.shape[1])
    if picks is None:
        return None
    with _unrolled():
        row = array._template
        chosen = _one_of([row[j] for j in range(row.shape[0])], picks._template)
        chosen = _as_template(chosen).reshape(shape)
    return DataArray._make(chosen, array._n, array._anchor)


def _choice_numbers(index, k: int) -> DataArray | None:
    """The integer array ``index`` (1-D, long, within ``[-k, k)``) as data: the choice
    among ``k`` in each row, negative numbers counted from the end as NumPy does; None
    for anything else."""
    if not (
        _is_long_constant(index)
        and index.dtype.kind in "iu"
        and index.ndim == 1
        and 0 < k <= GATHER_MAX_CHOICES
        and -k <= index.min()
        and index.max() < k
    ):
        return None
    return _from_constant(np.mod(index, k).astype(np.float64))


def _one_of(choices: list, group):
    """``choices[group]`` as ``where(group == 0, choices[0], 0) + where(group == 1, ...``.

    A sum with one non-zero term, not a chain of ``where``: the derivative with respect
    to ``choices[j]`` is then one condition (a chain nests j of them), and the choices not
    taken are never multiplied (inf or nan stay in their own rows). A ``-0.0`` chosen
    comes out as ``0.0`` (a sum of zeros).
    """
    import symnum.numpy as snp  # noqa: PLC0415

    chosen = snp.where(snp.equal(group, 0), choices[0], 0.0)
    for j in range(1, len(choices)):
        chosen = chosen + snp.where(snp.equal(group, j), choices[j], 0.0)
    return chosen


def _register() -> None:
    import symnum.array  # noqa: PLC0415

    symnum.array._data_hooks = sys.modules[__name__]
    # ``ndarray + expr`` asks the ufunc machinery, which asks the operands' types
    sympy.Expr.__array_ufunc__ = _expr_array_ufunc


_register()
