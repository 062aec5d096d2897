"""What generated numpy-backend modules call at run time.

Generated modules import these from :mod:`symnum.backends.numpy` (the package re-exports
them; the import lines are part of the generated text, and so of the cache keys): the
entry function's guard (:data:`FLOAT64`, :data:`COMPLEX128`, :data:`MISSING`,
:func:`given`, :func:`no_slow_path`), the point function's fallback to the batch
function (:func:`first`), the scalar functions ``math`` lacks on older Pythons
(:func:`scalar_cbrt`, :func:`scalar_exp2`), the special functions of
:mod:`symnum.ir.specfun` over arrays (``batch_erf``..., vectorised in :mod:`.specfun`),
and :func:`data_batch`, which runs the batch function of a function with data in blocks.

Handed arrays and the generated functions themselves; imports nothing of the emitter
or the builder (only :mod:`.specfun`, a leaf).
"""

from __future__ import annotations

import math

import numpy as np

from . import specfun as array_specfun


def first(tree):
    """Element 0 of every array in an output tree (a batch of one -> one point)."""
    if type(tree) is tuple:
        return tuple(first(sub) for sub in tree)
    return tree[0]


FLOAT64 = np.dtype(np.float64)
COMPLEX128 = np.dtype(np.complex128)


#: Default of the entry function's parameters: "not passed".
MISSING = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


def given(missing, values: tuple, rest: tuple) -> tuple:
    """The arguments an entry function was called with, as a tuple."""
    return tuple(v for v in values if v is not missing) + rest


def no_slow_path(*args):
    """The entry function's fallback until :meth:`~.build.Kernel.entry` provides one."""
    msg = "arguments must be exact arrays here; call the function through symnum"
    raise TypeError(msg)


scalar_cbrt = getattr(math, "cbrt", lambda x: math.copysign(abs(x) ** (1 / 3), x))
scalar_exp2 = getattr(math, "exp2", lambda x: math.pow(2.0, x))


# symnum.ir.specfun's functions over arrays, as NumPy array operations (.specfun)
batch_erf = array_specfun.erf
batch_erfc = array_specfun.erfc
batch_lgamma = array_specfun.lgamma
batch_gamma = array_specfun.gamma
batch_digamma = array_specfun.digamma
batch_polygamma = array_specfun.polygamma
batch_ndtri = array_specfun.ndtri
batch_erfinv = array_specfun.erfinv
batch_erfcinv = array_specfun.erfcinv


# -- batches of functions with data (see :mod:`.data`) ----------------------------------

#: The (batch element, row) pairs one block of a batch with data evaluates at most.
_BLOCK_VALUES = 1 << 14


def data_batch(block, data: tuple[bool, ...], args: tuple):
    """Run the generated batch function ``block`` of a function with data on ``args``,
    in blocks of the batch axis (``data[k]``: argument ``k`` is a data argument, shared
    by the whole batch), and join the blocks' outputs."""
    rows = next((a.shape[0] for a, d in zip(args, data, strict=True) if d), 0)
    size = next((a.shape[0] for a, d in zip(args, data, strict=True) if not d), 1)
    step = max(1, _BLOCK_VALUES // max(rows, 1))
    if size <= step:
        return block(*args)
    pieces = [
        block(*(a if d else a[start : start + step] for a, d in zip(args, data, strict=True)))
        for start in range(0, size, step)
    ]
    return _join(pieces)


def _join(pieces: list):
    if type(pieces[0]) is tuple:
        return tuple(_join([p[k] for p in pieces]) for k in range(len(pieces[0])))
    return np.concatenate(pieces)
