"""Symbolically construct NumPy functions and their derivatives, compiled to fast code.

Write a function with :mod:`symnum.numpy` (a NumPy-like API over SymPy), then ask for
``numpify(f, shape)``, ``gradient(f, shape)``, ``hessian(f, shape)``, ... : each returns a
:class:`NumericFunction` that takes NumPy arrays and runs generated code on a backend
(``"numpy"``, ``"numba"`` or ``"c"``, see :mod:`symnum.backends`).

The public names are imported on first use, so ``import symnum`` (and importing a
backend, or unpickling a numeric function in a worker) does not import SymPy.
"""

from __future__ import annotations

import importlib

__version__ = "0.3.0"

#: public name -> module defining it
_EXPORTS = {
    "numpy": "symnum.numpy",
    "backends": "symnum.backends",
    "named_array": "symnum.array",
    "data_argument": "symnum.data",
    "data_threshold": "symnum.data",
    "get_data_threshold": "symnum.data",
    "set_data_threshold": "symnum.data",
    "FunctionExpression": "symnum.array",
    "BoundClosure": "symnum.codegen",
    "NumericFunction": "symnum.codegen",
    "generate_func": "symnum.codegen",
    "numpify": "symnum.codegen",
    "numpify_func": "symnum.codegen",
    "grad": "symnum.diffops.numpy",
    "gradient": "symnum.diffops.numpy",
    "hessian": "symnum.diffops.numpy",
    "hessian_vector_product": "symnum.diffops.numpy",
    "jacobian": "symnum.diffops.numpy",
    "jacobian_vector_product": "symnum.diffops.numpy",
    "matrix_hessian_product": "symnum.diffops.numpy",
    "matrix_tressian_product": "symnum.diffops.numpy",
    "value_and_grad": "symnum.diffops.numpy",
    "vector_jacobian_product": "symnum.diffops.numpy",
}

__all__ = [
    "BoundClosure",
    "FunctionExpression",
    "NumericFunction",
    "backends",
    "data_argument",
    "data_threshold",
    "generate_func",
    "get_data_threshold",
    "grad",
    "gradient",
    "hessian",
    "hessian_vector_product",
    "jacobian",
    "jacobian_vector_product",
    "matrix_hessian_product",
    "matrix_tressian_product",
    "named_array",
    "numpify",
    "numpify_func",
    "numpy",
    "set_data_threshold",
    "value_and_grad",
    "vector_jacobian_product",
]
assert sorted(__all__) == sorted(_EXPORTS)  # noqa: S101

#: submodules reachable as attributes after a bare ``import symnum`` (as in SymNum 0.2.1,
#: which imported them eagerly), imported on first use
_SUBMODULES = {
    "array": "symnum.array",
    "codegen": "symnum.codegen",
    "data": "symnum.data",
    "diffops": "symnum.diffops",
}


def __getattr__(name: str):
    module_name = _EXPORTS.get(name) or _SUBMODULES.get(name)
    if module_name is None:
        msg = f"module 'symnum' has no attribute {name!r}"
        raise AttributeError(msg)
    module = importlib.import_module(module_name)
    value = module if module_name == f"symnum.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, *_SUBMODULES})
