"""Shape manipulation of :mod:`symnum.numpy`: reshaping, transposing, joining, diagonals
and triangles.

Every function applies the NumPy function itself to an integer array of element
*positions* (``arange(size).reshape(shape)``) and gathers the elements at the resulting
positions, so shapes, axis handling and error messages are NumPy's own. The results are
SymbolicArrays; no arithmetic is done.
"""

from __future__ import annotations

import itertools

import numpy as np

from symnum.array import SymbolicArray, _broadcast_data, _broadcast_shape, _positions
from symnum.numpy._base import _ZERO, _as_array, _as_int

__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
    "broadcast_to",
    "column_stack",
    "concatenate",
    "diag",
    "diagonal",
    "dstack",
    "expand_dims",
    "flip",
    "hstack",
    "moveaxis",
    "ravel",
    "reshape",
    "squeeze",
    "stack",
    "swapaxes",
    "transpose",
    "tril",
    "triu",
    "vstack",
]


def _gather(array: SymbolicArray, positions: np.ndarray) -> SymbolicArray:
    """The elements of ``array`` at the (flat) ``positions``, in their shape."""
    data = array._data
    return SymbolicArray._from_flat([data[i] for i in positions.ravel().tolist()], positions.shape)


def _structural(array, numpy_func, *args, **kwargs) -> SymbolicArray:
    """Apply a NumPy shape function to ``array`` by applying it to element positions."""
    array = _as_array(array)
    return _gather(array, np.asarray(numpy_func(_positions(array.shape), *args, **kwargs)))


def _joined(arrays, numpy_func, name: str, **kwargs) -> SymbolicArray:
    """Apply a NumPy joining function (stack, hstack, ...) to a sequence of arrays."""
    if isinstance(arrays, SymbolicArray) or not isinstance(arrays, (list, tuple)):
        msg = f"{name} expects a list or tuple of arrays, got {type(arrays).__name__}"
        raise TypeError(msg)
    converted = [_as_array(a, f"{name} operand") for a in arrays]
    offsets = itertools.accumulate((a.size for a in converted), initial=0)
    positions = [_positions(a.shape) + off for a, off in zip(converted, offsets, strict=False)]
    data = [el for a in converted for el in a._data]
    result = np.asarray(numpy_func(positions, **kwargs))
    return SymbolicArray._from_flat([data[i] for i in result.ravel().tolist()], result.shape)


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


# --------------------------------------------------------------------------------------
# Triangles


def _triangle(m, k, numpy_func) -> SymbolicArray:
    m = _as_array(m, "m")
    k = _as_int(k, "k")
    # NumPy's own masking, on element positions shifted by one: a 0 is a zeroed element
    kept = np.asarray(numpy_func(_positions(m.shape) + 1, k)) - 1
    data = m._data
    values = [data[i] if i >= 0 else _ZERO for i in kept.ravel().tolist()]
    return SymbolicArray._from_flat(values, kept.shape)


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
