"""Renderer children without network, user configuration or credentials, stopped whole at a timeout.

A render must depend on the commit alone: a renderer (kustomize, helm) that could fetch a remote base or
chart would make the audit unreproducible, let Git content probe the network from the audit pod, and use
the auditor's git credential helpers and ssh keys. So every child runs in a fresh user + network namespace
(only a downed loopback), with an empty `HOME`, no system or global git configuration and an environment
built from an allowlist. Where namespaces are unavailable this is said once on stderr and the child gets
proxies that lead nowhere instead. The child leads its own process group, so a timeout, SIGTERM's
SystemExit or any other exception kills it with everything it started.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from driftcheck.scrub import scrub

_UNSHARE = ("unshare", "--user", "--map-root-user", "--net", "--")
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")  # nothing else of ours reaches a child
_DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: a proxied request fails at once
# Where renderer messages quote their input: kustomize's `literal sources [<literals>]: invalid literal
# source <literal>`, `line [<bytes>]
# has invalid utf8 bytes : <env line>`, and any KEY=VALUE (literals and env-file lines look like that; a
# quoted value is kubectl's own err="…" field).
_QUOTING = (
    (re.compile(r"((?:literal|env) sources?)\b.*", re.IGNORECASE), r"\1 <redacted>"),
    (re.compile(r"(invalid utf-?8 bytes)\b.*", re.IGNORECASE), r"\1 <redacted>"),
    (re.compile(r"\[[0-9 ]+\]"), "[<redacted>]"),
    (re.compile(r"([A-Za-z_][\w.-]*)=(?![\"'])\S+"), r"\1=<redacted>"),
)
_MESSAGE_MAX = 2000
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@dataclass(frozen=True)
class Completed:
    """What a sandboxed child left: exit status and its two output streams."""

    returncode: int
    stdout: bytes
    stderr: bytes


class RenderTimeout(Exception):
    """The child (and its process group) did not finish in time and was killed."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"did not finish within {timeout:g} s")
        self.timeout = timeout


@functools.cache
def network_isolation() -> bool:
    """Whether children can get their own network namespace here (said once on stderr if not)."""
    works = False
    if sys.platform.startswith("linux") and shutil.which("unshare"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            works = subprocess.run([*_UNSHARE, "true"], stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=10).returncode == 0
    if not works:
        print("driftcheck: note: cannot give renderers a network namespace here (unshare unavailable); "
              "they run with proxies that lead nowhere instead", file=sys.stderr)
    return works


def child_env(home: Path, extra: Mapping[str, str] | None = None,
              offline: bool | None = None) -> dict[str, str]:
    """The whole environment of a renderer child: an allowlist of ours, an isolated HOME, no git config;
    dead proxies unless the child is offline (its own network namespace; default: whether `run` can)."""
    env = {name: os.environ[name] for name in _KEPT if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false", "GIT_SSH_COMMAND": "/bin/false",
        "KUBECONFIG": "/dev/null",
    })
    if not (network_isolation() if offline is None else offline):
        env.update(dict.fromkeys(_PROXY_VARS, _DEAD_PROXY))
        env["no_proxy"] = env["NO_PROXY"] = ""
    env.update(extra or {})
    return env


@contextlib.contextmanager
def isolated_home() -> Iterator[Path]:
    """An empty, private HOME for one child, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="driftcheck-home-") as home:
        yield Path(home)


def run(argv: Sequence[str], cwd: Path, timeout: float, env: Mapping[str, str] | None = None) -> Completed:
    """Run argv sandboxed; RenderTimeout after timeout s. The whole process group dies on any way out
    but a normal exit (timeout, KeyboardInterrupt, the SystemExit SIGTERM raises)."""
    with isolated_home() as home:
        prefix = list(_UNSHARE) if network_isolation() else []
        proc = subprocess.Popen([*prefix, *argv], cwd=cwd, env=child_env(home, env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RenderTimeout(timeout) from None
        except BaseException:
            _kill_group(proc)
            raise
    return Completed(proc.returncode, stdout, stderr)


def renderer_message(stderr: bytes, root: Path) -> str:
    """A renderer's stderr fit for a report: one line, paths relative to the export root, every place
    that quotes input values (Secret literals, env-file lines) redacted, credentials scrubbed."""
    text = stderr.decode("utf-8", "replace").replace(f"{root}/", "").replace(str(root), ".")
    lines = []
    for line in text.splitlines():
        for pattern, replacement in _QUOTING:
            line = pattern.sub(replacement, line)
        if line.strip():
            lines.append(line.strip())
    message = scrub(" ".join(lines))
    return message if len(message) <= _MESSAGE_MAX else message[:_MESSAGE_MAX] + " …"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (it leads it, so the id is still ours), then reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


def isolate_current_process(home: Path | None = None) -> bool:
    """For a multiprocessing child about to render: leave the network (best effort: a new user and
    network namespace) and replace os.environ as `child_env` would, HOME being home (default: a new
    temporary directory). True if the network is gone."""
    offline = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            offline = int(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)) == 0
    env = child_env(home or Path(tempfile.mkdtemp(prefix="driftcheck-home-")), offline=offline)
    os.environ.clear()
    os.environ.update(env)
    return offline
