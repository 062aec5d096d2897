"""Shape manipulation of :mod:`symnum.numpy`: reshaping, transposing, joining, splitting,
rearranging (roll, tile, repeat, take, insert, delete, pad), diagonals and triangles.

Every function applies the NumPy function itself to an integer array of element
*positions* (``arange(size).reshape(shape)``) and gathers the elements at the resulting
positions, so shapes, axis handling and error messages are NumPy's own. The results are
SymbolicArrays (a list of them for the splitting functions); no arithmetic is done.
Indices, positions, shifts and repeat counts must be constant integers: an element's
place may not depend on symbolic values. Data arrays (:mod:`symnum.data`) are unrolled.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy

from symnum import array as _array_module
from symnum.array import SymbolicArray, _broadcast_data, _broadcast_shape, _positions
from symnum.numpy._base import _ZERO, _as_array, _as_int

__all__ = [
    "append",
    "array_split",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
    "broadcast_to",
    "column_stack",
    "concatenate",
    "delete",
    "diag",
    "diagflat",
    "diagonal",
    "dsplit",
    "dstack",
    "expand_dims",
    "flip",
    "fliplr",
    "flipud",
    "hsplit",
    "hstack",
    "insert",
    "moveaxis",
    "pad",
    "ravel",
    "repeat",
    "reshape",
    "resize",
    "roll",
    "rot90",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "transpose",
    "tril",
    "triu",
    "vsplit",
    "vstack",
]


def _gather(array: SymbolicArray, positions: np.ndarray) -> SymbolicArray:
    """The elements of ``array`` at the (flat) ``positions``, in their shape."""
    data = array._data
    return SymbolicArray._from_flat([data[i] for i in positions.ravel().tolist()], positions.shape)


def _structural(array, numpy_func, *args, **kwargs) -> SymbolicArray:
    """Apply a NumPy shape function to ``array`` by applying it to element positions."""
    array = _as_array(array)
    hooks = _array_module._data_hooks
    if hooks is not None:
        hooks.require_rows(array)  # a data argument: its error says what to do instead
    positions = np.asarray(numpy_func(_positions(array.shape), *args, **kwargs))
    kept = None if hooks is None else hooks.rearranged(array, positions)
    return kept if kept is not None else _gather(array, positions)  # data: rows kept apart


def _pooled(arrays, name: str) -> tuple[list, list[np.ndarray]]:
    """The elements of a sequence of arrays, one list, and each array's positions in it."""
    converted = [_as_array(a, f"{name} operand") for a in arrays]
    offsets = itertools.accumulate((a.size for a in converted), initial=0)
    positions = [_positions(a.shape) + off for a, off in zip(converted, offsets, strict=False)]
    return [el for a in converted for el in a._data], positions


def _gather_filled(data: list, positions: np.ndarray, fill: list) -> SymbolicArray:
    """The elements of ``data`` at ``positions``, ``fill[-1 - i]`` at a negative ``i``."""
    values = [data[i] if i >= 0 else fill[-1 - i] for i in positions.ravel().tolist()]
    return SymbolicArray._from_flat(values, positions.shape)


def _joined(arrays, numpy_func, name: str, **kwargs) -> SymbolicArray:
    """Apply a NumPy joining function (stack, hstack, ...) to a sequence of arrays."""
    if isinstance(arrays, SymbolicArray) or not isinstance(arrays, (list, tuple)):
        msg = f"{name} expects a list or tuple of arrays, got {type(arrays).__name__}"
        raise TypeError(msg)
    hooks = _array_module._data_hooks
    if hooks is not None:  # rows joined alike (stack(..., axis=1)): still data
        kept = hooks.joined(arrays, lambda positions: numpy_func(positions, **kwargs))
        if kept is not None:
            return kept
    data, positions = _pooled(arrays, name)
    result = np.asarray(numpy_func(positions, **kwargs))
    return SymbolicArray._from_flat([data[i] for i in result.ravel().tolist()], result.shape)


def _constant_indices(indices, what: str):
    """``indices`` for NumPy: SymPy integers as ints; other symbolic values, whose place
    in the result would depend on their values, a TypeError. The rest is NumPy's."""
    if isinstance(indices, sympy.Basic):
        indices = SymbolicArray._from_flat([indices], ())
    if not isinstance(indices, SymbolicArray):
        return indices
    if not all(isinstance(i, sympy.Integer) for i in indices._data):
        msg = f"{what} must be constant integers, got symbolic values"
        raise TypeError(msg)
    return np.array([int(i) for i in indices._data], dtype=np.intp).reshape(indices.shape)


# --------------------------------------------------------------------------------------
# Reshaping and transposing


def reshape(a, newshape=None, order="C", *, shape=None):
    """SymNum implementation of :py:obj:`numpy.reshape`: the elements of ``a`` (C order)
    in ``shape`` (an int or a tuple; one dimension may be -1)."""
    if order != "C":
        msg = f"reshape: only order='C' is supported, got {order!r}"
        raise NotImplementedError(msg)
    if (newshape is None) == (shape is None):
        msg = "reshape: give the new shape exactly once (as newshape or shape=)"
        raise TypeError(msg)
    return _as_array(a).reshape(newshape if shape is None else shape)


def ravel(a):
    """SymNum implementation of :py:obj:`numpy.ravel`: shape ``(a.size,)``, C order."""
    return _as_array(a).flatten()


def transpose(a, axes=None):
    """SymNum implementation of :py:obj:`numpy.transpose`: axes reversed, or permuted
    by ``axes`` (result axis ``i`` is axis ``axes[i]`` of ``a``)."""
    return _as_array(a).transpose(axes)


def swapaxes(a, axis1, axis2):
    """SymNum implementation of :py:obj:`numpy.swapaxes`: ``a`` with axes ``axis1`` and
    ``axis2`` exchanged (in its shape too)."""
    return _structural(a, np.swapaxes, axis1, axis2)


def moveaxis(a, source, destination):
    """SymNum implementation of :py:obj:`numpy.moveaxis`: axes ``source`` (int or
    sequence) moved to ``destination``, the others keeping their order."""
    return _structural(a, np.moveaxis, source, destination)


def flip(m, axis=None):
    """SymNum implementation of :py:obj:`numpy.flip`: the shape of ``m``, reversed along
    ``axis`` (None: all axes; an int or a tuple)."""
    return _structural(m, np.flip, axis)


def fliplr(m):
    """SymNum implementation of :py:obj:`numpy.fliplr`: the shape of ``m`` (at least
    2-D), reversed along axis 1 (left/right)."""
    return _structural(m, np.fliplr)


def flipud(m):
    """SymNum implementation of :py:obj:`numpy.flipud`: the shape of ``m`` (at least
    1-D), reversed along axis 0 (up/down)."""
    return _structural(m, np.flipud)


def rot90(m, k=1, axes=(0, 1)):
    """SymNum implementation of :py:obj:`numpy.rot90`: ``m`` rotated by ``k`` quarter
    turns in the plane of ``axes`` (from the first axis towards the second); an odd
    ``k`` exchanges those two dimensions of the shape."""
    return _structural(m, np.rot90, k, axes)


def roll(a, shift, axis=None):
    """SymNum implementation of :py:obj:`numpy.roll`: the shape of ``a``, its elements
    shifted by ``shift`` places along ``axis`` (ints or tuples), those pushed past the
    end coming back at the start; ``axis=None`` rolls the flattened array."""
    return _structural(a, np.roll, _constant_indices(shift, "roll: shift"), axis)


def tile(A, reps):  # noqa: N803 - NumPy's name
    """SymNum implementation of :py:obj:`numpy.tile`: ``A`` repeated ``reps`` times along
    each axis; shape ``(A.shape[i] * reps[i])``, the shorter of ``A.shape`` and ``reps``
    padded with leading ones (``(n,)`` tiled by ``(2, 3)`` gives ``(2, 3 * n)``)."""
    return _structural(A, np.tile, _constant_indices(reps, "tile: reps"))


def repeat(a, repeats, axis=None):
    """SymNum implementation of :py:obj:`numpy.repeat`: each element repeated
    ``repeats`` times (an int, or one count per element along ``axis``) along ``axis``;
    ``axis=None`` repeats the flattened array, giving 1-D."""
    return _structural(a, np.repeat, _constant_indices(repeats, "repeat: repeats"), axis)


def resize(a, new_shape):
    """SymNum implementation of :py:obj:`numpy.resize`: the flattened ``a`` repeated
    cyclically (or cut) to fill ``new_shape`` (zeros if ``a`` is empty)."""
    a = _as_array(a)
    # on positions shifted by one, NumPy's zero filling of an empty ``a`` gives -1
    kept = np.asarray(np.resize(_positions(a.shape) + 1, new_shape)) - 1
    return _gather_filled(a._data, kept, [_ZERO])


def squeeze(a, axis=None):
    """SymNum implementation of :py:obj:`numpy.squeeze`: ``a`` without its length-1
    axes (or only those of ``axis``)."""
    return _structural(a, np.squeeze, axis)


def expand_dims(a, axis):
    """SymNum implementation of :py:obj:`numpy.expand_dims`: length-1 axes inserted at
    ``axis`` (an int or a tuple, positions in the result)."""
    return _structural(a, np.expand_dims, axis)


def _at_least(numpy_func, arys):
    result = [_structural(a, numpy_func) for a in arys]
    return result[0] if len(result) == 1 else tuple(result)


def atleast_1d(*arys):
    """SymNum implementation of :py:obj:`numpy.atleast_1d`: scalars become shape ``(1,)``.

    One array for one argument, else a tuple.
    """
    return _at_least(np.atleast_1d, arys)


def atleast_2d(*arys):
    """SymNum implementation of :py:obj:`numpy.atleast_2d`: ``(n,)`` becomes ``(1, n)``.

    One array for one argument, else a tuple.
    """
    return _at_least(np.atleast_2d, arys)


def atleast_3d(*arys):
    """SymNum implementation of :py:obj:`numpy.atleast_3d`: ``(n,)`` becomes ``(1, n, 1)``
    and ``(m, n)`` becomes ``(m, n, 1)``. One array for one argument, else a tuple."""
    return _at_least(np.atleast_3d, arys)


# --------------------------------------------------------------------------------------
# Broadcasting


def broadcast_to(array, shape):
    """SymNum implementation of :py:obj:`numpy.broadcast_to`: ``array`` repeated to
    ``shape`` (an int or a tuple) by NumPy's broadcasting rules."""
    array = _as_array(array, "array")
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(shape)
    try:
        positions = np.broadcast_to(_positions(array.shape), shape)
    except ValueError:
        msg = f"broadcast_to: cannot broadcast an array of shape {array.shape} to shape {shape}"
        raise ValueError(msg) from None
    return _gather(array, positions)


def broadcast_arrays(*args):
    """SymNum implementation of :py:obj:`numpy.broadcast_arrays`: a tuple of the
    arguments, each broadcast to their common shape."""
    arrays = [_as_array(a, "operand") for a in args]
    shape = _broadcast_shape(*(a.shape for a in arrays))
    return tuple(SymbolicArray._from_flat(list(_broadcast_data(a, shape)), shape) for a in arrays)


# --------------------------------------------------------------------------------------
# Joining


def concatenate(arrays, axis=0):
    """SymNum implementation of :py:obj:`numpy.concatenate`: join a sequence of arrays
    along an existing ``axis`` (``None``: the flattened arrays, giving 1-D).

    Shapes must match except along ``axis``.
    """
    if not isinstance(arrays, (list, tuple)):
        arrays = list(arrays)
    return _joined(arrays, np.concatenate, "concatenate", axis=axis)


def stack(arrays, axis=0):
    """SymNum implementation of :py:obj:`numpy.stack`: ``k`` arrays of one shape ``s``
    joined along a new ``axis``, e.g. ``(k, *s)`` for ``axis=0``."""
    return _joined(arrays, np.stack, "stack", axis=axis)


def hstack(tup):
    """SymNum implementation of :py:obj:`numpy.hstack`: join along axis 1 (axis 0 for
    1-D arrays)."""
    return _joined(tup, np.hstack, "hstack")


def vstack(tup):
    """SymNum implementation of :py:obj:`numpy.vstack`: join along axis 0, 1-D arrays
    ``(n,)`` as rows ``(1, n)``."""
    return _joined(tup, np.vstack, "vstack")


def dstack(tup):
    """SymNum implementation of :py:obj:`numpy.dstack`: join along axis 2, arrays of
    fewer dimensions promoted as by ``atleast_3d`` (shape ``(n,)`` to ``(1, n, 1)``)."""
    return _joined(tup, np.dstack, "dstack")


def column_stack(tup):
    """SymNum implementation of :py:obj:`numpy.column_stack`: 1-D arrays ``(n,)`` as
    columns of an ``(n, k)`` array; 2-D arrays joined along axis 1."""
    return _joined(tup, np.column_stack, "column_stack")


def append(arr, values, axis=None):
    """SymNum implementation of :py:obj:`numpy.append`: ``values`` after ``arr`` along
    ``axis`` (shapes must match except there), or both flattened (1-D) for
    ``axis=None``."""
    return _joined(
        [arr, values], lambda p, axis: np.append(p[0], p[1], axis=axis), "append", axis=axis
    )


def insert(arr, obj, values, axis=None):
    """SymNum implementation of :py:obj:`numpy.insert`: ``values`` (possibly symbolic,
    broadcast to the inserted slots) inserted before the constant index or indices
    ``obj`` (an int, a sequence or a slice) along ``axis``; ``axis=None`` inserts into
    the flattened ``arr``. The shape grows along ``axis`` by the number inserted."""
    obj = _constant_indices(obj, "insert: obj")
    return _joined(
        [arr, values],
        lambda p, axis: np.insert(p[0], obj, p[1], axis=axis),
        "insert",
        axis=axis,
    )


# --------------------------------------------------------------------------------------
# Splitting


def _split(ary, numpy_func, *args) -> list[SymbolicArray]:
    ary = _as_array(ary, "ary")
    return [_gather(ary, np.asarray(p)) for p in numpy_func(_positions(ary.shape), *args)]


def split(ary, indices_or_sections, axis=0):
    """SymNum implementation of :py:obj:`numpy.split`: a list of sub-arrays of ``ary``
    along ``axis``, ``N`` equal ones for an int ``N`` (ValueError if the length does not
    divide) or those between the sorted indices of a sequence."""
    return _split(ary, np.split, _constant_indices(indices_or_sections, "split: indices"), axis)


def array_split(ary, indices_or_sections, axis=0):
    """SymNum implementation of :py:obj:`numpy.array_split`: as :func:`split`, but ``N``
    sections of an ``axis`` of length ``l`` that ``N`` does not divide are ``l % N`` of
    length ``l // N + 1`` then the rest of length ``l // N``."""
    sections = _constant_indices(indices_or_sections, "array_split: indices")
    return _split(ary, np.array_split, sections, axis)


def hsplit(ary, indices_or_sections):
    """SymNum implementation of :py:obj:`numpy.hsplit`: :func:`split` along axis 1
    (axis 0 for 1-D ``ary``)."""
    return _split(ary, np.hsplit, _constant_indices(indices_or_sections, "hsplit: indices"))


def vsplit(ary, indices_or_sections):
    """SymNum implementation of :py:obj:`numpy.vsplit`: :func:`split` along axis 0 of an
    ``ary`` of at least 2 dimensions."""
    return _split(ary, np.vsplit, _constant_indices(indices_or_sections, "vsplit: indices"))


def dsplit(ary, indices_or_sections):
    """SymNum implementation of :py:obj:`numpy.dsplit`: :func:`split` along axis 2 of an
    ``ary`` of at least 3 dimensions."""
    return _split(ary, np.dsplit, _constant_indices(indices_or_sections, "dsplit: indices"))


# --------------------------------------------------------------------------------------
# Taking and deleting elements


def take(a, indices, axis=None, out=None, mode="raise"):
    """SymNum implementation of :py:obj:`numpy.take`: the elements at the constant
    integer ``indices`` along ``axis`` (of the flattened ``a`` for ``axis=None``).

    Shape ``a.shape[:axis] + indices.shape + a.shape[axis + 1:]`` (a scalar for a scalar
    index into 1-D or flattened ``a``). ``mode`` ``'raise'`` (IndexError out of
    bounds), ``'wrap'`` or ``'clip'``; ``out`` is not supported.
    """
    if out is not None:
        msg = "take: argument out is not supported"
        raise NotImplementedError(msg)
    result = _structural(a, np.take, _constant_indices(indices, "take: indices"), axis, mode=mode)
    return result._data[0] if result.shape == () else result


def take_along_axis(arr, indices, axis=-1):
    """SymNum implementation of :py:obj:`numpy.take_along_axis`: ``arr`` gathered at the
    constant integer ``indices`` (as many dimensions as ``arr``, broadcast against it
    off ``axis``) along ``axis``, e.g. at the indices :py:obj:`numpy.argsort` gives for
    numbers; the shape is the broadcast shape with ``indices.shape[axis]`` at ``axis``.
    ``axis=None`` uses the flattened ``arr`` and 1-D ``indices``."""
    hooks = _array_module._data_hooks
    if hooks is not None:  # a column per row of data: data stay a row template
        picked = hooks.take_along_rows(arr, indices, axis)
        if picked is not None:
            return picked
    indices = _constant_indices(indices, "take_along_axis: indices")
    return _structural(arr, np.take_along_axis, indices, axis)


def delete(arr, obj, axis=None):
    """SymNum implementation of :py:obj:`numpy.delete`: ``arr`` without the sub-arrays at
    the constant index or indices ``obj`` (an int, a sequence, a boolean mask or a
    slice) along ``axis``; ``axis=None`` deletes from the flattened ``arr`` (1-D)."""
    return _structural(arr, np.delete, _constant_indices(obj, "delete: obj"), axis)


# --------------------------------------------------------------------------------------
# Padding

_GATHERING_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")
_COMPUTING_PAD_MODES = ("empty", "linear_ramp", "maximum", "mean", "median", "minimum")


def pad(array, pad_width, mode="constant", **kwargs):
    """SymNum implementation of :py:obj:`numpy.pad`: ``array`` padded by ``pad_width``
    (``before, after`` elements per axis, as NumPy reads it), so that axis ``i`` has
    length ``before_i + array.shape[i] + after_i``.

    Modes: ``'constant'`` (the default; ``constant_values``, possibly symbolic, default
    0) and the modes that repeat elements of ``array``: ``'edge'``, ``'reflect'`` and
    ``'symmetric'`` (with ``reflect_type='even'``) and ``'wrap'``. The other modes
    (statistics, ramps, ``'empty'``, callables) raise NotImplementedError.
    """
    if mode in _GATHERING_PAD_MODES:
        if kwargs.get("reflect_type", "even") == "odd":
            msg = "pad: reflect_type='odd' is not supported"
            raise NotImplementedError(msg)
        return _structural(array, np.pad, pad_width, mode=mode, **kwargs)
    if mode in _COMPUTING_PAD_MODES or callable(mode):
        msg = f"pad: mode {mode!r} is not supported"
        raise NotImplementedError(msg)
    array = _as_array(array, "array")
    fill = _as_array(kwargs.pop("constant_values", 0), "constant_values")
    # a negative code -1 - j stands for the element j of the constant values
    codes = -1 - _positions(fill.shape)
    padded = np.pad(_positions(array.shape), pad_width, mode, constant_values=codes, **kwargs)
    return _gather_filled(array._data, np.asarray(padded), fill._data)


# --------------------------------------------------------------------------------------
# Diagonals


def diag(v, k=0):
    """SymNum implementation of :py:obj:`numpy.diag`.

    A 1-D ``v`` of length ``n`` gives an ``(n + |k|, n + |k|)`` array with ``v`` on its
    ``k``-th diagonal; a 2-D ``v`` gives its ``k``-th diagonal (1-D).
    """
    v = _as_array(v, "v")
    k = _as_int(k, "k")
    if v.ndim == 1:
        n = v.size + abs(k)
        data = [_ZERO] * (n * n)
        for i, el in enumerate(v._data):
            data[(i + max(-k, 0)) * n + i + max(k, 0)] = el
        return SymbolicArray._from_flat(data, (n, n))
    if v.ndim == 2:
        return _structural(v, np.diagonal, k)
    msg = f"diag: input must be 1-D or 2-D, got shape {v.shape}"
    raise ValueError(msg)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """SymNum implementation of :py:obj:`numpy.diagonal`: the ``offset`` diagonal of the
    ``(axis1, axis2)`` planes; those axes are removed and the diagonal axis is last."""
    return _structural(a, np.diagonal, _as_int(offset, "offset"), axis1, axis2)


def diagflat(v, k=0):
    """SymNum implementation of :py:obj:`numpy.diagflat`: the flattened ``v`` (``n``
    elements) on the ``k``-th diagonal of zeros of shape ``(n + |k|, n + |k|)``."""
    return diag(ravel(v), k)


# --------------------------------------------------------------------------------------
# Triangles


def _triangle(m, k, numpy_func) -> SymbolicArray:
    m = _as_array(m, "m")
    k = _as_int(k, "k")
    # NumPy's own masking, on element positions shifted by one: a 0 is a zeroed element
    kept = np.asarray(numpy_func(_positions(m.shape) + 1, k)) - 1
    return _gather_filled(m._data, kept, [_ZERO])


def triu(m, k=0):
    """SymNum implementation of :py:obj:`numpy.triu`: ``m`` with the elements below its
    ``k``-th diagonal set to zero (``k > 0`` above the main diagonal, ``k < 0`` below).

    ``m`` of shape ``(..., M, N)`` gives the same shape (each of its ``M x N`` matrices
    masked); a 1-D ``m`` of length ``N`` is repeated as ``N`` rows, giving ``(N, N)``.
    """
    return _triangle(m, k, np.triu)


def tril(m, k=0):
    """SymNum implementation of :py:obj:`numpy.tril`: ``m`` with the elements above its
    ``k``-th diagonal set to zero (``k > 0`` above the main diagonal, ``k < 0`` below).

    ``m`` of shape ``(..., M, N)`` gives the same shape (each of its ``M x N`` matrices
    masked); a 1-D ``m`` of length ``N`` is repeated as ``N`` rows, giving ``(N, N)``.
    """
    return _triangle(m, k, np.tril)
