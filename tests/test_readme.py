"""The README's code runs as shown."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import require_backend

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    fence = lines.index("```bash")
    commands = lines[fence + 1 : fence + 3]
    assert "python -m symnum demo" in commands[0]
    assert "pip install" in commands[1]
    assert "pytest" in commands[1]


def test_readme_example_runs_and_is_right():
    for name in ("numba", "c"):
        require_backend(name)
    namespace: dict = {}
    exec(_python_blocks()[0], namespace)  # noqa: S102 - our own README
    x = namespace["x"]
    h, g, value = namespace["hess"](x)
    # plain NumPy reference of the README's neg_log_dens
    a = np.array([[1.0, -0.5], [-0.5, 1.0]])
    forward = a @ np.array([np.cos(-(x[1] ** 2) + 3 * x[0]), np.sin(x[0] - 1)])
    reference = (np.sum((np.array([1.0, 0.0]) - forward) ** 2 / 0.3**2) + np.sum(x**2)) / 2
    assert isinstance(value, np.float64)
    np.testing.assert_allclose(value, reference, rtol=1e-13)
    np.testing.assert_allclose(namespace["grad"](x), g, rtol=1e-12)
    np.testing.assert_allclose(h, h.T, rtol=1e-12)
    # finite differences of the gradient give the Hessian
    eps = 1e-6
    fd = np.array(
        [
            (namespace["grad"](x + eps * e) - namespace["grad"](x - eps * e)) / (2 * eps)
            for e in np.eye(2)
        ]
    )
    np.testing.assert_allclose(fd, h, rtol=1e-6, atol=1e-6)
    assert namespace["grad"].signature == "(2)->(2)"
    assert namespace["grad"](np.zeros((1000, 2))).shape == (1000, 2)


def _block_with(text: str) -> str:
    (block,) = [b for b in _python_blocks() if text in b]
    return block


def test_readme_numba_walk_runs():
    require_backend("numba")
    namespace: dict = {}
    exec(_python_blocks()[0], namespace)  # noqa: S102
    exec(_block_with("def walk"), namespace)  # noqa: S102
    x0 = np.array([0.2, -0.4])
    out = namespace["walk"](namespace["grad_val"], x0, 10, 1e-3)
    expected = x0.copy()
    for _ in range(10):
        g, _v = namespace["grad_val"](expected)
        expected = expected - 1e-3 * g
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_readme_data_example_runs_and_is_right():
    require_backend("c")
    namespace: dict = {}
    exec(_block_with("neg_log_lik_of"), namespace)  # noqa: S102
    x, y = namespace["X"], namespace["y"]
    h, g, v = namespace["h"], namespace["g"], namespace["v"]
    p = np.full(len(y), 0.5)  # at beta = 0
    np.testing.assert_allclose(v, len(y) * np.log(2.0), rtol=1e-12)
    np.testing.assert_allclose(g, x.T @ (p - y), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h, (x.T * 0.25) @ x, rtol=1e-10)
    grad = namespace["grad"]
    assert grad.signature == "(5),(n,5),(n)->(5)"
    np.testing.assert_allclose(grad(np.zeros(5), x[:100], y[:100]), x[:100].T @ (0.5 - y[:100]))


@pytest.mark.parametrize("phrase", ["Unpickling runs code", "trust"])
def test_readme_warns_about_pickles(phrase):
    assert phrase in README.read_text()
