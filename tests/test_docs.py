"""The Sphinx documentation builds with warnings as errors and documents the public API."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import symnum

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def built_html(tmp_path_factory):
    if importlib.util.find_spec("sphinx") is None:
        reason = 'sphinx is not installed (pip install -e ".[test]" or ".[docs]")'
        if os.environ.get("SYMNUM_REQUIRE_ALL_BACKENDS", "") == "1":
            pytest.fail(f"{reason}: CI builds the docs, nothing may be skipped")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("html")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q"]
    completed = subprocess.run(
        [*command, str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return out


def test_docs_build_without_warnings(built_html):
    pages = ("index", "quickstart", "scipy_mici", "backends", "data_loops", "pickling", "cache")
    for page in (*pages, "api"):
        assert (built_html / f"{page}.html").is_file(), page


def test_api_reference_documents_every_public_name(built_html):
    api = (built_html / "api.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="(symnum\.[\w.]+)"', api))
    # each public name of symnum under the module symnum loads it from
    for name, module in symnum._EXPORTS.items():
        if module != f"symnum.{name}":
            assert f"{module}.{name}" in documented, f"symnum.{name} is not in the API reference"
    expected = {
        "symnum.numpy.einsum",
        "symnum.numpy.exp",
        "symnum.numpy.linalg.det",
        "symnum.scipy.special.gammaln",
        "symnum.backends.available",
        "symnum.cache.cache_root",
        "symnum.array.SymbolicArray",
    }
    assert expected <= documented, expected - documented
