/* The per-call floor for the C backend: a hand-written CPython extension computing
 * the gradient of the 2-D Rosenbrock function f(x) = (1 - x0)^2 + 100 (x1 - x0^2)^2.
 * It does the least any safe wrapper must do: check that the argument is a float64,
 * C-contiguous array of shape (2,), allocate the output and compute. Built and timed
 * by benchmarks/c_bench.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

static PyObject *rosen_grad(PyObject *module, PyObject *arg)
{
    PyArrayObject *x = (PyArrayObject *)arg;
    npy_intp two = 2;
    PyObject *out;
    const double *xv;
    double *g, t;
    (void)module;
    if (!PyArray_CheckExact(arg) || PyArray_TYPE(x) != NPY_DOUBLE || PyArray_NDIM(x) != 1 ||
        PyArray_DIM(x, 0) != 2 || !PyArray_IS_C_CONTIGUOUS(x)) {
        PyErr_SetString(PyExc_ValueError, "expected a float64 array of shape (2,)");
        return NULL;
    }
    out = PyArray_SimpleNew(1, &two, NPY_DOUBLE);
    if (out == NULL) {
        return NULL;
    }
    xv = (const double *)PyArray_DATA(x);
    g = (double *)PyArray_DATA((PyArrayObject *)out);
    t = xv[1] - xv[0] * xv[0];
    g[0] = -2.0 * (1.0 - xv[0]) - 400.0 * xv[0] * t;
    g[1] = 200.0 * t;
    return out;
}

static PyMethodDef methods[] = {
    {"rosen_grad", rosen_grad, METH_O, "gradient of the 2-D Rosenbrock function"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "floor_ext", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_floor_ext(void)
{
    import_array();
    return PyModule_Create(&module);
}
