"""Models with data (issue 11): build time, peak memory and per-call time against N.

usage:
    python benchmarks/data_bench.py                # the full sweep (see README: ~1 h)
    python benchmarks/data_bench.py --quick        # N = 100, logreg gradient and Hessian
    python benchmarks/data_bench.py --models logreg --sizes 100,1000 --ops grad
    python benchmarks/data_bench.py --list         # cases, contenders, availability

Cases (``cases.DATA_MODELS``): Bayesian logistic regression, D = 10, N = 100 ... 100,000
(gradient, Hessian); a 1-D Gaussian mixture (40 points, 3 components) and a Poisson
regression with ``gammaln`` (N = 1,000): value, gradient, Hessian, matrix-Tressian
product; a negative binomial regression (a dispersion parameter meeting the data through
NumPy's operators, ``gammaln(y + r)``) and a linear model with 20 random intercepts
picked per row (``alpha[group]``), N = 10,000: value, gradient, Hessian. Data are
constant NumPy arrays inside the model, as a user writes it.

Every contender builds each case in its own fresh process (``worker``), under a time
limit and an address-space limit (``ulimit -v``: ``RLIMIT_AS``, inherited by compilers
it starts), with an empty symnum cache and an empty PyTensor compile directory. Each
worker first builds a small warm-up case (N = 8) so one-off first-use costs are not
charged; then it times the build (trace to first call), reports its peak memory, checks
the output against a reference and stays alive for per-call timing (builds under 5 s are
repeated in two more fresh processes and the fastest of the three reported), interleaved across
contenders round by round (same machine load for everyone). A build that runs past the
time limit is "timeout", one that runs out of address space "out of memory"; larger N of
the same contender and model, for that operator and the higher ones, are then skipped
(they would only fail slower).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases  # noqa: E402
import numpy as np  # noqa: E402
from remote import _Pipe  # noqa: E402

FULL = {
    "models": None,
    "sizes": None,
    "ops": None,
    "timeout": 300.0,  # seconds per build; see README ("Models with data")
    "mem_gb": 6.0,
    # BLAS threads per worker: every contender's worker stays alive for the interleaved
    # timing, and idle OpenBLAS threads spin, so threaded BLAS in many processes on a
    # few cores times the contention, not the code (10x on 2 cores)
    "blas_threads": 1,
    "latency_target": 0.002,
    "latency_rounds": 15,
    # cold builds per contender and case, each in a fresh process with empty caches; the
    # fastest is reported (one build of 10-50 ms moved by 1.5x with the machine's load)
    "build_repeats": 3,
    "repeat_below_s": 5.0,  # builds slower than this are not repeated
    # per-call rounds go to each contender's build processes in turn (up to this many):
    # the same compiled loop ran 125-208 us per call at N = 10,000 depending on the
    # process it was loaded in (where its code and data landed), so one process per
    # contender made ratios to a floor move by 1.3x between runs
    "timing_processes": 3,
}
QUICK = {
    "models": ["logreg"],
    "sizes": [100],
    "ops": None,
    "timeout": 300.0,
    "mem_gb": 6.0,
    "blas_threads": 1,
    "latency_target": 0.001,
    "latency_rounds": 3,
    "build_repeats": 1,
    "repeat_below_s": 5.0,
    "timing_processes": 1,
}
#: seconds allowed for a worker's start: imports and the warm-up build (not timed)
STARTUP_S = 180.0
#: stderr or error text meaning the process ran out of (address) space
_OOM = re.compile(
    r"MemoryError|out of memory|bad_alloc|Cannot allocate memory|virtual memory exhausted"
    r"|failed to map segment",  # dlopen of an extension module past the limit
    re.IGNORECASE,
)


def log(*args) -> None:
    print(*args, flush=True)


# --- contenders: how each builds a data case (runs inside the worker) -------------------


def _symnum_builder(backend):
    def build(case):
        import symnum
        import symnum.numpy as snp
        import symnum.scipy.special as ssp

        f = case.array_func(snp, ssp)
        operator = getattr(symnum, cases.DATA_OPS[case.op])
        x, m = case.point()
        start = time.perf_counter()
        fn = operator(f, (case.dim,), backend=backend)
        out = fn(x)(m) if case.has_m else fn(x)
        build_s = time.perf_counter() - start
        stmt = "f(x)(m)" if case.has_m else "f(x)"
        return build_s, out, stmt, {"f": fn}

    return build


def _jax_build(case):
    import jax
    import jax.numpy as jnp
    import jax.scipy.special as jsp
    from contenders import jax_operator

    f = case.array_func(jnp, jsp)
    x, m = case.point()
    start = time.perf_counter()
    fn = jax.jit(jax_operator(f, case.op))
    out = (fn(x, m) if case.has_m else fn(x)).block_until_ready()
    build_s = time.perf_counter() - start
    stmt = "f(x, m).block_until_ready()" if case.has_m else "f(x).block_until_ready()"
    return build_s, np.asarray(out), stmt, {"f": fn}


def _pytensor_builder(mode):
    def build(case):
        from contenders import import_pytensor, pytensor_operator

        import_pytensor()
        import pytensor.tensor as pt
        from contenders import PyTensorNumpy

        f = case.array_func(PyTensorNumpy(pt), pt)
        x, m = case.point()
        m_shape = (case.dim, case.dim) if case.has_m else None
        start = time.perf_counter()
        fn = pytensor_operator(f, (case.dim,), case.op, mode, m_shape)
        out = fn(x, m) if case.has_m else fn(x)
        build_s = time.perf_counter() - start
        return build_s, out, "f(x, m)" if case.has_m else "f(x)", {"f": fn}

    return build


def _numba_floor_build(case):
    from handwritten_numba import DATA_KERNELS

    fn = DATA_KERNELS[case.model.name, case.op]
    data = case.data()
    xd, yd = np.ascontiguousarray(data["X"]), np.ascontiguousarray(data["y"])
    x, _ = case.point()
    start = time.perf_counter()
    out = fn(x, xd, yd)
    build_s = time.perf_counter() - start
    return build_s, out, "f(x, X, y)", {"f": fn, "X": xd, "y": yd}


def _numpy_floor_build(case):
    data = case.data()
    xd, yd = data["X"], data["y"]
    poisson = case.model.name == "poisson"
    eye = np.eye(case.dim)

    def grad(beta):
        z = xd @ beta
        d1 = np.exp(z) if poisson else 1 / (1 + np.exp(-z))
        return xd.T @ (d1 - yd) + beta

    def hess(beta):
        z = xd @ beta
        if poisson:
            d2 = np.exp(z)
        else:
            s = 1 / (1 + np.exp(-z))
            d2 = s * (1 - s)
        return (xd.T * d2) @ xd + eye

    fn = grad if case.op == "grad" else hess
    x, _ = case.point()
    start = time.perf_counter()
    out = fn(x)
    return time.perf_counter() - start, out, "f(x)", {"f": fn}


def _floor_supports(case) -> bool:
    return case.model.name in ("logreg", "poisson") and case.op in ("grad", "hess")


#: Contenders timed in one process only: XLA's CPU runtime keeps thread pools in every
#: process, and three JAX processes on 2 cores took 392 us per call where one took 87
#: (logistic-regression Hessian, N = 100), slowing the others' rounds too.
ONE_TIMING_PROCESS = frozenset({"jax.jit"})

#: name -> (group, modules it needs, builder(case) -> (build_s, out, stmt, namespace),
#:          which cases it supports)
CONTENDERS = {
    "symnum[numpy]": ("symnum", ("symnum",), _symnum_builder("numpy"), None),
    "symnum[numba]": ("symnum", ("symnum", "numba"), _symnum_builder("numba"), None),
    "symnum[c]": ("symnum", ("symnum", "cffi"), _symnum_builder("c"), None),
    "jax.jit": ("peer", ("jax",), _jax_build, None),
    "pytensor (C)": ("peer", ("pytensor",), _pytensor_builder("FAST_RUN"), None),
    "pytensor (NUMBA)": ("peer", ("pytensor", "numba"), _pytensor_builder("NUMBA"), None),
    "numba (hand)": ("floor", ("numba",), _numba_floor_build, _floor_supports),
    "numpy (hand)": ("floor", (), _numpy_floor_build, _floor_supports),
}


def probe(name: str) -> str | None:
    """None when ``name`` can run here, else why not."""
    import importlib.util

    for module in CONTENDERS[name][1]:
        if importlib.util.find_spec(module) is None:
            return f"missing: {module} not installed"
    if name.startswith("symnum["):
        import symnum.backends

        backend = name[len("symnum[") : -1]
        if backend not in symnum.backends.available():
            return f"missing: backend {backend!r} not available here"
    return None


# --- the worker process -------------------------------------------------------------------


def _send(obj) -> None:
    sys.stdout.write("@@" + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _peak_rss_mb() -> dict:
    import resource

    # ru_maxrss is in KiB on Linux; children: compilers started by the build (cc, ...)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": own, "children": children}


def worker_main(name: str, case_name: str, mem_gb: float) -> None:
    """Warm up, build ``case_name`` with contender ``name``, report, then answer timing
    commands (one JSON object per line on stdin) until ``quit``."""
    import resource
    import timeit

    limit = int(mem_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    case = cases.parse_data_case(case_name)
    _, _, build, supports = CONTENDERS[name]
    try:
        start = time.perf_counter()
        for op in ("grad", "hess"):
            # unrelated to the data models, so that nothing of the case is compiled yet
            warmup = cases.DataCase(cases.DATA_WARMUP, op, 0)
            if supports is None or supports(warmup):
                with contextlib.suppress(Exception):  # the case reports its own errors
                    build(warmup)
        warmup_s = time.perf_counter() - start
        base = _peak_rss_mb()
        _send({"status": "building", "warmup_s": warmup_s})
        build_s, out, stmt, namespace = build(case)
        peak = _peak_rss_mb()
    except MemoryError:
        _send({"status": "out of memory", "reason": "MemoryError during the build"})
        return
    except Exception as exc:  # noqa: BLE001 - reported per case
        text = _chain_text(exc)
        oom = _OOM.search(text)
        _send({"status": "out of memory" if oom else "error", "reason": text})
        return
    x, m = case.point()
    namespace = {**namespace, "x": x, "m": m}
    _send(
        {
            "status": "built",
            "build_s": build_s,
            "peak_rss_mb": max(peak["self"], peak["children"]),
            "peak_rss_self_mb": peak["self"],
            "peak_rss_children_mb": peak["children"],
            "base_rss_mb": base["self"],
            "out": np.asarray(out, dtype=np.float64).tolist(),
        }
    )
    import timing

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "autorange":
            _send({"number": timing.autorange(stmt, namespace, cmd["target"])})
        elif cmd["cmd"] == "time":
            _send({"seconds": timeit.Timer(stmt, globals=namespace).timeit(cmd["number"])})
        else:
            _send({"bye": True})
            return


# --- the harness side ---------------------------------------------------------------------


class Worker(_Pipe):
    """One contender building one case in a fresh process (``worker`` mode)."""

    def __init__(self, name, case, settings, env):
        self.name = name
        self.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        argv = [
            sys.executable,
            "-I",
            str(Path(__file__).resolve()),
            "worker",
            name,
            case.name,
            str(settings["mem_gb"]),
        ]
        super().__init__(argv, env=env, stderr=self.stderr)

    def ask(self, cmd, timeout=600.0):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        reply = self.read(timeout)
        if reply is None or reply is TimeoutError:
            msg = f"{self.name}: no answer to {cmd['cmd']}"
            raise RuntimeError(msg)
        return reply

    def stderr_tail(self, chars=2000) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-chars:]

    def close(self):
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def build_in_worker(name, case, settings, env):
    """Start a worker and wait for its build: (record, worker alive or None)."""
    worker = Worker(name, case, settings, env)
    rec: dict = {}
    deadline = time.monotonic() + STARTUP_S
    while True:
        msg = worker.read(deadline - time.monotonic())
        if msg is TimeoutError:
            worker.kill()
            building = "warmup_s" in rec
            limit = settings["timeout"] if building else STARTUP_S
            what = "build" if building else "start-up and warm-up"
            rec.update(status="timeout", reason=f"{what} > {limit:g} s")
            worker.close()
            return rec, None
        if msg is None:  # exited without a result: killed, crashed, out of memory
            code = worker.proc.wait()
            tail = worker.stderr_tail()
            oom = _OOM.search(tail) or code == -9
            rec.update(
                status="out of memory" if oom else "error",
                reason=f"worker exited ({code})" + (f": {tail.strip()[-300:]}" if tail else ""),
            )
            worker.close()
            return rec, None
        if msg["status"] == "building":
            rec["warmup_s"] = msg["warmup_s"]
            deadline = time.monotonic() + settings["timeout"]
            continue
        if msg["status"] != "built":
            rec.update(status=msg["status"], reason=msg.get("reason", ""))
            worker.close()
            return rec, None
        out = msg.pop("out")
        msg.pop("status")
        rec.update(msg)
        rec["out"] = out
        return rec, worker


def _chain_text(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` and of the exceptions behind it (an import that ran
    out of address space re-raises as another ``ImportError``: SymPy's for mpmath)."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {str(exc)[:300]}")
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)


def _worker_env(tmp: str, settings: dict) -> dict:
    """A worker's environment: empty caches in ``tmp`` and the BLAS thread count."""
    env = dict(
        os.environ,
        SYMNUM_CACHE_DIR=str(Path(tmp, "symnum-cache")),
        PYTENSOR_FLAGS=f"compiledir={Path(tmp, 'pytensor')}",
    )
    env.pop("SYMNUM_DISABLE_CACHE", None)
    if settings.get("blas_threads"):
        threads = str(settings["blas_threads"])
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = threads
    return env


def measure_data_case(case, names, settings, failed, reference):
    """Build ``case`` with each contender (fresh processes), check, then time per call
    interleaved: {contender: record}."""
    recs: dict = {}
    ready: dict = {}
    scratch = []  # per-worker cache directories, removed once the workers are closed
    try:
        for name in names:
            group, _, _, supports = CONTENDERS[name]
            rec = recs.setdefault(name, {"group": group})
            reason = probe(name)
            if reason:
                rec.update(status="missing", reason=reason)
                continue
            if supports is not None and not supports(case):
                rec.update(status="unsupported", reason="no hand-written version")
                continue
            earlier = _failed_before(failed, name, case)
            if earlier:
                rec.update(status="skipped", reason=earlier)
                continue
            workers = _build_checked(
                name, case, settings, rec, reference=reference, scratch=scratch
            )
            if workers is None and rec["status"] in ("timeout", "out of memory"):
                failed[name, case.model.name, case.op] = (case.n, rec["status"])
            elif workers is not None:
                ready[name] = workers
            _show(name, rec)
        _time_interleaved(ready, recs, settings)
    finally:
        for workers in ready.values():
            for worker in workers:
                worker.close()
        for tmp in scratch:
            shutil.rmtree(tmp, ignore_errors=True)
    return recs


def _build_checked(name, case, settings, rec, *, reference, scratch: list) -> list | None:
    """Build ``case`` with ``name`` (then again, see :func:`_repeat_build`) and check its
    output: the live workers for timing, or None (``rec`` says why)."""
    tmp = tempfile.mkdtemp(prefix="symnum-data-bench-")
    scratch.append(tmp)
    result, worker = build_in_worker(name, case, settings, _worker_env(tmp, settings))
    out = result.pop("out", None)
    rec.update(result)
    if worker is None:
        return None
    workers, timed = [worker], False
    try:
        workers += _repeat_build(name, case, settings, rec, scratch)
        ok, err = cases.close(np.asarray(out), reference)
        rec["max_rel_err"] = err
        if not ok:
            rec.update(status="wrong", reason=f"max rel. error {err:.2e}")
            return None
        rec["status"], timed = "ok", True
        return workers
    finally:
        if not timed:  # wrong, or interrupted: nothing will time these
            for w in workers:
                w.close()


def _repeat_build(name, case, settings, rec, scratch: list) -> list:
    """Build ``case`` again in fresh processes (``settings["build_repeats"]`` builds in
    all, while each takes under ``settings["repeat_below_s"]``): ``rec["build_s"]``
    becomes the fastest, ``rec["builds_s"]`` lists them all, peak memory the largest.
    Returns the repeat workers kept alive for timing (up to
    ``settings["timing_processes"]`` processes with the first; one for
    :data:`ONE_TIMING_PROCESS`); their cache directories go to ``scratch``, removed once
    they are closed."""
    builds = rec["builds_s"] = [rec["build_s"]]
    repeats, below = settings.get("build_repeats", 1), settings.get("repeat_below_s", 0.0)
    keep = 0 if name in ONE_TIMING_PROCESS else settings.get("timing_processes", 1) - 1
    kept = []
    while len(builds) < repeats and max(builds) < below:
        tmp = tempfile.mkdtemp(prefix="symnum-data-bench-")
        scratch.append(tmp)
        again, worker = build_in_worker(name, case, settings, _worker_env(tmp, settings))
        if worker is not None:
            if len(kept) < keep:
                kept.append(worker)
            else:
                worker.close()
        if "build_s" not in again:  # a repeat that failed: keep what the first measured
            log(f"    {name}: repeat build {again.get('status')}: {again.get('reason', '')}")
            break
        builds.append(again["build_s"])
        rec["peak_rss_mb"] = max(rec["peak_rss_mb"], again["peak_rss_mb"])
    rec["build_s"] = min(builds)
    return kept


def _failed_before(failed, name, case) -> str | None:
    """Why ``name`` need not try ``case``: it timed out or ran out of memory on the same
    model at a size <= N for this operator or an easier one (``cases.DATA_OPS`` is
    ordered: each operator differentiates the one before)."""
    ops = list(cases.DATA_OPS)
    for op in ops[: ops.index(case.op) + 1]:
        n, status = failed.get((name, case.model.name, op), (None, None))
        if n is not None and n <= case.n:
            return f"{status} at N = {n:,}" + ("" if op == case.op else f" ({op})")
    return None


def _show(name, rec):
    if rec.get("status") in ("ok", "wrong"):
        log(
            f"    {name:18s} build {rec['build_s']:8.3f} s  peak {rec['peak_rss_mb']:7.0f} MB"
            + ("" if rec["status"] == "ok" else f"  WRONG ({rec['reason']})")
        )
    else:
        log(f"    {name:18s} {rec['status']}: {rec.get('reason', '')[:100]}")


def _time_interleaved(ready, recs, settings):
    """Per-call time: a block of ~latency_target s per contender per round, the order
    rotating between rounds, round ``r`` in process ``r % k`` of the contender's ``k``
    build processes; the median over rounds. ``ready``: contender -> live workers."""
    numbers = {}
    target = settings["latency_target"]
    for name, workers in ready.items():
        try:
            numbers[name] = workers[0].ask({"cmd": "autorange", "target": target})["number"]
        except RuntimeError as exc:
            recs[name].update(status="error", reason=f"timing: {exc}")
    samples: dict = {name: [] for name in numbers}
    for r in range(settings["latency_rounds"]):
        order = [name for name in numbers if name in samples]
        k = r % max(1, len(order))
        for name in order[k:] + order[:k]:
            workers = ready[name]
            try:
                reply = workers[r % len(workers)].ask({"cmd": "time", "number": numbers[name]})
            except RuntimeError as exc:
                recs[name].update(status="error", reason=f"timing: {exc}")
                del samples[name]
                continue
            samples[name].append(reply["seconds"] / numbers[name] * 1e9)
    for name, values in samples.items():
        recs[name]["latency_ns"] = statistics.median(values)
        recs[name]["latency_min_ns"] = min(values)
        recs[name]["timing_processes"] = len(ready[name])
        log(f"    {name:18s} {_fmt_ns(recs[name]['latency_ns']):>10s} per call")


def _fmt_ns(ns):
    import report

    return report.fmt_ns(ns)


def select_contenders(patterns):
    if not patterns:
        return list(CONTENDERS)
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    chosen = [n for n in CONTENDERS if any(n == p or fnmatch.fnmatchcase(n, p) for p in pats)]
    if not chosen:
        msg = f"no contender matches {patterns!r}; contenders: {', '.join(CONTENDERS)}"
        raise SystemExit(msg)
    return chosen


def _csv(text, kind=str):
    return [kind(v.strip().replace("_", "")) for v in text.split(",") if v.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 100, logreg only (smoke)")
    parser.add_argument("--models", help="comma-separated: " + ",".join(cases.DATA_MODELS))
    parser.add_argument("--sizes", help="comma-separated N, replacing each model's own")
    parser.add_argument("--ops", help="comma-separated operators: " + ",".join(cases.DATA_OPS))
    parser.add_argument("--contenders", help="comma-separated globs over contender names")
    parser.add_argument("--timeout", type=float, help="seconds per build (default 300)")
    parser.add_argument("--mem-gb", type=float, help="address-space limit per worker (GB)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="BLAS threads per worker (default 1; 0 leaves the environment's setting)",
    )
    parser.add_argument(
        "--build-repeats",
        type=int,
        help="cold builds per case and contender, fastest reported (default 3; --quick 1)",
    )
    parser.add_argument(
        "--timing-processes",
        type=int,
        help="build processes per contender that take per-call rounds in turn "
        "(default 3, at most --build-repeats; --quick 1; jax.jit always 1)",
    )
    parser.add_argument("--out", default=str(HERE / "results"), help="output directory")
    parser.add_argument("--list", action="store_true", help="list cases and contenders")
    return parser


def _settings(args, parser) -> dict:
    """The run's settings: FULL or QUICK with the command line's changes."""
    settings = dict(QUICK if args.quick else FULL)
    if args.models:
        settings["models"] = _csv(args.models)
    if args.sizes:
        settings["sizes"] = _csv(args.sizes, int)
    if args.ops:
        settings["ops"] = _csv(args.ops)
    if args.timeout:
        settings["timeout"] = args.timeout
    if args.mem_gb:
        settings["mem_gb"] = args.mem_gb
    if args.blas_threads is not None:
        settings["blas_threads"] = args.blas_threads
    if args.build_repeats is not None:
        if args.build_repeats < 1:
            parser.error("--build-repeats must be at least 1")
        settings["build_repeats"] = args.build_repeats
    if args.timing_processes is not None:
        if args.timing_processes < 1:
            parser.error("--timing-processes must be at least 1")
        settings["timing_processes"] = args.timing_processes
    return settings


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = _settings(args, parser)
    chosen = cases.data_cases(settings["models"], settings["sizes"], settings["ops"])
    names = select_contenders(args.contenders)
    if args.list:
        for case in chosen:
            log(f"case {case.name}")
        for name in names:
            log(f"contender {name:18s} {probe(name) or 'available'}")
        return 0

    import run

    t_start = time.perf_counter()
    machine = run.machine_info()
    log(
        f"symnum data benchmarks ({'quick' if args.quick else 'full'}): {len(chosen)} cases, "
        f"build limit {settings['timeout']:.0f} s and {settings['mem_gb']:g} GB per process"
    )
    failed: dict = {}
    results: dict = {}
    for i, case in enumerate(chosen, 1):
        log(f"[{i}/{len(chosen)}] {case.name} ({time.perf_counter() - t_start:.0f} s elapsed)")
        reference = cases.data_reference(case)
        results[case.name] = {
            "model": case.model.name,
            "op": case.op,
            "n": case.n,
            "dim": case.dim,
            "contenders": measure_data_case(case, names, settings, failed, reference),
        }
    machine["load_average_at_end"] = run._loadavg()
    versions = run.package_versions()
    doc = {
        "machine": machine,
        "versions": versions,
        "settings": settings,
        "quick": args.quick,
        "command": "python benchmarks/data_bench.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "elapsed_s": time.perf_counter() - t_start,
        "contenders": [{"name": n, "group": CONTENDERS[n][0]} for n in names],
        "cases": list(results),
        "results": results,
    }
    import report

    paths = report.write_data(doc, Path(args.out))
    log(f"done in {doc['elapsed_s']:.0f} s; wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit(main())
