"""Timing primitives shared by the harness and its worker processes (stdlib + NumPy).

Everything here returns plain floats (seconds) so results cross a JSON pipe unchanged.
"""

from __future__ import annotations

import time
import timeit

import numpy as np

__all__ = ["autorange", "block", "mala_python", "time_boxed_loop"]


def block(stmt: str, namespace: dict, number: int) -> float:
    """Seconds taken by ``number`` executions of ``stmt`` (timeit's loop: no Python
    function call per iteration besides the statement itself)."""
    return timeit.Timer(stmt, globals=namespace).timeit(number)


def autorange(stmt: str, namespace: dict, target: float) -> int:
    """A repeat count for which one block of ``stmt`` takes about ``target`` seconds
    (at least 1); also serves as warm-up."""
    timer = timeit.Timer(stmt, globals=namespace)
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= target / 4 or number >= 1 << 24:
            break
        number *= 4 if elapsed < target / 40 else 2
    return max(1, int(number * target / max(elapsed, 1e-9)))


def time_boxed_loop(func, args_list, box: float) -> tuple[int, float]:
    """Call ``func(*args)`` for successive ``args`` of ``args_list`` until all are done or
    ``box`` seconds have passed; returns (count done, seconds)."""
    start = time.perf_counter()
    deadline = start + box
    count = 0
    for args in args_list:
        func(*args)
        count += 1
        if (count & 63) == 0 and time.perf_counter() > deadline:
            break
    return count, time.perf_counter() - start


def mala_python(grad_and_value, x0, eps, noise, log_u, *, box: float | None = None):
    """Metropolis-adjusted Langevin algorithm targeting exp(-U), written as a plain Python
    loop around ``grad_and_value(x) -> (grad U(x), U(x))``.

    ``noise`` (steps, n) and ``log_u`` (steps,) are the random numbers, drawn in advance
    so every contender runs the same chain. Stops early after ``box`` seconds.
    Returns (steps done, seconds, final state, acceptance rate)."""
    x = np.array(x0, dtype=np.float64)
    half_eps2 = 0.5 * eps * eps
    inv_2eps2 = 1.0 / (2.0 * eps * eps)
    dot = np.dot
    start = time.perf_counter()
    deadline = start + (box if box is not None else float("inf"))
    g, v = grad_and_value(x)
    accepted = 0
    steps = 0
    for i in range(noise.shape[0]):
        step = eps * noise[i]
        y = x - half_eps2 * g + step
        gy, vy = grad_and_value(y)
        back = x - y + half_eps2 * gy
        log_a = v - vy + (dot(step, step) - dot(back, back)) * inv_2eps2
        if log_u[i] < log_a:
            x, g, v = y, gy, vy
            accepted += 1
        steps += 1
        if (steps & 255) == 0 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - start
    return steps, elapsed, np.asarray(x, dtype=np.float64), accepted / max(steps, 1)
