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
"""

from __future__ import annotations

from symnum.codegen import numpify_func
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


def _numeric(symbolic_operator):
    """The numeric version of a symbolic differential operator."""

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
        derived = symbolic_operator(func, wrt=wrt, return_aux=return_aux)
        return numpify_func(derived, *arg_shapes, backend=backend, **kwargs)

    name = symbolic_operator.__name__
    operator.__name__ = operator.__qualname__ = name
    operator.__module__ = __name__
    doc = (symbolic_operator.__doc__ or f"Numeric {name}.").replace("symbolic", "numeric")
    doc = doc.replace("        wrt", f"{_SHAPES_DOC}        wrt", 1)
    doc = doc.replace("\n\n    Returns", f"\n{_OPTIONS_DOC}\n    Returns", 1)
    operator.__doc__ = doc
    return operator


gradient = _numeric(_symbolic.gradient)
grad = gradient
jacobian = _numeric(_symbolic.jacobian)
hessian = _numeric(_symbolic.hessian)
jacobian_vector_product = _numeric(_symbolic.jacobian_vector_product)
vector_jacobian_product = _numeric(_symbolic.vector_jacobian_product)
hessian_vector_product = _numeric(_symbolic.hessian_vector_product)
matrix_hessian_product = _numeric(_symbolic.matrix_hessian_product)
matrix_tressian_product = _numeric(_symbolic.matrix_tressian_product)
