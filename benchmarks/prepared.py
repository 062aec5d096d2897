"""A built contender for one case, and the measurements it supports (stdlib + NumPy).

Both the harness and the SymNum 0.2.1 worker (a separate virtual environment) wrap what
they build in :class:`Prepared`, so a measurement means the same thing on both sides of
the pipe.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import timing

__all__ = ["Prepared", "UnsupportedCaseError", "batch_inputs", "batch_size"]

_inputs: dict = {}


class UnsupportedCaseError(Exception):
    """A contender cannot run this case (reason in the message); reported, not timed."""


def batch_size(case, requested: int) -> int:
    """``requested`` points, fewer where one output per point would exceed ~200 MB."""
    per_point = 8 * int(np.prod(case.out_shape))
    return max(1, min(requested, 200_000_000 // per_point))


def batch_inputs(case, n: int):
    """(X (n, case.n), M (n, *m_shape) or None), cached per (case, n)."""
    key = (case.name, n)
    if key not in _inputs:
        if len(_inputs) > 4:
            _inputs.clear()
        _inputs[key] = (case.points(n, seed=5), case.matrices(n, seed=6))
    return _inputs[key]


class Prepared:
    """One contender built for one case.

    ``stmt``/``namespace``: the single-point call timed by :meth:`time_point`, written
    over the names ``x`` (and ``m``) bound to ``case.point()``.
    ``point(x, m)``: the output at one point, converted to a float64 array for checking.
    ``batch(X, M)``: outputs at ``len(X)`` points, shape (n, *out), or None when the
    contender has no batched form (then batches are timed as a Python loop over
    ``point``, time-boxed and extrapolated).
    ``sampler``: ``("python", grad_and_value)``, ``("compiled", run)`` with
    ``run(x0, eps, noise, log_u) -> (x, accepted)``, or a string saying why there is none.
    """

    def __init__(
        self,
        case,
        *,
        stmt,
        namespace,
        point,
        batch=None,
        batch_mode="native",
        loop_call=None,
        sampler="no sampler for this case",
        sampler_mode=None,
        build_s=float("nan"),
        notes="",
    ):
        self.case = case
        self.stmt = stmt
        self.namespace = dict(namespace)
        x, m = case.point()
        self.namespace.setdefault("x", x)
        self.namespace.setdefault("m", m)
        self.point = point
        self.batch = batch
        self.batch_mode = batch_mode if batch is not None else "python loop"
        # loop_call(x, m) is what a Python loop over points calls (the natural call).
        self.loop_call = loop_call
        self.sampler_spec = sampler
        self.sampler_mode = sampler_mode
        self.build_s = build_s
        self.notes = notes
        self._warm: set[int] = set()

    # --- checks ------------------------------------------------------------------
    def point_output(self):
        x, m = self.case.point()
        return np.asarray(self.point(x, m), dtype=np.float64)

    def batch_output(self, count: int = 3):
        xs, ms = batch_inputs(self.case, count)
        if self.batch is None:
            return np.stack(
                [np.asarray(self.point(xs[i], None if ms is None else ms[i])) for i in range(count)]
            )
        return np.asarray(self.batch(xs, ms), dtype=np.float64)

    def disable_batch(self):
        """Time batches as a Python loop over points from now on."""
        self.batch = None
        self.batch_mode = "python loop"

    def release(self):
        self.namespace.clear()

    # --- timings -----------------------------------------------------------------
    def autorange(self, target: float) -> int:
        return timing.autorange(self.stmt, self.namespace, target)

    def time_point(self, number: int) -> float:
        return timing.block(self.stmt, self.namespace, number)

    def time_batch(self, n: int, box: float) -> dict:
        """One timing of the batch at ``n`` points: seconds per point and the mode."""
        xs, ms = batch_inputs(self.case, n)
        if self.batch is not None:
            if n not in self._warm:  # first call at this size may compile (jit, vmap)
                self._warm.add(n)
                self.batch(xs, ms)
            start = time.perf_counter()
            self.batch(xs, ms)
            elapsed = time.perf_counter() - start
            return {"s_per_point": elapsed / n, "done": n, "mode": self.batch_mode}
        call = self.loop_call or self.point
        args = ((xs[i], None if ms is None else ms[i]) for i in range(n))
        done, elapsed = timing.time_boxed_loop(call, args, box)
        return {"s_per_point": elapsed / done, "done": done, "mode": "python loop"}

    def run_sampler(self, steps: int, box: float, repeats: int = 3) -> dict:
        spec = self.sampler_spec
        if isinstance(spec, str):
            raise UnsupportedCaseError(spec)
        kind, func = spec
        x0, eps, noise, log_u = self.case.sampler_inputs(steps)
        if kind == "python":
            done, elapsed, x, acc = timing.mala_python(func, x0, eps, noise, log_u, box=box)
            mode = self.sampler_mode or "python loop"
        else:
            func(x0, eps, noise, log_u)  # compile / warm up (same shapes: no re-jit)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                x, accepted = func(x0, eps, noise, log_u)
                times.append(time.perf_counter() - start)
                if sum(times) > box:
                    break
            done, elapsed, acc = steps, statistics.median(times), int(accepted) / steps
            mode = self.sampler_mode or "compiled loop"
        return {
            "s_per_step": elapsed / done,
            "steps": done,
            "mode": mode,
            "acceptance": acc,
            "x": [float(v) for v in np.asarray(x).ravel()],
        }
