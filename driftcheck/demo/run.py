"""`driftcheck demo`: the main job on the bundled repository and its shipped live snapshot, in a temp dir."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from driftcheck.demo.repo import DEMO_ARGOCD_APP, DEMO_REPO_URL, materialize_demo_repo
from driftcheck.model import AuditReport
from driftcheck.report import WrittenReports

# The demo cluster as a snapshot, made by testing/make_demo_snapshot.py (not shipped) and kept as data.
SNAPSHOT_NAME = "live-snapshot.yaml"


@dataclass
class DemoRun:
    report: AuditReport
    written: WrittenReports
    workdir: Path  # holds the demo repository and snapshot, kept so a reader can look at them


def run_demo(out: Path, formats: list[str] | None = None,
             progress: Callable[[str], None] = lambda _m: None) -> DemoRun:
    """Materialize the demo repository, copy the shipped snapshot beside it, audit both as `check` would."""
    from driftcheck.commands.options import CheckOptions, ClusterOptions, SourceOptions, resolved
    from driftcheck.fleet_audit import run_audit
    from driftcheck.report import write_reports

    workdir = Path(tempfile.mkdtemp(prefix="driftcheck-demo-"))
    repo = materialize_demo_repo(workdir / "shop-gitops")
    snapshot = workdir / SNAPSHOT_NAME
    with resources.as_file(resources.files("driftcheck.demo") / SNAPSHOT_NAME) as shipped:
        shutil.copyfile(shipped, snapshot)
    progress(f"demo repository {repo}, live snapshot {snapshot}")
    options = resolved(CheckOptions(
        source=SourceOptions(repo=str(repo), argocd_apps=DEMO_ARGOCD_APP, repo_urls=[DEMO_REPO_URL]),
        cluster=ClusterOptions(live_snapshot=snapshot)))
    chosen = formats or ["html", "json"]
    [report], _ = run_audit(options, progress)   # the demo has one cluster: its snapshot
    return DemoRun(report, write_reports(report, out, chosen), workdir)
