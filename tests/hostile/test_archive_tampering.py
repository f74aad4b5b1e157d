"""Whoever can write the report archive cannot make a run destroy a file, stop reporting, or lie about age.

The archive (`--out`) is often a shared directory or volume. What is planted there: the lock file as a
symlink to a file outside, a FIFO or a hard link; a wrong-typed, truncated or future-schema report.json
in an old run; a run directory that is a symlink; a run directory dated in the future. Each run through
the real CLI must still publish its run, `index.html` and the metrics file, name what it set aside in one
warning line, and leave every file outside the archive as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from driftcheck.model import DriftcheckError
from driftcheck.report import json_report
from driftcheck.report.archive import LOCK_NAME, archive_lock
from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

CLUSTER = "live"  # the cluster directory of a run against live.yaml
VICTIM_TEXT = "IMPORTANT DATA - do not lose\n"
GIT_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: git}\n"
LIVE_CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: demo}\ndata: {k: live}\n"
Audit = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def audit(git_repo: GitRepoBuilder, tmp_path: Path) -> Audit:
    """`driftcheck check --out OUT …` on a repo whose one ConfigMap has drifted live."""
    git_repo.commit({"app/cm.yaml": GIT_CM}, "cm")
    live = tmp_path / "live.yaml"
    live.write_text(LIVE_CM)

    def run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return planted.run_cli(["check", "--repo", str(git_repo.path), "--path", "app", "-n", "demo",
                                "--live-snapshot", str(live), "--out", str(out), "-o", "none",
                                "--format", "json", *extra], tmp_path / "logs")
    return run


def run_dirs(out: Path) -> list[str]:
    return sorted(p.name for p in (out / CLUSTER).iterdir() if not p.name.startswith("."))


def warnings(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("warning:")]


def published(proc: subprocess.CompletedProcess[str]) -> Path:
    """The run directory the process wrote (from its 'wrote …/report.json' line)."""
    wrote = [line.split(" ", 1)[1] for line in proc.stderr.splitlines() if line.startswith("wrote ")]
    assert wrote, proc.stderr
    return Path(wrote[-1]).parent


def drift_first_seen(run_dir: Path) -> str:
    doc = json.loads((run_dir / "report.json").read_text())
    return next(r["first_seen"] for r in doc["resources"] if r["status"] == "drifted")


# -- the lock (M2) ----------------------------------------------------------------------------------------


def test_a_lock_symlinked_to_a_file_outside_is_refused_and_the_file_keeps_its_content(audit: Audit,
                                                                                      tmp_path: Path) -> None:
    out, victim = tmp_path / "reports", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text(VICTIM_TEXT)
    (out / LOCK_NAME).symlink_to(victim)
    proc = audit(out)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"driftcheck: error: cannot use the archive lock {out / LOCK_NAME}: it is a symbolic link; "
        "remove it and run again")
    assert "internal error" not in proc.stderr
    assert victim.read_text() == VICTIM_TEXT


def test_a_dangling_lock_symlink_creates_nothing_where_it_points(tmp_path: Path) -> None:
    out, target = tmp_path / "reports", tmp_path / "elsewhere" / "created-by-driftcheck"
    target.parent.mkdir()
    out.mkdir()
    (out / LOCK_NAME).symlink_to(target)
    with pytest.raises(DriftcheckError, match="it is a symbolic link"), archive_lock(out):
        pass
    assert not target.exists()


@pytest.mark.parametrize(("plant", "why"), [
    (lambda lock, victim: os.mkfifo(lock), "it is not a regular file"),
    (lambda lock, victim: os.link(victim, lock), "it has other hard links"),
    (lambda lock, victim: lock.write_text("#!/bin/sh\nbackup\n"), "it holds something other than a pid"),
])
def test_a_lock_that_may_be_another_file_is_refused_and_never_truncated(
        tmp_path: Path, plant: Callable[[Path, Path], Any], why: str) -> None:
    out, victim = tmp_path / "reports", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text(VICTIM_TEXT)
    lock = out / LOCK_NAME
    plant(lock, victim)
    before = lock.read_bytes() if lock.is_file() else None
    with pytest.raises(DriftcheckError, match=f"{lock}: {why}; remove it"), archive_lock(out):
        pass
    assert victim.read_text() == VICTIM_TEXT
    assert (lock.read_bytes() if lock.is_file() else None) == before


def test_a_lock_left_by_an_earlier_run_is_reused(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / LOCK_NAME).write_text("12345\n")
    with archive_lock(out):
        assert (out / LOCK_NAME).read_text() == f"{os.getpid()}\n"


# -- poisoned archived reports (M3) -------------------------------------------------------------------------


def valid_document(audit: Audit, tmp_path: Path) -> dict[str, Any]:
    """A real report.json, from a run into a scratch archive."""
    proc = audit(tmp_path / "scratch")
    return json.loads((published(proc) / "report.json").read_text())


POISON: dict[str, Callable[[dict[str, Any]], Any]] = {
    "a count that is a word": lambda doc: {**doc, "summary": {**doc["summary"], "drifted": "lots"}},
    "a count that is null": lambda doc: {**doc, "summary": {**doc["summary"], "drifted": None}},
    "resources that are a number": lambda doc: {**doc, "resources": 5},
    "a source that is a string": lambda doc: {**doc, "source": "x"},
    "a resource that is a string": lambda doc: {**doc, "resources": ["cm"]},
    "differences without paths": lambda doc: {**doc, "resources": [
        {**r, "differences": [{"desired": 1}]} for r in doc["resources"]]},
    "a future schema": lambda doc: {**doc, "schema": "driftcheck.report/v2"},
    "a first_seen in the future": lambda doc: {**doc, "resources": [
        {**r, "first_seen": "2099-01-01T00:00:00+00:00"} for r in doc["resources"]]},
    "a generated_at that is not its directory's": lambda doc: {**doc, "generated_at": "2099-01-01T00:00:00Z"},
}


@pytest.mark.slow
@pytest.mark.parametrize("poison", list(POISON))
def test_one_malformed_archived_report_is_skipped_with_a_warning_and_every_run_still_publishes(
        audit: Audit, tmp_path: Path, poison: str) -> None:
    out = tmp_path / "reports"
    doc = valid_document(audit, tmp_path)
    good = {**doc, "generated_at": "2000-01-01T00:00:00+00:00",
            "resources": [{**r, "first_seen": "2000-01-01T00:00:00+00:00"} for r in doc["resources"]]}
    bad = POISON[poison]({**good, "generated_at": "2000-01-02T00:00:00+00:00"})
    for stamp, document in (("20000101T000000Z", good), ("20000102T000000Z", bad)):
        (out / CLUSTER / stamp).mkdir(parents=True)
        (out / CLUSTER / stamp / "report.json").write_text(json.dumps(json_report.seal(document)))
    bad_file = out / CLUSTER / "20000102T000000Z" / "report.json"
    metrics = tmp_path / "metrics.prom"

    for _night in range(2):  # the next night is not stuck either
        proc = audit(out, "--metrics-file", str(metrics))
        assert proc.returncode == 1, proc.stderr  # drift found, reports written
        assert "internal error" not in proc.stderr
        new_run = published(proc)
        assert new_run.name in (out / "index.html").read_text()
        assert f'cluster="{CLUSTER}"' in metrics.read_text()
        said = warnings(proc)
        assert len(said) == 1 and said[0].startswith(f"warning: {bad_file}: ignored"), proc.stderr
        assert drift_first_seen(new_run) == "2000-01-01T00:00:00+00:00"  # the good run's age, not the bad's


@pytest.mark.parametrize("content", [
    b'{"schema": "driftcheck.report/v1", "summary": {"drifted": 1}, "summary": {"drifted": 0}}',
    b'{"schema": "driftcheck.report/v1", "x": NaN}',
    b'{"schema": "driftcheck.report/v1", "x": 1e999}',
    b'{"schema": "driftcheck.report/v1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"schema": "driftcheck.report/v1", "resources": [',
    b"\xff\xfe not UTF-8",
    b"[]",
], ids=["duplicate key", "NaN", "1e999", "100k deep", "truncated", "not UTF-8", "not an object"])
@pytest.mark.slow
def test_an_archived_report_that_is_not_valid_json_is_skipped_with_a_warning(audit: Audit, tmp_path: Path,
                                                                             content: bytes) -> None:
    out = tmp_path / "reports"
    bad_file = out / CLUSTER / "20000101T000000Z" / "report.json"
    bad_file.parent.mkdir(parents=True)
    bad_file.write_bytes(content)
    proc = audit(out, "--keep", "5")
    assert proc.returncode == 1, proc.stderr
    assert [line.split(": ignored")[0] for line in warnings(proc)] == [f"warning: {bad_file}"]
    assert published(proc).name in (out / "index.html").read_text()


# -- symlinked and future-dated run directories (L5, clock skew) --------------------------------------------


def test_a_symlinked_run_directory_is_never_followed_or_deleted_and_runs_with_keep_go_on(
        audit: Audit, tmp_path: Path) -> None:
    out, victim = tmp_path / "reports", tmp_path / "victim"
    victim.mkdir()
    (victim / "f").write_text(VICTIM_TEXT)
    (victim / "report.json").write_text('{"planted": true}')
    (out / CLUSTER).mkdir(parents=True)
    link = out / CLUSTER / "20000101T000000Z"
    link.symlink_to(victim)
    for _night in range(2):
        proc = audit(out, "--keep", "1")
        assert proc.returncode == 1, proc.stderr
        assert [w for w in warnings(proc) if str(link) in w] == [
            f"warning: {link}: skipped: a run directory that is a symbolic link is never followed or deleted"]
        assert published(proc).name in (out / "index.html").read_text()
    assert link.is_symlink() and (victim / "f").read_text() == VICTIM_TEXT
    assert len([p for p in (out / CLUSTER).iterdir() if not p.is_symlink()]) == 1  # --keep 1 still prunes


def test_a_symlinked_cluster_directory_is_refused_with_one_clear_line(audit: Audit, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "reports", tmp_path / "elsewhere"
    (elsewhere / "20000101T000000Z").mkdir(parents=True)
    out.mkdir()
    (out / CLUSTER).symlink_to(elsewhere)
    proc = audit(out, "--keep", "1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"driftcheck: error: {out / CLUSTER} is a symbolic link; refusing to write or prune through it")
    assert [p.name for p in elsewhere.iterdir()] == ["20000101T000000Z"]


def test_a_future_dated_run_is_not_the_newest_new_runs_survive_keep_and_do_not_inherit_its_age(
        audit: Audit, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    future_doc = valid_document(audit, tmp_path)
    future_doc["generated_at"] = "2099-12-31T00:00:00+00:00"
    future_doc["resources"] = [{**r, "first_seen": "2099-12-30T00:00:00+00:00"}
                               for r in future_doc["resources"]]
    future = out / CLUSTER / "20991231T000000Z"
    future.mkdir(parents=True)
    (future / "report.json").write_text(json_report.dumps(json_report.seal(future_doc)))
    ages = []
    for _night in range(2):
        proc = audit(out, "--keep", "1")
        assert proc.returncode == 1, proc.stderr
        run = published(proc)
        assert run.is_dir(), "the run just published was pruned"
        ages.append(drift_first_seen(run))
        assert [w.split(": skipped: ")[0] for w in warnings(proc)] == [f"warning: {future}"]
    assert run_dirs(out) == sorted([run.name, future.name])  # pruned the older real run, left the planted one
    assert "2099" not in ages[0] and ages[1] == ages[0]  # the age comes from the real run, not the future
