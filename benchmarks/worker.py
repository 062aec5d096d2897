"""Worker process of the benchmark harness.

``python worker.py serve`` (run with SymNum 0.2.1's interpreter) answers measurement
commands, one JSON object per line on stdin, one ``@@``-prefixed JSON line per answer on
stdout, so the harness can interleave 0.2.1 with the in-process contenders.

``python worker.py build CONTENDER CASE[,CASE...]`` times builds (trace + differentiate +
generate + compile + first call) in a fresh process, one ``@@`` JSON line per case. For
symnum the cache directory comes from ``SYMNUM_CACHE_DIR`` (cold: a fresh directory;
warm: the same directory again). A tiny warm-up build runs first so one-off start-up
costs (first numba compile, first jit) are not charged to the first case.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases
import numpy as np
from prepared import UnsupportedCaseError

LEGACY = "symnum 0.2.1"


def _send(obj) -> None:
    sys.stdout.write("@@" + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _preparer(name: str):
    if name == LEGACY:
        from symnum_contender import prepare_symnum

        return lambda case: prepare_symnum(case, None, legacy=True)
    import contenders

    for contender in contenders.local_contenders():
        if contender.name == name:
            reason = contender.probe()
            if reason:
                raise SystemExit(reason)
            return contender.prepare
    msg = f"unknown contender {name!r}"
    raise SystemExit(msg)


WARMUP = (cases.Case(cases.WARMUP, "grad"), cases.Case(cases.WARMUP, "hess"))


def build_main(name: str, case_names: str) -> None:
    prepare = _preparer(name)
    for warmup in WARMUP:
        with contextlib.suppress(Exception):  # the real cases report their own errors
            prepare(warmup)
    for case in cases.select_cases(case_names):
        _send({"case": case.name, "status": "building"})
        try:
            prepared = prepare(case)
            _send({"case": case.name, "status": "ok", "build_s": prepared.build_s})
        except UnsupportedCaseError as exc:
            _send({"case": case.name, "status": "unsupported", "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - reported per case
            _send({"case": case.name, "status": "error", "reason": _describe(exc)})


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _tolist(a):
    return np.asarray(a, dtype=np.float64).tolist()


def serve_main() -> None:
    prepare = _preparer(LEGACY)
    built = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd["cmd"]
        try:
            if op == "quit":
                _send({"ok": True})
                return
            if op == "versions":
                from importlib.metadata import version

                _send(
                    {
                        "ok": True,
                        "symnum": version("symnum"),
                        "numpy": np.__version__,
                        "sympy": version("sympy"),
                        "python": sys.version.split()[0],
                    }
                )
                continue
            case = cases.CASES_BY_NAME[cmd["case"]]
            if op == "prepare":
                built[case.name] = prepare(case)
                _send({"ok": True, "build_s": built[case.name].build_s})
                continue
            prepared = built[case.name]
            if op == "point_output":
                _send({"ok": True, "out": _tolist(prepared.point_output())})
            elif op == "batch_output":
                _send({"ok": True, "out": _tolist(prepared.batch_output(cmd["count"]))})
            elif op == "disable_batch":
                prepared.batch = None
                prepared.batch_mode = "python loop"
                _send({"ok": True})
            elif op == "autorange":
                _send({"ok": True, "number": prepared.autorange(cmd["target"])})
            elif op == "time_point":
                _send({"ok": True, "seconds": prepared.time_point(cmd["number"])})
            elif op == "time_batch":
                _send({"ok": True, **prepared.time_batch(cmd["n"], cmd["box"])})
            elif op == "sampler":
                _send({"ok": True, **prepared.run_sampler(cmd["steps"], cmd["box"])})
            elif op == "release":
                built.pop(case.name, None)
                _send({"ok": True})
            else:
                _send({"ok": False, "error": f"unknown command {op!r}"})
        except UnsupportedCaseError as exc:
            _send({"ok": False, "unsupported": True, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - reported to the harness
            traceback.print_exc(file=sys.stderr)
            _send({"ok": False, "error": _describe(exc)})


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve_main()
    elif sys.argv[1] == "build":
        build_main(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
