"""The dated archive: drift age across runs, whole-or-nothing publication, the lock, pruning."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from pathlib import Path

from driftcheck.model import FieldDiff
from driftcheck.report import write_reports
from driftcheck.report.archive import LOCK_NAME, archive_lock, read_document


def first_seen(path: Path) -> dict[str, str | None]:
    doc, problem = read_document(path)
    assert doc is not None, problem
    return {f"{e['kind']}/{e['name']}": e["first_seen"] for e in doc["resources"]}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, except the lock file (it records the last holder's pid)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != LOCK_NAME}


def test_drift_age_across_three_consecutive_runs(copy_report, archive_dir: Path) -> None:
    t1, t2, t3 = "2026-11-20T02:00:00+00:00", "2026-11-21T02:00:00+00:00", "2026-11-26T02:00:00+00:00"
    run1, run2, run3 = copy_report(), copy_report(), copy_report()
    run1.generated_at, run2.generated_at, run3.generated_at = t1, t2, t3
    frontend = next(r for r in run3.resources if r.key.name == "frontend" and r.status == "drifted")
    frontend.diffs.append(FieldDiff("/spec/template/spec/containers/0/args", ["--fast"], ["--slow"]))

    seen1 = first_seen(write_reports(run1, archive_dir, ["json"]).paths[0])
    seen2 = first_seen(write_reports(run2, archive_dir, ["json"]).paths[0])
    seen3 = first_seen(write_reports(run3, archive_dir, ["json"]).paths[0])

    assert seen1["Deployment/api"] == seen1["Deployment/frontend"] == seen1["ConfigMap/frontend-config"] == t1
    assert seen2["Deployment/api"] == seen2["Deployment/frontend"] == seen2["ConfigMap/frontend-config"] == t1
    assert seen3["Deployment/api"] == seen3["ConfigMap/frontend-config"] == t1  # unchanged: keeps its age
    assert seen3["Deployment/frontend"] == t3  # same resource, other paths: a new drift
    assert seen3["Service/frontend"] is None and seen3["Secret/stripe"] is None  # in sync / unknown


def test_a_drift_that_was_fixed_and_came_back_is_young_again(copy_report, archive_dir: Path) -> None:
    run1, run2, run3 = copy_report(), copy_report(), copy_report()
    run1.generated_at, run2.generated_at = "2026-11-20T02:00:00+00:00", "2026-11-21T02:00:00+00:00"
    run3.generated_at = "2026-11-22T02:00:00+00:00"
    api = next(r for r in run2.resources if r.key.name == "api")
    api.status, api.diffs = "in-sync", []
    for run in (run1, run2):
        write_reports(run, archive_dir, ["json"])
    seen3 = first_seen(write_reports(run3, archive_dir, ["json"]).paths[0])
    assert seen3["Deployment/api"] == run3.generated_at


def test_runs_are_archived_by_cluster_and_utc_time(report, archive_dir: Path) -> None:
    report.generated_at = "2026-11-26T10:40:05+01:00"
    written = write_reports(report, archive_dir, ["json"])
    assert written.run_dir == archive_dir / "prod-eu-1" / "20261126T094005Z"
    second = write_reports(report, archive_dir, ["json"])
    assert second.run_dir.name == "20261126T094005Z-2"


def test_keep_prunes_the_oldest_runs(copy_report, archive_dir: Path) -> None:
    stamps = [f"2026-11-2{d}T00:00:00+00:00" for d in range(1, 5)]
    for stamp in stamps:
        run = copy_report()
        run.generated_at = stamp
        written = write_reports(run, archive_dir, ["json"], keep=2)
    assert sorted(p.name for p in (archive_dir / "prod-eu-1").iterdir()) == ["20261123T000000Z",
                                                                           "20261124T000000Z"]
    assert [p.name for p in written.pruned] == ["20261122T000000Z"]


FAILING_WRITER = """
import pickle, resource, signal, sys
from pathlib import Path
from driftcheck.model import DriftcheckError
from driftcheck.report import write_reports
report = pickle.loads(Path(sys.argv[1]).read_bytes())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # a too-large write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))  # no file may exceed 4 KiB
try:
    write_reports(report, Path(sys.argv[2]), ["json", "html"])
except DriftcheckError as exc:
    print(exc)
    sys.exit(2)
"""


def test_a_failed_write_leaves_no_partial_file_and_the_previous_report_intact(copy_report, archive_dir: Path,
                                                                              tmp_path: Path) -> None:
    write_reports(copy_report(), archive_dir, ["json"])
    before = tree(archive_dir)
    second = copy_report()
    second.generated_at = "2026-11-27T09:00:00+00:00"
    pickled = tmp_path / "report.pickle"
    pickled.write_bytes(pickle.dumps(second))
    done = subprocess.run([sys.executable, "-c", FAILING_WRITER, str(pickled), str(archive_dir)],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "File too large" in done.stdout and "the archive is unchanged" in done.stdout
    assert tree(archive_dir) == before  # no temporary file or directory left, the earlier run untouched
    assert [p.name for p in (archive_dir / "prod-eu-1").iterdir()] == ["20261126T090000Z"]


def test_concurrent_writers_on_one_archive_take_turns(copy_report, archive_dir: Path) -> None:
    waiting = threading.Event()
    messages: list[str] = []
    outcome: dict[str, object] = {}

    def second_run() -> None:
        run = copy_report()
        run.generated_at = "2026-11-26T09:30:00+00:00"
        outcome["written"] = write_reports(run, archive_dir, ["json"],
                                           on_wait=lambda m: (messages.append(m), waiting.set()))

    with archive_lock(archive_dir):  # a first run is writing
        writer = threading.Thread(target=second_run)
        writer.start()
        assert waiting.wait(timeout=60), "the second writer never reported that it waits"
        assert not (archive_dir / "prod-eu-1").exists()  # it has not written anything meanwhile
    writer.join(timeout=60)
    assert "held by pid" in messages[0]
    assert (archive_dir / "prod-eu-1" / "20261126T093000Z" / "report.json").is_file()


def test_many_concurrent_writers_all_publish_complete_runs(copy_report, archive_dir: Path) -> None:
    def run(i: int) -> None:
        report = copy_report()
        report.generated_at = f"2026-11-26T09:00:0{i}+00:00"
        write_reports(report, archive_dir, ["json"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    runs = sorted((archive_dir / "prod-eu-1").iterdir())
    assert len(runs) == 6
    for path in runs:
        doc, problem = read_document(path / "report.json")
        assert doc is not None and problem == ""




def test_leftovers_of_a_killed_run_are_cleared_by_the_next_one(report, archive_dir: Path) -> None:
    stale_dir = archive_dir / "prod-eu-1" / ".20261125T000000Z.abc123.tmp"
    stale_dir.mkdir(parents=True)
    (stale_dir / "report.json").write_text('{"half": ')
    stale_index = archive_dir / ".index.html.xyz.tmp"
    stale_index.write_text("<html")
    write_reports(report, archive_dir, ["json"])
    assert not stale_dir.exists() and not stale_index.exists()
    assert [p.name for p in (archive_dir / "prod-eu-1").iterdir()] == ["20261126T090000Z"]


def test_a_run_that_could_not_read_a_resource_keeps_its_age(copy_report, archive_dir: Path) -> None:
    run1, run2, run3 = copy_report(), copy_report(), copy_report()
    run1.generated_at, run2.generated_at = "2026-11-20T02:00:00+00:00", "2026-11-21T02:00:00+00:00"
    run3.generated_at = "2026-11-22T02:00:00+00:00"
    api = next(r for r in run2.resources if r.key.name == "api")
    api.status, api.diffs, api.reason = "unknown", [], "forbidden"
    for run in (run1, run2):
        write_reports(run, archive_dir, ["json"])
    seen3 = first_seen(write_reports(run3, archive_dir, ["json"]).paths[0])
    assert seen3["Deployment/api"] == run1.generated_at


def test_each_cluster_has_its_own_runs_and_drift_age(copy_report, archive_dir: Path) -> None:
    prod, staging = copy_report(), copy_report()
    staging.cluster = {"context": "", "server": "https://staging.example:6443", "snapshot": None}
    staging.generated_at = "2026-11-27T09:00:00+00:00"
    write_reports(prod, archive_dir, ["json"])
    seen = first_seen(write_reports(staging, archive_dir, ["json"]).paths[0])
    assert seen["Deployment/api"] == staging.generated_at  # prod's drift says nothing about staging
    clusters = sorted(p.name for p in archive_dir.iterdir() if p.is_dir())
    assert clusters == ["prod-eu-1", "staging.example-6443"]
    index = (archive_dir / "index.html").read_text()
    assert 'id="c-prod-eu-1"' in index and 'id="c-staging.example-6443"' in index
