/* The per-call floor for the C backend: a hand-written CPython extension with the
 * derivatives of the benchmark models written out by hand (benchmarks/cases.py).
 * Each function does the least any safe wrapper must do: check that its argument is a
 * float64, C-contiguous array of the right shape, allocate the output and compute.
 * Built by build.py; timed by benchmarks/c_bench.py and benchmarks/run.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <math.h>
#include <numpy/arrayobject.h>

/* the README target: y = (1, 0), sigma = 0.3, A = ((1, -0.5), (-0.5, 1)) */
#define README_INV_S2 (1.0 / (0.3 * 0.3))

static const double *vector_arg(PyObject *arg, npy_intp n)
{
    PyArrayObject *x = (PyArrayObject *)arg;
    if (!PyArray_CheckExact(arg) || PyArray_TYPE(x) != NPY_DOUBLE || PyArray_NDIM(x) != 1 ||
        (n >= 0 && PyArray_DIM(x, 0) != n) || !PyArray_IS_C_CONTIGUOUS(x)) {
        PyErr_SetString(PyExc_ValueError, "expected a float64 C-contiguous vector");
        return NULL;
    }
    return (const double *)PyArray_DATA(x);
}

static PyObject *new_array(int nd, npy_intp d0, npy_intp d1, double **data)
{
    npy_intp dims[2] = {d0, d1};
    PyObject *out = PyArray_SimpleNew(nd, dims, NPY_DOUBLE);
    if (out != NULL) {
        *data = (double *)PyArray_DATA((PyArrayObject *)out);
    }
    return out;
}

/* shared by the README functions: u, its derivatives, s = A r / sigma^2 */
typedef struct {
    double sa, ca, sb, cb, s0, s1, r0, r1;
} readme_parts;

static void readme_compute(const double *x, readme_parts *p)
{
    const double a = -x[1] * x[1] + 3.0 * x[0], b = x[0] - 1.0;
    double u0, u1;
    p->sa = sin(a);
    p->ca = cos(a);
    p->sb = sin(b);
    p->cb = cos(b);
    u0 = p->ca;
    u1 = p->sb;
    p->r0 = 1.0 - (u0 - 0.5 * u1);
    p->r1 = 0.0 - (-0.5 * u0 + u1);
    p->s0 = (p->r0 - 0.5 * p->r1) * README_INV_S2;
    p->s1 = (-0.5 * p->r0 + p->r1) * README_INV_S2;
}

static void readme_gradient(const double *x, const readme_parts *p, double *g)
{
    g[0] = -(p->s0 * (-3.0 * p->sa) + p->s1 * p->cb) + x[0];
    g[1] = -(p->s0 * (2.0 * x[1] * p->sa)) + x[1];
}

static PyObject *readme_grad(PyObject *module, PyObject *arg)
{
    const double *x = vector_arg(arg, 2);
    readme_parts p;
    double *g;
    PyObject *out;
    (void)module;
    if (x == NULL || (out = new_array(1, 2, 0, &g)) == NULL) {
        return NULL;
    }
    readme_compute(x, &p);
    readme_gradient(x, &p, g);
    return out;
}

static PyObject *readme_grad_val(PyObject *module, PyObject *arg)
{
    const double *x = vector_arg(arg, 2);
    readme_parts p;
    double *g, value;
    PyObject *out;
    (void)module;
    if (x == NULL || (out = new_array(1, 2, 0, &g)) == NULL) {
        return NULL;
    }
    readme_compute(x, &p);
    readme_gradient(x, &p, g);
    value = 0.5 * ((p.r0 * p.r0 + p.r1 * p.r1) * README_INV_S2 + x[0] * x[0] + x[1] * x[1]);
    return Py_BuildValue("(Nd)", out, value);
}

static PyObject *readme_hess(PyObject *module, PyObject *arg)
{
    const double *x = vector_arg(arg, 2);
    readme_parts p;
    double *h, j[2][2], aj[2][2];
    PyObject *out;
    int i, k;
    (void)module;
    if (x == NULL || (out = new_array(2, 2, 2, &h)) == NULL) {
        return NULL;
    }
    readme_compute(x, &p);
    /* J = du/dx; H = J^T A^T A J / sigma^2 - sum_k s_k hess(u_k) + I */
    j[0][0] = -3.0 * p.sa;
    j[0][1] = 2.0 * x[1] * p.sa;
    j[1][0] = p.cb;
    j[1][1] = 0.0;
    for (i = 0; i < 2; i++) {
        aj[0][i] = j[0][i] - 0.5 * j[1][i];
        aj[1][i] = -0.5 * j[0][i] + j[1][i];
    }
    for (i = 0; i < 2; i++) {
        for (k = 0; k < 2; k++) {
            h[2 * i + k] = (aj[0][i] * aj[0][k] + aj[1][i] * aj[1][k]) * README_INV_S2;
        }
    }
    /* hess(u0) = -cos(a) a' a'^T - sin(a) a'', a' = (3, -2 x1), a'' = diag(0, -2) */
    {
        const double d0 = 3.0, d1 = -2.0 * x[1];
        h[0] -= p.s0 * (-p.ca * d0 * d0);
        h[1] -= p.s0 * (-p.ca * d0 * d1);
        h[2] -= p.s0 * (-p.ca * d1 * d0);
        h[3] -= p.s0 * (-p.ca * d1 * d1 + 2.0 * p.sa);
        h[0] -= p.s1 * (-p.sb); /* hess(u1) = diag(-sin(b), 0) */
        h[0] += 1.0;
        h[3] += 1.0;
    }
    return out;
}

/* Rosenbrock: f(x) = sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2), any n */
static PyObject *rosen_grad(PyObject *module, PyObject *arg)
{
    const double *x = vector_arg(arg, -1);
    double *g;
    PyObject *out;
    npy_intp n, i;
    (void)module;
    if (x == NULL) {
        return NULL;
    }
    n = PyArray_DIM((PyArrayObject *)arg, 0);
    if ((out = new_array(1, n, 0, &g)) == NULL) {
        return NULL;
    }
    if (n == 2) { /* the benchmarked case, without the loop */
        const double t = x[1] - x[0] * x[0];
        g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * t;
        g[1] = 200.0 * t;
        return out;
    }
    for (i = 0; i < n; i++) {
        g[i] = 0.0;
    }
    for (i = 0; i + 1 < n; i++) {
        const double t = x[i + 1] - x[i] * x[i];
        g[i] += -2.0 * (1.0 - x[i]) - 400.0 * x[i] * t;
        g[i + 1] += 200.0 * t;
    }
    return out;
}

static PyObject *rosen_hess(PyObject *module, PyObject *arg)
{
    const double *x = vector_arg(arg, -1);
    double *h;
    PyObject *out;
    npy_intp n, i;
    (void)module;
    if (x == NULL) {
        return NULL;
    }
    n = PyArray_DIM((PyArrayObject *)arg, 0);
    if ((out = new_array(2, n, n, &h)) == NULL) {
        return NULL;
    }
    for (i = 0; i < n * n; i++) {
        h[i] = 0.0;
    }
    for (i = 0; i + 1 < n; i++) {
        h[i * n + i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
        h[(i + 1) * n + i + 1] += 200.0;
        h[i * n + i + 1] = h[(i + 1) * n + i] = -400.0 * x[i];
    }
    return out;
}

static PyMethodDef methods[] = {
    {"rosen_grad", rosen_grad, METH_O, "gradient of the Rosenbrock function"},
    {"rosen_hess", rosen_hess, METH_O, "Hessian of the Rosenbrock function"},
    {"readme_grad", readme_grad, METH_O, "gradient of the README target"},
    {"readme_hess", readme_hess, METH_O, "Hessian of the README target"},
    {"readme_grad_val", readme_grad_val, METH_O, "(gradient, value) of the README target"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "floor_ext", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_floor_ext(void)
{
    import_array();
    return PyModule_Create(&module);
}
