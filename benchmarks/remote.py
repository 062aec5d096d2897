"""Worker processes: SymNum 0.2.1 in its own virtual environment, and build timings.

SymNum 0.2.1 has the same import name as symnum, so it runs in a separate interpreter
(``benchmarks/.venv-symnum021``, made with ``python -m venv`` + ``pip install
symnum==0.2.1`` when missing and allowed, or ``$SYMNUM021_PYTHON``). The harness talks to
it over a pipe (:mod:`worker`), one command at a time, so its measurements interleave
with the in-process contenders under the same machine load.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from prepared import UnsupportedCaseError

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-symnum021"
WORKER = HERE / "worker.py"
LEGACY = "symnum 0.2.1"

__all__ = ["Legacy", "find_legacy_python", "run_build_worker"]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _is_021(python: str) -> bool:
    try:
        out = subprocess.run(
            # -I: no current directory on sys.path (a symnum checkout there would shadow
            # the installed 0.2.1), no PYTHONPATH.
            [python, "-I", "-c", "import importlib.metadata as m; print(m.version('symnum'))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=str(HERE),
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.stdout.strip() == "0.2.1"


def find_legacy_python(make: bool, log=print) -> tuple[str | None, str]:
    """(interpreter with symnum 0.2.1, how it was found) or (None, why not)."""
    env = os.environ.get("SYMNUM021_PYTHON")
    if env:
        if _is_021(env):
            return env, f"$SYMNUM021_PYTHON={env}"
        return None, f"missing: $SYMNUM021_PYTHON={env} has no symnum 0.2.1"
    python = _venv_python(VENV)
    if python.exists() and _is_021(str(python)):
        return str(python), str(VENV)
    if not make:
        return None, f"missing: no {VENV.name} (the full run creates it; or set $SYMNUM021_PYTHON)"
    return _make_legacy_venv(python, log)


def _make_legacy_venv(python, log) -> tuple[str | None, str]:
    """Create the SymNum 0.2.1 venv; as :func:`find_legacy_python`."""
    log(f"creating {VENV} with symnum==0.2.1 (pip; needs the package index)...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "symnum==0.2.1"],
            check=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"missing: could not create {VENV.name} ({exc})"
    if _is_021(str(python)):
        return str(python), f"{VENV} (created)"
    return None, f"missing: {VENV.name} created but symnum 0.2.1 does not import"


class _Pipe:
    """A child process speaking the ``@@``-JSON-lines protocol, with read timeouts."""

    def __init__(self, argv, env=None, stderr=subprocess.DEVNULL):
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
            cwd=str(HERE),
            env=env,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            if line.startswith("@@"):
                self.lines.put(json.loads(line[2:]))
        self.lines.put(None)

    def read(self, timeout):
        """The next message; TimeoutError (the class) after ``timeout`` s; None at exit."""
        try:
            return self.lines.get(timeout=max(0.1, timeout))
        except queue.Empty:
            return TimeoutError

    def send(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run_build_worker(python, contender, case_names, *, env, timeout, on_line=None):
    """Run ``worker.py build`` and collect {case: result}; a case still building when
    ``timeout`` seconds (per case) pass is recorded as a timeout and the remaining
    cases run in a new worker."""
    results: dict = {}
    remaining = list(case_names)
    while remaining:
        pipe = _Pipe([python, "-I", str(WORKER), "build", contender, ",".join(remaining)], env=env)
        current = None
        limit = time.monotonic() + timeout + 60  # start-up and warm-up allowance
        while True:
            msg = pipe.read(max(1.0, limit - time.monotonic()))
            if msg is TimeoutError:
                pipe.kill()
                if current is None:
                    for name in remaining:
                        results[name] = {"status": "error", "reason": "worker start timed out"}
                    return results
                results[current] = {"status": "timeout", "reason": f"build > {timeout:.0f} s"}
                if on_line:
                    on_line(current, results[current])
                remaining = remaining[remaining.index(current) + 1 :]
                break
            if msg is None:  # worker exited
                pipe.kill()
                for name in remaining:
                    if name not in results:
                        results[name] = {
                            "status": "error",
                            "reason": f"worker exited ({pipe.proc.returncode})",
                        }
                return results
            if msg.get("status") == "building":
                current = msg["case"]
                limit = time.monotonic() + timeout
                continue
            results[msg["case"]] = msg
            if on_line:
                on_line(msg["case"], msg)
            if msg["case"] == remaining[-1]:
                pipe.kill()
                return results
    return results


class Legacy:
    """SymNum 0.2.1, measured in its own interpreter through :mod:`worker`."""

    name = LEGACY
    group = "peer"

    def __init__(self, python, found, build_timeout):
        self.python = python
        self.found = found
        self.build_timeout = build_timeout
        self.pipe = None
        self.versions = {}

    def probe(self):
        if self.python is None:
            return self.found
        return None

    def _start(self):
        if self.pipe is None or self.pipe.proc.poll() is not None:
            self.pipe = _Pipe([self.python, "-I", str(WORKER), "serve"])
            self.versions = self._ask({"cmd": "versions"}, 120)

    def _ask(self, cmd, timeout=600):
        self.pipe.send(cmd)
        reply = self.pipe.read(timeout)
        if reply is TimeoutError or reply is None:
            self.close()
            raise TimeoutError(f"0.2.1 worker: no answer to {cmd['cmd']} in {timeout} s")
        if not reply.pop("ok", False):
            if reply.get("unsupported"):
                raise UnsupportedCaseError(reply["error"])
            raise RuntimeError(reply.get("error", "0.2.1 worker error"))
        return reply

    def close(self):
        if self.pipe is not None:
            self.pipe.kill()
            self.pipe = None

    def prepare(self, case):
        self._start()
        try:
            reply = self._ask({"cmd": "prepare", "case": case.name}, self.build_timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"build > {self.build_timeout:.0f} s") from exc
        return RemotePrepared(self, case, reply["build_s"])


class RemotePrepared:
    """The :class:`prepared.Prepared` interface, forwarded to the 0.2.1 worker."""

    def __init__(self, legacy, case, build_s):
        self.legacy = legacy
        self.case = case
        self.build_s = build_s
        self.batch_mode = "transposed broadcasting"
        self.notes = ""

    def _ask(self, cmd, **kwargs):
        return self.legacy._ask({"cmd": cmd, "case": self.case.name, **kwargs})

    def point_output(self):
        return np.array(self._ask("point_output")["out"])

    def batch_output(self, count=3):
        return np.array(self._ask("batch_output", count=count)["out"])

    def disable_batch(self):
        self._ask("disable_batch")
        self.batch_mode = "python loop"

    def autorange(self, target):
        return self._ask("autorange", target=target)["number"]

    def time_point(self, number):
        return self._ask("time_point", number=number)["seconds"]

    def time_batch(self, n, box):
        return self._ask("time_batch", n=n, box=box)

    def run_sampler(self, steps, box, repeats=3):
        del repeats
        return self._ask("sampler", steps=steps, box=box)

    def release(self):
        if self.legacy.pipe is not None:
            self._ask("release")
