"""Comparing symbolic results of numeric input with NumPy / SciPy references."""

from __future__ import annotations

import numpy as np


def as_float(value) -> np.ndarray:
    """A symbolic result of numeric input (SymPy numbers, arrays of them) as floats."""
    return np.asarray(np.array(value, dtype=float))


def assert_close(actual, expected, *, rtol: float, atol: float) -> None:
    """``actual`` converted to floats has ``expected``'s shape and values."""
    expected = np.asarray(expected, dtype=float)
    actual = as_float(actual)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
