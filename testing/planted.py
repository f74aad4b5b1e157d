"""Planted secrets: values a test puts where a secret can hide (a token file, a Secret, a value file), so
that the session's last check can prove none of them reached any output the suite's runs wrote.

A test plants a value with `secret(label)` and writes every *input* file that holds one with
`write_input(path, text)` (GitRepoBuilder registers its work-tree files itself). At the end of the session
`leaks(root)` reads every other file under the session's temporary directory — reports, snapshots,
rendered trees, logs, the captured stdout and stderr of `run_cli` — and lists each one holding a planted
value, plain or base64-encoded."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

PLANTED: set[str] = set()
INPUTS: set[Path] = set()
_RUNS = 0


def secret(label: str) -> str:
    """A fresh value nobody else would write, remembered for the final scan."""
    value = f"PLANTED-{label}-{secrets.token_hex(6)}"
    PLANTED.add(value)
    return value


def plant(value: str) -> str:
    """Remember a fixed value (a test's own TOKEN constant) for the final scan."""
    PLANTED.add(value)
    return value


def write_input(path: Path, text: str | bytes) -> Path:
    """Write an input file that may hold planted values; the final scan does not count it as output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    mark_input(path)
    return path


def mark_input(path: Path) -> None:
    """Count an existing file (or every file below a directory) as input, not output."""
    path = path.resolve()
    INPUTS.add(path)


def run_cli(args: Sequence[str], log_dir: Path, env: dict[str, str] | None = None,
            timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `driftcheck` CLI in a child process; its stdout and stderr are kept as files under
    log_dir so the final scan reads them too."""
    global _RUNS
    _RUNS += 1
    out = subprocess.run([sys.executable, "-m", "driftcheck.cli", *args], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=timeout, cwd=cwd)
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / f"run-{os.getpid()}-{_RUNS}.stdout").write_text(out.stdout)
    (log_dir / f"run-{os.getpid()}-{_RUNS}.stderr").write_text(out.stderr)
    return out


def _forms(value: str) -> Iterator[bytes]:
    raw = value.encode()
    yield raw
    for shift in range(3):   # the value at any offset inside a longer base64 text
        encoded = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0:-4]
        if len(encoded) >= 12:
            yield encoded


def _is_input(path: Path) -> bool:
    return any(p in INPUTS for p in (path, *path.parents)) or ".git" in path.parts


def save(root: Path) -> None:
    """Leave this process's planted values and inputs under root, for the process that scans (pytest-xdist
    workers each plant their own; the controller scans them all)."""
    if PLANTED:
        record = root / f"planted-{os.getpid()}.json"
        record.write_text(json.dumps({"planted": sorted(PLANTED), "inputs": sorted(map(str, INPUTS))}))
        mark_input(record)


def load(root: Path) -> None:
    """Take in what every process saved under root."""
    for record in root.rglob("planted-*.json"):
        data = json.loads(record.read_text())
        PLANTED.update(data["planted"])
        INPUTS.update(Path(p) for p in data["inputs"])
        mark_input(record)


def leaks(root: Path) -> list[str]:
    """Every non-input file under root holding a planted value, as 'file: value'."""
    if not PLANTED:
        return []
    needles = [(value, form) for value in PLANTED for form in _forms(value)]
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            if not stat.S_ISREG(path.lstat().st_mode) or _is_input(path.resolve()):
                continue        # links, FIFOs (a test's planted lock) and sockets are not outputs
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found += [f"{path}: {value}" for value, form in needles if form in data]
    return sorted(set(found))
