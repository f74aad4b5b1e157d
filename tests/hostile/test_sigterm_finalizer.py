"""A SIGTERM that lands while Python runs a finalizer (GitPython's `Repo.__del__` waits for its cat-file
child) must still end the run, quietly: Python swallows an exception raised in a finalizer, prints its
traceback and carries on, so the CronJob's deadline was ignored and the Job log got a traceback."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import os, signal, sys, time
from driftcheck import cli
signal.signal(signal.SIGTERM, cli._terminate)
sys.unraisablehook = cli._unraisable

class WaitsInFinalizer:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)   # the deadline arrives while the finalizer waits
        time.sleep(0.5)

obj = WaitsInFinalizer()
del obj
time.sleep(3)
print("the run went on after SIGTERM")
"""


def test_sigterm_inside_a_finalizer_ends_the_run_without_a_traceback() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=30)
    assert done.returncode == 143, (done.returncode, done.stdout, done.stderr)
    assert "the run went on" not in done.stdout
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
