"""Test helpers for a report archive: whether a run left the archive lock held."""

from __future__ import annotations

import fcntl
from pathlib import Path


def lock_is_free(out: Path) -> bool:
    """True when no process holds `<out>/.driftcheck.lock` (or there is none)."""
    lock = out / ".driftcheck.lock"
    if not lock.exists():
        return True
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True
