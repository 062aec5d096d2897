"""SymPy functions that SymPy lacks, built by the front end and known to lowering.

* :class:`Ndtri` -- the inverse of the standard normal CDF (``scipy.special.ndtri``),
  lowered to the IR op ``NDTRI``. Its derivative is built from its own value,
  ``sqrt(2 pi) exp(ndtri(p)**2 / 2)``, so code for derivatives computes ``ndtri`` once.

* :class:`Fmod` -- C's ``fmod(x, y)``, the exact remainder with the sign of ``x``,
  lowered to the IR op ``FMOD``; NumPy's ``mod`` / ``remainder`` are built from it as
  NumPy builds them.

SymPy's own ``erfinv`` and ``erfcinv`` stand for ``scipy.special.erfinv`` / ``erfcinv``
(IR ops ``ERFINV`` and ``ERFCINV``).
"""

from __future__ import annotations

import math

import mpmath
import sympy

__all__ = ["Expit", "Fmod", "Ndtri"]


def _ndtri_mpmath(p, prec: int):
    """ndtri(p) for an mpf ``p`` in (0, 1), to about ``prec`` bits: ``sqrt(2) erfinv(2p -
    1)``, at a precision at which ``2p - 1`` is exact and ``erf`` resolves ``min(p, 1 -
    p)`` (``p`` near 0 or 1)."""
    tail = min(p, 1 - p)
    with mpmath.workprec(prec + 30 + max(0, -int(mpmath.mag(tail)))):
        return mpmath.sqrt(2) * mpmath.erfinv(2 * p - 1)


#: ndtri at the numbers where it is evaluated (see :class:`Ndtri`)
_SPECIAL_VALUES = {0: sympy.S.NegativeInfinity, 1: sympy.S.Infinity, 0.5: sympy.S.Zero}


class Expit(sympy.Function):
    """``expit(x) = 1 / (1 + exp(-x))``, the logistic sigmoid, as a node of its own.

    Its derivative is ``expit(x) * expit(-x)`` (:mod:`symnum.sym.differentiate`), finite
    everywhere; SymPy's derivative of the written-out form, ``exp(-x) / (1 + exp(-x))**2``,
    is ``inf / inf`` (NaN) wherever ``exp(-x)`` overflows (``x < -709``, and ``-inf``).
    Lowered as the written-out form, which is exact in both tails. Evaluated at numbers.
    """

    nargs = 1

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        return self * Expit(-self.args[0])

    def _eval_evalf(self, prec):
        return (1 / (1 + sympy.exp(-self.args[0]))).evalf(prec)


class Ndtri(sympy.Function):
    """``ndtri(p)``: the ``x`` with ``Phi(x) = p``, ``Phi`` the standard normal CDF.

    Evaluated only at the numbers ``0`` (``-oo``), ``1`` (``oo``) and ``1/2`` (``0``)
    and at ``nan``; ``evalf`` gives its value elsewhere in [0, 1] (NaN outside).
    """

    nargs = 1

    @classmethod
    def eval(cls, p):
        if p is sympy.S.NaN:
            return sympy.S.NaN
        if p.is_Float:  # Floats compare unequal to Rationals in SymPy
            return _SPECIAL_VALUES.get(float(p))
        if p.is_Rational:
            return _SPECIAL_VALUES.get(float(p)) if p.q <= 2 and abs(p.p) <= 2 else None
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        return sympy.sqrt(2 * sympy.pi) * sympy.exp(self**2 / 2)

    def _eval_evalf(self, prec):
        p = self.args[0].evalf(prec)
        if not p.is_Float:
            return None
        if not 0 < p < 1:
            return sympy.S.NaN
        value = _ndtri_mpmath(mpmath.mpf(p._mpf_), prec)
        return sympy.Float._new(mpmath.mpf(value)._mpf_, prec)


class Fmod(sympy.Function):
    """``fmod(x, y) = x - trunc(x / y) y``, computed exactly (C's ``fmod``): the sign of
    ``x``; NaN for an infinite ``x``, a zero ``y`` or NaN, ``x`` for an infinite ``y``.

    Evaluated at numbers: exactly for rationals, as C's ``fmod`` for floats and
    infinities. Partial derivatives (almost
    everywhere): 1 in ``x``, ``-trunc(x / y)`` in ``y``.
    """

    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if sympy.S.NaN in (x, y):
            return sympy.S.NaN
        if x.is_Rational and y.is_Rational:  # exact: x - trunc(x / y) y
            return sympy.S.NaN if y == 0 else x - y * sympy.Integer(int(x / y))
        if x.is_Number and y.is_Number:  # floats and infinities, as C's fmod
            return _fmod_number(float(x), float(y), 15)
        return None

    def fdiff(self, argindex=1):
        if argindex == 1:
            return sympy.S.One
        if argindex != 2:
            raise sympy.ArgumentIndexError(self, argindex)
        q = self.args[0] / self.args[1]
        rounded = sympy.Piecewise(
            (sympy.ceiling(q), sympy.StrictLessThan(q, 0, evaluate=False)), (sympy.floor(q), True)
        )
        return -rounded

    def _eval_evalf(self, prec):
        x, y = (a.evalf(prec) for a in self.args)
        if not (x.is_Number and y.is_Number):
            return None
        return _fmod_number(float(x), float(y), prec)


def _fmod_number(x: float, y: float, prec: int):
    """C's ``fmod(x, y)`` as a SymPy number (``math.fmod`` raises where C gives NaN)."""
    if math.isinf(x) or y == 0.0 or math.isnan(x) or math.isnan(y):
        return sympy.S.NaN
    return sympy.Float(x if math.isinf(y) else math.fmod(x, y), prec)
