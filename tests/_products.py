"""The operator-valued products of the README example, shared by the backends' tests:
the model, the operators by short name and reference values computed without closures."""

from __future__ import annotations

import numpy as np
import pytest

# the README's model
Y, SIGMA = np.array([1.0, 0.0]), 0.3


def forward_func(x):
    import symnum.numpy as snp

    return snp.array([[1.0, -0.5], [-0.5, 1.0]]) @ snp.array(
        [snp.cos(-(x[1] ** 2) + 3 * x[0]), snp.sin(x[0] - 1)]
    )


def neg_log_dens(x):
    import symnum.numpy as snp

    return (snp.sum((Y - forward_func(x)) ** 2 / SIGMA**2) + snp.sum(x**2)) / 2


def central_difference(f, x, step=1e-6):
    """``d f / d x[l]`` for each ``l``, stacked last."""
    columns = []
    for k in range(x.size):
        dx = np.zeros_like(x)
        dx[k] = step
        columns.append((f(x + dx) - f(x - dx)) / (2 * step))
    return np.stack(columns, axis=-1)


def reference_product(name: str, x, arg):
    """The product by other means: dense derivatives (no closures) and differences."""
    import symnum

    jac = symnum.jacobian(forward_func, (2,))
    hess = symnum.hessian(neg_log_dens, (2,))
    if name == "jvp":
        return jac(x) @ arg
    if name == "vjp":
        return arg @ jac(x)
    if name == "hvp":
        return hess(x) @ arg
    if name == "mhp":
        return central_difference(lambda y: np.sum(arg * jac(y)), x)
    return central_difference(lambda y: np.sum(arg * hess(y)), x)


PRODUCTS = {  # name -> (operator, function, shape of its argument)
    "jvp": ("jacobian_vector_product", forward_func, (2,)),
    "vjp": ("vector_jacobian_product", forward_func, (2,)),
    "hvp": ("hessian_vector_product", neg_log_dens, (2,)),
    "mhp": ("matrix_hessian_product", forward_func, (2, 2)),
    "mtp": ("matrix_tressian_product", neg_log_dens, (2, 2)),
}


def operator(name: str, backend: str = "numpy", **kwargs):
    """The operator ``name`` (a key of :data:`PRODUCTS`) on ``backend``."""
    import symnum

    op, func, _ = PRODUCTS[name]
    return getattr(symnum, op)(func, (2,), backend=backend, **kwargs)


def check_batches_and_lists(op, x, arg) -> None:
    """``op(x)(arg)`` with batches of ``x`` and of ``arg`` (the captures batched, each
    broadcast against ``arg``), and with lists, integers, Fortran-ordered, read-only and
    byte-swapped arrays (converted by the checked path): the same values as point by
    point."""
    xs = x + np.arange(3)[:, None] / 10
    args = arg + np.arange(4)[:, None, None].reshape((4,) + (1,) * arg.ndim) / 10
    single = np.array([[op(y)(a) for a in args] for y in xs])  # (3, 4, 2)
    # a batch of x: batched captures; each broadcasts against v
    products = op(xs)
    assert products.captured.shape[0] == 3
    np.testing.assert_array_equal(products(arg), single[:, 0])
    np.testing.assert_array_equal(op(xs[:, None])(args), single)
    np.testing.assert_array_equal(op(xs[0])(args), single[0])
    np.testing.assert_array_equal(op(xs[:1])(args[:1]), single[:1, 0])
    # lists, integers, strided and read-only arrays: converted by the checked path
    np.testing.assert_array_equal(op(xs[1].tolist())(args[2].tolist()), single[1, 2])
    readonly = args[3].copy()
    readonly.flags.writeable = False
    np.testing.assert_array_equal(op(np.asfortranarray(xs[2]))(readonly), single[2, 3])
    ints = np.ones((2,) * arg.ndim, dtype=int)
    np.testing.assert_array_equal(op(x)(ints), op(x)(ints.astype(float)))
    np.testing.assert_array_equal(op(x.astype(">f8"))(arg.astype(">f8")), op(x)(arg))
    assert op(np.ones((0, 2)))(arg).shape == (0, 2)


def check_refusals(name: str, op, x, arg) -> None:
    """Every refused call of ``op`` and of ``op(x)`` raises what the checked path raises,
    word for word, not chained to a fast entry's refusal."""
    from symnum import BoundClosure, NumericFunction

    product = op(x)
    op_name = f"{name}_{PRODUCTS[name][1].__name__}"
    param = "m" if name in ("mhp", "mtp") else "v"
    shape = ", ".join(map(str, arg.shape))
    bad = [
        ((), TypeError, rf"\(an operator\)\(\) takes 1 argument\(s\) \({param}\) but 0 were"),
        ((arg, arg), TypeError, r"takes 1 argument\(s\) .* but 2 were given"),
        ((np.ones(3),), ValueError, rf"argument '{param}' of .* must have shape \({shape},?\)"),
        (("ab",), TypeError, f"argument '{param}' must be numeric, got str"),
        ((arg + 1j,), TypeError, "is complex"),
        ((np.ma.masked_array(arg),), TypeError, "masked array"),
        ((arg.astype(object),), TypeError, "must be a numeric array"),
    ]
    for args, error, message in bad:
        with pytest.raises(error, match=message) as raised:
            product(*args)
        with pytest.raises(error) as checked:  # the checked path, as before
            BoundClosure._slow(product, *args)
        assert str(raised.value) == str(checked.value)
        assert raised.value.__context__ is None  # not chained to a fast entry's refusal
    with pytest.raises(TypeError, match=r"\(an operator\)\(\) takes no keyword arguments \(got "):
        product(**{param: arg})
    with pytest.raises(TypeError, match=r"takes no keyword arguments \(got x\)"):
        op(x=x)
    with pytest.raises(TypeError, match=rf"^{op_name}\(\) takes 1 argument\(s\) \(x\) but 2"):
        op(x, x)
    for args in [(np.ones(3),), ("x",), (x + 1j,), ()]:
        with pytest.raises((TypeError, ValueError)) as raised:
            op(*args)
        with pytest.raises(type(raised.value)) as checked:
            NumericFunction._slow(op, *args)
        assert str(raised.value) == str(checked.value)
        assert raised.value.__context__ is None
    # batch dimensions that do not broadcast
    with pytest.raises(ValueError, match="do not broadcast"):
        op(np.ones((3, 2)))(np.ones((4, *arg.shape)))
