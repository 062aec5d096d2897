"""Build and import the hand-written floor extension (floor_ext.c).

``build(directory) -> module`` compiles ``floor_ext.c`` with setuptools into
``directory`` and imports it from there (it needs only NumPy). Run as a script to build
into a temporary directory and check the numbers against symnum's NumPy backend.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(directory: str):
    """Compile floor_ext.c into ``directory`` and return the imported module."""
    import numpy as np
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    directory = Path(directory)
    ext = Extension(
        "floor_ext",
        [str(HERE / "floor_ext.c")],
        include_dirs=[np.get_include()],
        extra_compile_args=["-O2"] if sys.platform != "win32" else [],
    )
    dist = Distribution({"name": "floor_ext", "ext_modules": [ext]})
    cmd = build_ext(dist)
    cmd.build_lib = str(directory)
    cmd.build_temp = str(directory / "temp")
    cmd.ensure_finalized()
    cmd.run()
    path = cmd.get_ext_fullpath("floor_ext")
    spec = importlib.util.spec_from_file_location("floor_ext", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(module) -> None:
    import numpy as np

    sys.path.insert(0, str(HERE.parent))
    from cases import readme_array, rosen_array

    import symnum
    import symnum.numpy as snp

    readme, rosen = readme_array(snp), rosen_array(snp)
    rng = np.random.default_rng(0)
    x = rng.normal(size=2)
    pairs = [
        (module.readme_grad(x), symnum.gradient(readme, (2,))(x)),
        (module.readme_hess(x), symnum.hessian(readme, (2,))(x)),
        (module.readme_grad_val(x)[0], symnum.gradient(readme, (2,), return_aux=True)(x)[0]),
        (module.readme_grad_val(x)[1], symnum.gradient(readme, (2,), return_aux=True)(x)[1]),
        (module.rosen_grad(x), symnum.gradient(rosen, (2,))(x)),
    ]
    x10 = rng.normal(size=10)
    pairs.append((module.rosen_grad(x10), symnum.gradient(rosen, (10,))(x10)))
    pairs.append((module.rosen_hess(x10), symnum.hessian(rosen, (10,))(x10)))
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    print("floor_ext agrees with symnum")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        _check(build(tmp))
