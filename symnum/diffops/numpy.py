"""Differential operators returning numeric functions.

Each operator here is its symbolic counterpart in :mod:`symnum.diffops.symbolic`
followed by :func:`symnum.codegen.numpify_func`; one shared core, :func:`_numeric`,
does the argument plumbing for all of them.

Every operator accepts either

* a numeric function made by :func:`symnum.numpify` (its argument shapes, its backend
  and its symbolic function are reused; shapes may still be given), or
* a function of symbolic arrays plus the shapes of its arguments,

and the keyword arguments ``wrt=`` (index of the argument to differentiate with respect
to), ``return_aux=`` (also return the lower derivatives and the value, highest
derivative first), ``backend=`` and any other option of
:func:`symnum.codegen.generate_func`.

The operator-valued products (``jacobian_vector_product``, ``vector_jacobian_product``,
``hessian_vector_product``, ``matrix_hessian_product``, ``matrix_tressian_product``)
also take ``curried=``: by default (``curried=True``, as in SymNum 0.2.1) ``hvp(x)`` is
an operator and ``hvp(x)(v)`` the product; with ``curried=False`` the vector (or matrix)
is an ordinary argument placed right after the differentiated one, ``hvp(x, v)``, compiled
into one kernel. That is the form SciPy takes::

    hessp = symnum.hessian_vector_product(f, (n,), curried=False)
    scipy.optimize.minimize(f_num, x0, jac=grad, hessp=hessp, method="trust-ncg")

Every numeric function made here is an ordinary callable of NumPy arrays, so
``gradient`` / ``value_and_grad`` / ``hessian`` results can be passed to SciPy as
``jac=`` / ``jac=True`` (with ``fun`` the ``value_and_grad`` function) / ``hess=``, and
``jacobian`` results as the ``jac=`` of a ``scipy.optimize.NonlinearConstraint``.
"""

from __future__ import annotations

from operator import index as _index

from symnum.codegen import _symbolic_argument, numpify_func
from symnum.diffops import symbolic as _symbolic

__all__ = [
    "grad",
    "gradient",
    "hessian",
    "hessian_vector_product",
    "jacobian",
    "jacobian_vector_product",
    "matrix_hessian_product",
    "matrix_tressian_product",
    "value_and_grad",
    "vector_jacobian_product",
]

_SHAPES_DOC = """\
        *arg_shapes: Shapes of the arguments of `func` (ints or tuples, `()` or `None`
            for scalars), e.g. `(2, 2), (2, 4, 3)` for arguments of shapes `(2, 2)` and
            `(2, 4, 3)`. Optional when `func` is a numeric function made by `numpify`.
"""
_OPTIONS_DOC = """\
        backend: Backend compiling the result (`"numpy"`, `"numba"`, `"c"`, ...);
            defaults to the backend of `func` if it is a numeric function, else numpy.
        **kwargs: Further options of :py:func:`symnum.codegen.generate_func`.
"""


_CURRIED_DOC = """\
        curried: If true (the default), return the operator: ``f(*args)(v)``. If
            false, the vector (or matrix) ``v`` is an argument of the numeric function
            itself, right after the argument ``wrt`` selects: ``f(x, v, *rest)``,
            the signature of SciPy's ``hessp(x, p, *args)``. Needs an int ``wrt``.
"""

#: operator-valued symbolic operator -> (operand name, operand shape from the shapes of
#: x and of the value, or None when it is a function of x.shape only)
_OPERANDS = {
    _symbolic.jacobian_vector_product: ("v", lambda x: x, None),
    _symbolic.vector_jacobian_product: ("v", None, lambda x, val: val),
    _symbolic.hessian_vector_product: ("v", lambda x: x, None),
    _symbolic.matrix_hessian_product: ("m", None, lambda x, val: val + x),
    _symbolic.matrix_tressian_product: ("m", lambda x: x + x, None),
}


def _as_shape(shape) -> tuple[int, ...]:
    if shape is None:
        return ()
    try:
        return (_index(shape),)
    except TypeError:
        return tuple(shape)


def _uncurried(symbolic_operator, func, arg_shapes, wrt, return_aux):
    """The symbolic function ``(x, v, *rest) -> product`` of an operator-valued result,
    and its argument shapes."""
    arg_names = _symbolic._get_func_arg_names(func)
    if not arg_shapes:
        arg_shapes = tuple(getattr(func, "_arg_shapes", ()))
    if len(arg_shapes) != len(arg_names):
        msg = (
            f"Shapes must be specified for all function arguments: "
            f"{getattr(func, '__name__', func)} takes {len(arg_names)} argument(s) "
            f"{arg_names}, got {len(arg_shapes)} shape(s)"
        )
        raise ValueError(msg)
    indices, several = _symbolic._normalize_wrt(wrt, len(arg_names))
    if several:
        msg = f"curried=False needs wrt to be a single argument index, got {wrt!r}"
        raise TypeError(msg)
    position = indices[0] + 1
    base, from_x, from_x_and_value = _OPERANDS[symbolic_operator]
    x_shape = _as_shape(arg_shapes[position - 1])
    if from_x is not None:
        operand_shape = from_x(x_shape)
    else:
        # the operand is shaped like the value: trace the function (not its derivatives)
        # once to learn that shape
        traced = [_symbolic_argument(n, s) for n, s in zip(arg_names, arg_shapes, strict=True)]
        value = _symbolic._get_sympy_func(func)(*traced)
        operand_shape = from_x_and_value(x_shape, _symbolic._as_array(value).shape)
    operand_name = _symbolic._operator_arg_names(base, func, indices, several=False)[0]
    derived = symbolic_operator(func, wrt=wrt, return_aux=return_aux)

    def product(*args):
        result = derived(*args[:position], *args[position + 1 :])
        operator, aux = (result[0], result[1:]) if return_aux else (result, ())
        value = operator(args[position])
        return (value, *aux) if return_aux else value

    product.__name__ = product.__qualname__ = derived.__name__
    product.__doc__ = derived.__doc__
    product._arg_names = (*arg_names[:position], operand_name, *arg_names[position:])
    shapes = (*arg_shapes[:position], operand_shape, *arg_shapes[position:])
    return product, shapes


def _numeric(symbolic_operator):
    """The numeric version of a symbolic differential operator."""
    has_operand = symbolic_operator in _OPERANDS

    def operator(func, *arg_shapes, wrt=0, return_aux=False, backend=None, **kwargs):
        if backend is None and not kwargs.get("jit"):
            backend = getattr(func, "backend", None)
            backend = backend if isinstance(backend, str) else None
        if hasattr(func, "_sympy_func") and func._sympy_func is None:
            msg = (
                f"{func!r} has no symbolic function to differentiate (functions made by "
                "generate_func or restored from a pickle keep only their generated code); "
                "differentiate the original symbolic function instead"
            )
            raise TypeError(msg)
        curried = kwargs.pop("curried", True) if has_operand else True
        if not curried:
            derived, arg_shapes = _uncurried(symbolic_operator, func, arg_shapes, wrt, return_aux)
        elif return_aux:
            derived = symbolic_operator(func, wrt=wrt, return_aux=return_aux)
        else:
            # value_and_grad has no return_aux to pass
            derived = symbolic_operator(func, wrt=wrt)
        return numpify_func(derived, *arg_shapes, backend=backend, **kwargs)

    name = symbolic_operator.__name__
    operator.__name__ = operator.__qualname__ = name
    operator.__module__ = __name__
    doc = (symbolic_operator.__doc__ or f"Numeric {name}.").replace("symbolic", "numeric")
    doc = doc.replace("        wrt", f"{_SHAPES_DOC}        wrt", 1)
    options = f"{_CURRIED_DOC}{_OPTIONS_DOC}" if has_operand else _OPTIONS_DOC
    doc = doc.replace("\n\n    Returns", f"\n{options}\n    Returns", 1)
    operator.__doc__ = doc
    return operator


gradient = _numeric(_symbolic.gradient)
grad = gradient
value_and_grad = _numeric(_symbolic.value_and_grad)
jacobian = _numeric(_symbolic.jacobian)
hessian = _numeric(_symbolic.hessian)
jacobian_vector_product = _numeric(_symbolic.jacobian_vector_product)
vector_jacobian_product = _numeric(_symbolic.vector_jacobian_product)
hessian_vector_product = _numeric(_symbolic.hessian_vector_product)
matrix_hessian_product = _numeric(_symbolic.matrix_hessian_product)
matrix_tressian_product = _numeric(_symbolic.matrix_tressian_product)
