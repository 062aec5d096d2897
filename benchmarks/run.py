"""Benchmark symnum against its peers and hand-written floors; write a table, JSON, plot.

usage:
    python benchmarks/run.py                 # the full run (about 15-25 minutes)
    python benchmarks/run.py --quick         # smoke run: two cases, tiny sizes (CI)
    python benchmarks/run.py --cases 'rosen*' --contenders 'symnum*,jax*'
    python benchmarks/run.py --data --quick  # models with data: data_bench.py's N sweep

For every case and contender: per-call latency at one point (median of interleaved
rounds, ns), batch time per point at 100,000 points (fewer where outputs would exceed
~200 MB), a 20,000-step MALA sampler (Python loop, or compiled loop for numba and JAX),
and the build time (trace + differentiate + generate + compile + first call) in a fresh
process, cold and -- for symnum, the only contender with an on-disk cache -- warm.
Every contender is first checked against a SymPy/mpmath reference; wrong numbers are
reported, not timed. Results go to benchmarks/results/ (or --out).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import platform
import shutil
import signal
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
from prepared import UnsupportedCaseError, batch_size  # noqa: E402

FULL = {
    "cases": None,
    "latency_target": 0.002,
    "latency_rounds": 25,
    "batch_n": 100_000,
    "batch_rounds": 3,
    "batch_box": 1.5,
    "sampler_steps": 20_000,
    "sampler_box": 4.0,
    "build_timeout": 90.0,
}
QUICK = {
    "cases": "readme-grad,torus-mhp",
    "latency_target": 0.001,
    "latency_rounds": 3,
    "batch_n": 1000,
    "batch_rounds": 1,
    "batch_box": 0.1,
    "sampler_steps": 300,
    "sampler_box": 0.3,
    "build_timeout": 60.0,
}


def log(*args) -> None:
    print(*args, flush=True)


# --- machine and versions ----------------------------------------------------------------


def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cc = ""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:
        try:
            out = subprocess.run(
                [compiler, "--version"], capture_output=True, text=True, check=False
            )
            cc = out.stdout.splitlines()[0] if out.stdout else ""
        except OSError:
            cc = ""
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "compiler": cc,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_start": _loadavg(),
    }


def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (
        "symnum",
        "numpy",
        "sympy",
        "numba",
        "cffi",
        "jax",
        "jaxlib",
        "autograd",
        "symengine",
        "casadi",
        "llvmlite",
        "pytensor",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


# --- contenders --------------------------------------------------------------------------


def all_contenders(settings, make_venv):
    import contenders
    import remote

    local = contenders.local_contenders()
    python, found = remote.find_legacy_python(make_venv, log=log)
    legacy = remote.Legacy(python, found, settings["build_timeout"])
    symnum_ones = [c for c in local if c.group == "symnum"]
    others = [c for c in local if c.group != "symnum"]
    return [*symnum_ones, legacy, *others]


def select(contenders, patterns):
    if not patterns:
        return contenders
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    # exact names first: "symnum[c]" is also a glob (a character class)
    return [
        c for c in contenders if any(c.name == p or fnmatch.fnmatchcase(c.name, p) for p in pats)
    ]


# --- build phase ----------------------------------------------------------------------


def build_phase(contenders, chosen, settings, cache_dir, quick):
    """Build times in fresh processes: {contender: {case: {"cold": ..., "warm": ...}}}.

    symnum: one process per case, cold (empty cache) then warm (a new process, same
    cache). Peers have no on-disk cache: one process builds every case in turn (cold).
    Every process first builds a small warm-up function, so one-off first-use costs are
    not charged to the case measured; imports are never counted."""
    import remote

    names = [c.name for c in chosen]
    out: dict = {}
    env = dict(os.environ, SYMNUM_CACHE_DIR=str(cache_dir), PYTHONWARNINGS="ignore")

    def show(case_name, msg):
        value = (
            f"{msg['build_s']:.3f} s"
            if msg["status"] == "ok"
            else f"{msg['status']}: {msg.get('reason', '')[:80]}"
        )
        log(f"      {case_name:16s} {value}")

    for contender in contenders:
        if contender.group == "floor" or contender.probe() is not None:
            continue
        if quick and contender.name != "symnum[numpy]":
            continue
        python = contender.python if contender.name == remote.LEGACY else sys.executable
        start = time.perf_counter()
        if contender.group == "symnum":
            log(f"  build {contender.name}: cold / warm, one fresh process each per case")
            jobs = [([name], state) for name in names for state in ("cold", "warm")]
        else:
            log(f"  build {contender.name}: cold, one fresh process for {len(names)} cases")
            jobs = [(names, "cold")]
        for job_names, state in jobs:
            if state == "warm" and out.get(contender.name, {}).get(job_names[0], {}).get(
                "cold", {}
            ).get("status") not in ("ok", None):
                continue  # the cold build failed or timed out: nothing cached to reuse
            results = remote.run_build_worker(
                python,
                contender.name,
                job_names,
                env=env,
                timeout=settings["build_timeout"],
                on_line=lambda name, msg, state=state: show(f"{name} {state}", msg),
            )
            for case_name, res in results.items():
                out.setdefault(contender.name, {}).setdefault(case_name, {})[state] = res
        log(f"    ({time.perf_counter() - start:.1f} s)")
    return out


# --- measurement of one case -------------------------------------------------------------


@contextlib.contextmanager
def time_box(seconds):
    """Raise TimeoutError in this (main) thread after ``seconds``: in-process builds
    (SymPy is pure Python) are interrupted at the next bytecode."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum, frame):
        raise TimeoutError(f"build > {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check(case, prepared, rec):
    x, m = case.point()
    expected = cases.reference(case, x, m)
    ok, err = cases.close(prepared.point_output(), expected)
    rec["max_rel_err"] = err
    if not ok:
        rec["status"] = "wrong"
        rec["reason"] = f"wrong numbers at the test point (max rel. error {err:.2e})" + (
            f"; {prepared.notes}" if getattr(prepared, "notes", "") else ""
        )
        return False
    from prepared import batch_inputs

    xs, ms = batch_inputs(case, 3)
    refs = np.stack([cases.reference(case, xs[i], None if ms is None else ms[i]) for i in range(3)])
    for attempt in range(2):
        try:
            bok, berr = cases.close(prepared.batch_output(3), refs)
        except Exception as exc:  # noqa: BLE001 - recorded
            bok, berr = False, f"{type(exc).__name__}: {str(exc)[:120]}"
        if bok:
            break
        if attempt == 0 and "transposed" in prepared.batch_mode:
            prepared.disable_batch()  # broadcasting trick failed: time a Python loop
            continue
        rec["batch_status"] = "wrong" if isinstance(berr, float) else "error"
        rec["batch_reason"] = f"batch check failed ({berr})"
        break
    return True


def measure_case(case, contenders, settings, builds, results):
    """Prepare every contender for ``case``, then time them side by side."""
    recs = results.setdefault(case.name, {})
    ready = _prepare_all(case, contenders, settings, builds, recs)
    names = list(ready)
    _measure_latency(ready, recs, settings)
    _measure_batch(case, ready, recs, settings)
    if case.sampler_eps is not None:
        _measure_sampler(names, ready, recs, settings)
    for prepared in ready.values():
        prepared.release()
    return recs


def _prepare_all(case, contenders, settings, builds, recs) -> dict:
    """Build and check each contender; name -> prepared for those that are right."""
    ready = {}
    for contender in contenders:
        rec = recs.setdefault(contender.name, {"group": contender.group})
        reason = contender.probe()
        if reason:
            rec.update(status="missing", reason=reason)
            continue
        phase = builds.get(contender.name, {}).get(case.name, {})
        for state in ("cold", "warm"):
            res = phase.get(state)
            if res and res.get("status") == "ok":
                rec[f"build_{state}_s"] = res["build_s"]
        cold = phase.get("cold")
        if cold and cold.get("status") in ("timeout", "error", "unsupported"):
            rec.update(status=cold["status"], reason=cold.get("reason", ""))
            continue
        try:
            with time_box(settings["build_timeout"]):
                prepared = contender.prepare(case)
        except UnsupportedCaseError as exc:
            rec.update(status="unsupported", reason=str(exc))
            continue
        except TimeoutError as exc:
            rec.update(status="timeout", reason=str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - reported per contender
            rec.update(status="error", reason=f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        rec["build_inprocess_s"] = prepared.build_s
        rec["batch_mode"] = prepared.batch_mode
        if getattr(prepared, "notes", ""):
            rec["notes"] = prepared.notes
        try:
            good = _check(case, prepared, rec)
        except Exception as exc:  # noqa: BLE001
            rec.update(status="error", reason=f"check: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if good:
            rec["status"] = "ok"
            rec["batch_mode"] = prepared.batch_mode
            ready[contender.name] = prepared
    return ready


def _measure_latency(ready, recs, settings) -> None:
    """Per-call latency: interleaved rounds, the start rotating between rounds."""
    names = list(ready)
    numbers = {}
    for name in names:
        try:
            numbers[name] = ready[name].autorange(settings["latency_target"])
        except Exception as exc:  # noqa: BLE001
            recs[name].update(status="error", reason=f"latency: {type(exc).__name__}: {exc}")
    samples = {name: [] for name in numbers}
    for r in range(settings["latency_rounds"]):
        order = (
            list(numbers)[r % max(1, len(numbers)) :] + list(numbers)[: r % max(1, len(numbers))]
        )
        for name in order:
            samples[name].append(ready[name].time_point(numbers[name]) / numbers[name] * 1e9)
    for name, values in samples.items():
        recs[name]["latency_ns"] = statistics.median(values)
        recs[name]["latency_min_ns"] = min(values)
        recs[name]["latency_samples_ns"] = values


def _measure_batch(case, ready, recs, settings) -> None:
    """Batches: native batches in interleaved rounds; Python loops once, time-boxed. A
    probe at <= 1,000 points (also the warm-up) shrinks the batch of slow contenders so
    that one batch takes about 2 * batch_box seconds (then marked extrapolated)."""
    names = list(ready)
    n = batch_size(case, settings["batch_n"])
    box = settings["batch_box"]
    sizes = {}
    batch_samples: dict = {}
    for name in names:
        rec = recs[name]
        if rec.get("batch_status"):
            continue
        if rec.get("batch_mode") == "python loop":
            sizes[name] = n
            continue
        try:
            res = ready[name].time_batch(min(n, 1000), box)
        except Exception as exc:  # noqa: BLE001
            rec.update(batch_status="error", batch_reason=f"{type(exc).__name__}: {exc}")
            continue
        per_point = max(res["s_per_point"], 1e-12)
        fits = per_point * n <= 2 * box
        sizes[name] = n if fits else max(min(n, 1000), int(2 * box / per_point))
    for r in range(settings["batch_rounds"]):
        for name, size in sizes.items():
            rec = recs[name]
            if rec.get("batch_status") or (r > 0 and rec.get("batch_mode") == "python loop"):
                continue
            try:
                res = ready[name].time_batch(size, box)
            except Exception as exc:  # noqa: BLE001
                rec.update(batch_status="error", batch_reason=f"{type(exc).__name__}: {exc}")
                continue
            batch_samples.setdefault(name, []).append(res["s_per_point"])
            rec["batch_mode"] = res["mode"]
            rec["batch_points_timed"] = res["done"]
    for name, values in batch_samples.items():
        recs[name]["batch_ns_per_point"] = statistics.median(values) * 1e9
        recs[name]["batch_n"] = n
        recs[name]["batch_extrapolated"] = recs[name]["batch_points_timed"] < n


def _measure_sampler(names, ready, recs, settings) -> None:
    """The MALA sampler of each contender, time-boxed."""
    steps = settings["sampler_steps"]
    for name in names:
        rec = recs[name]
        try:
            res = ready[name].run_sampler(steps, settings["sampler_box"])
        except UnsupportedCaseError as exc:
            rec["sampler_status"] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001
            rec["sampler_status"] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
            continue
        rec["sampler_us_per_step"] = res["s_per_step"] * 1e6
        rec["sampler_steps_timed"] = res["steps"]
        rec["sampler_steps"] = steps
        rec["sampler_mode"] = res["mode"]
        rec["sampler_acceptance"] = res["acceptance"]
        rec["sampler_final_x"] = res["x"] if res["steps"] == steps else None


def print_case(case, recs):
    for name, rec in recs.items():
        if rec.get("status") != "ok":
            log(f"    {name:20s} {rec.get('status')}: {rec.get('reason', '')[:90]}")
            continue
        parts = [f"{rec['latency_ns']:>10.0f} ns/call"]
        if "batch_ns_per_point" in rec:
            parts.append(f"{rec['batch_ns_per_point']:>9.1f} ns/pt ({rec['batch_mode']})")
        elif rec.get("batch_status"):
            parts.append(f"batch {rec['batch_status']}")
        if "sampler_us_per_step" in rec:
            parts.append(f"{rec['sampler_us_per_step']:.2f} us/step ({rec['sampler_mode']})")
        elif rec.get("sampler_status") and case.sampler_eps is not None:
            parts.append(f"sampler: {rec['sampler_status'][:50]}")
        log(f"    {name:20s} " + " | ".join(parts))


def _parser() -> argparse.ArgumentParser:
    """The command line of the main comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run in seconds (CI)")
    parser.add_argument("--cases", help="comma-separated globs over case names")
    parser.add_argument("--contenders", help="comma-separated globs over contender names")
    parser.add_argument("--out", default=str(HERE / "results"), help="output directory")
    parser.add_argument("--no-build", action="store_true", help="skip the fresh-process builds")
    parser.add_argument(
        "--make-venv",
        choices=["auto", "yes", "no"],
        default="auto",
        help="create benchmarks/.venv-symnum021 for SymNum 0.2.1 if missing "
        "(auto: in full runs only)",
    )
    parser.add_argument("--build-timeout", type=float, help="seconds per build (time box)")
    parser.add_argument("--list", action="store_true", help="list cases and contenders")
    parser.add_argument(
        "--data",
        action="store_true",
        help="models with data: run data_bench.py (the N sweep) with the other options",
    )
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--data" in argv:
        # models with data (issue 11): the N sweep of data_bench.py, same options
        import data_bench

        return data_bench.main([a for a in argv if a != "--data"])
    parser = _parser()
    args = parser.parse_args(argv)

    settings = dict(QUICK if args.quick else FULL)
    if args.build_timeout:
        settings["build_timeout"] = args.build_timeout
    t_start = time.perf_counter()
    cache_dir = Path(tempfile.mkdtemp(prefix="symnum-bench-cache-"))
    os.environ["SYMNUM_CACHE_DIR"] = str(cache_dir)
    try:
        chosen = cases.select_cases(args.cases or settings["cases"])
        make_venv = args.make_venv == "yes" or (args.make_venv == "auto" and not args.quick)
        contenders = select(all_contenders(settings, make_venv), args.contenders)
        if args.list:
            for case in cases.CASES:
                log(f"case {case.name}")
            for contender in contenders:
                log(f"contender {contender.name:22s} {contender.probe() or 'available'}")
            return 0
        machine = machine_info()
        versions = package_versions()
        log(
            f"symnum benchmarks ({'quick' if args.quick else 'full'}) on {machine['cpu']}, "
            f"{machine['cores']} cores, Python {machine['python']}"
        )
        for contender in contenders:
            reason = contender.probe()
            log(f"  {contender.name:22s} {reason or 'available'}")
        builds = {}
        if not args.no_build:
            log("build times (fresh processes):")
            builds = build_phase(contenders, chosen, settings, cache_dir, args.quick)
        results: dict = {}
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        for i, case in enumerate(chosen, 1):
            log(f"[{i}/{len(chosen)}] {case.name} ({time.perf_counter() - t_start:.0f} s elapsed)")
            recs = measure_case(case, contenders, settings, builds, results)
            print_case(case, recs)
        for contender in contenders:
            if hasattr(contender, "close"):
                if getattr(contender, "versions", None):
                    versions["symnum 0.2.1 worker"] = contender.versions
                contender.close()
        import report

        doc = {
            "machine": machine,
            "versions": versions,
            "settings": settings,
            "quick": args.quick,
            "elapsed_s": time.perf_counter() - t_start,
            "contenders": [{"name": c.name, "group": c.group} for c in contenders],
            "cases": [case.name for case in chosen],
            "results": results,
        }
        machine["load_average_at_end"] = _loadavg()
        paths = report.write_all(doc, out_dir)
        log(f"done in {doc['elapsed_s']:.0f} s; wrote " + ", ".join(str(p) for p in paths))
        return 0
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
