"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``."""

from __future__ import annotations

import sys
from pathlib import Path

# document the working tree even when symnum is not installed
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import symnum

project = "symnum"
author = "symnum contributors"
copyright = "symnum contributors"
version = release = symnum.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

html_theme = "alabaster"
html_theme_options = {"description": "NumPy-style functions and exact derivatives, compiled"}
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
