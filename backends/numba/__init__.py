"""The numba backend: Python source of scalar statements compiled with ``numba.njit``.

Modules, one idea each:

* :mod:`~symnum.backends.numba.emit`: IR -> the text of a module of njit kernels, from
  the Python statement table shared with the numpy backend. Needs no numba.
  Beside it, needing no numba either: :mod:`~symnum.backends.numba.table` (numba's
  statement table and njit options), :mod:`~symnum.backends.numba.parts` (large bodies
  cut into njit functions of bounded size) and :mod:`~symnum.backends.numba.reroll`
  (large regular bodies as loops over index tables).
* :mod:`~symnum.backends.numba.build`: that text as a real ``.py`` file in the shared
  content-addressed cache, imported, every function ``njit(cache=True)`` so another
  process loads numba's machine code instead of compiling; the kernel and its fast
  entry for calls from Python.
* :mod:`~symnum.backends.numba.interop`: ``numba.extending`` typing that lets users'
  ``@numba.njit`` code call symnum functions.
* :mod:`~symnum.backends.numba.runtime`: what generated modules call (special
  functions, complex division and powers).

numba is used through its public API only. This module holds the backend attributes of
:mod:`symnum.backends` and the few plain functions generated modules import from here
(:func:`scalar`, :class:`ShapeError`); importing it does not import numba.
"""

from __future__ import annotations

from symnum.backends import BackendUnavailableError

__all__ = [
    "ShapeError",
    "available",
    "build",
    "call_class",
    "emit",
    "extra",
    "name",
    "requirement_error",
    "scalar",
]

name = "numba"
extra = "numba"

_status: dict[str, object] = {}


def _import_numba():
    """Import numba once; remember the failure, if any, for :func:`requirement_error`."""
    if "module" not in _status:
        try:
            import numba  # noqa: PLC0415 - optional dependency, imported on first use
        except Exception as exc:  # noqa: BLE001 - a broken numba is as good as none
            _status["module"], _status["error"] = None, exc
        else:
            _status["module"], _status["error"] = numba, None
    return _status["module"]


def available() -> bool:
    """Whether numba can be imported here."""
    return _import_numba() is not None


def requirement_error() -> Exception:
    """The error raised when numba is missing: it names the extra that installs it."""
    reason = _status.get("error")
    detail = f" (importing numba failed: {reason})" if reason is not None else ""
    return BackendUnavailableError(
        'the "numba" backend needs numba: install it with pip install "symnum[numba]"' + detail
    )


def require_numba():
    """numba, or :func:`requirement_error` raised."""
    numba = _import_numba()
    if numba is None:
        raise requirement_error()
    return numba


class ShapeError(ValueError):
    """A kernel got an array of the wrong shape: ``ShapeError(message, actual_shape)``.

    Raised from compiled code with the actual shape as a second argument (formatting it
    there would multiply the compile time) and formatted here."""

    def __str__(self) -> str:
        if len(self.args) == 2:
            return f"{self.args[0]} {tuple(self.args[1])}"
        return super().__str__()


def scalar(x):
    """``x[()]`` for a 0-d array, ``x`` itself for a number.

    Point kernels read shape-``()`` parameters through this, so users' njit code may
    pass either a 0-d array or a plain number for them.
    """
    return x[()] if hasattr(x, "shape") else x


# the submodules are imported after everything they take from here; ``emit`` and
# ``build`` are then rebound from the submodules to their functions (importing a
# submodule sets the package attribute of its name)
from symnum.backends.numba import build as _build_module  # noqa: E402
from symnum.backends.numba import emit as _emit_module  # noqa: E402

emit = _emit_module.emit
build = _build_module.build
call_class = _build_module.call_class
