"""The numba backend: Python source of scalar statements compiled with ``numba.njit``.

:func:`emit` turns a flat IR function into the text of a small Python module holding

* ``<name>(*params)``: the point kernel. It checks the parameter shapes (a kernel called
  from njit code gets no other validation, and must never read past an array), unpacks
  the elements it reads into locals, evaluates the body as scalar statements over
  ``math`` / ``cmath`` and fills each output array once. Shape-``()`` outputs are
  returned as scalars and tuples of outputs as tuples, so the kernel is an ordinary njit
  function that users' own ``@numba.njit`` code can call with arrays in and arrays out.
* ``<name>_batch(*params)``: the same body inside a compiled loop over a leading axis.
* ``<name>_py``: the point kernel seen from Python, turning scalar outputs into NumPy
  scalars (only when there are scalar outputs; otherwise the kernel itself is used).
* small njit helpers for what neither ``math`` nor NumPy offers numba (digamma,
  polygamma, complex division and powers with NumPy's results), emitted only when an
  op needs them (recorded in :attr:`Source.needs` while emitting).

:func:`build` writes that text as a real ``.py`` file into the shared content-addressed
cache (:func:`symnum.cache.entry`) and imports it from there. Every function is compiled
with ``cache=True``, which numba only honours for functions defined in real files, so a
second process using the same function loads numba's machine code from the entry's
``__pycache__`` instead of compiling again (a damaged file there is compiled again).

:func:`wrap` is the :mod:`symnum.numeric` hook: it makes NumericFunctions of this backend
callable from ``@numba.njit`` code as they are, gives them ``njit`` / ``njit_batch``
attributes (the dispatchers), and lets exact single-point calls from Python go straight
into numba's dispatcher.

Per-op syntax is a table (op -> template); the ops numba cannot express on some dtype
(the special functions and ``floor``, ``max``... of complex numbers) raise
:class:`~symnum.backends.UnsupportedOpError` from :func:`emit`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import platform
import sys
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from symnum import cache, ir
from symnum.backends import BackendUnavailableError, UnsupportedOpError
from symnum.ir import Const, Elem, Op, Output, Var

__all__ = [
    "Kernel",
    "ShapeError",
    "Source",
    "available",
    "build",
    "bulk_body",
    "emit",
    "extra",
    "fill",
    "name",
    "register_jit_type",
    "requirement_error",
    "scalar",
    "wrap",
]

name = "numba"
extra = "numba"

#: Options of every generated njit function. ``error_model="numpy"`` gives IEEE results
#: (``1/0 -> inf``) instead of ZeroDivisionError; ``nogil`` lets threads run kernels.
JIT_OPTIONS = 'cache=True, error_model="numpy"'
#: Batch kernels also release the GIL (not worth its cost on a single point).
BATCH_OPTIONS = 'cache=True, nogil=True, error_model="numpy"'

_status: dict[str, object] = {}


def _import_numba():
    """Import numba once; remember the failure, if any, for :func:`requirement_error`."""
    if "module" not in _status:
        try:
            import numba  # noqa: PLC0415 - optional dependency, imported on first use
        except Exception as exc:  # noqa: BLE001 - a broken numba is as good as none
            _status["module"], _status["error"] = None, exc
        else:
            _status["module"], _status["error"] = numba, None
            _register_overloads()
    return _status["module"]


class ShapeError(ValueError):
    """A kernel got an array of the wrong shape: ``ShapeError(message, actual_shape)``.

    Raised from compiled code with the actual shape as a second argument (formatting it
    there would multiply the compile time) and formatted here."""

    def __str__(self) -> str:
        if len(self.args) == 2:
            return f"{self.args[0]} {tuple(self.args[1])}"
        return super().__str__()


def scalar(x):
    """``x[()]`` for a 0-d array, ``x`` itself for a number.

    Point kernels read shape-``()`` parameters through this, so users' njit code may
    pass either a 0-d array or a plain number for them.
    """
    return x[()] if hasattr(x, "shape") else x


def fill(out, offset, values) -> None:
    """Store ``values`` (a tuple) into C-contiguous ``out`` from flat index ``offset``.

    In njit code this compiles to one store per value (see :func:`_register_overloads`).
    """
    out.reshape(-1)[offset : offset + len(values)] = values


def _register_overloads() -> None:
    from numba.core import types  # noqa: PLC0415
    from numba.extending import intrinsic, overload  # noqa: PLC0415

    @intrinsic
    def _store_tuple(typingctx, out, offset, values):
        if not (
            isinstance(out, types.Array)
            and out.layout == "C"
            and isinstance(offset, types.Integer)
            and isinstance(values, types.BaseTuple)
        ):
            return None

        def codegen(context, builder, signature, args):
            array = context.make_array(out)(context, builder, args[0])
            start = context.cast(builder, args[1], offset, types.intp)
            for k, value_type in enumerate(values):
                value = builder.extract_value(args[2], k)
                value = context.cast(builder, value, value_type, out.dtype)
                index = builder.add(start, context.get_constant(types.intp, k))
                builder.store(value, builder.gep(array.data, [index]))
            return context.get_dummy_value()

        return types.none(out, offset, values), codegen

    @overload(fill, inline="always")
    def _fill(out, offset, values):
        def impl(out, offset, values):
            _store_tuple(out, offset, values)

        return impl

    @overload(scalar, inline="always")
    def _scalar(x):
        if isinstance(x, types.Array) and x.ndim == 0:
            return lambda x: x[()]
        if isinstance(x, types.Number):
            return lambda x: x
        return None


def available() -> bool:
    """Whether numba can be imported here."""
    return _import_numba() is not None


def requirement_error() -> Exception:
    """The error raised when numba is missing: it names the extra that installs it."""
    reason = _status.get("error")
    detail = f" (importing numba failed: {reason})" if reason is not None else ""
    return BackendUnavailableError(
        'the "numba" backend needs numba: install it with pip install "symnum[numba]"' + detail
    )


def _require_numba():
    numba = _import_numba()
    if numba is None:
        raise requirement_error()
    return numba


# --------------------------------------------------------------------------------------
# Helpers emitted into a module only when an op needs them.

_HELPERS: dict[str, tuple[tuple[str, ...], str]] = {
    # name: (helpers it calls, source)
    "_sn_cdiv": (
        (),
        '''
@numba.njit({opts})
def _sn_cdiv(a, b):
    """a / b for complex numbers, with IEEE results instead of ZeroDivisionError."""
    a = complex(a)
    b = complex(b)
    if b.real == 0.0 and b.imag == 0.0:
        re = a.real / 0.0 if a.real != 0.0 else (math.nan if a.imag == 0.0 else 0.0)
        im = a.imag / 0.0 if a.imag != 0.0 else (math.nan if a.real == 0.0 else 0.0)
        if a.real != 0.0 and a.imag == 0.0:
            im = math.nan
        if a.imag != 0.0 and a.real == 0.0:
            re = math.nan
        return complex(re, im)
    return a / b
''',
    ),
    "_sn_cpow": (
        (),
        '''
@numba.njit({opts})
def _sn_cpow(a, b):
    """a ** b for complex numbers; 0 ** b is 0 when b.real > 0, as in NumPy."""
    a = complex(a)
    b = complex(b)
    if a.real == 0.0 and a.imag == 0.0 and b.real > 0.0:
        return 0j
    return a ** b
''',
    ),
    "_sn_digamma": (
        (),
        '''
@numba.njit({opts})
def _sn_digamma(x):
    """The digamma function psi(x) = d/dx log(gamma(x)) for real x."""
    if math.isnan(x) or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    if x <= 0.0 and x == math.floor(x):
        return math.nan  # the poles
    shift = 0.0
    if x < 0.0:
        # reflection: psi(x) = psi(1 - x) - pi / tan(pi x); tan has period pi, so
        # reduce x first to keep the argument of tan accurate
        r = x - math.floor(x)
        shift = -math.pi / math.tan(math.pi * r)
        x = 1.0 - x
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    y = 1.0 / (x * x)
    series = y * (1.0 / 12.0 - y * (1.0 / 120.0 - y * (1.0 / 252.0 - y * (
        1.0 / 240.0 - y * (1.0 / 132.0 - y * (691.0 / 32760.0 - y / 12.0))))))
    return shift + math.log(x) - 0.5 / x - series
''',
    ),
    "_sn_polygamma": (
        ("_sn_digamma",),
        '''
@numba.njit({opts})
def _sn_polygamma(n, x):
    """The n-th derivative of digamma at real x: (-1)**(n+1) n! zeta(n+1, x)."""
    if n == 0:
        return _sn_digamma(x)
    sign = 1.0 if n % 2 == 1 else -1.0
    if math.isnan(x) or x == -math.inf or (x <= 0.0 and x == math.floor(x)):
        return math.nan  # -inf and the poles
    if x == math.inf:
        return 0.0
    s = n + 1
    factorial = 1.0
    for k in range(2, n + 1):
        factorial *= k
    # Hurwitz zeta(s, x): sum the first terms directly, then Euler-Maclaurin
    total = 0.0
    a = x
    threshold = 16.0 + s
    while a < threshold:
        total += a ** -s
        a += 1.0
    total += a ** (1 - s) / (s - 1) + 0.5 * a ** -s
    # B_2k / (2k)! for k = 1..8
    coefficients = (
        1.0 / 12.0, -1.0 / 720.0, 1.0 / 30240.0, -1.0 / 1209600.0,
        1.0 / 47900160.0, -691.0 / 1307674368000.0, 1.0 / 74724249600.0,
        -3617.0 / 10670622842880000.0,
    )
    rising = float(s)
    power = a ** (-s - 1)
    for k in range(8):
        total += coefficients[k] * rising * power
        rising *= (s + 2 * k + 1) * (s + 2 * k + 2)
        power /= a * a
    return sign * factorial * total
''',
    ),
}


# --------------------------------------------------------------------------------------
# Op templates. Atoms render as primaries (names, non-negative literals or parenthesised
# ones), so templates need no precedence handling. ``{0}``, ``{1}``, ``{2}`` are the
# arguments; a template may name helpers it needs.


@dataclass(frozen=True)
class Template:
    """How one op is written: a format string over the rendered arguments, or, for a
    variadic op, the separator joining them; plus the helpers it calls."""

    text: str
    needs: tuple[str, ...] = ()
    variadic: bool = False

    def render(self, args: list[str]) -> str:
        if self.variadic:
            return self.text.join(args)
        return self.text.format(*args)


def _t(text: str, *needs: str) -> Template:
    return Template(text, needs)


def _flag(condition: str) -> Template:
    return Template(f"1.0 if {condition} else 0.0")


#: Templates for ops whose arguments are all real.
REAL: dict[Op, Template] = {
    Op.ADD: Template(" + ", variadic=True),
    Op.SUB: _t("{0} - {1}"),
    Op.MUL: Template(" * ", variadic=True),
    Op.DIV: _t("{0} / {1}"),
    Op.NEG: _t("-{0}"),
    Op.POW: _t("{0} ** {1}"),
    Op.ABS: _t("abs({0})"),
    Op.SIGN: _t("np.sign({0})"),
    Op.FLOOR: _t("np.floor({0})"),
    Op.CEIL: _t("np.ceil({0})"),
    Op.SQRT: _t("math.sqrt({0})"),
    Op.CBRT: _t("np.cbrt({0})"),
    Op.EXP: _t("math.exp({0})"),
    Op.EXP2: _t("np.exp2({0})"),
    Op.EXPM1: _t("math.expm1({0})"),
    Op.LOG: _t("math.log({0})"),
    Op.LOG2: _t("math.log2({0})"),
    Op.LOG10: _t("math.log10({0})"),
    Op.LOG1P: _t("math.log1p({0})"),
    Op.SIN: _t("math.sin({0})"),
    Op.COS: _t("math.cos({0})"),
    Op.TAN: _t("math.tan({0})"),
    Op.ASIN: _t("math.asin({0})"),
    Op.ACOS: _t("math.acos({0})"),
    Op.ATAN: _t("math.atan({0})"),
    Op.ATAN2: _t("math.atan2({0}, {1})"),
    Op.SINH: _t("math.sinh({0})"),
    Op.COSH: _t("math.cosh({0})"),
    Op.TANH: _t("math.tanh({0})"),
    Op.ASINH: _t("math.asinh({0})"),
    Op.ACOSH: _t("math.acosh({0})"),
    Op.ATANH: _t("math.atanh({0})"),
    Op.HYPOT: _t("math.hypot({0}, {1})"),
    # np.maximum / np.minimum propagate NaN (Python's max and min do not)
    Op.MAX: _t("np.maximum({0}, {1})"),
    Op.MIN: _t("np.minimum({0}, {1})"),
    Op.ERF: _t("math.erf({0})"),
    Op.ERFC: _t("math.erfc({0})"),
    Op.LGAMMA: _t("math.lgamma({0})"),
    Op.GAMMA: _t("math.gamma({0})"),
    Op.DIGAMMA: _t("_sn_digamma({0})", "_sn_digamma"),
    Op.POLYGAMMA: _t("_sn_polygamma({0}, {1})", "_sn_polygamma"),
    Op.REAL: _t("{0}"),
    Op.IMAG: _t("0.0"),
    Op.CONJ: _t("{0}"),
    Op.ISNAN: _flag("math.isnan({0})"),
    Op.ISINF: _flag("math.isinf({0})"),
    Op.ISFINITE: _flag("math.isfinite({0})"),
    Op.LT: _flag("{0} < {1}"),
    Op.LE: _flag("{0} <= {1}"),
    Op.GT: _flag("{0} > {1}"),
    Op.GE: _flag("{0} >= {1}"),
    Op.EQ: _flag("{0} == {1}"),
    Op.NE: _flag("{0} != {1}"),
    Op.NOT: _flag("{0} == 0.0"),
    Op.AND: _flag("{0} != 0.0 and {1} != 0.0"),
    Op.OR: _flag("{0} != 0.0 or {1} != 0.0"),
    Op.XOR: _flag("({0} != 0.0) != ({1} != 0.0)"),
    Op.SELECT: _t("{1} if {0} != 0.0 else {2}"),
}

#: Templates for ops with at least one complex argument: the real table with the
#: entries that differ; an op absent here and marked None cannot be emitted.
COMPLEX: dict[Op, Template | None] = {
    **REAL,
    Op.DIV: _t("_sn_cdiv({0}, {1})", "_sn_cdiv"),
    Op.POW: _t("_sn_cpow({0}, {1})", "_sn_cpow"),
    Op.SQRT: _t("cmath.sqrt({0})"),
    Op.EXP: _t("cmath.exp({0})"),
    Op.EXP2: _t("np.exp2({0})"),
    Op.EXPM1: _t("np.expm1({0})"),
    Op.LOG: _t("cmath.log({0})"),
    Op.LOG2: _t("np.log2({0})"),
    Op.LOG10: _t("cmath.log10({0})"),
    Op.LOG1P: _t("np.log1p({0})"),
    Op.SIN: _t("cmath.sin({0})"),
    Op.COS: _t("cmath.cos({0})"),
    Op.TAN: _t("cmath.tan({0})"),
    Op.ASIN: _t("cmath.asin({0})"),
    Op.ACOS: _t("cmath.acos({0})"),
    Op.ATAN: _t("cmath.atan({0})"),
    Op.SINH: _t("cmath.sinh({0})"),
    Op.COSH: _t("cmath.cosh({0})"),
    Op.TANH: _t("cmath.tanh({0})"),
    Op.ASINH: _t("cmath.asinh({0})"),
    Op.ACOSH: _t("cmath.acosh({0})"),
    Op.ATANH: _t("cmath.atanh({0})"),
    Op.REAL: _t("{0}.real"),
    Op.IMAG: _t("{0}.imag"),
    Op.CONJ: _t("{0}.conjugate()"),
    Op.ISNAN: _flag("cmath.isnan({0})"),
    Op.ISINF: _flag("cmath.isinf({0})"),
    Op.ISFINITE: _flag("cmath.isfinite({0})"),
    # NumPy orders complex numbers lexicographically
    Op.LT: _flag("{0}.real < {1}.real or ({0}.real == {1}.real and {0}.imag < {1}.imag)"),
    Op.LE: _flag("{0}.real < {1}.real or ({0}.real == {1}.real and {0}.imag <= {1}.imag)"),
    Op.GT: _flag("{0}.real > {1}.real or ({0}.real == {1}.real and {0}.imag > {1}.imag)"),
    Op.GE: _flag("{0}.real > {1}.real or ({0}.real == {1}.real and {0}.imag >= {1}.imag)"),
    # undefined for complex numbers in NumPy too, or real-only special functions
    **dict.fromkeys(
        (
            Op.FLOOR, Op.CEIL, Op.CBRT, Op.ATAN2, Op.HYPOT, Op.MAX, Op.MIN, Op.ERF,
            Op.ERFC, Op.LGAMMA, Op.GAMMA, Op.DIGAMMA, Op.POLYGAMMA,
        )
    ),
}  # fmt: skip

#: Ops whose result is real even when an argument is complex.
REAL_VALUED = frozenset(
    {Op.ABS, Op.REAL, Op.IMAG, Op.ISNAN, Op.ISINF, Op.ISFINITE} | ir.COMPARISONS | ir.LOGICAL
)

assert set(REAL) == set(Op), "every op needs a numba template"  # noqa: S101
assert set(COMPLEX) == set(Op), "every op needs a complex entry"  # noqa: S101

#: Names the generated module binds at top level; no local may shadow them.
_GLOBALS = (
    "math", "cmath", "np", "numba", "_sn_scalar", "_sn_fill", "_sn_bulk_body", "_sn_body",
    "_sn_ShapeError",
    *_HELPERS,
)  # fmt: skip
_SCALAR_IMPORT = "from symnum.backends.numba import scalar as _sn_scalar"
_FILL_IMPORT = "from symnum.backends.numba import fill as _sn_fill"
_SHAPE_ERROR_IMPORT = "from symnum.backends.numba import ShapeError as _sn_ShapeError"
_BULK_IMPORT = "from symnum.backends.numba import bulk_body as _sn_bulk_body"
#: Bodies with more statements than this go straight to LLVM (:func:`bulk_body`) when
#: every op and dtype is one it handles.
BULK_THRESHOLD = 200
#: ... and at most this many output elements.
BULK_MAX_OUTPUTS = 256
#: Terms per line of a long ADD or MUL.
VARIADIC_CHUNK = 64
#: Outputs with more elements than this are stored with one :func:`fill` call.
FILL_THRESHOLD = 8
#: Values per :func:`fill` call (numba refuses tuples of 1000 or more).
FILL_CHUNK = 256

#: Changes when the Python-level runtime generated modules import (:func:`scalar`)
#: changes meaning, so cached machine code built against an old one is not reused.
RUNTIME_VERSION = "3"


# --------------------------------------------------------------------------------------
# Emitting


@dataclass(frozen=True)
class Source:
    """What :func:`emit` produces: the module text and what :func:`build` needs to
    turn it into a kernel. Plain data, so it pickles by value."""

    text: str
    name: str
    #: helper functions the text defines (recorded while emitting)
    needs: tuple[str, ...] = ()

    @property
    def point_name(self) -> str:
        return self.name

    @property
    def batch_name(self) -> str:
        return f"{self.name}_batch"

    @property
    def python_name(self) -> str:
        return f"{self.name}_py"


class _Names:
    """Deterministic, collision-free local names."""

    def __init__(self, reserved):
        self.used = set(reserved)

    def take(self, wanted: str) -> str:
        candidate = wanted
        while candidate in self.used:
            candidate += "_"
        self.used.add(candidate)
        return candidate


def _float_literal(value: float) -> str:
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "(-math.inf)"
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def _const_literal(value) -> str:
    if isinstance(value, complex):
        re, im = _float_literal(value.real), _float_literal(value.imag)
        return f"complex({re}, {im})"
    return _float_literal(value)


def _index(shape: tuple[int, ...], flat: int, lead: str | None = None) -> str:
    """``[i, j]``-style subscript of element ``flat`` (C order) of an array of
    ``shape``, after an optional leading batch index ``lead``."""
    digits = []
    for extent in reversed(shape):
        digits.append(str(flat % extent))
        flat //= extent
    parts = ([lead] if lead is not None else []) + digits[::-1]
    return "[" + ", ".join(parts) + "]" if parts else "[()]"


class _Emitter:
    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.needs: set[str] = set()
        self.imports: set[str] = set()
        # the kernels are module globals: a function called "np" must not shadow numpy
        self.kname = _Names(_GLOBALS).take(fn.name)
        kernels = (self.kname, *(f"{self.kname}_{k}" for k in ("batch", "py", "call")))
        self.names = _Names((*_GLOBALS, *kernels))
        self.arg = {p.name: self.names.take(p.name) for p in fn.params}
        self.complex_params = {p.name for p in fn.params if p.dtype == "complex128"}
        self.complex_vars: set[int] = set()
        self.var: dict[int, str] = {}
        self.elem: dict[tuple[str, int], str] = {}
        # loop variables of the batch kernel
        self.i = self.names.take("i")
        self.n = self.names.take("n")
        for stmt in fn.body:
            for atom in stmt.args:
                self._register(atom)
            self.var[stmt.target] = self.names.take(f"t{stmt.target}")
        self.leaves = list(ir.iter_outputs(fn.outputs))
        for leaf in self.leaves:
            if not isinstance(leaf, Output):
                msg = "the numba backend compiles flat functions: apply ir.split_closures"
                raise ir.IRError(msg)
            for atom in leaf.atoms:
                self._register(atom)
        # shape-() outputs need an array only in the batch kernel
        self.out = [self.names.take(f"out{k}") for k in range(len(self.leaves))]

    def _register(self, atom) -> None:
        if isinstance(atom, Elem) and (atom.param, atom.index) not in self.elem:
            self.elem[(atom.param, atom.index)] = ""

    # atoms ---------------------------------------------------------------------------

    def atom(self, atom) -> str:
        if isinstance(atom, Var):
            return self.var[atom.id]
        if isinstance(atom, Elem):
            return self.elem[(atom.param, atom.index)]
        return _const_literal(atom.value)

    def is_complex(self, atom) -> bool:
        if isinstance(atom, Var):
            return atom.id in self.complex_vars
        if isinstance(atom, Elem):
            return atom.param in self.complex_params
        return isinstance(atom.value, complex)

    # statements ----------------------------------------------------------------------

    def statement(self, stmt: ir.Assign) -> list[str]:
        has_complex = any(self.is_complex(a) for a in stmt.args)
        if stmt.op is Op.SELECT:
            has_complex = any(self.is_complex(a) for a in stmt.args[1:])
            # the condition only needs to compare with zero, which complex supports
        template = (COMPLEX if has_complex else REAL)[stmt.op]
        if stmt.op is Op.POW and self._small_power(stmt.args[1]):
            template = REAL[Op.POW]  # x ** 3 is right for complex x too
        if template is None:
            raise UnsupportedOpError(stmt.op, name, "numba has no version for complex arguments")
        if has_complex and stmt.op not in REAL_VALUED:
            self.complex_vars.add(stmt.target)
        args = [self.atom(a) for a in stmt.args]
        if stmt.op is Op.POW:
            args[1] = self._exponent(stmt.args[1])
        elif stmt.op is Op.POLYGAMMA:
            args[0] = self._order(stmt.args[0])
        self.needs.update(template.needs)
        target = self.var[stmt.target]
        if not template.variadic or len(args) <= VARIADIC_CHUNK:
            return [f"{target} = {template.render(args)}"]
        # A long sum or product is accumulated in slices: one expression of thousands
        # of terms overflows Python's compiler stack. Same left-to-right order.
        lines = [f"{target} = {template.render(args[:VARIADIC_CHUNK])}"]
        for start in range(VARIADIC_CHUNK, len(args), VARIADIC_CHUNK):
            chunk = [target, *args[start : start + VARIADIC_CHUNK]]
            lines.append(f"{target} = {template.render(chunk)}")
        return lines

    @staticmethod
    def _small_power(atom) -> bool:
        # A small non-negative integer power compiles to multiplications; a negative
        # one stays a float power, as numba's integer power raises ZeroDivisionError
        # on a zero base instead of returning inf.
        return (
            isinstance(atom, Const)
            and isinstance(atom.value, float)
            and atom.value.is_integer()
            and 0 <= atom.value <= 64
        )

    def _exponent(self, atom) -> str:
        return str(int(atom.value)) if self._small_power(atom) else self.atom(atom)

    @staticmethod
    def _order(atom) -> str:
        value = atom.value if isinstance(atom, Const) else None
        if not (isinstance(value, float) and value.is_integer() and value >= 0):
            raise UnsupportedOpError(
                Op.POLYGAMMA, name, "the order must be a constant non-negative integer"
            )
        return str(int(value))

    # whole function ------------------------------------------------------------------

    def emit(self) -> Source:
        fn = self.fn
        # name element locals in parameter order, then index order
        order = {p.name: k for k, p in enumerate(fn.params)}
        self.elem_order = sorted(self.elem, key=lambda key: (order[key[0]], key[1]))
        for param, index in self.elem_order:
            self.elem[(param, index)] = self.names.take(f"{self.arg[param]}_{index}")
        self.bulk = _bulk_eligible(fn)
        if self.bulk:
            body = []
            self.imports.add(_BULK_IMPORT)
        else:
            body = [line for stmt in fn.body for line in self.statement(stmt)]
        point = self._point(body)
        batch = self._batch(body)
        python = self._python()
        helpers = self._helper_sources()
        header = [
            f'"""numba kernels for {fn.name}, generated by symnum; do not edit."""',
            "",
            "import cmath",
            "import math",
            "",
            "import numba",
            "import numpy as np",
            *sorted(self.imports),
            "",
        ]
        parts = ["\n".join(header), *helpers]
        if self.bulk:
            parts.append(self._bulk_body())
        parts += [point, batch]
        parts.append(python or self._call())
        text = "\n\n".join(part.strip("\n") + "\n" for part in parts)
        return Source(text, self.kname, tuple(sorted(self.needs)))

    def _signature(self) -> str:
        return ", ".join(self.arg[p.name] for p in self.fn.params)

    def _checks(self, batch: bool) -> list[str]:
        """Shape checks: kernels called from njit code get no other validation, and
        must never read past an array."""
        lines = []
        offset = 1 if batch else 0
        for p in self.fn.params:
            arg = self.arg[p.name]
            dims = [f"{arg}.shape[{axis + offset}]" for axis in range(len(p.shape))]
            tests = [f"{dim} != {extent}" for dim, extent in zip(dims, p.shape, strict=True)]
            if batch and p is not self.fn.params[0]:
                tests.append(f"{arg}.shape[0] != {self.n}")
            if not tests:
                continue
            lines.append(f"    if {' or '.join(tests)}:")
            where = f"argument {p.name!r} of {self.fn.name}()"
            if batch:
                shape = ", ".join(["n", *map(str, p.shape)]) + ("," if not p.shape else "")
                msg = f"{where} must have shape ({shape}) in a batch"
                lines.append(f"        raise ValueError({msg!r})")
                continue
            self.imports.add(_SHAPE_ERROR_IMPORT)
            msg = f"{where} must have shape {p.shape}, got shape"
            lines += [
                "        raise _sn_ShapeError(",
                f"            {msg!r}, {arg}.shape",
                "        )",
            ]
        return lines

    def _unpack(self, batch: bool, indent: str) -> list[str]:
        lines = []
        params = {p.name: p for p in self.fn.params}
        for param, index in self.elem_order:
            p, arg, local = params[param], self.arg[param], self.elem[(param, index)]
            if not batch and not p.shape:
                # a 0-d array or, from njit code, a plain number
                self.imports.add(_SCALAR_IMPORT)
                lines.append(f"{indent}{local} = _sn_scalar({arg})")
            else:
                sub = _index(p.shape, index, self.i if batch else None)
                lines.append(f"{indent}{local} = {arg}{sub}")
        return lines

    def _alloc(self, batch: bool, scalars: bool = False) -> list[str]:
        lines = []
        for leaf, out in zip(self.leaves, self.out, strict=True):
            if not batch and not leaf.shape and not scalars:
                continue
            dims = [self.n] if batch else []
            dims += [str(extent) for extent in leaf.shape]
            shape = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
            dtype = "np.complex128" if leaf.dtype == "complex128" else "np.float64"
            lines.append(f"    {out} = np.empty({shape}, {dtype})")
        return lines

    def _fill(self, batch: bool, indent: str) -> list[str]:
        lines = []
        for leaf, out in zip(self.leaves, self.out, strict=True):
            if not batch and not leaf.shape:
                continue
            if leaf.size > FILL_THRESHOLD:
                # one call storing a tuple: numba types and lowers an indexed store
                # statement by statement, slowly, which dominates the compile time of
                # large outputs (Hessians)
                self.imports.add(_FILL_IMPORT)
                for start in range(0, leaf.size, FILL_CHUNK):
                    chunk = leaf.atoms[start : start + FILL_CHUNK]
                    offset = f"{self.i} * {leaf.size} + {start}" if batch else str(start)
                    values = ", ".join(self.atom(atom) for atom in chunk)
                    lines.append(f"{indent}_sn_fill({out}, {offset}, ({values},))")
                continue
            for flat, atom in enumerate(leaf.atoms):
                sub = _index(leaf.shape, flat, self.i if batch else None)
                lines.append(f"{indent}{out}{sub} = {self.atom(atom)}")
        return lines

    def _result(self, batch: bool) -> str:
        def value(leaf, out):
            if batch or leaf.shape:
                return out
            return f"{out}[()]" if self.bulk else self.atom(leaf.atoms[0])

        values = iter(value(leaf, out) for leaf, out in zip(self.leaves, self.out, strict=True))
        return _render_tree(self.fn.outputs, values)

    def _bulk_body(self) -> str:
        """The body as data for :func:`bulk_body` (see there for the encoding)."""
        position = {p.name: k for k, p in enumerate(self.fn.params)}

        def code(atom) -> str:
            if isinstance(atom, Var):
                return str(atom.id)
            if isinstance(atom, Elem):
                return f"({position[atom.param]}, {atom.index})"
            return _const_literal(atom.value)

        statements = [
            f"    ({s.op.value!r}, {s.target}, ({''.join(code(a) + ', ' for a in s.args)})),"
            for s in self.fn.body
        ]
        outputs = [f"    ({''.join(code(a) + ', ' for a in leaf.atoms)})," for leaf in self.leaves]
        shapes = ", ".join(repr(tuple(p.shape)) for p in self.fn.params)
        return "\n".join(
            [
                "# The body, compiled statement by statement straight to LLVM (numba's own",
                "# front end costs milliseconds per statement). Statements: (op, target,",
                "# arguments); an argument is a variable number, (parameter, flat index) or",
                "# a float constant. Then the atoms of each output, flat in C order.",
                f"_sn_body = _sn_bulk_body(({shapes}{',' if len(self.fn.params) == 1 else ''}), (",
                *statements,
                "), (",
                *outputs,
                "))",
            ]
        )

    def _bulk_call(self, batch: bool, indent: str) -> list[str]:
        args = _tuple_text(self.arg[p.name] for p in self.fn.params)
        index = self.i if batch else "0"
        return [f"{indent}_sn_body({args}, {_tuple_text(self.out)}, {index})"]

    def _point(self, body: list[str]) -> str:
        lines = [f"@numba.njit({JIT_OPTIONS})", f"def {self.kname}({self._signature()}):"]
        lines += self._checks(batch=False)
        if self.bulk:
            lines += self._alloc(batch=False, scalars=True)
            lines += self._bulk_call(batch=False, indent="    ")
            lines.append(f"    return {self._result(batch=False)}")
            return "\n".join(lines)
        lines += self._unpack(batch=False, indent="    ")
        lines += ["    " + line for line in body]
        lines += self._alloc(batch=False)
        lines += self._fill(batch=False, indent="    ")
        lines.append(f"    return {self._result(batch=False)}")
        return "\n".join(lines)

    def _batch(self, body: list[str]) -> str:
        fn = self.fn
        lines = [f"@numba.njit({BATCH_OPTIONS})", f"def {self.kname}_batch({self._signature()}):"]
        first = self.arg[fn.params[0].name] if fn.params else None
        lines.append(f"    {self.n} = {first}.shape[0]" if first else f"    {self.n} = 1")
        lines += self._checks(batch=True)
        lines += self._alloc(batch=True)
        lines.append(f"    for {self.i} in range({self.n}):")
        if self.bulk:
            lines += self._bulk_call(batch=True, indent="        ")
            lines.append(f"    return {self._result(batch=True)}")
            return "\n".join(lines)
        inner = self._unpack(batch=True, indent="        ")
        inner += ["        " + line for line in body]
        inner += self._fill(batch=True, indent="        ")
        lines += inner or ["        pass"]
        lines.append(f"    return {self._result(batch=True)}")
        return "\n".join(lines)

    def _call(self) -> str:
        """The point kernel behind a star-argument signature, for calls from Python
        (see :func:`_direct_call`): a call with the wrong number of arguments then
        reaches the function's checks instead of failing inside numba's dispatcher."""
        return "\n".join(
            [
                f"@numba.njit({JIT_OPTIONS})",
                f"def {self.kname}_call(*args):",
                f"    return {self.kname}(*args)",
            ]
        )

    def _python(self) -> str:
        """A Python wrapper turning shape-() outputs into NumPy scalars; '' if none."""
        if all(leaf.shape for leaf in self.leaves):
            return ""
        results = [f"r{k}" for k in range(len(self.leaves))]
        target = _render_tree(self.fn.outputs, iter(results))
        wrapped = []
        for leaf, r in zip(self.leaves, results, strict=True):
            if leaf.shape:
                wrapped.append(r)
            else:
                scalar = "np.complex128" if leaf.dtype == "complex128" else "np.float64"
                wrapped.append(f"{scalar}({r})")
        value = _render_tree(self.fn.outputs, iter(wrapped))
        sig = self._signature()
        return "\n".join(
            [
                f"def {self.kname}_py({sig}):",
                f"    {target} = {self.kname}({sig})",
                f"    return {value}",
            ]
        )

    def _helper_sources(self) -> list[str]:
        wanted: set[str] = set()

        def add(helper):
            if helper not in wanted:
                wanted.add(helper)
                for dep in _HELPERS[helper][0]:
                    add(dep)

        for helper in self.needs:
            add(helper)
        self.needs = wanted
        # definition order of _HELPERS puts dependencies first
        return [_HELPERS[h][1].format(opts=JIT_OPTIONS) for h in _HELPERS if h in wanted]


def _tuple_text(items) -> str:
    return "(" + "".join(f"{item}, " for item in items).rstrip(" ") + ")"


def _render_tree(tree, values) -> str:
    if isinstance(tree, tuple):
        items = [_render_tree(sub, values) for sub in tree]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return next(values)


def emit(fn: ir.Function) -> Source:
    """Source of the numba kernels for the flat function ``fn`` (see the module
    docstring). Deterministic: the same IR always gives the same text. Raises
    :class:`~symnum.backends.UnsupportedOpError` for an op numba cannot express."""
    ir.check(fn)
    return _Emitter(fn).emit()


# --------------------------------------------------------------------------------------
# Large bodies: straight to LLVM

#: Ops :func:`bulk_body` compiles, on float64 values: op -> ``math`` function or None
#: for the ones it writes as LLVM instructions.
BULK_OPS: dict[Op, object] = {
    Op.ADD: None, Op.SUB: None, Op.MUL: None, Op.DIV: None, Op.NEG: None, Op.POW: None,
    Op.REAL: None, Op.IMAG: None, Op.CONJ: None,
    Op.ABS: math.fabs, Op.SQRT: math.sqrt, Op.EXP: math.exp, Op.EXPM1: math.expm1,
    Op.LOG: math.log, Op.LOG2: math.log2, Op.LOG10: math.log10, Op.LOG1P: math.log1p,
    Op.SIN: math.sin, Op.COS: math.cos, Op.TAN: math.tan, Op.ASIN: math.asin,
    Op.ACOS: math.acos, Op.ATAN: math.atan, Op.SINH: math.sinh, Op.COSH: math.cosh,
    Op.TANH: math.tanh, Op.ASINH: math.asinh, Op.ACOSH: math.acosh, Op.ATANH: math.atanh,
    Op.ERF: math.erf, Op.ERFC: math.erfc, Op.LGAMMA: math.lgamma, Op.GAMMA: math.gamma,
    Op.ATAN2: math.atan2, Op.HYPOT: math.hypot,
}  # fmt: skip


def _bulk_eligible(fn: ir.Function) -> bool:
    """Whether ``fn`` is large enough to be worth :func:`bulk_body`, and within it."""
    leaves = list(ir.iter_outputs(fn.outputs))
    return (
        len(fn.body) > BULK_THRESHOLD
        # LLVM itself is slow on thousands of stores in the batch loop; there the
        # statement path (with fill) compiles faster
        and sum(leaf.size for leaf in leaves) <= BULK_MAX_OUTPUTS
        and all(p.dtype == "float64" for p in fn.params)
        and all(leaf.dtype == "float64" for leaf in leaves)
        and all(
            stmt.op in BULK_OPS
            and not any(isinstance(a, Const) and isinstance(a.value, complex) for a in stmt.args)
            for stmt in fn.body
        )
    )


def bulk_body(shapes, statements, outputs):
    """A numba intrinsic computing a whole function body, for large bodies.

    numba's front end (typing, then lowering statement by statement) costs a few
    milliseconds per statement, which makes bodies of thousands of statements take
    minutes to compile. This intrinsic is typed once and writes the LLVM instructions
    itself: arithmetic directly, the ``math`` functions through numba's own lowering
    (so results are the same as for the statement-by-statement path).

    ``shapes`` are the parameters' shapes; ``statements`` are ``(op value, target,
    arguments)``, an argument being a variable number (int), a ``(parameter position,
    flat index)`` pair or a float constant; ``outputs`` holds the atoms of each output.
    The intrinsic is called as ``body(params, outs, i)`` with tuples of arrays (any
    layout; a plain number for a shape-() parameter); an array with one more dimension
    than its shape is indexed at ``i`` on its leading axis (the batch kernel's loop).
    """
    import operator  # noqa: PLC0415

    from llvmlite import ir as llvm  # noqa: PLC0415
    from numba.core import cgutils, types  # noqa: PLC0415
    from numba.core.typing import signature  # noqa: PLC0415
    from numba.extending import intrinsic  # noqa: PLC0415

    double = llvm.DoubleType()
    f64 = types.float64
    ops = [(Op(op), target, args) for op, target, args in statements]

    def multi_index(shape, flat):
        digits = []
        for extent in reversed(shape):
            digits.append(flat % extent)
            flat //= extent
        return digits[::-1]

    @intrinsic
    def body(typingctx, params, outs, i):
        if not isinstance(params, types.BaseTuple) or not isinstance(outs, types.BaseTuple):
            return None

        def codegen(context, builder, sig, args):
            param_types, out_types, index_type = sig.args
            index = context.cast(builder, args[2], index_type, types.intp)
            param_values = cgutils.unpack_tuple(builder, args[0], len(param_types))
            out_values = cgutils.unpack_tuple(builder, args[1], len(out_types))

            def pointer(array_type, value, shape, flat):
                array = context.make_array(array_type)(context, builder, value)
                inds = [context.get_constant(types.intp, d) for d in multi_index(shape, flat)]
                if array_type.ndim == len(shape) + 1:
                    inds.insert(0, index)
                return cgutils.get_item_pointer(
                    context, builder, array_type, array, inds, wraparound=False
                )

            elements: dict = {}

            def element(position, flat):
                if (position, flat) not in elements:
                    ty, value = param_types[position], param_values[position]
                    if isinstance(ty, types.Array):
                        value = builder.load(pointer(ty, value, shapes[position], flat))
                        ty = ty.dtype
                    elements[position, flat] = context.cast(builder, value, ty, f64)
                return elements[position, flat]

            values: dict = {}

            def atom(a):
                if isinstance(a, int):
                    return values[a]
                if isinstance(a, tuple):
                    return element(*a)
                return llvm.Constant(double, a)

            for op, target, raw in ops:
                xs = [atom(a) for a in raw]
                if op is Op.ADD:
                    result = xs[0]
                    for x in xs[1:]:
                        result = builder.fadd(result, x)
                elif op is Op.MUL:
                    result = xs[0]
                    for x in xs[1:]:
                        result = builder.fmul(result, x)
                elif op is Op.SUB:
                    result = builder.fsub(xs[0], xs[1])
                elif op is Op.DIV:
                    result = builder.fdiv(xs[0], xs[1])
                elif op is Op.NEG:
                    result = builder.fneg(xs[0])
                elif op in (Op.REAL, Op.CONJ):
                    result = xs[0]
                elif op is Op.IMAG:
                    result = llvm.Constant(double, 0.0)
                elif op is Op.POW:
                    exponent = raw[1]
                    if (
                        isinstance(exponent, float)
                        and exponent.is_integer()
                        and 0 <= exponent <= 64
                    ):
                        # the same integer power as the statement path's x ** 3
                        sig_ = signature(f64, f64, types.int64)
                        xs[1] = context.get_constant(types.int64, int(exponent))
                    else:
                        sig_ = signature(f64, f64, f64)
                    result = context.get_function(operator.pow, sig_)(builder, xs)
                else:
                    function = BULK_OPS[op]
                    sig_ = signature(f64, *([f64] * len(xs)))
                    result = context.get_function(function, sig_)(builder, xs)
                values[target] = result

            # outputs are C-contiguous arrays the kernel allocated, (n, *shape) in the
            # batch kernel: element ``flat`` of row ``i`` is at ``i * size + flat``
            for out_type, out_value, atoms in zip(out_types, out_values, outputs, strict=True):
                data = context.make_array(out_type)(context, builder, out_value).data
                base = builder.mul(index, context.get_constant(types.intp, len(atoms)))
                for flat, a in enumerate(atoms):
                    offset = builder.add(base, context.get_constant(types.intp, flat))
                    value = context.cast(builder, atom(a), f64, out_type.dtype)
                    builder.store(value, builder.gep(data, [offset]))
            return context.get_dummy_value()

        return types.none(params, outs, i), codegen

    return body


# --------------------------------------------------------------------------------------
# Building


class Kernel:
    """A compiled function: ``point`` and ``batch`` follow the contract of
    :mod:`symnum.backends`; ``njit`` is the point kernel's numba dispatcher, which
    ``@numba.njit`` code can call (``njit_batch`` likewise for the batch kernel)."""

    __slots__ = (
        "__weakref__", "batch", "call", "direct_class", "module", "njit", "njit_batch",
        "numerics", "point", "source",
    )  # fmt: skip

    def __init__(self, source: Source, module):
        self.source = source
        self.module = module
        self.njit = getattr(module, source.point_name)
        self.njit_batch = getattr(module, source.batch_name)
        self.batch = self.njit_batch
        self.point = getattr(module, source.python_name, self.njit)
        #: the star-argument version of njit, when point is njit (see _direct_call)
        self.call = getattr(module, f"{source.name}_call", None)
        # set by wrap(): the NumericFunctions (weakly) whose checks take unexpected
        # Python calls of njit (all equivalent: they share this source), and the
        # class of such functions calling njit directly
        self.numerics = weakref.WeakSet()
        self.direct_class = None

    def __reduce__(self):
        return build, (self.source,)

    def __repr__(self) -> str:
        return f"<numba kernel {self.source.name}>"


_kernels: weakref.WeakValueDictionary[str, Kernel] = weakref.WeakValueDictionary()
_lock = threading.Lock()
MODULE_FILE = "kernel.py"


def cache_key(source: Source) -> str:
    """The cache key of ``source``: its text and everything numba's output depends on."""
    numba = _require_numba()
    import llvmlite  # noqa: PLC0415 - comes with numba

    return cache.make_key(
        source.text,
        "numba",
        RUNTIME_VERSION,
        numba.__version__,
        llvmlite.__version__,
        np.__version__,
        sys.implementation.cache_tag or "",
        platform.machine(),
        sys.platform,
    )


def build(source: Source) -> Kernel:
    """Write ``source`` into the cache as a module, import it and return its kernel.

    Compilation is lazy (numba compiles on the first call for the argument types it
    sees) and cached on disk next to the module, so another process importing the same
    entry loads machine code instead of compiling.
    """
    _require_numba()
    key = cache_key(source)
    with _lock:
        kernel = _kernels.get(key)
        if kernel is not None:
            return kernel
        directory = cache.entry(
            "numba", key, lambda d: (d / MODULE_FILE).write_text(source.text, encoding="utf-8")
        )
        module_name = f"_symnum_numba_{key[:32]}"
        module = _import_file(module_name, directory / MODULE_FILE)
        _tolerate_damaged_cache(module)
        kernel = Kernel(source, module)
        weakref.finalize(kernel, _release, module_name, module)
        _kernels[key] = kernel
        return kernel


def _import_file(module_name: str, path):
    """Import the module at ``path`` as ``module_name``.

    numba finds a function's module through ``sys.modules`` when it compiles and when it
    loads cached machine code (a function whose module it cannot find is compiled as
    "dynamic" and its cache entry cannot be loaded elsewhere), so the module stays
    registered while its kernel lives; :func:`_release` removes it, keeping
    ``sys.modules`` bounded by the live kernels.
    """
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


_tolerant_cache: list[type] = []


def _tolerate_damaged_cache(module) -> None:
    """Give every dispatcher of ``module`` an on-disk cache that treats a damaged file
    (truncated, empty, garbage) in the entry's ``__pycache__`` as a miss: numba's own
    raises, which would make the function unusable until someone deletes the file."""
    if not _tolerant_cache:
        from numba.core.caching import FunctionCache  # noqa: PLC0415

        class TolerantCache(FunctionCache):
            def load_overload(self, sig, target_context):
                try:
                    return super().load_overload(sig, target_context)
                except Exception:  # noqa: BLE001 - any damage means: compile again
                    # an empty index; the next save overwrites the data files
                    with contextlib.suppress(OSError):
                        self._cache_file.flush()
                    return None

        _tolerant_cache.append(TolerantCache)
    for value in vars(module).values():
        if type(getattr(value, "_cache", None)).__name__ == "FunctionCache":
            value._cache = _tolerant_cache[0](value.py_func)


def _release(module_name: str, module) -> None:
    """Unregister a kernel's module once the kernel is gone.

    Its dispatchers may still be held elsewhere (``kernel.njit`` in user code); they keep
    working, but a compilation for new argument types would no longer find the module,
    so their on-disk caching is switched off rather than let them write entries other
    processes could not load.
    """
    if sys.modules.get(module_name) is module:
        del sys.modules[module_name]
    from numba.core.caching import NullCache  # noqa: PLC0415

    for value in vars(module).values():
        if hasattr(value, "_cache") and hasattr(value, "py_func"):
            value._cache = NullCache()


# --------------------------------------------------------------------------------------
# Calling from users' njit code


_registered_types: set[type] = set()


def register_jit_type(cls: type, dispatcher_of) -> None:
    """Let ``@numba.njit`` code call instances of ``cls`` (as globals, closure variables
    or arguments): numba types an instance as the dispatcher ``dispatcher_of(instance)``
    returns, so a call compiles to a direct call of the generated point kernel.

    ``dispatcher_of`` returns ``None`` for instances that have no numba kernel; numba
    then reports that it cannot type the object.
    """
    numba = _require_numba()
    if cls in _registered_types:
        return
    from numba.extending import typeof_impl  # noqa: PLC0415

    @typeof_impl.register(cls)
    def _typeof(value, context):
        dispatcher = dispatcher_of(value)
        if dispatcher is None:
            return None
        return numba.core.types.Dispatcher(dispatcher)

    _registered_types.add(cls)


# --------------------------------------------------------------------------------------
# The NumericFunction hook (see symnum.codegen): calls from Python and from njit code

_numba_classes: dict[type, type] = {}


def _dispatcher_of(numeric):
    """The point kernel's dispatcher of a numba-backed function without closures."""
    kernel = getattr(numeric, "_kernel", None)
    if not isinstance(kernel, Kernel) or any(c is not None for c in numeric._closures):
        return None
    return kernel.njit


def _numba_class(base: type) -> type:
    """The subclass of ``base`` (NumericFunction) that :func:`wrap` returns instances of."""
    cls = _numba_classes.get(base)
    if cls is None:

        def njit(self):
            """The numba dispatcher of the point kernel: call it from ``@numba.njit`` code
            (calling the function object itself there works too). ``None`` for functions
            returning closures."""
            return _dispatcher_of(self)

        def njit_batch(self):
            """The numba dispatcher of the batch kernel (one extra leading axis)."""
            return None if _dispatcher_of(self) is None else self._kernel.njit_batch

        cls = type(base.__name__, (base,), {
            "__slots__": (),
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "njit": property(njit),
            "njit_batch": property(njit_batch),
            "_symnum_numba_subclass": True,
        })  # fmt: skip
        _numba_classes[base] = cls
    return cls


class _SlowCall:
    """What a kernel's dispatcher returns for arguments the compiled kernel must not
    take directly (lists, other dtypes or ranks, batches): the function's checked path."""

    __slots__ = ("numeric",)

    def __init__(self, numeric):
        self.numeric = numeric

    def __call__(self, packed):
        # numba folds the arguments of a ``*args`` function into one tuple
        return self.numeric._call_slow(packed)


def _direct_call(kernel: Kernel) -> bool:
    """Route Python calls of a function straight into ``kernel.njit``, if possible.

    ``kernel.call`` is the point kernel behind ``*args`` (so any number of arguments
    reaches it). numba's dispatcher looks up the compiled specialisation for the
    argument types in C
    and calls ``_compile_for_args`` only when none matches; that method returns the
    callable to run. Overriding it on the dispatcher sends every call numba would have
    to compile for (a list, a float32 or batched array, a missing or wrong argument...)
    to the checked slow path of the function (any of ``kernel.numerics``), and compiles only for
    arrays of the parameters' dtypes and ranks, so exact calls run without any Python in
    between. Only for functions whose outputs are all arrays: scalars need converting
    to ``numpy.float64``, which the compiled kernel cannot return.
    """
    dispatcher = kernel.call
    if dispatcher is None or not hasattr(type(dispatcher), "_compile_for_args"):
        return False
    if "_compile_for_args" in vars(dispatcher):
        return True
    compile_for_args = dispatcher._compile_for_args

    def _compile_for_args(*folded, **kws):
        target = next(iter(kernel.numerics), None)
        if target is None or len(folded) != 1:
            return compile_for_args(*folded, **kws)
        (args,) = folded  # the ``*args`` tuple
        params = target.params
        exact = (
            not kws
            and len(args) == len(params)
            and all(
                type(a) is np.ndarray and a.ndim == len(p.shape) and a.dtype == p.dtype
                for a, p in zip(args, params, strict=True)
            )
        )
        return compile_for_args(*folded, **kws) if exact else _SlowCall(target)

    dispatcher._compile_for_args = _compile_for_args
    return True


def wrap(numeric):
    """The :mod:`symnum.codegen` hook, applied to every numba-backed NumericFunction.

    Returns the function as an instance of a subclass that

    * numba can type: ``@numba.njit`` code may call the function object itself (as a
      global, closure variable or argument), which compiles to a direct call of the
      generated point kernel (arrays in, arrays and floats out);
    * has ``njit`` / ``njit_batch`` attributes giving the kernels' dispatchers;
    * for functions whose outputs are all arrays (gradients, Jacobians, Hessians), is
      called from Python straight through numba's dispatcher, with no Python frame;
      anything that is not an exact single point goes to the usual checks.
    """
    base = type(numeric)
    while base.__dict__.get("_symnum_numba_subclass"):
        base = base.__base__
    register_jit_type(base, _dispatcher_of)
    cls = _numba_class(base)
    kernel = numeric._kernel
    if _dispatcher_of(numeric) is not None and _direct_call(kernel):
        if kernel.direct_class is None:
            kernel.direct_class = type(cls.__name__, (cls,), {
                "__slots__": (),
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__call__": staticmethod(kernel.call),
                "_symnum_numba_subclass": True,
            })  # fmt: skip
        wrapped = numeric._copy_as(kernel.direct_class)
        kernel.numerics.add(wrapped)
        return wrapped
    return numeric._copy_as(cls)
