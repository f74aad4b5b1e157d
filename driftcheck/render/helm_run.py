"""Running a Helm renderer (the `helm` binary, or the Helm SDK in a spawned child) within bounds.

A chart is input from Git: a 150-byte template can ask for gigabytes, loop, or get its renderer killed.
Each render therefore runs in a sandboxed child (`sandbox`) whose address space is capped, whose output
is measured before it is handed back, and whose death is reported as a death, at once, rather than
as a timeout after waiting the whole timeout out.

The Go runtime reserves address space it never touches (about 1.2 GiB for the helm binary, 1.7 GiB
for Python plus the SDK library, measured), and a cap below that reservation leaves it no heap at
all. So the cap is the reservation plus RENDER_MEMORY: measured in the SDK child once the library is
loaded, a fixed GO_RESERVATION for the binary, whose reservation cannot be measured before it starts.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import tempfile
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from driftcheck.render import sandbox
from driftcheck.render.yaml import MAX_FILE_BYTES

RENDER_MEMORY = 1 << 30  # address space one render may add to what the Go runtime reserved at start
GO_RESERVATION = 3 << 29  # 1.5 GiB: the helm binary's reservation at start, with headroom
OUTPUT_LIMIT = MAX_FILE_BYTES  # the largest manifest stream the parent would load anyway
_LOG_TAIL = 64 * 1024  # enough of a dead child's stderr to see why it died


class HelmError(Exception):
    """A render failure, worded for the report."""


def _gib(n: int) -> str:
    return f"{n / (1 << 30):g} GiB"


def _output_checked(text: str) -> str:
    """text, unless it is larger than the parent would load (measured where it was made)."""
    if len(text) > OUTPUT_LIMIT or len(text.encode("utf-8", "surrogateescape")) > OUTPUT_LIMIT:
        raise HelmError(f"helm output is larger than the {OUTPUT_LIMIT} byte limit; not loaded")
    return text


def _died(returncode: int, log: bytes) -> HelmError:
    """Why a child ended without a result: out of memory (the Go runtime or Python said so), or a death
    by signal or exit status."""
    if b"out of memory" in log or b"MemoryError" in log:
        return HelmError(f"helm renderer ran out of memory (limit {_gib(RENDER_MEMORY)} per render); "
                         "the chart asks for more")
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return HelmError(f"helm renderer died (signal {-returncode}, {signal.Signals(-returncode).name})")
        return HelmError(f"helm renderer died (signal {-returncode})")
    return HelmError(f"helm renderer died (exit {returncode})")


def run_binary(argv: list[str], cwd: Path, timeout: float) -> str:
    """`helm template …` sandboxed, its address space capped (GO_RESERVATION + RENDER_MEMORY)."""
    limit_kib = (GO_RESERVATION + RENDER_MEMORY) // 1024
    capped = ["sh", "-c", f'ulimit -v {limit_kib} && exec "$@"', "sh", "helm", *argv]
    try:
        proc = sandbox.run(capped, cwd=cwd, timeout=timeout)
    except sandbox.RenderTimeout:
        raise HelmError(f"helm template did not finish within {timeout:g} s") from None
    stderr = proc.stderr[-_LOG_TAIL:]
    if proc.returncode < 0 or b"out of memory" in stderr:
        raise _died(proc.returncode, stderr)
    if proc.returncode != 0:
        detail = " ".join(stderr.decode("utf-8", "replace").replace(f"{cwd}/", "").split())
        raise HelmError(f"helm template failed: {detail}")
    return _output_checked(proc.stdout.decode("utf-8", "surrogateescape"))


def run_in_child(render: Callable[..., str], args: tuple[Any, ...], timeout: float) -> str:
    """render(*args) in a spawned, sandboxed child (a thread cannot be stopped, and a process holding the
    Go runtime must not fork). Its stderr goes to a file: the Go runtime's dying words are read from it,
    never shown."""
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="driftcheck-helm-child-") as tmp:
        log = Path(tmp) / "stderr"
        log.touch()
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(send, str(log), tmp, render, args), daemon=True)
        child.start()
        send.close()
        try:
            ready = wait([receive, child.sentinel], timeout)
            if not ready:
                raise HelmError(f"helm render did not finish within {timeout:g} s")
            with contextlib.suppress(EOFError, OSError):
                if receive.poll():
                    ok, value = receive.recv()
                    if ok:
                        return str(value)
                    raise HelmError(str(value))
            child.join(5)
            with log.open("rb") as f:
                f.seek(max(0, log.stat().st_size - _LOG_TAIL))
                raise _died(child.exitcode or 0, f.read())
        finally:
            receive.close()
            if child.is_alive():
                child.kill()
            child.join()


def _child(send: Connection, log: str, home: str, render: Callable[..., str], args: tuple[Any, ...]) -> None:
    """The child's side: sandbox itself, stderr to the log, load the SDK, cap the address space, render,
    and send back (True, text) or (False, message)."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    os.close(fd)
    sandbox.isolate_current_process(Path(home))
    try:
        import helm_python  # noqa: F401  # starts the Go runtime
    except ImportError:
        send.send((False, "Helm chart, but no Helm renderer is available: install helm on PATH or "
                          "`pip install 'driftcheck[helm]'`"))
        return
    with open("/proc/self/status", encoding="ascii") as status:
        vm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap, hard = vm_kib * 1024 + RENDER_MEMORY, resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard == resource.RLIM_INFINITY or cap < hard:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        send.send((True, _output_checked(render(*args))))
    except HelmError as e:
        send.send((False, str(e)))
    except MemoryError:
        send.send((False, str(_died(0, b"MemoryError"))))
