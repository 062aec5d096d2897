"""SciPy-like APIs over symbolic arrays: :mod:`symnum.scipy.special`."""

from symnum.scipy import special

__all__ = ["special"]
