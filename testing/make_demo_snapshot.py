"""Writes the demo's shipped live snapshot (`driftcheck/demo/live-snapshot.yaml`) from the demo scenario.

`driftcheck demo` reads that file rather than simulating the API server at run time, so the simulation
(`testing/livify.py`) stays out of the wheel. Rerun `python -m testing.make_demo_snapshot` after changing
the demo repository, the scenario or livify; a test fails while the committed file differs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from driftcheck.demo.repo import materialize_demo_repo
from driftcheck.demo.run import SNAPSHOT_NAME
from testing.demo_scenario import write_demo_snapshot

SHIPPED = Path(__file__).resolve().parents[1] / "driftcheck" / "demo" / SNAPSHOT_NAME


def make_demo_snapshot(dest: Path) -> Path:
    """Replay the demo repository in a temp directory and write its simulated cluster to `dest`."""
    with tempfile.TemporaryDirectory(prefix="driftcheck-demo-snapshot-") as tmp:
        repo = materialize_demo_repo(Path(tmp) / "shop-gitops")
        return write_demo_snapshot(repo, dest)


if __name__ == "__main__":
    print(make_demo_snapshot(Path(sys.argv[1]) if len(sys.argv) > 1 else SHIPPED))
