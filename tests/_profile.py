"""Which Python functions run during a call (for tests that a call runs no Python frame)."""

from __future__ import annotations

import os
import sys

from symnum.backends.numba.build import MODULE_FILE  # imports no numba


def python_frames(call) -> list[str]:
    """The names of the Python functions that ran during ``call()``, but for those
    numba's dispatchers report to profilers themselves: a frame of a compiled
    function's ``py_func`` (in a generated ``kernel.py``) and numba's own helpers."""
    numba = sys.modules.get("numba")
    numba_dir = os.path.dirname(numba.__file__) if numba is not None else None
    codes = []
    sys.setprofile(lambda frame, event, arg: event == "call" and codes.append(frame.f_code))
    try:
        call()
    finally:
        sys.setprofile(None)
    return [
        code.co_name
        for code in codes
        if not (numba_dir and code.co_filename.startswith(numba_dir))
        and os.path.basename(code.co_filename) != MODULE_FILE
    ]
