"""symnum.numpy.shape against NumPy (tests/_like_numpy.py), 0-d arrays included."""

from __future__ import annotations

import numpy as np
import pytest
from _assert import assert_close
from _like_numpy import check_like_numpy

import symnum.numpy as snp
from symnum import named_array

SHAPE_CASES = [
    ("reshape", [()], (1,)),
    ("reshape", [(2, 3)], (3, -1)),
    ("reshape", [(2, 3)], (4, 2)),
    ("ravel", [()]),
    ("ravel", [(2, 1, 3)]),
    ("transpose", [()]),
    ("transpose", [(2, 1, 3)]),
    ("transpose", [(2, 1, 3)], (2, 0, 1)),
    ("transpose", [(2, 3)], (0, 0)),
    ("swapaxes", [(2, 1, 3)], 0, -1),
    ("swapaxes", [(2, 3)], 0, 2),
    ("moveaxis", [(2, 1, 3)], (0, 2), (-1, 0)),
    ("moveaxis", [()], 0, 0),
    ("flip", [()]),
    ("flip", [(2, 3)], 1),
    ("flip", [(2, 3)], (0, 1)),
    ("squeeze", [()]),
    ("squeeze", [(1, 3, 1)]),
    ("squeeze", [(1, 3, 1)], -1),
    ("squeeze", [(2, 3)], 0),
    ("expand_dims", [()], 0),
    ("expand_dims", [(2, 3)], (0, 3)),
    ("expand_dims", [(2, 3)], 4),
    ("atleast_1d", [()]),
    ("atleast_2d", [()]),
    ("atleast_2d", [(3,)]),
    ("atleast_3d", [(3,)]),
    ("atleast_3d", [(2, 3)]),
    ("atleast_3d", [(2, 1, 3, 1)]),
    ("atleast_1d", [(), (2,)]),
    ("broadcast_to", [()], (2, 3)),
    ("broadcast_to", [(3,)], (2, 3)),
    ("broadcast_to", [(2, 1)], (2, 3)),
    ("broadcast_to", [(2,)], (2, 3)),
    ("broadcast_arrays", [(), (2, 1), (3,)]),
    ("broadcast_arrays", [(2,), (3,)]),
    ("diag", [(3,)], 1),
    ("diag", [(2, 3)], -1),
    ("diagonal", [(2, 3, 4)], 1, 2, 0),
    (
        "diagonal",
        [()],
    ),
    ("concatenate", [[(2, 3), (1, 3)]]),
    ("concatenate", [[(2, 3), (2, 2)]], -1),
    ("concatenate", [[(), ()]], None),
    ("concatenate", [[(), ()]]),
    ("concatenate", [[(2, 3), (3, 2)]]),
    ("stack", [[(), ()]]),
    ("stack", [[(2, 3), (2, 3)]], -1),
    ("stack", [[(2, 3), (3, 2)]]),
    ("hstack", [[(), (2,)]]),
    ("hstack", [[(2, 1), (2, 3)]]),
    ("vstack", [[(3,), (2, 3)]]),
    ("dstack", [[(3,), (3,)]]),
    ("column_stack", [[(3,), (3, 2)]]),
    ("triu", [(3, 4)]),
    ("triu", [(2, 3, 3)], 1),
    ("triu", [(3,)], -1),
    ("triu", [()]),
    ("tril", [(4, 3)], 2),
    ("tril", [(2, 2, 3)], -1),
    ("tril", [(3,)]),
]


@pytest.mark.parametrize(
    "case", SHAPE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_CASES)]
)
def test_shape_functions_like_numpy(case):
    name, shapes, *args = case
    joined = bool(shapes) and isinstance(shapes[0], list)
    check_like_numpy(snp, name, shapes[0] if joined else shapes, *args, joined=joined)


@pytest.mark.parametrize(
    "name",
    sorted({c[0] for c in SHAPE_CASES}),
)
def test_docstrings_name_numpy_and_state_shapes(name):
    doc = getattr(snp, name).__doc__
    assert f"numpy.{name}" in doc
    assert "shape" in doc or "(" in doc


# --------------------------------------------------------------------------------------
# Numeric and symbolic examples


def _close(actual, expected, rtol=1e-12, atol=1e-13):
    assert_close(actual, expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(rng, k):
    v, m = rng.normal(size=3), rng.normal(size=(3, 4))
    _close(snp.diag(v, k), np.diag(v, k))
    _close(snp.diag(m, k), np.diag(m, k))


def test_joining(rng):
    a, b = rng.normal(size=3), rng.normal(size=3)
    c, d = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    for axis in (0, 1, -1):
        _close(snp.stack([a, b], axis=axis), np.stack([a, b], axis=axis))
    _close(snp.stack([c, d], axis=2), np.stack([c, d], axis=2))
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        for args in ([a, b], [c, d]):
            _close(getattr(snp, name)(args), getattr(np, name)(args))
    x = named_array("x", 3)
    assert snp.stack([x, x]).shape == (2, 3)
    assert snp.hstack((x, a)).shape == (6,)


def test_shape_functions(rng):
    a = rng.normal(size=(2, 1, 3))
    _close(snp.reshape(a, (3, 2)), np.reshape(a, (3, 2)))
    _close(snp.reshape(a, -1), np.reshape(a, -1))
    _close(snp.reshape(a, shape=(1, 6)), np.reshape(a, (1, 6)))
    _close(snp.ravel(a), np.ravel(a))
    _close(snp.transpose(a), np.transpose(a))
    _close(snp.transpose(a, (1, 2, 0)), np.transpose(a, (1, 2, 0)))
    _close(snp.swapaxes(a, 0, 2), np.swapaxes(a, 0, 2))
    _close(snp.moveaxis(a, 0, -1), np.moveaxis(a, 0, -1))
    _close(snp.moveaxis(a, (0, 1), (2, 0)), np.moveaxis(a, (0, 1), (2, 0)))
    _close(snp.broadcast_to(a, (4, 2, 5, 3)), np.broadcast_to(a, (4, 2, 5, 3)))
    _close(snp.squeeze(a), np.squeeze(a))
    _close(snp.squeeze(a, axis=1), np.squeeze(a, axis=1))
    _close(snp.expand_dims(a, 1), np.expand_dims(a, 1))
    _close(snp.expand_dims(a, (0, -1)), np.expand_dims(a, (0, -1)))
    _close(snp.flip(a, 2), np.flip(a, 2))
    _close(snp.flip(a), np.flip(a))
    for f in ("atleast_1d", "atleast_2d", "atleast_3d"):
        _close(getattr(snp, f)(2.5), getattr(np, f)(2.5))
        _close(getattr(snp, f)(a[0]), getattr(np, f)(a[0]))
    x, y = snp.broadcast_arrays(a, rng.normal(size=(4, 1, 1, 1)))
    assert x.shape == y.shape == (4, 2, 1, 3)
