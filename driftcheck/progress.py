"""Progress on stderr: every line as it comes and, when stderr is a terminal, a live bar under them.

A counted step is a progress line that starts `apps rendered: N/M` or `clusters read: N/M`. Off a
terminal (a CronJob's log) it is just that line. On a terminal the lines scroll as usual and one status
line at the bottom is redrawn after each: a bar for the step that moved last and the count of each step,
so a long fleet run shows where it is without flooding the screen. Lines are written whole under a lock:
clusters are read by several threads.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from typing import TextIO

COUNTED = re.compile(r"^(apps rendered|clusters read): (\d+)/(\d+)")
BAR_WIDTH = 24
CLEAR_LINE = "\r\x1b[K"


def is_terminal(stream: TextIO) -> bool:
    """A terminal that can redraw a line: not a pipe or file, and not TERM=dumb."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class ProgressDisplay:
    """Writes progress lines to one stream; `live` adds the bar (see the module docstring)."""

    def __init__(self, stream: TextIO, live: bool) -> None:
        self.stream = stream
        self.live = live
        self.counts: dict[str, tuple[int, int]] = {}  # step -> (done, total), in the order first seen
        self.last_step = ""
        self.drawn = False
        self.lock = threading.Lock()

    def show(self, line: str) -> None:
        """One line (already scrubbed and escaped); on a terminal the bar is redrawn below it."""
        with self.lock:
            counted = COUNTED.match(line)
            if counted:
                self.counts[counted[1]] = (int(counted[2]), int(counted[3]))
                self.last_step = counted[1]
            if not self.live:
                self.stream.write(line + "\n")
                self.stream.flush()
                return
            self.stream.write((CLEAR_LINE if self.drawn else "") + line + "\n")
            if self.counts:
                self.stream.write(self.status_line(shutil.get_terminal_size().columns))
                self.drawn = True
            self.stream.flush()

    def close(self) -> None:
        """Take the bar off the screen, so the shell's prompt or the last error line starts clean."""
        with self.lock:
            if self.drawn:
                self.stream.write(CLEAR_LINE)
                self.stream.flush()
                self.drawn = False

    def status_line(self, columns: int) -> str:
        """`[#######.....] apps rendered 12/50 · clusters read 3/20`, cut to the terminal's width."""
        done, total = self.counts[self.last_step]
        filled = BAR_WIDTH * min(done, total) // total if total else BAR_WIDTH
        steps = " · ".join(f"{step} {d}/{t}" for step, (d, t) in self.counts.items())
        text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {steps}"
        return text[:max(1, columns - 1)]
