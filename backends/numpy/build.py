"""The numpy backend's builder: a :class:`~.emit.Source` -> a :class:`Kernel`.

:func:`build` is handed the :class:`~.emit.Source` that :func:`~.emit.emit` wrote and
compiles its text with ``compile``/``exec`` (no module object, nothing added to
``sys.modules``) under a content-addressed file name (the key of :func:`build`: the
text, the backend's name and :data:`VERSION`), and registers the source in
:mod:`linecache` so tracebacks show generated lines. At most :data:`LINECACHE_SIZE`
sources are kept there (least recently registered dropped first); :meth:`Kernel.show`
re-registers a kernel's source, and :class:`symnum.codegen.NumericFunction` calls it when
a kernel raises. Texts of at least ``_CACHE_TEXT`` characters are compiled through the
shared on-disk cache (:mod:`symnum.cache`), as marshalled code objects.

The :class:`Kernel` has ``point``, ``batch`` and the fast entries of the backend
contract (:mod:`symnum.backends`), the method and closure entries made from the
source's :class:`~.emit.EntryVariants`.
"""

from __future__ import annotations

import builtins
import linecache
import marshal
import sys
import threading
from collections import OrderedDict
from pathlib import Path

from symnum import cache
from symnum.cache import make_key
from symnum.ir import Function, check

from .emit import Source, closure_return, emit, name

#: In every cache key of this backend (bump it when what :func:`build` makes of a source
#: changes without the source changing).
VERSION = "1"
#: How many generated sources :mod:`linecache` keeps at most.
LINECACHE_SIZE = 256
#: Sources at least this long are compiled through the on-disk cache.
_CACHE_TEXT = 50_000

_registered: OrderedDict[str, list[str]] = OrderedDict()


def _register(filename: str, text: str) -> None:
    """Put ``text`` in :mod:`linecache` under ``filename``, keeping at most
    :data:`LINECACHE_SIZE` generated sources there."""
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)
    _registered[filename] = lines
    _registered.move_to_end(filename)
    while len(_registered) > LINECACHE_SIZE:
        old, _ = _registered.popitem(last=False)
        linecache.cache.pop(old, None)


class _Fallback(Exception):  # noqa: N818 - a signal, not an error users see
    """Raised by the shared captured-mode entry where the checked path must take over."""


def _raise_fallback(*args, **kwargs):
    raise _Fallback


class Kernel:
    """The generated functions of one module (see :mod:`symnum.backends`): ``point``,
    ``batch`` and the entries :meth:`entry`, :attr:`method_entry` and
    :attr:`closure_entry` (the last two compiled from :class:`~.emit.EntryVariants`,
    once per kernel and variant).

    The batch function is compiled on first use (CPython's compiler is the slow part of
    building large functions, and most callers only evaluate single points). Both code
    objects keep the module's line numbers, so tracebacks match :attr:`source`.
    """

    __slots__ = (
        "_batch_function",
        "_batch_lock",
        "_captured_entry",
        "_variants",
        "code",
        "filename",
        "point",
        "source",
    )

    def __init__(self, source: Source, filename: str):
        self.source = source
        self.filename = filename
        lines = source.text.splitlines(keepends=True)
        first, last = source.lines_of(source.batch)
        eager = lines[:first] + ["\n"] * (last - first) + lines[last:]
        self.code = _compile("".join(eager), filename)
        self._batch_function = None
        self._batch_lock = threading.Lock()
        self._captured_entry = None
        self._variants = {}
        self.point = self._namespace()[source.point]

    def _namespace(self) -> dict:
        namespace = {"__name__": f"symnum_generated_{self.source.point}", "__builtins__": builtins}
        exec(self.code, namespace)  # noqa: S102 - our own generated source, names validated
        namespace[self.source.batch] = self.batch
        return namespace

    def batch(self, *args):
        """The batch function (compiled on the first call)."""
        function = self._batch_function
        if function is None:
            function = self._compile_batch()
        return function(*args)

    def _compile_batch(self):
        with self._batch_lock:
            if self._batch_function is None:
                lines = self.source.text.splitlines(keepends=True)
                first, last = self.source.lines_of(self.source.batch)
                header = self.source.lines_of(self.source.point)[0]
                lazy = lines[:header] + ["\n"] * (first - header) + lines[first:last]
                code = _compile("".join(lazy), self.filename)
                namespace = {"__name__": f"symnum_generated_{self.source.batch}"}
                namespace["__builtins__"] = builtins
                exec(code, namespace)  # noqa: S102 - as above
                self._batch_function = namespace[self.source.batch]
        return self._batch_function

    def entry(self, slow, captured=None):
        """The fast entry of the contract (:mod:`symnum.backends`): the module's entry
        function, in a namespace of its own where its fallback is ``slow``.

        It evaluates exact single points itself (any strides, so it is exact for more
        than the contract asks) and calls ``slow(*args)`` for anything else. With
        ``captured`` (a closure kernel's captured values, new for every operator-valued
        result), executing the module again would cost more than the call: one shared
        namespace per kernel, whose fallback raises :class:`_Fallback`, serves every
        ``captured``, and ``slow`` gets only the caller's arguments."""
        if not self.source.entry:  # a function with data: always the checked path
            return slow
        if captured is None:
            namespace = self._namespace()
            namespace[self.source.slow] = slow
            return namespace[self.source.entry]
        shared = self._captured_entry
        if shared is None:
            namespace = self._namespace()
            namespace[self.source.slow] = _raise_fallback
            shared = self._captured_entry = namespace[self.source.entry]

        def call(*args, **kwargs):
            if kwargs:
                return slow(*args, **kwargs)
            try:
                return shared(captured, *args)
            except _Fallback:
                return slow(*args)

        return call

    @property
    def method_entry(self):
        """``method_entry(slow)`` of the contract (:mod:`symnum.backends`), for closure
        kernels: a Python function meant as a class's ``__call__``. Called on an
        instance with exact arguments (as for :meth:`entry`; the instance's ``captured``
        too), it evaluates the point itself; anything else (a batched ``captured``,
        lists, keywords...) returns ``slow(instance, *args, **kwargs)``. Missing
        (``AttributeError``) for kernels without an entry function."""
        variants = getattr(self.source, "variants", None)  # None: an older pickle
        if variants is None or variants.method is None:
            raise AttributeError("method_entry")
        return self._method_entry

    def _method_entry(self, slow):
        namespace = self._namespace()
        exec(self._variant_code(None), namespace)  # noqa: S102 - our own generated source
        namespace[self.source.slow] = slow
        return namespace[self.source.entry]

    @property
    def closure_entry(self):
        """``closure_entry(slow, classes)`` of the contract (:mod:`symnum.backends`):
        like :meth:`entry`, but output ``k`` comes back as an instance of ``classes[k]``
        (when not ``None``) made by ``object.__new__`` with the output as its
        ``captured``; keyword arguments go to ``slow``. Missing (``AttributeError``) for
        kernels without an entry function."""
        if getattr(self.source, "variants", None) is None:
            raise AttributeError("closure_entry")
        return self._closure_entry

    def _closure_entry(self, slow, classes):
        closures = tuple(k for k, cls in enumerate(classes) if cls is not None)
        variants = self.source.variants
        namespace = self._namespace()
        exec(self._variant_code(closures), namespace)  # noqa: S102 - as above
        namespace[self.source.slow] = slow
        namespace[variants.new] = object.__new__
        for k in closures:
            namespace[variants.classes[k]] = classes[k]
        return namespace[self.source.entry]

    def _variant_code(self, closures):
        """The compiled definition of the method entry (``closures`` None) or of the
        closure entry wrapping the outputs numbered ``closures``: the entry function with
        :class:`~.emit.EntryVariants`' lines replaced, at the entry function's line numbers."""
        code = self._variants.get(closures)
        if code is None:
            source = self.source
            variants = source.variants
            first, stop = source.lines_of(source.entry)
            lines = source.text.splitlines()[first:stop]
            for k, line in variants.method if closures is None else variants.closure:
                lines[k] = line
            if closures is not None:
                for k in variants.returns:
                    lines[k] = closure_return(lines[k], variants, closures)
            text = "\n" * first + "\n".join(lines) + "\n"
            code = self._variants[closures] = _compile(text, self.filename)
        return code

    def show(self) -> None:
        """(Re-)register the source in :mod:`linecache` for tracebacks."""
        _register(self.filename, self.source.text)


def _compile(text: str, filename: str):
    """``compile(text)``; large texts go through the on-disk cache as marshalled code, so
    another process (say, a worker unpickling the function) does not compile again."""
    if len(text) < _CACHE_TEXT:
        return compile(text, filename, "exec")
    key = make_key(text, filename, name, VERSION, sys.implementation.cache_tag or "", sys.version)

    def write(directory: Path) -> None:
        (directory / "code.marshal").write_bytes(marshal.dumps(compile(text, filename, "exec")))

    try:
        # the entry is verified against its manifest (SHA-256) by cache.entry
        data = (cache.entry("numpy", key, write) / "code.marshal").read_bytes()
        return marshal.loads(data)  # noqa: S302 - our own compiled code, from our cache
    except (OSError, ValueError, EOFError, TypeError):  # unreadable entry: just compile
        return compile(text, filename, "exec")


def build(source: Source) -> Kernel:
    """Compile ``source`` (no module object; nothing enters ``sys.modules``)."""
    key = make_key(source.text, name, VERSION)
    filename = f"<symnum-numpy-{key[:20]}>"
    _register(filename, source.text)
    return Kernel(source, filename)


def compile_function(fn: Function) -> Kernel:
    """``build(emit(check(fn)))``."""
    return build(emit(check(fn)))
