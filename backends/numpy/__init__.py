"""The numpy backend: Python source over ``math`` (one point) and NumPy (batches).

The backend attributes of :mod:`symnum.backends` live here; the work is done in

* :mod:`.emit`: :func:`emit`, a flat IR function -> :class:`Source`, the text of one
  Python module with a point, a batch and an entry function (and
  :class:`~.emit.EntryVariants`, the lines that make the method and closure entries);
* :mod:`.data`: the point and batch functions of a function with data, each data loop
  vectorised over the rows (never unrolled), with :mod:`.matmul` finding the sums it
  writes as matrix products;
* :mod:`.syntax`: what both emitters share (the per-op tables :data:`POINT` and
  :data:`BATCH`, the globals they name, the module's names, one statement as text);
* :mod:`.build`: :func:`build`, a :class:`Source` -> :class:`Kernel` (``compile`` and
  ``exec``, the on-disk cache for large texts, :mod:`linecache` for tracebacks, the
  fast entries of the contract);
* :mod:`.runtime`: what generated modules import at run time, from here.

Imports go one way: build -> emit -> data -> matmul and syntax (emit -> syntax too);
runtime imports none of them. Every name of the former single module
``backends/numpy.py`` stays importable from here, and generated modules import their
helpers from here, as they always did (the import lines are part of the generated text
and so of the cache keys).

Re-exported constants are copies of the submodules' bindings: to tune one (tests do),
set it on the submodule that reads it, e.g. ``_INLINE_STATEMENTS`` on
``importlib.import_module("symnum.backends.numpy.emit")`` (this package's attributes
``emit`` and ``build`` are the functions, not the modules).
"""

from __future__ import annotations

from .build import (  # noqa: F401 - the former module's names
    _CACHE_TEXT,
    LINECACHE_SIZE,
    VERSION,
    Kernel,
    _compile,
    _Fallback,
    _raise_fallback,
    _register,
    _registered,
    build,
    compile_function,
)
from .data import (  # noqa: F401 - the former module's names
    _data_batch,
    _data_point,
    _DataEmitter,
    _max_id,
    _schedule,
    _select,
    _Step,
    _var_reads,
    _whole_param,
)
from .emit import (  # noqa: F401 - the former module's names
    _INLINE_DEPTH,
    _INLINE_STATEMENTS,
    _PLACEHOLDERS,
    _REAL_ONLY,
    EntryVariants,
    Source,
    _batch_function,
    _batch_output,
    _dead_after,
    _emit_data,
    _entry_function,
    _entry_variants,
    _Form,
    _inlinable,
    _leaf_numbers,
    _point_body,
    _point_function,
    _point_via_batch,
    _refuse_complex_special,
    _unpacks_whole,
    closure_return,
    emit,
    name,
)
from .runtime import (  # noqa: F401 - imported by generated modules from here
    _BLOCK_VALUES,
    COMPLEX128,
    FLOAT64,
    MISSING,
    _join,
    batch_digamma,
    batch_erf,
    batch_erfc,
    batch_erfcinv,
    batch_erfinv,
    batch_gamma,
    batch_lgamma,
    batch_ndtri,
    batch_polygamma,
    data_batch,
    first,
    given,
    no_slow_path,
    scalar_cbrt,
    scalar_exp2,
)
from .syntax import (  # noqa: F401 - the former module's names
    _CHUNK,
    _LINE,
    _SMALL_OUTPUT,
    BATCH,
    GLOBALS,
    POINT,
    _expression,
    _imports,
    _index,
    _Names,
    _point_output,
    _read_params,
    _statement,
    _text,
    _tree_expr,
    _tree_leaves,
    _unpack_lines,
    _used_elems,
)

__all__ = ["Kernel", "Source", "available", "build", "emit", "name", "requirement_error"]

extra = None


def available() -> bool:
    return True


def requirement_error() -> Exception:
    return ImportError("the numpy backend needs only NumPy, which is installed")
