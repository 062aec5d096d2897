/* symnum C runtime: the CPython side of compiled kernels.
 *
 * Included (as text) into every module the C backend builds, after <Python.h>.
 * A module holds a table of kernel descriptions (symnum_spec); a `symnum_call`
 * object is a callable bound to one of them. Calling it checks every argument (exact
 * ndarray, float64, native byte order, aligned, C-contiguous, the parameter's trailing
 * shape, the same leading batch shape for all arguments) BEFORE the kernel runs, so no
 * input can make a kernel read or write outside a buffer; it allocates the outputs with
 * the NumPy C API and loops over batch points in C.
 *
 * Anything unusual (lists, other dtypes, broadcasting, keyword arguments, wrong
 * count, more than SYMNUM_MAX_BATCH_DIMS batch dimensions) goes to the `slow` Python
 * callable when there is one (the general path of symnum's NumericFunction, which owns
 * all conversions and error messages); modules built by build_extension have no slow
 * path and convert with PyArray_FromAny, or raise TypeError / ValueError themselves.
 *
 * A callable may have arrays bound after the user's arguments (`suffix`: a function's
 * constant data) and in front of them (`prefix`: the
 * captured values of an operator-valued result). A *method* callable (its own type,
 * with Py_TPFLAGS_METHOD_DESCRIPTOR) is meant to be a class's `__call__`: CPython then
 * calls it with the instance first, and it binds the instance's `captured` attribute
 * in front, so calling such an instance runs no Python frame. A callable may also have
 * `binds`: one class (or None) per output; such an output is returned as a new
 * instance of its class, made without running Python code, with the output as its
 * `captured` attribute.
 *
 * Every kernel's code carries a shape table (what it was emitted for); the module
 * refuses to initialise when its descriptions disagree with it or with each other.
 *
 * Kernels with data (a `data` function instead of `point` and `batch`): a data
 * parameter is described with a leading dimension -1, standing for the number of rows
 * n; its argument must be a (n, *row shape) array, with one n common to all data
 * arguments (any n >= 0), and is never batched: only the other arguments carry batch
 * axes, and the data arrays are shared by every batch point. A data output (leading
 * dimension -1 too) comes back as (*batch shape, n, *row shape). See symnum_run_data.
 */
#ifndef NPY_NO_DEPRECATED_API
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#endif
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>
#include <structmember.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define SYMNUM_SMALL 16
/* at most this many batch (leading) dimensions, on every backend */
#define SYMNUM_MAX_BATCH_DIMS 32
/* below this many points, releasing the GIL costs more than it gives */
#define SYMNUM_NOGIL_MIN 512

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    const symnum_spec *spec;
    const symnum_spec *const *specs; /* the module's table, for closure leaves */
    PyObject *owner;                 /* NULL, or what keeps `specs` alive (a capsule) */
    PyObject *slow;                  /* NULL: no fallback */
    PyObject *prefix;                /* tuple of arguments bound before the user's */
    PyObject *suffix;                /* NULL, or a tuple of arguments bound after them */
    PyObject *binds;                 /* NULL, or a tuple: per output, None or a class */
    Py_ssize_t *bind_offsets;        /* per output: where `captured` lives, or 0 */
    int mode;
    int plain;                       /* nothing bound, no data: see symnum_lean */
    int method;                      /* args[0] is an instance: bind its `captured` */
    PyTypeObject *seen_type;         /* method: the last instance type, and where */
    Py_ssize_t seen_offset;          /* its `captured` lives (0: look it up) */
} symnum_call;

static PyObject *symnum_str_captured; /* "captured", interned */
static PyArray_Descr *symnum_float64;  /* float64's descriptor (NumPy's own, immortal) */

typedef struct {
    const double *data;
    const npy_intp *dims;
    int ndim;
    double scalar;
    PyObject *owned;
} symnum_arg;

typedef struct {
    double *data;
    PyObject *obj;
    double scalar;
} symnum_out;

static PyTypeObject symnum_call_type;
static PyTypeObject symnum_method_type;
static PyObject *symnum_call_vectorcall(PyObject *self_, PyObject *const *args,
                                        size_t nargsf, PyObject *kwnames);

/* Where instances of `type` keep their `captured` slot (a writable object member of
   __slots__), or 0 if they keep it elsewhere: then the attribute protocol is used. */
static Py_ssize_t symnum_captured_offset(PyTypeObject *type)
{
    PyObject *descr = _PyType_Lookup(type, symnum_str_captured); /* borrowed */
    if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY) &&
            member->offset > 0) {
            return member->offset;
        }
    }
    return 0;
}

static PyObject *symnum_new_call(const symnum_spec *spec, const symnum_spec *const *specs,
                                 PyObject *owner, PyObject *slow, PyObject *prefix, int mode,
                                 PyObject *binds, int method)
{
    symnum_call *self = PyObject_GC_New(
        symnum_call, method ? &symnum_method_type : &symnum_call_type);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = symnum_call_vectorcall;
    self->spec = spec;
    self->specs = specs;
    Py_XINCREF(owner);
    self->owner = owner;
    Py_XINCREF(slow);
    self->slow = slow;
    Py_INCREF(prefix);
    self->prefix = prefix;
    self->suffix = NULL;
    Py_XINCREF(binds);
    self->binds = binds;
    self->bind_offsets = NULL;
    self->mode = mode;
    self->plain = 0; /* set by symnum_make once everything is bound */
    self->method = method;
    self->seen_type = NULL;
    self->seen_offset = 0;
    if (binds != NULL) {
        Py_ssize_t k, n = PyTuple_GET_SIZE(binds);
        self->bind_offsets = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(Py_ssize_t));
        if (self->bind_offsets == NULL) {
            Py_DECREF(self);
            return PyErr_NoMemory();
        }
        for (k = 0; k < n; k++) {
            PyObject *cls = PyTuple_GET_ITEM(binds, k);
            if (cls != Py_None) {
                self->bind_offsets[k] = symnum_captured_offset((PyTypeObject *)cls);
            }
        }
    }
    PyObject_GC_Track((PyObject *)self);
    return (PyObject *)self;
}

/* A new instance of the class `cls` with `captured` set, without running Python code
   (no __new__ or __init__: the classes are symnum's own, with __slots__). */
static PyObject *symnum_bind(PyObject *cls, Py_ssize_t offset, PyObject *captured)
{
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *obj = type->tp_alloc(type, 0);
    if (obj == NULL) {
        return NULL;
    }
    if (offset > 0) {
        PyObject **slot = (PyObject **)((char *)obj + offset);
        Py_INCREF(captured);
        Py_XSETREF(*slot, captured);
    }
    else if (PyObject_SetAttr(obj, symnum_str_captured, captured) < 0) {
        Py_DECREF(obj);
        return NULL;
    }
    return obj;
}

/* output k as the caller receives it: bound to its class if it has one */
static PyObject *symnum_output(symnum_call *self, int k, PyObject *obj)
{
    PyObject *cls, *bound;
    if (obj == NULL || self->binds == NULL ||
        (cls = PyTuple_GET_ITEM(self->binds, k)) == Py_None) {
        return obj;
    }
    bound = symnum_bind(cls, self->bind_offsets[k], obj);
    Py_DECREF(obj);
    return bound;
}

/* the `captured` attribute of `obj` (a new reference), fast for symnum's classes:
   `*seen_type` and `*seen_offset` remember the last type asked about and where its
   instances keep the attribute */
static PyObject *symnum_captured_of(PyTypeObject **seen_type, Py_ssize_t *seen_offset,
                                    PyObject *obj)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (type != *seen_type) {
        Py_INCREF(type);
        Py_XSETREF(*seen_type, type);
        *seen_offset = symnum_captured_offset(type);
    }
    if (*seen_offset > 0) {
        PyObject *value = *(PyObject **)((char *)obj + *seen_offset);
        if (value != NULL) {
            Py_INCREF(value);
            return value;
        }
    }
    return PyObject_GetAttr(obj, symnum_str_captured);
}

static PyObject *symnum_captured(symnum_call *self, PyObject *obj)
{
    return symnum_captured_of(&self->seen_type, &self->seen_offset, obj);
}

static void symnum_format_shape(char *buf, size_t size, const npy_intp *dims, int ndim,
                                int open_lead)
{
    size_t used = 0;
    int i;
    used += (size_t)snprintf(buf + used, size - used, open_lead ? "(..." : "(");
    for (i = 0; i < ndim && used < size; i++) {
        const char *sep = (i == 0 && !open_lead) ? "" : ", ";
        if (dims[i] < 0) { /* the rows of a data argument */
            used += (size_t)snprintf(buf + used, size - used, "%sn", sep);
            continue;
        }
        used += (size_t)snprintf(buf + used, size - used, "%s%" NPY_INTP_FMT, sep,
                                 dims[i]);
    }
    if (used < size) {
        snprintf(buf + used, size - used, (ndim == 1 && !open_lead) ? ",)" : ")");
    }
}

static const npy_intp *symnum_pdims(const symnum_spec *spec, int i)
{
    const npy_intp *d = spec->pdims;
    int j;
    for (j = 0; j < i; j++) {
        d += spec->pndim[j];
    }
    return d;
}

static void symnum_release_args(symnum_arg *a, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        Py_CLEAR(a[i].owned);
    }
}

static PyObject *symnum_build_tree(symnum_call *self, int *pos, symnum_out *outs)
{
    const int *tree = self->spec->tree;
    int kind = tree[*pos];
    if (kind == SYMNUM_TREE_TUPLE) {
        int k = tree[*pos + 1], j;
        PyObject *tuple = PyTuple_New(k);
        *pos += 2;
        if (tuple == NULL) {
            return NULL;
        }
        for (j = 0; j < k; j++) {
            PyObject *item = symnum_build_tree(self, pos, outs);
            if (item == NULL) {
                Py_DECREF(tuple);
                return NULL;
            }
            PyTuple_SET_ITEM(tuple, j, item);
        }
        return tuple;
    }
    if (kind == SYMNUM_TREE_LEAF) {
        int k = tree[*pos + 1];
        PyObject *obj = outs[k].obj;
        outs[k].obj = NULL;
        *pos += 2;
        return symnum_output(self, k, obj);
    }
    {
        PyObject *captured = outs[tree[*pos + 1]].obj, *prefix, *result;
        const symnum_spec *inner = self->specs[tree[*pos + 2]];
        outs[tree[*pos + 1]].obj = NULL;
        *pos += 3;
        prefix = PyTuple_Pack(1, captured);
        Py_DECREF(captured);
        if (prefix == NULL) {
            return NULL;
        }
        result = symnum_new_call(inner, self->specs, self->owner, NULL, prefix, SYMNUM_AUTO,
                                  NULL, 0);
        Py_DECREF(prefix);
        return result;
    }
}

/* Returns 1 if `o` can be passed to the kernel as it is (filling `a`), 0 if not. */
static int symnum_usable(PyObject *o, int pndim, symnum_arg *a)
{
    if (PyArray_CheckExact(o)) {
        PyArrayObject *arr = (PyArrayObject *)o;
        const int need = NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED;
        if (PyArray_TYPE(arr) != NPY_DOUBLE || PyArray_ISBYTESWAPPED(arr) ||
            (PyArray_FLAGS(arr) & need) != need) {
            return 0;
        }
        a->data = (const double *)PyArray_DATA(arr);
        a->dims = PyArray_DIMS(arr);
        a->ndim = PyArray_NDIM(arr);
        return 1;
    }
    if (pndim == 0 && PyFloat_Check(o)) {
        a->scalar = PyFloat_AS_DOUBLE(o);
        a->data = &a->scalar;
        a->dims = NULL;
        a->ndim = 0;
        return 1;
    }
    return 0;
}

static void symnum_free_buffers(symnum_arg *a, symnum_arg *abuf, const double **in,
                                const double **ibuf, symnum_out *o, symnum_out *obuf,
                                double **out, double **pbuf)
{
    if (a != abuf) {
        PyMem_Free(a);
    }
    if (in != ibuf) {
        PyMem_Free((void *)in);
    }
    if (o != obuf) {
        PyMem_Free(o);
    }
    if (out != pbuf) {
        PyMem_Free(out);
    }
}

/* Takes argument `obj` for parameter i as it is, or converts it when there is no slow
   path. Returns 1 when a[i] is filled, 0 when the slow path should take the call, -1
   with an error set. */
static int symnum_take_arg(symnum_call *self, PyObject *obj, int i, symnum_arg *a)
{
    const symnum_spec *spec = self->spec;
    const int pnd = spec->pndim[i];
    PyArray_Descr *descr;
    if (symnum_usable(obj, pnd, a)) {
        return 1;
    }
    if (self->slow != NULL) {
        return 0;
    }
    if (PyArray_Check(obj) && PyArray_ISCOMPLEX((PyArrayObject *)obj)) {
        PyErr_Format(PyExc_TypeError, "%s(): argument '%s' is complex; the function is real",
                     spec->name, spec->pnames[i]);
        return -1;
    }
    /* native byte order, aligned, C-contiguous float64 (a copy if need be) */
    descr = PyArray_DescrFromType(NPY_DOUBLE);
    a->owned = PyArray_FromAny(obj, descr, 0, 0, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_ENSUREARRAY,
                               NULL);
    if (a->owned == NULL) {
        return -1;
    }
    if (!symnum_usable(a->owned, pnd, a)) {
        PyErr_Format(PyExc_TypeError, "%s(): cannot convert argument '%s'", spec->name,
                     spec->pnames[i]);
        return -1;
    }
    return 1;
}

#if defined(__GNUC__) || defined(__clang__)
#define SYMNUM_INLINE static inline __attribute__((always_inline))
#else
#define SYMNUM_INLINE static inline
#endif

/* The common call, kept lean (the general path costs a third of a small kernel's
   call more): every argument an exact ndarray of float64 in native byte order,
   C-contiguous and aligned, of its parameter's exact shape (no batch axes), and at most
   SYMNUM_SMALL parameters and outputs. Sets *taken to 0 (and returns NULL, no error
   set) for anything else, which the general path takes and checks again; otherwise to
   1, returning the result or NULL with an error set. */
SYMNUM_INLINE PyObject *symnum_lean(symnum_call *self, PyObject *const *argv, int *taken)
{
    const symnum_spec *spec = self->spec;
    const npy_intp *pd = spec->pdims, *od = spec->odims;
    const int np = spec->nparams, nouts = spec->nouts, need = NPY_ARRAY_C_CONTIGUOUS |
                                                             NPY_ARRAY_ALIGNED;
    const double *in[SYMNUM_SMALL];
    double *out[SYMNUM_SMALL];
    symnum_out o[SYMNUM_SMALL];
    PyObject *result = NULL;
    int i, j, k, pos = 0;
    *taken = 0;
    for (i = 0; i < np; i++) {
        PyArrayObject *arr = (PyArrayObject *)argv[i];
        const int pnd = spec->pndim[i];
        const PyArray_Descr *d;
        if (!PyArray_CheckExact(argv[i]) || PyArray_NDIM(arr) != pnd ||
            (PyArray_FLAGS(arr) & need) != need) {
            return NULL;
        }
        d = PyArray_DESCR(arr);
        if (d != symnum_float64 && (d->type_num != NPY_DOUBLE || !PyArray_ISNBO(d->byteorder))) {
            return NULL;
        }
        for (j = 0; j < pnd; j++) {
            if (PyArray_DIMS(arr)[j] != pd[j]) {
                return NULL;
            }
        }
        in[i] = (const double *)PyArray_DATA(arr);
        pd += pnd;
    }
    *taken = 1;
    for (k = 0; k < nouts; k++) {
        const int nd = spec->ondim[k];
        if (nd == 0) {
            o[k].obj = NULL;
            out[k] = &o[k].scalar;
        }
        else {
            /* PyArray_SimpleNew without its descriptor lookup */
            Py_INCREF(symnum_float64);
            o[k].obj = PyArray_NewFromDescr(&PyArray_Type, symnum_float64, nd,
                                            (npy_intp *)od, NULL, NULL, 0, NULL);
            if (o[k].obj == NULL) {
                while (k-- > 0) {
                    Py_XDECREF(o[k].obj);
                }
                return NULL;
            }
            out[k] = (double *)PyArray_DATA((PyArrayObject *)o[k].obj);
        }
        od += nd;
    }
    spec->point(in, out);
    for (k = 0; k < nouts; k++) {
        if (o[k].obj == NULL) {
            o[k].obj = PyArrayScalar_New(Double);
            if (o[k].obj == NULL) {
                break;
            }
            PyArrayScalar_ASSIGN(o[k].obj, Double, o[k].scalar);
        }
    }
    if (k == nouts) {
        if (spec->tree[0] == SYMNUM_TREE_LEAF) {
            return symnum_output(self, 0, o[0].obj);
        }
        result = symnum_build_tree(self, &pos, o);
    }
    for (k = 0; k < nouts; k++) {
        Py_XDECREF(o[k].obj);
    }
    return result;
}

/* symnum_run for a kernel with data (see the top of this file). Every data argument
   must be (n, *row shape) with the same n, every other one its parameter's shape
   behind the common batch shape, BEFORE the kernel runs: the kernel reads exactly n
   rows of each data array and writes n rows of each data output per point. */
/* Heap buffers for the arguments and outputs of a call with more than SYMNUM_SMALL of
   either (the caller's stack buffers otherwise), cleared. 0, or -1 when out of memory
   (symnum_free_buffers frees what was allocated). */
static int symnum_buffers(const symnum_spec *spec, symnum_arg **a, const double ***in,
                          symnum_out **o, double ***out)
{
    int i, np = spec->nparams;
    if (np > SYMNUM_SMALL) {
        *a = PyMem_Calloc((size_t)np, sizeof **a);
        *in = PyMem_Calloc((size_t)np, sizeof **in);
    }
    if (spec->nouts > SYMNUM_SMALL) {
        *o = PyMem_Calloc((size_t)spec->nouts, sizeof **o);
        *out = PyMem_Calloc((size_t)spec->nouts, sizeof **out);
    }
    if (*a == NULL || *in == NULL || *o == NULL || *out == NULL) {
        return -1;
    }
    for (i = 0; i < np; i++) {
        (*a)[i].owned = NULL;
    }
    for (i = 0; i < spec->nouts; i++) {
        (*o)[i].obj = NULL;
    }
    return 0;
}

/* The outputs of a call: shape-() outputs of a point call are written to
   o[k].scalar (boxed afterwards by symnum_box_scalars), the others to new arrays of
   the batch shape ``lead`` (``lead_ndim`` dimensions) followed by the output's shape,
   a data output's leading -1 being ``rows``. Sets out[k]. Returns 0, 1 (too many
   dimensions, and a slow path to take) or -1 (an exception is set). */
static int symnum_new_outputs(symnum_call *self, int lead_ndim, const npy_intp *lead,
                              npy_intp rows, symnum_out *o, double **out)
{
    const symnum_spec *spec = self->spec;
    const npy_intp *od = spec->odims;
    npy_intp dims[NPY_MAXDIMS];
    int k;
    for (k = 0; k < spec->nouts; k++) {
        int nd = spec->ondim[k];
        if (lead_ndim == 0 && nd == 0) {
            o[k].scalar = 0.0;
            o[k].data = &o[k].scalar;
        }
        else {
            if (lead_ndim + nd > NPY_MAXDIMS) {
                if (self->slow != NULL) {
                    return 1;
                }
                PyErr_Format(PyExc_ValueError, "%s(): too many batch dimensions",
                             spec->name);
                return -1;
            }
            if (lead_ndim > 0) {
                memcpy(dims, lead, (size_t)lead_ndim * sizeof *dims);
            }
            if (nd > 0) {
                memcpy(dims + lead_ndim, od, (size_t)nd * sizeof *dims);
                if (od[0] < 0) { /* a data output: n rows */
                    dims[lead_ndim] = rows;
                }
            }
            o[k].obj = PyArray_SimpleNew(lead_ndim + nd, dims, NPY_DOUBLE);
            if (o[k].obj == NULL) {
                return -1;
            }
            o[k].data = (double *)PyArray_DATA((PyArrayObject *)o[k].obj);
        }
        out[k] = o[k].data;
        od += nd;
    }
    return 0;
}

/* Box the shape-() outputs of a point call as numpy.float64. 0, or -1 on error. */
static int symnum_box_scalars(const symnum_spec *spec, symnum_out *o)
{
    int k;
    for (k = 0; k < spec->nouts; k++) {
        if (o[k].obj == NULL) {
            o[k].obj = PyArrayScalar_New(Double);
            if (o[k].obj == NULL) {
                return -1;
            }
            PyArrayScalar_ASSIGN(o[k].obj, Double, o[k].scalar);
        }
    }
    return 0;
}

/* The number of leading (batch) dimensions of argument ``a`` before its parameter's
   ``pnd`` core dimensions ``pd``, checked against the batch shape of the arguments
   before it (``*lead_ndim`` dimensions ``*lead``, set by the first one; -1 before):
   -1 a wrong core shape (or, in a point or batch call, a wrong number of leading
   dimensions), -2 other batch dimensions than an earlier argument, -3 too many. */
static int symnum_batch_dims(const symnum_arg *a, const npy_intp *pd, int pnd, int mode,
                             int *lead_ndim, const npy_intp **lead)
{
    int j, extra = a->ndim - pnd;
    for (j = 0; j < pnd && extra >= 0; j++) {
        if (a->dims[extra + j] != pd[j]) {
            extra = -1;
        }
    }
    if (extra >= 0 && *lead_ndim < 0) {
        *lead_ndim = extra;
        *lead = a->dims;
    }
    else if (extra >= 0 && extra == *lead_ndim) {
        for (j = 0; j < extra; j++) {
            if (a->dims[j] != (*lead)[j]) {
                extra = -2;
            }
        }
    }
    else if (extra >= 0) {
        extra = -2;
    }
    if (extra >= 0 && ((mode == SYMNUM_POINT && extra != 0) ||
                       (mode == SYMNUM_BATCH && extra != 1))) {
        extra = -1;
    }
    if (extra > SYMNUM_MAX_BATCH_DIMS) {
        extra = -3;
    }
    return extra;
}

static PyObject *symnum_run_data(symnum_call *self, PyObject *const *argv, int *fallback)
{
    const symnum_spec *spec = self->spec;
    int np = spec->nparams, i, k, lead_ndim = -1, pos = 0;
    const npy_intp *lead = NULL;
    npy_intp count = 1, rows = -1;
    symnum_arg abuf[SYMNUM_SMALL], *a = abuf;
    symnum_out obuf[SYMNUM_SMALL], *o = obuf;
    const double *ibuf[SYMNUM_SMALL], **in = ibuf;
    double *pbuf[SYMNUM_SMALL], **out = pbuf;
    PyObject *result = NULL;
    char want[256], got[256];

    if (symnum_buffers(spec, &a, &in, &o, &out) < 0) {
        symnum_free_buffers(a, abuf, in, ibuf, o, obuf, out, pbuf);
        return PyErr_NoMemory();
    }
    for (i = 0; i < np; i++) {
        const int pnd = spec->pndim[i];
        const npy_intp *pd = symnum_pdims(spec, i);
        const int data = pnd > 0 && pd[0] < 0;
        int j, extra, taken = symnum_take_arg(self, argv[i], i, &a[i]);
        if (taken == 0) {
            goto fallback;
        }
        if (taken < 0) {
            goto done;
        }
        if (data) {
            /* -1: wrong shape; -4: another number of rows than the first data argument */
            extra = a[i].ndim == pnd ? 0 : -1;
            for (j = 1; j < pnd && extra == 0; j++) {
                if (a[i].dims[j] != pd[j]) {
                    extra = -1;
                }
            }
            if (extra == 0 && rows >= 0 && a[i].dims[0] != rows) {
                extra = -4;
            }
            if (extra == 0) {
                rows = a[i].dims[0];
            }
        }
        else {
            /* as in symnum_run: -1 wrong shape, -2 other batch dimensions, -3 too many */
            extra = symnum_batch_dims(&a[i], pd, pnd, self->mode, &lead_ndim, &lead);
        }
        if (extra < 0) {
            if (self->slow != NULL) {
                goto fallback;
            }
            symnum_format_shape(want, sizeof want, pd, pnd,
                                !data && self->mode != SYMNUM_POINT);
            symnum_format_shape(got, sizeof got, a[i].dims, a[i].ndim, 0);
            if (extra == -1) {
                PyErr_Format(PyExc_ValueError,
                             "%s(): argument '%s' has shape %s, expected %s", spec->name,
                             spec->pnames[i], got, want);
            }
            else if (extra == -3) {
                PyErr_Format(PyExc_ValueError,
                             "%s(): argument '%s' has %d batch dimensions; at most %d "
                             "are supported", spec->name, spec->pnames[i],
                             a[i].ndim - pnd, SYMNUM_MAX_BATCH_DIMS);
            }
            else if (extra == -4) {
                PyErr_Format(PyExc_ValueError,
                             "%s(): data argument '%s' has %" NPY_INTP_FMT " rows, the "
                             "data arguments before it %" NPY_INTP_FMT, spec->name,
                             spec->pnames[i], a[i].dims[0], rows);
            }
            else {
                PyErr_Format(PyExc_ValueError,
                             "%s(): argument '%s' has shape %s, whose batch dimensions "
                             "differ from the other arguments'", spec->name,
                             spec->pnames[i], got);
            }
            goto done;
        }
        in[i] = a[i].data;
    }
    if (rows < 0) { /* cannot happen: symnum_check_spec wants a data parameter */
        PyErr_Format(PyExc_SystemError, "%s(): no data argument", spec->name);
        goto done;
    }
    if (lead_ndim < 0) { /* every parameter is a data parameter */
        if (self->mode == SYMNUM_BATCH) {
            PyErr_Format(PyExc_TypeError, "%s(): batch call without non-data arguments",
                         spec->name);
            goto done;
        }
        lead_ndim = 0;
    }
    for (i = 0; i < lead_ndim; i++) {
        count *= lead[i];
    }
    switch (symnum_new_outputs(self, lead_ndim, lead, rows, o, out)) {
    case 1:
        goto fallback;
    case -1:
        goto done;
    default:
        break;
    }
    if (count > 0) {
        /* (the work is about count * rows rows; n = 0 still computes the reductions'
           empty values) */
        if (count >= SYMNUM_NOGIL_MIN || rows >= SYMNUM_NOGIL_MIN ||
            count * rows >= SYMNUM_NOGIL_MIN) {
            Py_BEGIN_ALLOW_THREADS
            spec->data(count, rows, in, out);
            Py_END_ALLOW_THREADS
        }
        else {
            spec->data(count, rows, in, out);
        }
    }
    if (symnum_box_scalars(self->spec, o) < 0) {
        goto done;
    }
    result = symnum_build_tree(self, &pos, o);
    goto done;

fallback:
    *fallback = 1;

done:
    symnum_release_args(a, np);
    for (k = 0; k < spec->nouts; k++) {
        Py_XDECREF(o[k].obj);
    }
    symnum_free_buffers(a, abuf, in, ibuf, o, obuf, out, pbuf);
    return result;
}

/* Runs the kernel on `argv` (one object per parameter, bound ones included).
   Returns NULL with *fallback = 1 (and no error set) when the slow path should take
   the call instead. */
static PyObject *symnum_run(symnum_call *self, PyObject *const *argv, int *fallback)
{
    const symnum_spec *spec = self->spec;
    int np = spec->nparams, i, k, lead_ndim = -1, pos = 0;
    const npy_intp *lead = NULL;
    npy_intp n = 1;
    symnum_arg abuf[SYMNUM_SMALL], *a = abuf;
    symnum_out obuf[SYMNUM_SMALL], *o = obuf;
    const double *ibuf[SYMNUM_SMALL], **in = ibuf;
    double *pbuf[SYMNUM_SMALL], **out = pbuf;
    PyObject *result = NULL;
    char want[256], got[256];

    if (spec->data != NULL) {
        return symnum_run_data(self, argv, fallback);
    }
    if (np <= SYMNUM_SMALL && spec->nouts <= SYMNUM_SMALL && self->mode != SYMNUM_BATCH) {
        int taken;
        result = symnum_lean(self, argv, &taken);
        if (taken) {
            return result;
        }
    }
    if (symnum_buffers(spec, &a, &in, &o, &out) < 0) {
        symnum_free_buffers(a, abuf, in, ibuf, o, obuf, out, pbuf);
        return PyErr_NoMemory();
    }
    for (i = 0; i < np; i++) {
        PyObject *obj = argv[i];
        const int pnd = spec->pndim[i];
        const npy_intp *pd = symnum_pdims(spec, i);
        int extra;
        if (!symnum_usable(obj, pnd, &a[i])) {
            PyArray_Descr *descr;
            if (self->slow != NULL) {
                goto fallback;
            }
            if (PyArray_Check(obj) && PyArray_ISCOMPLEX((PyArrayObject *)obj)) {
                PyErr_Format(PyExc_TypeError,
                             "%s(): argument '%s' is complex; the function is real",
                             spec->name, spec->pnames[i]);
                goto done;
            }
            /* native byte order, aligned, C-contiguous float64 (a copy if need be) */
            descr = PyArray_DescrFromType(NPY_DOUBLE);
            a[i].owned = PyArray_FromAny(obj, descr, 0, 0,
                                         NPY_ARRAY_IN_ARRAY | NPY_ARRAY_ENSUREARRAY, NULL);
            if (a[i].owned == NULL) {
                goto done;
            }
            if (!symnum_usable(a[i].owned, pnd, &a[i])) {
                PyErr_Format(PyExc_TypeError, "%s(): cannot convert argument '%s'",
                             spec->name, spec->pnames[i]);
                goto done;
            }
        }
        extra = symnum_batch_dims(&a[i], pd, pnd, self->mode, &lead_ndim, &lead);
        if (extra < 0) {
            if (self->slow != NULL) {
                goto fallback;
            }
            symnum_format_shape(want, sizeof want, pd, pnd,
                                self->mode != SYMNUM_POINT);
            symnum_format_shape(got, sizeof got, a[i].dims, a[i].ndim, 0);
            if (extra == -1) {
                PyErr_Format(PyExc_ValueError,
                             "%s(): argument '%s' has shape %s, expected %s", spec->name,
                             spec->pnames[i], got, want);
            }
            else if (extra == -3) {
                PyErr_Format(PyExc_ValueError,
                             "%s(): argument '%s' has %d batch dimensions; at most %d "
                             "are supported", spec->name, spec->pnames[i],
                             a[i].ndim - pnd, SYMNUM_MAX_BATCH_DIMS);
            }
            else {
                PyErr_Format(PyExc_ValueError,
                             "%s(): argument '%s' has shape %s, whose batch dimensions "
                             "differ from the other arguments'", spec->name,
                             spec->pnames[i], got);
            }
            goto done;
        }
        in[i] = a[i].data;
    }
    if (lead_ndim < 0) { /* a function without parameters */
        lead_ndim = self->mode == SYMNUM_BATCH ? -1 : 0;
        if (lead_ndim < 0) {
            PyErr_Format(PyExc_TypeError, "%s(): batch call without arguments", spec->name);
            goto done;
        }
    }
    for (i = 0; i < lead_ndim; i++) {
        n *= lead[i];
    }
    switch (symnum_new_outputs(self, lead_ndim, lead, -1, o, out)) {
    case 1:
        goto fallback;
    case -1:
        goto done;
    default:
        break;
    }
    if (lead_ndim == 0) {
        spec->point(in, out);
    }
    else if (n >= SYMNUM_NOGIL_MIN) {
        Py_BEGIN_ALLOW_THREADS
        spec->batch(n, in, out);
        Py_END_ALLOW_THREADS
    }
    else if (n > 0) {
        spec->batch(n, in, out);
    }
    if (symnum_box_scalars(self->spec, o) < 0) {
        goto done;
    }
    result = symnum_build_tree(self, &pos, o);
    goto done;

fallback:
    *fallback = 1;

done:
    symnum_release_args(a, np);
    for (k = 0; k < spec->nouts; k++) {
        Py_XDECREF(o[k].obj);
    }
    symnum_free_buffers(a, abuf, in, ibuf, o, obuf, out, pbuf);
    return result;
}

static PyObject *symnum_call_vectorcall(PyObject *self_, PyObject *const *args,
                                        size_t nargsf, PyObject *kwnames)
{
    symnum_call *self = (symnum_call *)self_;
    const symnum_spec *spec = self->spec;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), npre, nuser, i;
    PyObject *const *user = args;
    PyObject *captured = NULL, *result;
    PyObject *argv_buf[SYMNUM_SMALL], **argv = argv_buf;
    Py_ssize_t nsuf;
    int fallback = 0;

    if (self->plain && kwnames == NULL && nargs == spec->nparams) {
        int taken;
        result = symnum_lean(self, args, &taken);
        if (taken) {
            return result;
        }
    }
    if (self->method) {
        if (nargs < 1) {
            PyErr_Format(PyExc_TypeError, "%s() needs the object it is bound to",
                         spec->name);
            return NULL;
        }
        captured = symnum_captured(self, args[0]);
        if (captured == NULL) {
            return NULL;
        }
        user = args + 1;
        nuser = nargs - 1;
        npre = 1;
    }
    else {
        nuser = nargs;
        npre = PyTuple_GET_SIZE(self->prefix);
    }
    nsuf = self->suffix == NULL ? 0 : PyTuple_GET_SIZE(self->suffix);
    if ((kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) ||
        npre + nuser + nsuf != spec->nparams) {
        Py_XDECREF(captured);
        if (self->slow != NULL) {
            return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
        }
        if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
            PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", spec->name);
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "%s() takes %zd positional arguments but %zd were given",
                         spec->name, (Py_ssize_t)spec->nparams - npre - nsuf, nuser);
        }
        return NULL;
    }
    if (npre == 0 && nsuf == 0) { /* the common case: the caller's arguments as they are */
        result = symnum_run(self, args, &fallback);
    }
    else {
        if (spec->nparams > SYMNUM_SMALL) {
            argv = PyMem_Malloc((size_t)spec->nparams * sizeof *argv);
            if (argv == NULL) {
                Py_XDECREF(captured);
                return PyErr_NoMemory();
            }
        }
        for (i = 0; i < npre; i++) {
            argv[i] = captured != NULL ? captured : PyTuple_GET_ITEM(self->prefix, i);
        }
        for (i = 0; i < nuser; i++) {
            argv[npre + i] = user[i];
        }
        for (i = 0; i < nsuf; i++) {
            argv[npre + nuser + i] = PyTuple_GET_ITEM(self->suffix, i);
        }
        result = symnum_run(self, argv, &fallback);
        if (argv != argv_buf) {
            PyMem_Free(argv);
        }
    }
    Py_XDECREF(captured);
    if (fallback) {
        /* the slow path gets exactly what this callable got (the instance first, for a
           method) and makes all the conversions and error messages */
        return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
    }
    return result;
}

static int symnum_call_traverse(symnum_call *self, visitproc visit, void *arg)
{
    Py_VISIT(self->owner);
    Py_VISIT(self->slow);
    Py_VISIT(self->prefix);
    Py_VISIT(self->suffix);
    Py_VISIT(self->binds);
    Py_VISIT(self->seen_type);
    return 0;
}

static int symnum_call_clear(symnum_call *self)
{
    Py_CLEAR(self->owner);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->prefix);
    Py_CLEAR(self->suffix);
    Py_CLEAR(self->binds);
    Py_CLEAR(self->seen_type);
    return 0;
}

static void symnum_call_dealloc(symnum_call *self)
{
    PyObject_GC_UnTrack(self);
    symnum_call_clear(self);
    PyMem_Free(self->bind_offsets);
    PyObject_GC_Del(self);
}

static PyObject *symnum_call_get_doc(symnum_call *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(self->spec->doc);
}

static PyObject *symnum_call_get_name(symnum_call *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(self->spec->name);
}

static PyObject *symnum_call_repr(symnum_call *self)
{
    return PyUnicode_FromFormat("<compiled C function %s>", self->spec->name);
}

/* attribute access on an instance (`obj.__call__`) binds like a function does */
static PyObject *symnum_method_get(PyObject *self, PyObject *obj, PyObject *type)
{
    (void)type;
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

static PyGetSetDef symnum_call_getset[] = {
    {"__doc__", (getter)symnum_call_get_doc, NULL, NULL, NULL},
    {"__name__", (getter)symnum_call_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject symnum_call_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "symnum_c.CFunction",
    .tp_basicsize = sizeof(symnum_call),
    .tp_dealloc = (destructor)symnum_call_dealloc,
    .tp_vectorcall_offset = offsetof(symnum_call, vectorcall),
    .tp_repr = (reprfunc)symnum_call_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_traverse = (traverseproc)symnum_call_traverse,
    .tp_clear = (inquiry)symnum_call_clear,
    .tp_getset = symnum_call_getset,
};

static PyTypeObject symnum_method_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "symnum_c.CMethod",
    .tp_basicsize = sizeof(symnum_call),
    .tp_dealloc = (destructor)symnum_call_dealloc,
    .tp_vectorcall_offset = offsetof(symnum_call, vectorcall),
    .tp_repr = (reprfunc)symnum_call_repr,
    .tp_call = PyVectorcall_Call,
    .tp_descr_get = symnum_method_get,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_traverse = (traverseproc)symnum_call_traverse,
    .tp_clear = (inquiry)symnum_call_clear,
    .tp_getset = symnum_call_getset,
};

/* A callable bound to kernel `index` of `table` (see the top of this file); `owner`
   (or NULL) keeps the table alive; `suffix` is NULL or a tuple. */
static PyObject *symnum_make(const symnum_table *table, PyObject *owner, int index,
                             PyObject *slow, PyObject *prefix, int mode, PyObject *binds,
                             int method, PyObject *suffix)
{
    const symnum_spec *spec;
    PyObject *made;
    Py_ssize_t i, np, ns = suffix == NULL ? 0 : PyTuple_GET_SIZE(suffix);
    if (index < 0 || index >= table->nspecs || mode < SYMNUM_AUTO || mode > SYMNUM_BATCH) {
        PyErr_SetString(PyExc_ValueError, "kernel index or mode out of range");
        return NULL;
    }
    spec = table->specs[index];
    np = PyTuple_GET_SIZE(prefix);
    if (np + ns + (method != 0) > spec->nparams || (method && np > 0)) {
        PyErr_SetString(PyExc_ValueError, "too many bound arguments");
        return NULL;
    }
    if (method && (slow == Py_None || mode != SYMNUM_AUTO)) {
        PyErr_SetString(PyExc_ValueError, "a method needs a slow path and the AUTO mode");
        return NULL;
    }
    /* bound arguments are checked on every call like the others; nothing to do here */
    for (i = 0; i < np + ns; i++) {
        if (!PyArray_Check(i < np ? PyTuple_GET_ITEM(prefix, i)
                                  : PyTuple_GET_ITEM(suffix, i - np))) {
            PyErr_SetString(PyExc_TypeError, "bound arguments must be arrays");
            return NULL;
        }
    }
    if (binds == Py_None) {
        binds = NULL;
    }
    else {
        if (!PyTuple_Check(binds) || PyTuple_GET_SIZE(binds) != spec->nouts) {
            PyErr_SetString(PyExc_TypeError, "binds must be a tuple with one item per output");
            return NULL;
        }
        for (i = 0; i < spec->nouts; i++) {
            PyObject *cls = PyTuple_GET_ITEM(binds, i);
            if (cls != Py_None && !PyType_Check(cls)) {
                PyErr_SetString(PyExc_TypeError, "binds must hold classes or None");
                return NULL;
            }
        }
    }
    made = symnum_new_call(spec, table->specs, owner, slow == Py_None ? NULL : slow, prefix,
                           mode, binds, method);
    if (made != NULL && ns > 0) {
        Py_INCREF(suffix);
        ((symnum_call *)made)->suffix = suffix;
    }
    if (made != NULL) {
        ((symnum_call *)made)->plain = !method && np == 0 && ns == 0 &&
                                        mode != SYMNUM_BATCH && spec->data == NULL &&
                                        spec->nparams <= SYMNUM_SMALL &&
                                        spec->nouts <= SYMNUM_SMALL;
    }
    return made;
}

/* The shape table of kernel `index`'s code, as a tuple of ints */
static PyObject *symnum_shapes(const symnum_table *table, long index)
{
    const symnum_spec *spec;
    PyObject *result;
    int i;
    if (index < 0 || index >= table->nspecs) {
        PyErr_SetString(PyExc_ValueError, "kernel index out of range");
        return NULL;
    }
    spec = table->specs[index];
    result = PyTuple_New(spec->nshapes);
    for (i = 0; result != NULL && i < spec->nshapes; i++) {
        PyObject *item = PyLong_FromLongLong(spec->shapes[i]);
        if (item == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyTuple_SET_ITEM(result, i, item);
    }
    return result;
}

/* 0 if `spec` agrees with its code's shape table and its output tree is well formed;
   else -1 with ImportError set (a stale or corrupt kernel must not run: its buffers
   would not match what the code reads and writes). */
static int symnum_check_spec(const symnum_spec *spec, int index, int nspecs)
{
    const long long *t = spec->shapes;
    int pos = 0, i, j, k, d = 0, leaves = 0, ndata = 0;
    /* a dimension is a size >= 0, or -1 (n rows) first in a data kernel's array */
#define SYMNUM_DIM_OK(dim, j) ((dim) >= 0 || ((dim) == -1 && (j) == 0 && spec->data != NULL))
    if ((spec->data == NULL) == (spec->point == NULL || spec->batch == NULL)) {
        goto bad;
    }
    if (pos >= spec->nshapes || t[pos++] != spec->nparams) {
        goto bad;
    }
    for (i = 0; i < spec->nparams; i++) {
        if (pos >= spec->nshapes || t[pos++] != spec->pndim[i]) {
            goto bad;
        }
        for (j = 0; j < spec->pndim[i]; j++, d++) {
            if (pos >= spec->nshapes || t[pos++] != spec->pdims[d] ||
                !SYMNUM_DIM_OK(spec->pdims[d], j)) {
                goto bad;
            }
            ndata += spec->pdims[d] < 0;
        }
    }
    if (spec->data != NULL && ndata == 0) {
        goto bad;
    }
    if (pos >= spec->nshapes || t[pos++] != spec->nouts) {
        goto bad;
    }
    for (d = 0, k = 0; k < spec->nouts; k++) {
        if (pos >= spec->nshapes || t[pos++] != spec->ondim[k] || spec->ondim[k] > NPY_MAXDIMS) {
            goto bad;
        }
        for (j = 0; j < spec->ondim[k]; j++, d++) {
            if (pos >= spec->nshapes || t[pos++] != spec->odims[d] ||
                !SYMNUM_DIM_OK(spec->odims[d], j)) {
                goto bad;
            }
        }
    }
#undef SYMNUM_DIM_OK
    if (pos != spec->nshapes) {
        goto bad;
    }
    /* the output tree: every leaf an output index in range, each exactly once */
    for (pos = 0; pos < spec->ntree;) {
        int kind = spec->tree[pos];
        if (kind == SYMNUM_TREE_TUPLE && pos + 1 < spec->ntree && spec->tree[pos + 1] >= 0) {
            pos += 2;
        }
        else if (kind == SYMNUM_TREE_LEAF && pos + 1 < spec->ntree &&
                 spec->tree[pos + 1] == leaves) {
            leaves++;
            pos += 2;
        }
        else if (kind == SYMNUM_TREE_CLOSURE && pos + 2 < spec->ntree &&
                 spec->tree[pos + 1] == leaves && spec->tree[pos + 2] >= 0 &&
                 spec->tree[pos + 2] < nspecs) {
            leaves++;
            pos += 3;
        }
        else {
            goto bad;
        }
    }
    if (leaves != spec->nouts || (spec->nouts == 0 && spec->ntree == 0)) {
        goto bad;
    }
    return 0;
bad:
    PyErr_Format(PyExc_ImportError,
                 "symnum C kernel %d (%s): its description disagrees with the shapes its "
                 "code was emitted for; the kernel (or a pickle it came from) is stale or "
                 "corrupt",
                 index, spec->name);
    return -1;
}

/* What every module with the runtime does once: NumPy's C API, the callable types. */
static int symnum_runtime_ready(void)
{
    if (PyArray_API == NULL) {
        import_array1(-1);
    }
    if (symnum_float64 == NULL && (symnum_float64 = PyArray_DescrFromType(NPY_DOUBLE)) == NULL) {
        return -1;
    }
    if (PyType_Ready(&symnum_call_type) < 0 || PyType_Ready(&symnum_method_type) < 0) {
        return -1;
    }
    if (symnum_str_captured == NULL) {
        symnum_str_captured = PyUnicode_InternFromString("captured");
        if (symnum_str_captured == NULL) {
            return -1;
        }
    }
    return 0;
}

/* 0 if every description of `table` agrees with its code (symnum_check_spec); else -1
   with ImportError set. */
static int symnum_check_table(const symnum_table *table)
{
    int i;
    if (table->abi != SYMNUM_TABLE_ABI || table->size != (int)sizeof(symnum_spec) ||
        table->nspecs < 0 || (table->nspecs > 0 && table->specs == NULL)) {
        PyErr_SetString(PyExc_ImportError,
                        "symnum C kernels built for another runtime layout; rebuild them");
        return -1;
    }
    for (i = 0; i < table->nspecs; i++) {
        if (symnum_check_spec(table->specs[i], i, table->nspecs) < 0) {
            return -1;
        }
    }
    return 0;
}

#ifdef SYMNUM_SHARED_RUNTIME
/* The shared runtime: one extension module per toolchain, compiled once into the
   cache, for the kernel modules the C backend builds (which then hold only their
   kernels and a table of their descriptions, and compile in a fraction of the time).
   Its functions take that table as a capsule (SYMNUM_TABLE_CAPSULE) made by the kernel
   module; adopt() checks a table once, when its module is loaded. It also makes call
   classes (call_class) and guards (guard): the numba backend borrows both, when this
   toolchain is installed, so that its kernels too are called from Python without a
   Python frame. */

static const symnum_table *symnum_table_of(PyObject *capsule)
{
    return (const symnum_table *)PyCapsule_GetPointer(capsule, SYMNUM_TABLE_CAPSULE);
}

/* Guards: the fast entry of kernels compiled by another toolchain (numba's exact-type
   dispatchers), so that calling them from a call class runs no Python frame either.
   A guard calls `target` with the caller's arguments when there are `nuser` of them,
   no keywords, and each is an exact ndarray of exactly its parameter's shape (-1: a
   dimension of any length); with a prefix in front in mode 1 (the guard's `captured`)
   and mode 2 (the caller's first argument is an instance whose `captured` goes in
   front: a method guard, meant as a class's `__call__`), checked the same way;
   `suffix` (a function's constant data) is bound after them, unchecked. The target
   checks the rest (dtype, byte order, layout, alignment) and raises for anything else.
   Checking the shapes here keeps batches and wrong shapes from reaching the target at
   all: numba's refusal of a rank builds an error message (microseconds), and an
   exception raised by compiled code leaks memory (numba issue 1549). Anything the
   guard refuses, and any Exception the target raises, goes to `slow` (None: a
   TypeError) with exactly the caller's arguments: the checked path converts, batches
   and raises the function's own errors (not chained to the target's). Outputs marked
   in `flags` (shape (): numba returns Python floats and complexes) are boxed as
   numpy.float64 or numpy.complex128; `flat` says the target returns a tuple, one flag
   per item, rather than one value. `binds`, when given, has one class or None per
   output: such an output is returned as a new instance of its class with the output
   as its `captured` attribute (a closure entry; see symnum_bind). */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *target;
    PyObject *slow;
    PyObject *captured;      /* mode 1: bound in front of the user's arguments */
    PyObject *suffix;        /* NULL, or a tuple bound after them (a function's data) */
    PyObject *flags;         /* NULL (outputs as they come), or bytes: per output, 1
                                where it is boxed */
    PyObject *binds;         /* NULL, or per output None or a class (flags not NULL) */
    Py_ssize_t *bind_offsets; /* per output: where its class keeps `captured`, or 0 */
    Py_ssize_t nuser;        /* the user's arguments (without prefix or instance) */
    int *ndims;              /* per parameter of the target (prefix first): its rank */
    npy_intp *dims;          /* and its dimensions, one after the other */
    int mode;                /* 0 none, 1 `captured`, 2 the instance's `captured` */
    int flat;
    PyTypeObject *seen_type; /* mode 2: see symnum_captured_of */
    Py_ssize_t seen_offset;
} symnum_guard;

static PyTypeObject symnum_guard_type;
static PyTypeObject symnum_guard_method_type;

/* `r` (stolen) as a NumPy scalar: a float64 unless it is a complex */
static PyObject *symnum_box_scalar(PyObject *r)
{
    PyObject *boxed;
    if (PyFloat_CheckExact(r)) {
        boxed = PyArrayScalar_New(Double);
        if (boxed != NULL) {
            PyArrayScalar_ASSIGN(boxed, Double, PyFloat_AS_DOUBLE(r));
        }
    }
    else {
        PyObject *type = PyComplex_Check(r) ? (PyObject *)&PyCDoubleArrType_Type
                                            : (PyObject *)&PyDoubleArrType_Type;
        boxed = PyObject_CallOneArg(type, r);
    }
    Py_DECREF(r);
    return boxed;
}

/* output `k`, `r` (stolen), as the caller receives it: boxed, or bound to its class */
static PyObject *symnum_guard_output(symnum_guard *self, Py_ssize_t k, PyObject *r)
{
    PyObject *cls, *bound;
    if (PyBytes_AS_STRING(self->flags)[k] && (r = symnum_box_scalar(r)) == NULL) {
        return NULL;
    }
    if (self->binds == NULL || (cls = PyTuple_GET_ITEM(self->binds, k)) == Py_None) {
        return r;
    }
    bound = symnum_bind(cls, self->bind_offsets[k], r);
    Py_DECREF(r);
    return bound;
}

/* the target's result `r` (stolen) with its outputs boxed or bound */
static PyObject *symnum_guard_box(symnum_guard *self, PyObject *r)
{
    Py_ssize_t n = PyBytes_GET_SIZE(self->flags), k;
    PyObject *out;
    if (!self->flat) {
        return symnum_guard_output(self, 0, r);
    }
    if (!PyTuple_CheckExact(r) || PyTuple_GET_SIZE(r) != n) {
        Py_DECREF(r);
        PyErr_SetString(PyExc_SystemError, "symnum guard: the kernel returned another tree");
        return NULL;
    }
    out = PyTuple_New(n);
    if (out == NULL) {
        Py_DECREF(r);
        return NULL;
    }
    for (k = 0; k < n; k++) {
        PyObject *item = PyTuple_GET_ITEM(r, k);
        Py_INCREF(item);
        if ((item = symnum_guard_output(self, k, item)) == NULL) {
            Py_DECREF(out);
            Py_DECREF(r);
            return NULL;
        }
        PyTuple_SET_ITEM(out, k, item);
    }
    Py_DECREF(r);
    return out;
}

/* whether arguments `args[0..n)` are exact ndarrays of the guard's shapes, from
   parameter `first` on */
static int symnum_guard_exact(symnum_guard *self, PyObject *const *args, Py_ssize_t n,
                              Py_ssize_t first)
{
    const npy_intp *dims = self->dims;
    Py_ssize_t i;
    int k;
    for (i = 0; i < first; i++) {
        dims += self->ndims[i];
    }
    for (i = 0; i < n; i++) {
        int nd = self->ndims[first + i];
        PyArrayObject *a = (PyArrayObject *)args[i];
        if (!PyArray_CheckExact(args[i]) || PyArray_NDIM(a) != nd) {
            return 0;
        }
        for (k = 0; k < nd; k++) {
            if (dims[k] >= 0 && PyArray_DIMS(a)[k] != dims[k]) {
                return 0;
            }
        }
        dims += nd;
    }
    return 1;
}

static PyObject *symnum_guard_call(PyObject *self_, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames)
{
    symnum_guard *self = (symnum_guard *)self_;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), skip = self->mode == 2, i;
    Py_ssize_t npre = self->mode != 0, total;
    Py_ssize_t nsuf = self->suffix == NULL ? 0 : PyTuple_GET_SIZE(self->suffix);
    PyObject *result, *captured, *buf[SYMNUM_SMALL], **argv = buf;

    if ((kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) || nargs != skip + self->nuser ||
        !symnum_guard_exact(self, args + skip, self->nuser, npre)) {
        goto slow;
    }
    if (self->mode == 0 && nsuf == 0) {
        result = PyObject_Vectorcall(self->target, args, (size_t)nargs, NULL);
    }
    else {
        captured = NULL;
        if (self->mode == 1) {
            captured = self->captured;
            Py_INCREF(captured);
        }
        else if (self->mode == 2 &&
                 (captured = symnum_captured_of(&self->seen_type, &self->seen_offset,
                                                args[0])) == NULL) {
            return NULL;
        }
        if (captured != NULL && !symnum_guard_exact(self, &captured, 1, 0)) {
            Py_DECREF(captured); /* e.g. batched captures */
            goto slow;
        }
        total = npre + self->nuser + nsuf;
        if (total > SYMNUM_SMALL &&
            (argv = PyMem_Malloc((size_t)total * sizeof *argv)) == NULL) {
            Py_XDECREF(captured);
            return PyErr_NoMemory();
        }
        if (captured != NULL) {
            argv[0] = captured;
        }
        for (i = 0; i < self->nuser; i++) {
            argv[npre + i] = args[skip + i];
        }
        for (i = 0; i < nsuf; i++) {
            argv[npre + self->nuser + i] = PyTuple_GET_ITEM(self->suffix, i);
        }
        result = PyObject_Vectorcall(self->target, argv, (size_t)total, NULL);
        if (argv != buf) {
            PyMem_Free(argv);
        }
        Py_XDECREF(captured);
    }
    if (result == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return NULL; /* KeyboardInterrupt, SystemExit... */
        }
        PyErr_Clear();
        goto slow;
    }
    return self->flags == NULL ? result : symnum_guard_box(self, result);
slow:
    if (self->slow == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "these arguments need the checked path, and this entry has none");
        return NULL;
    }
    return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
}

static int symnum_guard_traverse(symnum_guard *self, visitproc visit, void *arg)
{
    Py_VISIT(self->target);
    Py_VISIT(self->slow);
    Py_VISIT(self->captured);
    Py_VISIT(self->suffix);
    Py_VISIT(self->binds);
    Py_VISIT(self->seen_type);
    return 0;
}

static int symnum_guard_clear(symnum_guard *self)
{
    Py_CLEAR(self->target);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->captured);
    Py_CLEAR(self->suffix);
    Py_CLEAR(self->flags);
    Py_CLEAR(self->binds);
    Py_CLEAR(self->seen_type);
    return 0;
}

static void symnum_guard_dealloc(symnum_guard *self)
{
    PyObject_GC_UnTrack(self);
    symnum_guard_clear(self);
    PyMem_Free(self->ndims);
    PyMem_Free(self->dims);
    PyMem_Free(self->bind_offsets);
    PyObject_GC_Del(self);
}

static PyObject *symnum_guard_repr(symnum_guard *self)
{
    return PyUnicode_FromFormat("<symnum guard of %R>", self->target);
}

static PyTypeObject symnum_guard_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "symnum_c.Guard",
    .tp_basicsize = sizeof(symnum_guard),
    .tp_dealloc = (destructor)symnum_guard_dealloc,
    .tp_vectorcall_offset = offsetof(symnum_guard, vectorcall),
    .tp_repr = (reprfunc)symnum_guard_repr,
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_traverse = (traverseproc)symnum_guard_traverse,
    .tp_clear = (inquiry)symnum_guard_clear,
};

/* a method guard binds like a function when it is a class's `__call__` */
static PyTypeObject symnum_guard_method_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "symnum_c.MethodGuard",
    .tp_basicsize = sizeof(symnum_guard),
    .tp_dealloc = (destructor)symnum_guard_dealloc,
    .tp_vectorcall_offset = offsetof(symnum_guard, vectorcall),
    .tp_repr = (reprfunc)symnum_guard_repr,
    .tp_call = PyVectorcall_Call,
    .tp_descr_get = symnum_method_get,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_traverse = (traverseproc)symnum_guard_traverse,
    .tp_clear = (inquiry)symnum_guard_clear,
};

/* the ranks and dimensions of `shapes` (a tuple of tuples of ints >= 0, or -1 for a
   dimension of any length: a data argument's rows) into `guard`; 0, or -1 with an
   exception set */
static int symnum_guard_shapes(symnum_guard *guard, PyObject *shapes)
{
    Py_ssize_t n = PyTuple_GET_SIZE(shapes), total = 0, i, k, at = 0;
    for (i = 0; i < n; i++) {
        PyObject *shape = PyTuple_GET_ITEM(shapes, i);
        if (!PyTuple_CheckExact(shape) || PyTuple_GET_SIZE(shape) > NPY_MAXDIMS) {
            PyErr_SetString(PyExc_TypeError, "guard(): shapes must be tuples of ints");
            return -1;
        }
        total += PyTuple_GET_SIZE(shape);
    }
    guard->ndims = PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    guard->dims = PyMem_Malloc((size_t)(total > 0 ? total : 1) * sizeof(npy_intp));
    if (guard->ndims == NULL || guard->dims == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < n; i++) {
        PyObject *shape = PyTuple_GET_ITEM(shapes, i);
        guard->ndims[i] = (int)PyTuple_GET_SIZE(shape);
        for (k = 0; k < PyTuple_GET_SIZE(shape); k++) {
            Py_ssize_t dim = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, k));
            if (dim < -1) {
                if (!PyErr_Occurred()) {
                    PyErr_SetString(PyExc_ValueError, "guard(): negative dimension");
                }
                return -1;
            }
            guard->dims[at++] = (npy_intp)dim;
        }
    }
    return 0;
}

/* per output of `binds` (None or classes): where its class keeps `captured` */
static int symnum_guard_binds(symnum_guard *guard, PyObject *binds)
{
    Py_ssize_t n = PyTuple_GET_SIZE(binds), k;
    guard->bind_offsets = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(Py_ssize_t));
    if (guard->bind_offsets == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (k = 0; k < n; k++) {
        PyObject *cls = PyTuple_GET_ITEM(binds, k);
        if (cls != Py_None) {
            if (!PyType_Check(cls)) {
                PyErr_SetString(PyExc_TypeError, "guard(): binds must be classes or None");
                return -1;
            }
            guard->bind_offsets[k] = symnum_captured_offset((PyTypeObject *)cls);
        }
    }
    Py_INCREF(binds);
    guard->binds = binds;
    return 0;
}

/* guard(target, slow, shapes, mode, captured, flags, flat, binds=None, suffix=()) */
static PyObject *symnum_module_guard(PyObject *module, PyObject *args)
{
    PyObject *target, *slow, *shapes, *captured, *flags, *binds = Py_None, *suffix = NULL;
    int mode, flat;
    symnum_guard *guard;
    (void)module;
    if (!PyArg_ParseTuple(args, "OOO!iOOp|OO!", &target, &slow, &PyTuple_Type, &shapes,
                          &mode, &captured, &flags, &flat, &binds, &PyTuple_Type, &suffix)) {
        return NULL;
    }
    if (!PyCallable_Check(target) || (slow != Py_None && !PyCallable_Check(slow)) ||
        mode < 0 || mode > 2 ||
        (mode == 1) != (captured != Py_None) || PyTuple_GET_SIZE(shapes) < (mode != 0) ||
        (flags != Py_None &&
         (!PyBytes_CheckExact(flags) || (!flat && PyBytes_GET_SIZE(flags) != 1))) ||
        (binds != Py_None &&
         (flags == Py_None || !PyTuple_CheckExact(binds) ||
          PyTuple_GET_SIZE(binds) != PyBytes_GET_SIZE(flags)))) {
        PyErr_SetString(PyExc_TypeError,
                        "guard(target, slow, shapes, mode, captured, flags, flat, binds=None, "
                        "suffix=()): target callable, slow callable or None, one shape "
                        "per parameter, mode 0, 1 (with captured) or 2, flags None or bytes "
                        "(one byte unless flat), binds None or a tuple as long as flags");
        return NULL;
    }
    guard = PyObject_GC_New(symnum_guard,
                            mode == 2 ? &symnum_guard_method_type : &symnum_guard_type);
    if (guard == NULL) {
        return NULL;
    }
    guard->target = guard->slow = guard->captured = guard->flags = guard->binds = NULL;
    guard->suffix = NULL;
    if (suffix != NULL && PyTuple_GET_SIZE(suffix) > 0) {
        Py_INCREF(suffix);
        guard->suffix = suffix;
    }
    guard->seen_type = NULL;
    guard->ndims = NULL;
    guard->dims = NULL;
    guard->bind_offsets = NULL;
    if (symnum_guard_shapes(guard, shapes) < 0 ||
        (binds != Py_None && symnum_guard_binds(guard, binds) < 0)) {
        Py_DECREF(guard);
        return NULL;
    }
    guard->vectorcall = symnum_guard_call;
    Py_INCREF(target);
    guard->target = target;
    Py_INCREF(slow);
    guard->slow = slow;
    guard->captured = NULL;
    if (mode == 1) {
        Py_INCREF(captured);
        guard->captured = captured;
    }
    guard->flags = NULL;
    if (flags != Py_None) {
        Py_INCREF(flags);
        guard->flags = flags;
    }
    guard->nuser = PyTuple_GET_SIZE(shapes) - (mode != 0);
    guard->mode = mode;
    guard->flat = flat;
    guard->seen_offset = 0;
    PyObject_GC_Track(guard);
    return (PyObject *)guard;
}

/* Call classes (see call_class below): a subclass of a Python class whose instances
   are called through CPython's vectorcall protocol, straight into the C callable the
   class keeps as its attribute `_fast_entry`. Calling an instance of a Python class
   whose __call__ is a C callable costs an argument tuple, a type lookup and a second
   dispatch (about 30 ns, a third of a small kernel's call); this costs one type lookup
   (CPython's method cache), and after the first call not even that. Each instance
   carries, past the base's layout, the function pointer vectorcall wants (set when the
   instance is allocated) and a cache of the entry it last found. */

static PyObject *symnum_str_fast_entry; /* "_fast_entry", interned */

/* The entry an instance last found, borrowed from its class, and the class's version
   tag then. CPython gives a class a new tag (never reused) whenever it or a base
   changes, so while the tag is the same the class still holds that entry. 0: none. */
typedef struct {
    PyObject *entry;
    unsigned int tag;
} symnum_entry_cache;

/* CPython 3.12 and later zero the tag of a modified class (3.13 no longer sets the
   flag); before, the flag says whether the tag is valid */
#if PY_VERSION_HEX >= 0x030C0000 || !defined(Py_TPFLAGS_VALID_VERSION_TAG)
#define SYMNUM_TAG_OF(type) ((type)->tp_version_tag)
#else
#define SYMNUM_TAG_OF(type) \
    (((type)->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) ? (type)->tp_version_tag : 0u)
#endif

static PyObject *symnum_fast_entry(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    symnum_entry_cache *cache =
        (symnum_entry_cache *)((char *)self + type->tp_vectorcall_offset +
                               sizeof(vectorcallfunc));
    const unsigned int tag = SYMNUM_TAG_OF(type);
    PyObject *entry;
    if (tag != 0 && cache->tag == tag) {
        entry = cache->entry;
    }
    else {
        entry = _PyType_Lookup(type, symnum_str_fast_entry); /* borrowed */
        if (entry == NULL) {
            PyErr_Format(PyExc_TypeError, "'%.200s' object is not callable yet (no entry)",
                         type->tp_name);
            return NULL;
        }
        cache->entry = entry;
        cache->tag = SYMNUM_TAG_OF(type); /* the lookup may have given it one */
    }
    Py_INCREF(entry); /* the call may run Python code that replaces it */
    return entry;
}

/* instances of a plain call class: the arguments go to the entry as they are */
static PyObject *symnum_fast_call(PyObject *self, PyObject *const *args, size_t nargsf,
                                  PyObject *kwnames)
{
    PyObject *entry = symnum_fast_entry(self), *result;
    if (entry == NULL) {
        return NULL;
    }
    /* symnum's own callables directly; anything else through the protocol */
    result = Py_IS_TYPE(entry, &symnum_call_type)
                 ? symnum_call_vectorcall(entry, args, nargsf, kwnames)
             : Py_IS_TYPE(entry, &symnum_guard_type)
                 ? symnum_guard_call(entry, args, nargsf, kwnames)
                 : PyObject_Vectorcall(entry, args, nargsf, kwnames);
    Py_DECREF(entry);
    return result;
}

/* instances of a method call class: the entry gets the instance in front */
static PyObject *symnum_fast_method_call(PyObject *self, PyObject *const *args,
                                         size_t nargsf, PyObject *kwnames)
{
    PyObject *entry, *result, *buf[SYMNUM_SMALL], **argv = buf;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf), nkw, total, i;
    entry = symnum_fast_entry(self);
    if (entry == NULL) {
        return NULL;
    }
    if (nargsf & PY_VECTORCALL_ARGUMENTS_OFFSET) {
        /* the caller lent us args[-1]: put the instance there for the call */
        PyObject **lent = (PyObject **)args - 1, *saved = lent[0];
        lent[0] = self;
        result = Py_IS_TYPE(entry, &symnum_method_type)
                     ? symnum_call_vectorcall(entry, lent, (size_t)(nargs + 1), kwnames)
                 : Py_IS_TYPE(entry, &symnum_guard_method_type)
                     ? symnum_guard_call(entry, lent, (size_t)(nargs + 1), kwnames)
                     : PyObject_Vectorcall(entry, lent, (size_t)(nargs + 1), kwnames);
        lent[0] = saved;
        Py_DECREF(entry);
        return result;
    }
    nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    total = nargs + nkw + 1;
    if (total > SYMNUM_SMALL) {
        argv = PyMem_Malloc((size_t)total * sizeof *argv);
        if (argv == NULL) {
            Py_DECREF(entry);
            return PyErr_NoMemory();
        }
    }
    argv[0] = self;
    for (i = 0; i < nargs + nkw; i++) {
        argv[i + 1] = args[i];
    }
    result = PyObject_Vectorcall(entry, argv, (size_t)(nargs + 1), kwnames);
    if (argv != buf) {
        PyMem_Free(argv);
    }
    Py_DECREF(entry);
    return result;
}

/* tp_alloc of call classes: the instance's vectorcall pointer is set here, so every way
   of making one (object.__new__, symnum_bind, copy) yields a callable instance */
static PyObject *symnum_fast_alloc_with(PyTypeObject *type, Py_ssize_t nitems,
                                        vectorcallfunc call)
{
    PyObject *obj = PyType_GenericAlloc(type, nitems);
    if (obj != NULL) {
        *(vectorcallfunc *)((char *)obj + type->tp_vectorcall_offset) = call;
    }
    return obj;
}

static PyObject *symnum_fast_alloc(PyTypeObject *type, Py_ssize_t nitems)
{
    return symnum_fast_alloc_with(type, nitems, symnum_fast_call);
}

static PyObject *symnum_fast_method_alloc(PyTypeObject *type, Py_ssize_t nitems)
{
    return symnum_fast_alloc_with(type, nitems, symnum_fast_method_call);
}

/* call_class(base, name, method) */
static PyObject *symnum_module_call_class(PyObject *module, PyObject *args)
{
    PyObject *base, *bases, *name, *cls;
    int method;
    PyTypeObject *bt;
    Py_ssize_t offset;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!p", &PyType_Type, &base, &PyBytes_Type, &name,
                          &method)) {
        return NULL;
    }
    if (symnum_str_fast_entry == NULL &&
        (symnum_str_fast_entry = PyUnicode_InternFromString("_fast_entry")) == NULL) {
        return NULL;
    }
    bt = (PyTypeObject *)base;
    if (bt->tp_itemsize != 0 || !(bt->tp_flags & Py_TPFLAGS_BASETYPE)) {
        PyErr_Format(PyExc_TypeError, "call_class(): cannot extend %.200s", bt->tp_name);
        return NULL;
    }
    offset = (bt->tp_basicsize + (Py_ssize_t)sizeof(void *) - 1) &
             ~((Py_ssize_t)sizeof(void *) - 1);
    {
        PyMemberDef members[] = {
            {"__vectorcalloffset__", T_PYSSIZET, offset, READONLY, NULL},
            {NULL, 0, 0, 0, NULL},
        };
        PyType_Slot slots[] = {
            {Py_tp_call, (void *)PyVectorcall_Call},
            {Py_tp_alloc, method ? (void *)symnum_fast_method_alloc : (void *)symnum_fast_alloc},
            {Py_tp_members, members},
            {0, NULL},
        };
        /* Python 3.10 and 3.11 keep spec.name as the type's tp_name: the bytes object
           holding it becomes a class attribute below, so it lives as long as the class */
        PyType_Spec spec = {PyBytes_AS_STRING(name),
                            (int)(offset + (Py_ssize_t)sizeof(vectorcallfunc) +
                                  (Py_ssize_t)sizeof(symnum_entry_cache)),
                            0,
                            Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL, slots};
        bases = PyTuple_Pack(1, base);
        if (bases == NULL) {
            return NULL;
        }
        cls = PyType_FromSpecWithBases(&spec, bases);
        Py_DECREF(bases);
    }
    if (cls == NULL) {
        return NULL;
    }
    if (PyObject_SetAttrString(cls, "_fast_name", name) < 0) {
        Py_DECREF(cls);
        return NULL;
    }
    return cls;
}

/* make(table, index, slow, prefix, mode, binds=None, method=0, suffix=()) */
static PyObject *symnum_module_make(PyObject *module, PyObject *args)
{
    int index, mode, method = 0;
    PyObject *capsule, *slow, *prefix, *binds = Py_None, *suffix = NULL;
    const symnum_table *table;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!iOO!i|OiO!", &PyCapsule_Type, &capsule, &index, &slow,
                          &PyTuple_Type, &prefix, &mode, &binds, &method, &PyTuple_Type,
                          &suffix)) {
        return NULL;
    }
    table = symnum_table_of(capsule);
    if (table == NULL) {
        return NULL;
    }
    return symnum_make(table, capsule, index, slow, prefix, mode, binds, method, suffix);
}

/* shapes(table, index) */
static PyObject *symnum_module_shapes(PyObject *module, PyObject *args)
{
    long index;
    PyObject *capsule;
    const symnum_table *table;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!l", &PyCapsule_Type, &capsule, &index)) {
        return NULL;
    }
    table = symnum_table_of(capsule);
    return table == NULL ? NULL : symnum_shapes(table, index);
}

/* adopt(table) -> number of kernels, or ImportError when a description disagrees with
   its code */
static PyObject *symnum_module_adopt(PyObject *module, PyObject *capsule)
{
    const symnum_table *table;
    (void)module;
    if (!PyCapsule_CheckExact(capsule)) {
        PyErr_SetString(PyExc_TypeError, "adopt() takes a symnum kernel table (a capsule)");
        return NULL;
    }
    table = symnum_table_of(capsule);
    if (table == NULL || symnum_check_table(table) < 0) {
        return NULL;
    }
    return PyLong_FromLong(table->nspecs);
}

static PyMethodDef symnum_module_methods[] = {
    {"make", symnum_module_make, METH_VARARGS,
     "make(table, index, slow, prefix, mode, binds=None, method=0, suffix=()): a callable "
     "bound to kernel `index` of `table`"},
    {"shapes", symnum_module_shapes, METH_VARARGS,
     "shapes(table, index): the shape table the code of kernel `index` was emitted for"},
    {"call_class", symnum_module_call_class, METH_VARARGS,
     "call_class(base, name, method): a subclass of `base` (named `name`, bytes) whose "
     "instances call the class attribute `_fast_entry` through vectorcall (with the "
     "instance in front when `method`)"},
    {"guard", symnum_module_guard, METH_VARARGS,
     "guard(target, slow, shapes, mode, captured, flags, flat, binds=None, suffix=()): a "
     "callable running `target` for exact ndarrays of the parameters' `shapes` and `slow` for "
     "anything else or when `target` raises (see _c_runtime.h)"},
    {"adopt", symnum_module_adopt, METH_O,
     "adopt(table): check a kernel module's table once; returns its number of kernels"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef symnum_moddef = {
    PyModuleDef_HEAD_INIT, "_symnum_c_runtime", "symnum's shared C runtime", -1,
    symnum_module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__symnum_c_runtime(void)
{
    PyObject *module;
    if (symnum_runtime_ready() < 0 || PyType_Ready(&symnum_guard_type) < 0 ||
        PyType_Ready(&symnum_guard_method_type) < 0) {
        return NULL;
    }
    module = PyModule_Create(&symnum_moddef);
    if (module != NULL && PyModule_AddIntConstant(module, "abi", SYMNUM_TABLE_ABI) < 0) {
        Py_CLEAR(module);
    }
    return module;
}

#else /* a self-contained module: its own kernels and the runtime */

/* the module's kernel table, set by symnum_init_module */
static symnum_table symnum_module_table;

/* make(index, slow, prefix, mode, binds=None, method=0): a callable bound to kernel
   `index` (see the top of this file) */
static PyObject *symnum_module_make(PyObject *module, PyObject *args)
{
    int index, mode, method = 0;
    PyObject *slow, *prefix, *binds = Py_None;
    (void)module;
    if (!PyArg_ParseTuple(args, "iOO!i|Oi", &index, &slow, &PyTuple_Type, &prefix, &mode,
                          &binds, &method)) {
        return NULL;
    }
    return symnum_make(&symnum_module_table, NULL, index, slow, prefix, mode, binds, method,
                       NULL);
}

/* shapes(index): the shape table of kernel `index`'s code, as a tuple of ints */
static PyObject *symnum_module_shapes(PyObject *module, PyObject *arg)
{
    long index = PyLong_AsLong(arg);
    (void)module;
    if (index == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return symnum_shapes(&symnum_module_table, index);
}

static PyMethodDef symnum_module_methods[] = {
    {"make", symnum_module_make, METH_VARARGS,
     "make(index, slow, prefix, mode, binds=None, method=0): a callable bound to kernel "
     "`index`"},
    {"shapes", symnum_module_shapes, METH_O,
     "shapes(index): the shape table the code of kernel `index` was emitted for"},
    {NULL, NULL, 0, NULL},
};

/* Creates the module; `exported` names kernels to publish as module attributes
   (NULL-terminated parallel arrays), for modules built by build_extension. */
static PyObject *symnum_init_module(PyModuleDef *def, const symnum_spec *const *specs,
                                    int nspecs, const char *const *exported_names,
                                    const int *exported)
{
    PyObject *module, *empty;
    int i;
    symnum_table table = {SYMNUM_TABLE_ABI, (int)sizeof(symnum_spec), nspecs, specs};
    (void)symnum_module_methods; /* unused by modules that export functions */
    if (symnum_runtime_ready() < 0 || symnum_check_table(&table) < 0) {
        return NULL;
    }
    symnum_module_table = table;
    module = PyModule_Create(def);
    if (module == NULL) {
        return NULL;
    }
    if (exported_names == NULL && PyModule_AddIntConstant(module, "count", nspecs) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    empty = PyTuple_New(0);
    if (empty == NULL) {
        Py_DECREF(module);
        return NULL;
    }
    for (i = 0; exported_names != NULL && exported_names[i] != NULL; i++) {
        PyObject *call = symnum_new_call(specs[exported[i]], specs, NULL, NULL, empty,
                                         SYMNUM_AUTO, NULL, 0);
        if (call == NULL || PyModule_AddObject(module, exported_names[i], call) < 0) {
            Py_XDECREF(call);
            Py_DECREF(empty);
            Py_DECREF(module);
            return NULL;
        }
    }
    Py_DECREF(empty);
    return module;
}
#endif
