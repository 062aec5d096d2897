"""numpify / generate_func and the NumericFunction users call: argument checks and
conversions, batching, output dtypes, closures, names, introspection — on every backend."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import symnum
import symnum.numpy as snp
from symnum import FunctionExpression, NumericFunction, generate_func, named_array, numpify
from symnum.backends import BackendUnavailableError


def rosen(x):
    return snp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def two_args(x, y):
    return snp.array([x[0] * y[1, 2], snp.exp(x[1]) - y[0, 0], y[1, 0] / x[0]])


def two_args_numpy(x, y):
    return np.array([x[0] * y[1, 2], np.exp(x[1]) - y[0, 0], y[1, 0] / x[0]])


def rosen_grad_numpy(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


@pytest.fixture
def rosen3(backend):
    return numpify(rosen, (3,), backend=backend)


@pytest.fixture
def pair(backend):
    return numpify(two_args, (2,), (2, 3), backend=backend)


RNG = np.random.default_rng(1)
X3 = RNG.standard_normal(3)
XS = RNG.standard_normal(2)
YS = RNG.standard_normal((2, 3))


def reference_rosen(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2, axis=-1)


# -- forms of numpify ------------------------------------------------------------------------


def test_decorator_and_direct_forms_agree(backend):
    @numpify(3, backend=backend)
    def decorated(x):
        return rosen(x)

    direct = numpify(rosen, (3,), backend=backend)
    via_func = symnum.numpify_func(rosen, (3,), backend=backend)
    for f in (decorated, direct, via_func):
        assert isinstance(f, NumericFunction)
        assert f.backend == backend
        assert f(X3) == pytest.approx(reference_rosen(X3), rel=1e-14)


def test_attribute_contract_of_0_2_1(rosen3):
    assert rosen3._sympy_func is rosen
    assert rosen3._arg_shapes == ((3,),)
    assert rosen3._arg_names == ("x",)
    assert rosen3.__name__ == "rosen"


def test_jit_true_means_numba():
    try:
        f = numpify(rosen, (3,), jit=True)
    except BackendUnavailableError:
        pytest.skip("numba unavailable")
    assert f.backend == "numba"
    with pytest.raises(ValueError, match="jit=True"):
        numpify(rosen, (3,), jit=True, backend="c")


def test_scalar_arguments(backend):
    f = numpify(lambda a, b: a**2 * b + sympy.sin(a), None, (), backend=backend)
    assert f.signature == "(),()->()"
    assert f(2.0, 3.0) == pytest.approx(12 + np.sin(2.0), rel=1e-15)
    np.testing.assert_allclose(f([1.0, 2.0], 3.0), [3 + np.sin(1.0), 12 + np.sin(2.0)], rtol=1e-15)
    assert f.__name__ == "lambda_"  # "lambda" is a keyword


def test_generate_func_0_2_1_signature(backend):
    x = named_array("x", 2)
    value = x[0] ** 2 + x[1]
    single = generate_func([x], [value], "single", backend=backend)
    assert type(single(np.array([2.0, 1.0]))) is np.float64
    both = generate_func((x,), [x * 2, value], "both", backend=backend)
    doubled, total = both(np.array([2.0, 1.0]))
    np.testing.assert_array_equal(doubled, [4.0, 2.0])
    assert total == 5.0
    namespace = {}
    generate_func([x], value, "stored", backend=backend, namespace=namespace)
    assert isinstance(namespace["stored"], NumericFunction)


def test_nested_tuple_outputs(backend):
    x = named_array("x", 2)
    f = generate_func([x], ((x[0], x * 3), x[1]), "nested", backend=backend)
    (a, b), c = f(np.array([1.0, 2.0]))
    assert a == 1.0
    np.testing.assert_array_equal(b, [3.0, 6.0])
    assert c == 2.0
    assert f.signature == "(2)->((),(2)),()"


def test_printer_options_are_ignored_with_a_warning():
    x = named_array("x", 2)
    with pytest.warns(DeprecationWarning, match="printer"):
        f = generate_func([x], x[0], "f", printer=object())
    assert f(np.array([3.0, 1.0])) == 3.0


def test_simplify_option():
    x = named_array("x", 1)
    f = generate_func([x], sympy.sin(x[0]) ** 2 + sympy.cos(x[0]) ** 2, "f", simplify=True)
    assert f(np.array([0.3])) == 1.0
    assert "_sin" not in f.source


# -- results ---------------------------------------------------------------------------------


def test_values_and_output_types(pair, backend):
    got = pair(XS, YS)
    assert type(got) is np.ndarray
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, two_args_numpy(XS, YS), rtol=1e-15)


def test_integer_constant_outputs_are_float64(backend):
    x = named_array("x", 2)
    f = generate_func(
        [x], [sympy.Matrix([[2, 0], [0, 6 * x[1]]]), sympy.Integer(3)], "ints", backend=backend
    )
    hess, three = f(np.array([1.0, 2.0]))
    assert hess.dtype == np.float64
    np.testing.assert_array_equal(hess, [[2.0, 0.0], [0.0, 12.0]])
    assert type(three) is np.float64


def test_complex_functions_return_complex128():
    z = named_array("z", 2, dtype=np.complex128)
    f = generate_func([z], [z[0] * z[1] + sympy.I, sympy.Abs(z[0])], "cplx")
    value, magnitude = f(np.array([1 + 2j, 3 - 1j]))
    assert type(value) is np.complex128
    assert value == (1 + 2j) * (3 - 1j) + 1j
    assert magnitude == pytest.approx(abs(1 + 2j))
    # real input to a complex function is accepted
    assert f(np.array([1.0, 2.0]))[0] == 2 + 1j


def test_complex_input_to_real_function_is_a_type_error(rosen3):
    with pytest.raises(TypeError, match="complex"):
        rosen3(np.array([1j, 0, 0]))


# -- conversions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [
        list,
        lambda a: a.astype(np.float32).astype(np.float64).astype(np.float32),
        lambda a: np.round(a * 10).astype(np.int64),
        lambda a: np.asfortranarray(np.stack([a, a]))[0],
        lambda a: np.repeat(a, 2)[::2],
        lambda a: np.require(a, requirements="W").view().setflags(write=False) or a,
        lambda a: tuple(a.tolist()),
    ],
    ids=["list", "float32", "int64", "fortran-row", "strided", "read-only", "tuple"],
)
def test_odd_but_valid_inputs(rosen3, convert):
    value = convert(X3)
    expected = reference_rosen(np.asarray(value, dtype=np.float64))
    assert rosen3(value) == pytest.approx(expected, rel=1e-14)


def test_read_only_and_fortran_arrays(pair):
    y = np.asfortranarray(YS)
    x = XS.copy()
    x.setflags(write=False)
    np.testing.assert_allclose(pair(x, y), two_args_numpy(XS, YS), rtol=1e-15)


def test_zero_dimensional_array_for_scalar_argument(backend):
    f = numpify(lambda a: a * 2, (), backend=backend)
    assert f(np.array(1.5)) == 3.0
    assert f(np.float32(1.5)) == 3.0
    assert f(2) == 4.0


def test_nan_and_inf_follow_ieee(backend):
    f = numpify(lambda x: snp.log(x) + 1 / x, (2,), backend=backend)
    with np.errstate(all="raise"):
        got = f(np.array([0.0, np.nan]))
    assert got.tolist()[0] == -np.inf or np.isnan(got[0])
    assert np.isnan(got[1])


# -- errors -----------------------------------------------------------------------------------


def test_wrong_argument_count(pair):
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\) \(x, y\) but 1 were given"):
        pair(XS)
    with pytest.raises(TypeError, match="but 3 were given"):
        pair(XS, YS, YS)


@pytest.mark.parametrize(
    ("bad", "got"),
    [
        (np.zeros(3), r"\(3,\)"),
        (np.zeros((2, 3)), r"\(2, 3\)"),
        (np.zeros(()), r"\(\)"),
        ([1.0], r"\(1,\)"),
    ],
)
def test_wrong_shape_names_argument_and_shapes(pair, bad, got):
    with pytest.raises(
        ValueError, match=rf"argument 'x' of two_args\(\) must have shape \(2,\).*got shape {got}"
    ):
        pair(bad, YS)


def test_wrong_shape_of_second_argument(pair):
    with pytest.raises(ValueError, match=r"argument 'y' .* shape \(2, 3\).*got shape \(3, 2\)"):
        pair(XS, YS.T)


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        b"ab",
        np.array(["a", "b", "c"]),
        np.array([object(), 1, 2], dtype=object),
        [None, 1.0, 2.0],
        {"a": 1},
    ],
    ids=["str", "bytes", "str-array", "object-array", "None-list", "dict"],
)
def test_non_numeric_inputs_are_type_errors(rosen3, bad):
    with pytest.raises(TypeError, match="argument 'x'"):
        rosen3(bad)


def test_ragged_lists_are_rejected(rosen3):
    with pytest.raises((TypeError, ValueError), match="argument 'x'"):
        rosen3([[1.0, 2.0, 3.0], [1.0]])


def test_unbroadcastable_batches(pair):
    with pytest.raises(ValueError, match="do not broadcast"):
        pair(np.zeros((4, 2)), np.zeros((3, 2, 3)))


def test_bad_names_are_rejected():
    x = named_array("x", 2)
    with pytest.raises(ValueError, match="function name"):
        generate_func([x], x[0], "f(); import os")
    with pytest.raises(ValueError, match="not valid"):
        generate_func([x], x[0], "class")
    with pytest.raises(ValueError, match="distinct"):
        generate_func([x, named_array("x", 1)], x[0], "dup")


def test_shapes_must_match_arguments():
    with pytest.raises(ValueError, match="Shapes must be specified"):
        numpify(two_args, (2,))


def test_unknown_backend_lists_available():
    with pytest.raises(BackendUnavailableError, match="available backends: numpy"):
        numpify(rosen, (3,), backend="fortran")


# -- batching ---------------------------------------------------------------------------------


def test_batch_equals_loop(pair):
    xs = RNG.standard_normal((4, 2))
    ys = RNG.standard_normal((4, 2, 3))
    batch = pair(xs, ys)
    assert batch.shape == (4, 3)
    loop = np.array([pair(x, y) for x, y in zip(xs, ys, strict=True)])
    np.testing.assert_allclose(batch, loop, rtol=1e-15)


def test_batch_broadcasts_like_a_gufunc(pair):
    xs = RNG.standard_normal((5, 1, 2))
    ys = RNG.standard_normal((3, 2, 3))
    batch = pair(xs, ys)
    assert batch.shape == (5, 3, 3)
    np.testing.assert_allclose(batch[4, 2], pair(xs[4, 0], ys[2]), rtol=1e-15)
    assert pair(XS, ys).shape == (3, 3)


def test_empty_batches(pair, rosen3):
    assert pair(np.zeros((0, 2)), YS).shape == (0, 3)
    assert rosen3(np.zeros((2, 0, 3))).shape == (2, 0)


def test_signature(pair, rosen3):
    assert pair.signature == "(2),(2,3)->(3)"
    assert rosen3.signature == "(3)->()"


def test_repr_source_backend(rosen3, backend):
    assert repr(rosen3) == f"<NumericFunction rosen(x) (3)->() backend='{backend}'>"
    assert "rosen" in rosen3.source
    assert rosen3.ir is not None


# -- closures ---------------------------------------------------------------------------------


@pytest.fixture
def operator(backend):
    x = named_array("x", 2)
    v = named_array("v", 2)
    jac = [[2 * x[0] * x[1], x[0] ** 2], [0, sympy.cos(x[1])]]
    value = snp.array([x[0] ** 2 * x[1], sympy.sin(x[1])])
    jvp = snp.array([sum(jac[i][j] * v[j] for j in range(2)) for i in range(2)])
    return generate_func([x], [FunctionExpression((v,), jvp), value], "jvp", backend=backend)


def test_closures(operator):
    x = np.array([0.5, 2.0])
    product, value = operator(x)
    jac = np.array([[2 * x[0] * x[1], x[0] ** 2], [0, np.cos(x[1])]])
    np.testing.assert_allclose(product(np.array([1.0, -1.0])), jac @ [1.0, -1.0], rtol=1e-15)
    np.testing.assert_allclose(value, [x[0] ** 2 * x[1], np.sin(x[1])], rtol=1e-15)
    assert operator.signature == "(2)->((2)->(2)),(2)"
    assert product.signature == "(2)->(2)"
    with pytest.raises(ValueError, match="argument 'v'"):
        product(np.zeros(3))


def test_closures_batch(operator):
    xs = RNG.standard_normal((3, 2))
    vs = RNG.standard_normal((3, 2))
    product, value = operator(xs)
    assert value.shape == (3, 2)
    got = product(vs)
    assert got.shape == (3, 2)
    for k in range(3):
        np.testing.assert_allclose(got[k], operator(xs[k])[0](vs[k]), rtol=1e-15)
    # one v for every x, and several vs for one x
    assert product(vs[0]).shape == (3, 2)
    assert operator(xs[0])[0](vs).shape == (3, 2)


def test_closure_parameter_renamed_when_it_clashes(backend):
    v = named_array("v", 2)
    w = named_array("v_", 2)  # noqa: F841 - the clash is with the outer argument's name
    inner = named_array("v", 2)
    fe = FunctionExpression((inner,), inner * 2)
    f = generate_func([named_array("x", 2)], fe, "clash", backend=backend)
    assert f(np.zeros(2))(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert v.shape == (2,)


def test_keywords_are_a_type_error(rosen3):
    with pytest.raises(TypeError):
        rosen3(x=X3)
