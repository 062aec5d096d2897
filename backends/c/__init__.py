"""The C backend: emits C99 from the IR, builds it with cffi, exports modules and C.

The backend attributes (see :mod:`symnum.backends`) live here; the work is done in

* :mod:`.emit`: :func:`emit` (C99 kernels from a flat IR function, a :class:`Source`)
  and the text of modules: kernels with the CPython-API runtime (``_c_runtime.h``,
  self-contained, for exports), kernels alone with a table of their descriptions
  (``_c_spec.h``), and the runtime alone;
* :mod:`.build`: :func:`build` compiles a kernel into the shared cache and calls it
  through the runtime, itself compiled once per toolchain into the cache (so a
  kernel's build compiles only the kernel); calls reach C without Python-level argument
  handling:
  ``kernel.point`` / ``kernel.batch`` and the fast entries ``kernel.entry(slow,
  captured=None)``, ``kernel.method_entry(slow)`` and ``kernel.closure_entry(slow,
  classes)`` (C callables with a fallback to the general Python path);
* :mod:`.export`: :func:`build_extension` writes an importable extension module that
  needs only NumPy; :func:`export_c` writes standalone C99 (``name.h`` and ``name.c``,
  libm only).

Complex functions are refused at emit time.
"""

from __future__ import annotations

from .build import CompileError, Kernel, available, build, call_class, requirement_error
from .emit import _CHUNK, _SPLIT_ABOVE, _STACK_SLOTS, Source, emit  # noqa: F401 - tests tune these
from .export import build_extension, export_c

__all__ = [
    "CompileError",
    "Kernel",
    "Source",
    "available",
    "build",
    "build_extension",
    "call_class",
    "emit",
    "export_c",
    "extra",
    "name",
    "requirement_error",
]

name = "c"
extra = "c"
