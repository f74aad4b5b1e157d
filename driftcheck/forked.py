"""A run's CPU-bound work in shares, each in a worker process forked from it; results streamed back.

Parsing YAML, comparing, walking history and sealing reports are pure Python, so one process uses one CPU:
a 20-cluster run spent most of its time on one core of two. Forked when the input is in memory (the
rendered Git side for the clusters' audits, a commit's files for parse_ahead), each worker inherits it
(nothing is copied to it), works through its share and sends back each result as it is done, so the
parent can write one cluster's reports while the others are audited.

What a forked child must not share with its parent (a persistent `git cat-file`, the jq child) is
detached by the owning modules' `os.register_at_fork` hooks. A child sends its lines already scrubbed and,
with each result, the credentials it registered (a kubeconfig's tokens), so that the parent's output of
it hides them too. A worker that dies (OOM-killed, a signal) loses what its share had left, not the run:
the caller is told (WorkerLost) and says so. Children die with the parent (PR_SET_PDEATHSIG) and the
parent kills those left when it stops early (SIGTERM, an error).
"""

from __future__ import annotations

import ctypes
import math
import os
import pickle
import selectors
import signal
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from driftcheck import scrub
from driftcheck.model import DriftcheckError

Share = TypeVar("Share")
Result = TypeVar("Result")
Progress = Callable[[str], None]

MAX_WORKERS = 8
_HEADER = struct.Struct("!Q")  # each frame: its length, then a pickle
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


@dataclass(frozen=True)
class WorkerLost(Generic[Share]):
    """A share whose worker ended without its results, and why."""

    share: Share
    why: str


def available_cpus() -> int:
    """The CPUs this process may use: its affinity, lowered to a cgroup v2 CPU quota (a Pod's limit)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU
    count = len(affinity(0)) if affinity else os.cpu_count() or 1
    try:
        quota, period = _CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return count


def balanced(items: Sequence[Share], weight: Callable[[Share], int], count: int) -> list[list[Share]]:
    """At most `count` non-empty shares of about equal weight (heaviest first, each to the lightest share),
    each keeping the items' order."""
    shares: list[list[int]] = [[] for _ in range(max(1, min(count, len(items))))]
    totals = [0] * len(shares)
    for i in sorted(range(len(items)), key=lambda i: -weight(items[i])):
        lightest = totals.index(min(totals))
        shares[lightest].append(i)
        totals[lightest] += weight(items[i])
    return [[items[i] for i in sorted(share)] for share in shares if share]


def run_forked(shares: Sequence[Share], work: Callable[[Share, Progress], Iterator[Result]],
               progress: Progress) -> Iterator[Result | WorkerLost[Share]]:
    """The items work(share, progress) yields, each share's in its own forked child, as they come (so the
    caller can write one cluster's report while others are audited); a WorkerLost for a share whose child
    ended before it was done. A DriftcheckError in a child is raised here, as in this process."""
    sys.stdout.flush()
    sys.stderr.flush()  # a child must not write out what this process had buffered
    children: dict[int, tuple[int, Share]] = {}  # read end -> (pid, share)
    try:
        for share in shares:
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: its side ends in os._exit
                os.close(read_end)
                for other in children:
                    os.close(other)
                _child(write_end, work, share)
            os.close(write_end)
            children[read_end] = (pid, share)
        yield from _collect(children, progress)
    finally:
        for read_end, (pid, _) in children.items():
            _stop(pid)
            os.close(read_end)


def _collect(children: dict[int, tuple[int, Share]], progress: Progress) -> Iterator[Any]:
    """Every child's frames until it closes its end: progress lines relayed, results yielded."""
    buffers = {fd: b"" for fd in children}
    finished: set[int] = set()
    with selectors.DefaultSelector() as selector:
        for fd in children:
            selector.register(fd, selectors.EVENT_READ)
        while buffers:
            for key, _ in selector.select():
                fd = int(key.fd)
                pid, share = children[fd]
                chunk = os.read(fd, 1 << 20)
                buffers[fd], frames = _frames(buffers[fd] + chunk)
                for kind, value, *secrets in frames:
                    if kind == "progress":
                        progress(value)
                    elif kind == "result":
                        scrub.register(*secrets[0])
                        yield value
                    elif kind == "done":
                        finished.add(fd)
                    elif kind == "failed":
                        raise DriftcheckError(value)
                    else:
                        raise RuntimeError(f"a worker process failed:\n{value}")
                if not chunk:
                    selector.unregister(fd)
                    del buffers[fd]
                    if fd not in finished:
                        yield WorkerLost(share, _lost_reason(pid))


def _frames(buffer: bytes) -> tuple[bytes, list[tuple[Any, ...]]]:
    """The whole frames at the start of buffer, and what is left (a frame not all here yet)."""
    frames = []
    while len(buffer) >= _HEADER.size:
        (size,) = _HEADER.unpack_from(buffer)
        if len(buffer) < _HEADER.size + size:
            break
        frames.append(pickle.loads(buffer[_HEADER.size:_HEADER.size + size]))
        buffer = buffer[_HEADER.size + size:]
    return buffer, frames


def _lost_reason(pid: int) -> str:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        killed = " (out of memory?)" if number == signal.SIGKILL else ""
        return f"its worker process was killed by {signal.Signals(number).name}{killed}"
    return f"its worker process ended with status {os.waitstatus_to_exitcode(status)} before its results"


def _stop(pid: int) -> None:
    """Kill the child if it still runs, and reap it."""
    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # reaped already (_lost_reason)


def _send(fd: int, frame: tuple[Any, ...]) -> None:
    """One frame, whole: a result larger than the pipe takes several writes, and the child's reader threads
    tell progress meanwhile, so the writes of one frame hold the lock."""
    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    with _SENDING:
        while view:
            view = view[os.write(fd, view):]


_SENDING = threading.Lock()  # taken in forked children only, so never held across a fork


def _child(fd: int, work: Callable[[Share, Progress], Iterator[Any]], share: Share) -> None:
    """Run the share, send each result and the end, and leave without running the parent's exit handlers."""
    code = 1
    try:
        if sys.platform == "linux":
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for result in work(share, lambda line: _send(fd, ("progress", scrub.scrub(line)))):
            _send(fd, ("result", result, tuple(scrub.registered())))  # before the parent writes it out
        _send(fd, ("done", None))
        code = 0
    except DriftcheckError as exc:
        _send(fd, ("failed", scrub.scrub(str(exc))))
    except BaseException:  # a bug: its traceback, for the parent to raise
        _send(fd, ("crashed", scrub.scrub(traceback.format_exc())))
    finally:
        os._exit(code)
