"""symnum.numpy.shape against NumPy (tests/_like_numpy.py), 0-d arrays included."""

from __future__ import annotations

import pytest
from _like_numpy import check_like_numpy

import symnum.numpy as snp

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
