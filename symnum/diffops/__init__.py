"""Differential operators: :mod:`symnum.diffops.symbolic` (functions of symbolic arrays)
and :mod:`symnum.diffops.numpy` (compiled numeric functions).

Both submodules are attributes of this package, imported on first use (SymNum 0.2.1
imported them eagerly).
"""

import importlib as _importlib

_SUBMODULES = ("numpy", "symbolic")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
