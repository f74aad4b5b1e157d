"""The bounds of a Helm render (memory cap, output limit, how a death is told), and `helm` run within them.

A chart is input from Git: a 150-byte template can ask for gigabytes, loop, or get its renderer killed.
Each render therefore runs in a sandboxed child (`sandbox`; for the SDK a long-lived worker, `helm_pool`)
whose address space is capped, whose output is measured before it is handed back, and whose death is
reported as a death, at once, rather than as a timeout after waiting the whole timeout out.

The Go runtime reserves address space it never touches (about 1.2 GiB for the helm binary, 1.7 GiB
for Python plus the SDK library, measured), and a cap below that reservation leaves it no heap at
all. So the cap is the reservation plus RENDER_MEMORY: measured in the SDK worker before each render,
a fixed GO_RESERVATION for the binary, whose reservation cannot be measured before it starts.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

from driftcheck.render import sandbox
from driftcheck.render.yaml import MAX_FILE_BYTES

RENDER_MEMORY = 1 << 30  # address space one render may add to what the Go runtime reserved at start
GO_RESERVATION = 3 << 29  # 1.5 GiB: the helm binary's reservation at start, with headroom
OUTPUT_LIMIT = MAX_FILE_BYTES  # the largest manifest stream the parent would load anyway
LOG_TAIL = 64 * 1024  # enough of a dead child's stderr to see why it died


class HelmError(Exception):
    """A render failure, worded for the report."""


def _gib(n: int) -> str:
    return f"{n / (1 << 30):g} GiB"


def output_checked(text: str) -> str:
    """text, unless it is larger than the parent would load (measured where it was made)."""
    if len(text) > OUTPUT_LIMIT or len(text.encode("utf-8", "surrogateescape")) > OUTPUT_LIMIT:
        raise HelmError(f"helm output is larger than the {OUTPUT_LIMIT} byte limit; not loaded")
    return text


def died(returncode: int, log: bytes) -> HelmError:
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
    stderr = proc.stderr[-LOG_TAIL:]
    if proc.returncode < 0 or b"out of memory" in stderr:
        raise died(proc.returncode, stderr)
    if proc.returncode != 0:
        detail = " ".join(stderr.decode("utf-8", "replace").replace(f"{cwd}/", "").split())
        raise HelmError(f"helm template failed: {detail}")
    return output_checked(proc.stdout.decode("utf-8", "surrogateescape"))
