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


def _versions() -> dict:
    from importlib.metadata import version

    return {
        "symnum": version("symnum"),
        "numpy": np.__version__,
        "sympy": version("sympy"),
        "python": sys.version.split()[0],
    }


def _disable_batch(prepared) -> dict:
    prepared.batch = None
    prepared.batch_mode = "python loop"
    return {}


#: command -> (prepared, command) -> the fields of the answer
_ON_PREPARED = {
    "point_output": lambda p, c: {"out": _tolist(p.point_output())},
    "batch_output": lambda p, c: {"out": _tolist(p.batch_output(c["count"]))},
    "disable_batch": lambda p, c: _disable_batch(p),
    "autorange": lambda p, c: {"number": p.autorange(c["target"])},
    "time_point": lambda p, c: {"seconds": p.time_point(c["number"])},
    "time_batch": lambda p, c: p.time_batch(c["n"], c["box"]),
    "sampler": lambda p, c: p.run_sampler(c["steps"], c["box"]),
}


def _answer(cmd: dict, built: dict, prepare) -> dict:
    """The answer to one command (other than ``quit``)."""
    op = cmd["cmd"]
    if op == "versions":
        return {"ok": True, **_versions()}
    case = cases.CASES_BY_NAME[cmd["case"]]
    if op == "prepare":
        built[case.name] = prepare(case)
        return {"ok": True, "build_s": built[case.name].build_s}
    if op == "release":
        built.pop(case.name, None)
        return {"ok": True}
    action = _ON_PREPARED.get(op)
    if action is None:
        return {"ok": False, "error": f"unknown command {op!r}"}
    return {"ok": True, **action(built[case.name], cmd)}


def serve_main() -> None:
    prepare = _preparer(LEGACY)
    built = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            _send({"ok": True})
            return
        try:
            _send(_answer(cmd, built, prepare))
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
