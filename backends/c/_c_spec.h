/* symnum C kernels: the description of a kernel (symnum_spec) that the runtime
 * (_c_runtime.h) reads. Included (as text) by every module the C backend builds, before
 * the runtime; a kernel module built for the shared runtime includes only this header
 * and hands its table of descriptions to the runtime in a capsule (symnum_table).
 */
#ifndef NPY_NO_DEPRECATED_API
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#endif
#include <numpy/npy_common.h>

typedef void (*symnum_point_fn)(const double *const *in, double *const *out);
typedef void (*symnum_batch_fn)(npy_intp n, const double *const *in, double *const *out);
/* m points of the non-data arguments on n rows of data (m = 1 for a point call) */
typedef void (*symnum_data_fn)(npy_intp m, npy_intp n, const double *const *in,
                               double *const *out);

typedef struct {
    const char *name;
    const char *doc;
    int nparams;
    const char *const *pnames;
    const int *pndim;
    const npy_intp *pdims; /* all parameters' dims, concatenated */
    int nouts;
    const int *ondim;
    const npy_intp *odims; /* all outputs' dims, concatenated */
    int ntree;
    const int *tree; /* output tree in prefix form, see SYMNUM_TREE_* */
    symnum_point_fn point;
    symnum_batch_fn batch;
    const long long *shapes; /* the kernel code's own shape table */
    int nshapes;
    symnum_data_fn data; /* kernels with data: the kernel (point and batch are NULL) */
} symnum_spec;

/* output tree tokens: (TUPLE, k) then k subtrees; (LEAF, output index);
   (CLOSURE, output index, spec index): a callable bound to that output (captures). */
enum { SYMNUM_TREE_TUPLE = 0, SYMNUM_TREE_LEAF = 1, SYMNUM_TREE_CLOSURE = 2 };
/* call modes: AUTO takes points and any common leading batch shape; POINT and BATCH
   are the strict kernel.point / kernel.batch of the backend contract. */
enum { SYMNUM_AUTO = 0, SYMNUM_POINT = 1, SYMNUM_BATCH = 2 };

/* A kernel module's table of descriptions, handed to the shared runtime as a capsule
   named SYMNUM_TABLE_CAPSULE; the runtime refuses a table of another layout (abi, size). */
#define SYMNUM_TABLE_ABI 1
#define SYMNUM_TABLE_CAPSULE "symnum.kernel_table"
typedef struct {
    int abi;                  /* SYMNUM_TABLE_ABI */
    int size;                 /* sizeof(symnum_spec) */
    int nspecs;
    const symnum_spec *const *specs;
} symnum_table;
