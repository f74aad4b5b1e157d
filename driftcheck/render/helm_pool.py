"""Long-lived, sandboxed Helm SDK workers: one spawned child renders chart after chart in `helm_run` bounds.

Why: a fresh child per render spent about a second (several under load) spawning Python and loading the
85 MB SDK library with its Go runtime, for a render that then takes milliseconds. A worker is sandboxed
once (`sandbox.isolate_current_process`: no network, private HOME, allowlisted environment), loads the
SDK once and is fed requests over a pipe, one at a time. Every bound a child per render had still holds:

- timeout: a render that does not answer within its timeout kills the worker; the next render gets a
  new one. A worker that dies mid-render (signal, the Go runtime's fatal out of memory) is seen at once
  on its sentinel and reported as that render's death, with the reason read from the part of its stderr
  log written during that render.
- memory: RLIMIT_AS caps a process, not a render, so before each render the worker sets its soft limit
  to the address space it holds now plus RENDER_MEMORY: every render gets the same RENDER_MEMORY a fresh
  child gave it, whatever earlier renders left mapped. The hard limit is the SDK-loaded size plus
  RENDER_MEMORY plus RETIRE_GROWTH, so nothing in the worker can raise it further.
- retirement: the Go heap a large render grew stays resident for minutes (measured: one 30 MB
  ConfigMap leaves ~200 MB RSS and ~220 MB more address space; 300 renders of a small chart grow it by
  4 MB). A worker therefore exits after the render that leaves it RETIRE_GROWTH above its size or RSS
  at start, after a MemoryError, with a chart handle still open, or after MAX_RENDERS (a bound on what
  the measures above cannot see, at one restart per few hundred renders). Its replacement is started at
  once, so its start overlaps the next app's export and values.
- output: still measured in the worker (`helm_run.output_checked`) before it is sent.
- isolation: each render runs in its own new directory (cwd and `tempfile`'s directory), removed after
  it; the worker keeps no chart (the SDK's handles are closed, or the worker retires); Helm builds its
  template set afresh on each render, so one chart's `define`s are not another's.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import resource
import shutil
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from driftcheck.render import sandbox
from driftcheck.render.helm_run import LOG_TAIL, RENDER_MEMORY, HelmError, died, output_checked

RETIRE_GROWTH = 256 << 20  # size or RSS a worker may gain over its start before it is replaced
MAX_RENDERS = 500  # renders one worker serves at most
_LOG_KEPT = 1 << 20  # a worker's stderr log is emptied between renders beyond this
NO_RENDERER = ("Helm chart, but no Helm renderer is available: install helm on PATH or "
               "`pip install 'driftcheck[helm]'`")

Reply = tuple[str, str, bool]  # ("ok" | "error" | "absent", manifest text or message, worker retires)


class _Worker:
    """One spawned child, its pipe, and the directory holding its stderr log and HOME."""

    def __init__(self, max_renders: int) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="driftcheck-helm-worker-"))
        self.log = self.dir / "stderr"
        self.log.touch()
        (self.dir / "home").mkdir()
        ctx = multiprocessing.get_context("spawn")  # a process holding the Go runtime must not fork
        self.conn, theirs = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(
            target=_serve, args=(theirs, str(self.log), str(self.dir / "home"), max_renders), daemon=True)
        self.process.start()
        theirs.close()

    def call(self, render: Callable[..., str], args: tuple[Any, ...], timeout: float) -> Reply:
        """The worker's reply to one request; HelmError for a timeout or a death (the caller stops it)."""
        offset = self.log.stat().st_size
        with contextlib.suppress(OSError):  # a dead worker: found below on its sentinel
            self.conn.send((render, args))
        if not wait([self.conn, self.process.sentinel], timeout):
            raise HelmError(f"helm render did not finish within {timeout:g} s")
        with contextlib.suppress(EOFError, OSError):
            if self.conn.poll():
                status, text, retire = self.conn.recv()
                if self.log.stat().st_size > _LOG_KEPT:  # Helm's warnings, render after render
                    os.truncate(self.log, 0)  # the worker appends: its next line starts the file again
                return str(status), str(text), bool(retire)
        self.process.join(5)
        with self.log.open("rb") as f:
            f.seek(max(offset, self.log.stat().st_size - LOG_TAIL))
            raise died(self.process.exitcode or 0, f.read())

    def stop(self) -> None:
        """Kill and reap the child (whatever it is doing), remove its log and HOME."""
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        shutil.rmtree(self.dir, ignore_errors=True)


class SdkPool:
    """Idle workers, handed to one render at a time (renders in several threads get one each)."""

    def __init__(self, max_renders: int = MAX_RENDERS) -> None:
        self.max_renders = max_renders
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._absent = ""  # the fallback message, once a worker found no SDK
        self.started = 0  # workers started so far (tests and the bench read it)

    def prestart(self) -> None:
        """Have a worker loading the SDK, so the next render need not wait for it."""
        with self._lock:
            if not self._idle and not self._absent:
                self._idle.append(self._new())

    def render(self, render: Callable[..., str], args: tuple[Any, ...], timeout: float) -> str:
        """render(*args) in a worker within the bounds; HelmError says why there is no manifest text."""
        if self._absent:
            raise HelmError(self._absent)
        worker = self._take()
        try:
            status, text, retire = worker.call(render, args, timeout)
        except HelmError:
            worker.stop()
            self.prestart()  # the next Helm app most likely follows
            raise
        except BaseException:
            worker.stop()
            raise
        if status == "absent":
            self._absent = text
            worker.stop()
        elif retire:
            worker.stop()
            self.prestart()
        else:
            with self._lock:
                self._idle.append(worker)
        if status != "ok":
            raise HelmError(text)
        return text

    def shutdown(self) -> None:
        """Stop every idle worker (at exit, and before the bench reads its children's usage)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.process.is_alive():
                    return worker
                worker.stop()  # died between renders: no render of ours was lost
            return self._new()

    def _new(self) -> _Worker:
        self.started += 1
        return _Worker(self.max_renders)


POOL = SdkPool()
atexit.register(POOL.shutdown)


def _vm() -> tuple[int, int]:
    """(address space, resident set) of this process in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        fields = {k: int(v.split()[0]) * 1024 for k, _, v in (line.partition(":") for line in status)
                  if k in ("VmSize", "VmRSS")}
    return fields["VmSize"], fields["VmRSS"]


def _serve(conn: Connection, log: str, home: str, max_renders: int) -> None:
    """The worker: stderr to the log, sandbox itself, load the SDK, cap its address space, then answer
    requests until the parent goes away or the retirement rule says stop."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    os.close(fd)
    sandbox.isolate_current_process(Path(home))
    os.chdir(home)
    try:
        import helm_python  # starts the Go runtime
    except ImportError:
        conn.send(("absent", NO_RENDERER, True))
        return
    size, rss = _vm()
    hard = size + RENDER_MEMORY + RETIRE_GROWTH
    current_hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if current_hard != resource.RLIM_INFINITY and current_hard < hard:
        hard = current_hard
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    for served in range(1, max_renders + 1):
        try:
            render, args = conn.recv()
        except EOFError:
            return
        status, text, failed_alloc = _one(render, args, home, hard)
        now_size, now_rss = _vm()
        retire = (failed_alloc or served == max_renders or now_size - size > RETIRE_GROWTH
                  or now_rss - rss > RETIRE_GROWTH or helm_python.open_handles_count() > 0)
        conn.send((status, text, retire))
        if retire:
            return


def _one(render: Callable[..., str], args: tuple[Any, ...], home: str, hard: int) -> tuple[str, str, bool]:
    """One render in a new directory of its own, given RENDER_MEMORY more address space than the worker
    holds now: (status, text, whether an allocation failed)."""
    work = tempfile.mkdtemp(prefix="driftcheck-helm-render-")
    saved = tempfile.tempdir
    os.chdir(work)
    tempfile.tempdir = work
    resource.setrlimit(resource.RLIMIT_AS, (min(_vm()[0] + RENDER_MEMORY, hard), hard))
    try:
        return "ok", output_checked(render(*args)), False
    except HelmError as e:
        return "error", str(e), False
    except MemoryError:
        return "error", str(died(0, b"MemoryError")), True
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        os.chdir(home)
        tempfile.tempdir = saved
        shutil.rmtree(work, ignore_errors=True)
