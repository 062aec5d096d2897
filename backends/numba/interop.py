"""Calling symnum functions from users' ``@numba.njit`` code, through ``numba.extending``.

A numba-backed function (a :class:`symnum.NumericFunction` without closures) offers
``njit`` and ``njit_batch``, the dispatchers of its point and batch kernels, and numba's
typing hook ``_numba_type_`` (see ``Kernel.exports`` in :mod:`.build`): numba types such
an object as its point kernel's dispatcher, so ``@numba.njit`` code may call the function
object itself -- as a global, a closure variable or an argument -- and the call compiles
to a direct call of the generated kernel (arrays in, arrays and floats out).

For a function with data parameters the kernels take the data arrays as ordinary
arguments, in parameter order: ``f.njit(beta, X, y)`` with ``X`` of shape ``(n, *shape)``
(any ``n``, without recompiling), and ``f.njit_batch`` with the non-data arguments
batched and the data arrays passed once (see :mod:`.emit`); ``f(beta, X, y)`` in njit
code calls ``f.njit``. A function with constant data (traced with data arrays inside
it) offers dispatchers of its own arguments only, made by :func:`bind_data`: the data
are constants of their compiled code (numba freezes global arrays), compiled in memory
once per process, never cached on disk (the data are not part of any cache key).

:func:`register_jit_type` does the same for any class, through
:func:`numba.extending.typeof_impl`.
"""

from __future__ import annotations

from symnum.backends.numba import require_numba

__all__ = ["bind_data", "dispatcher_type", "register_jit_type"]


def dispatcher_type(dispatcher):
    """The numba type of a call to ``dispatcher`` (what ``_numba_type_`` returns)."""
    numba = require_numba()
    return numba.types.Dispatcher(dispatcher)


_registered_types: set[type] = set()


def register_jit_type(cls: type, dispatcher_of) -> None:
    """Let ``@numba.njit`` code call instances of ``cls`` (as globals, closure variables
    or arguments): numba types an instance as the dispatcher ``dispatcher_of(instance)``
    returns, so a call compiles to a direct call of the generated point kernel.

    ``dispatcher_of`` returns ``None`` for instances that have no numba kernel; numba
    then reports that it cannot type the object.
    """
    require_numba()
    if cls in _registered_types:
        return
    from numba.extending import typeof_impl  # noqa: PLC0415

    @typeof_impl.register(cls)
    def _typeof(value, context):
        dispatcher = dispatcher_of(value)
        return None if dispatcher is None else dispatcher_type(dispatcher)

    _registered_types.add(cls)


def bind_data(dispatcher, nargs: int, data: tuple):
    """A dispatcher calling ``dispatcher(a_0, ..., a_{nargs-1}, *data)``: the arrays
    ``data`` bound as its last arguments, frozen into the compiled code as constants."""
    numba = require_numba()
    names = [f"a{i}" for i in range(nargs)]
    bound = [f"data{k}" for k in range(len(data))]
    namespace = {"kernel": dispatcher, **dict(zip(bound, data, strict=True))}
    text = f"def bound({', '.join(names)}):\n    return kernel({', '.join(names + bound)})\n"
    exec(compile(text, f"<symnum bound data of {dispatcher.__name__}>", "exec"), namespace)  # noqa: S102 - our own text
    function = namespace["bound"]
    function.__qualname__ = function.__name__ = f"{dispatcher.__name__}_bound"
    return numba.njit(error_model="numpy")(function)
