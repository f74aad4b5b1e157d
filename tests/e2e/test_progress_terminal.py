"""What a person running `driftcheck demo` in a terminal sees on stderr, and what a CronJob's log gets."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from driftcheck.progress import CLEAR_LINE

BAR = re.compile(r"\[[#.]{24}\] apps rendered (\d+)/(\d+)")


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed its end of the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_terminal_gets_a_live_bar_that_is_gone_when_the_run_ends(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "driftcheck.cli", "demo", "--out", str(tmp_path / "r")],
                            stdout=subprocess.PIPE, stderr=secondary, env={**os.environ, "TERM": "xterm"})
    os.close(secondary)
    stderr = _read_all(primary).decode()
    proc.communicate(timeout=300)
    os.close(primary)
    assert proc.returncode == 1, stderr
    bars = BAR.findall(stderr)
    assert bars and bars[-1][0] == bars[-1][1]  # it counted up to every app
    assert "apps rendered: 1/" in stderr  # the lines themselves still scroll above the bar
    assert stderr.replace("\r\n", "\n").endswith(CLEAR_LINE)  # and the bar is wiped at the end


def test_a_log_gets_plain_lines_without_any_escape_sequence(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "demo", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr
    counted = re.findall(r"^apps rendered: (\d+)/(\d+): ", proc.stderr, re.M)
    assert counted and counted[-1][0] == counted[-1][1]
