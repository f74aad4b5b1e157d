"""jq programs from Git run in a worker process, under a CPU and a wall-clock limit.

A jq program that computes without producing output (`until(false; .)`, `last(range(1e12))`) never
returns from libjq, and while it runs no Python bytecode runs either: a SIGTERM handler never gets
control and only SIGKILL ends the run. So every jq program (compiled and evaluated alike) runs in one
long-lived child per run, started on first use. The parent waits in `select`, which a signal always
interrupts; a program that passes the deadline has its child killed (the next evaluation starts a new
one), and the child can never outlive the parent: its CPU time is bounded (RLIMIT_CPU, raised per
request), it dies with its parent (PR_SET_PDEATHSIG) and the parent kills it on exit, SIGTERM included.

One request carries one program and several inputs (both sides of an object), so the cost is one round
trip per rule and object, not per evaluation.

This file is also the child's script: it is run by path, in isolated mode (`python -I`), so that it
imports nothing of driftcheck and the package's modules cannot shadow the standard library's.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import time
from typing import Any

TIMEOUT = 5.0  # seconds per request; a rule over one Kubernetes object takes microseconds
MAX_PATHS = 10_000  # no object has more fields; beyond this a jq expression is looping
_MEMORY = 1 << 30  # address space of the child


class JqTimeout(Exception):
    """The program did not finish within TIMEOUT (or exhausted the child's CPU or memory limit)."""


class JqError(ValueError):
    """jq's own compile or runtime error, first line."""


Result = list[list[Any]] | JqError  # the paths a program gives for one input, or its error


class _Worker:
    """The parent's end of one child: a request line out, a response line back, within the deadline."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        self.buffer = b""

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            self.proc.stdin.flush()
            line = self._line(self.proc.stdout.fileno(), timeout)
        except BaseException:  # the deadline, a dead child, SIGTERM's SystemExit: the child goes
            self.kill()
            raise
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _line(self, fd: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise JqTimeout
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise JqTimeout  # killed by its CPU or memory limit
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


_worker: list[_Worker] = []  # the run's child, once started
# A process forked from the run (driftcheck.forked) starts its own child: the parent's pipes are the parent's.
os.register_at_fork(after_in_child=_worker.clear)


def _ask(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    if not _worker or _worker[0].proc.poll() is not None:
        _worker[:] = [_Worker()]
    worker = _worker[0]
    try:
        return worker.ask(request, timeout)
    except BaseException:
        _worker.clear()
        raise


def compile_problem(expr: str, args: dict[str, Any]) -> str:
    """jq's complaint about `path(expr)` with these $variables, or "" when it compiles."""
    try:
        return str(_ask({"expr": expr, "args": args, "inputs": []}, TIMEOUT).get("error") or "")
    except JqTimeout:
        return f"did not compile within {TIMEOUT:g} s"


def paths(expr: str, args: dict[str, Any], inputs: list[Any]) -> list[Result]:
    """The paths `path(expr)` yields for each input (at most MAX_PATHS + 1 each), or that input's error.

    Raises JqTimeout when the whole request did not finish in time.
    """
    reply = _ask({"expr": expr, "args": args, "inputs": inputs}, TIMEOUT)
    if "error" in reply:
        return [JqError(reply["error"]) for _ in inputs]
    return [JqError(r["error"]) if isinstance(r, dict) else r for r in reply["results"]]


@atexit.register
def _stop() -> None:
    for worker in _worker:
        worker.kill()
    _worker.clear()


# -- the child ----------------------------------------------------------------------------------


def _serve() -> None:
    """Answer requests until stdin closes; each request may use TIMEOUT more seconds of CPU."""
    import resource

    import jq

    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (_MEMORY, _MEMORY))
    programs: dict[str, Any] = {}
    for line in sys.stdin.buffer:
        request = json.loads(line)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        budget = int(usage.ru_utime + usage.ru_stime + TIMEOUT) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (budget, resource.RLIM_INFINITY))
        key = json.dumps([request["expr"], request["args"]], sort_keys=True)
        reply: dict[str, Any]
        try:
            program = programs.get(key) or jq.compile(f"path({request['expr']})", args=request["args"])
            programs[key] = program
            reply = {"results": [_run(program, value) for value in request["inputs"]]}
        except ValueError as exc:
            reply = {"error": _first_line(exc)}
        sys.stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def _run(program: Any, value: Any) -> list[Any] | dict[str, str]:
    out = []
    try:
        for found in program.input_value(value):
            out.append(found)
            if len(out) > MAX_PATHS:
                break
    except ValueError as exc:
        return {"error": _first_line(exc)}
    return out


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def _die_with_parent() -> None:
    """SIGKILL this child when its parent dies, however it dies (Linux; elsewhere the CPU limit bounds it)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        os._exit(0)


if __name__ == "__main__":
    _serve()
