"""The fleet summary (report/fleet.py) and the shard assignment (clusters/shard.py): built from the whole
archive so that shards compose, a failed cluster kept with its error, hostile names escaped."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from driftcheck.clusters.shard import Shard, parse_shard, select, shard_of
from driftcheck.model import DriftcheckError
from driftcheck.report import write_reports
from driftcheck.report.fleet import Outcome, write_summary
from tests.unit.report.conftest import HOSTILE_IMG, HOSTILE_SCRIPT, sample_report

warnings: list[str] = []


def clean(context: str, generated_at: str = "2026-11-26T09:00:00+00:00"):  # type: ignore[no-untyped-def]
    """A report of one in-sync resource and no errors, for the cluster `context`."""
    base = sample_report(generated_at)
    return replace(base, cluster={**base.cluster, "context": context},
                   resources=[r for r in base.resources if r.status == "in-sync"][:1], errors=[],
                   apps=[{**base.apps[2], "name": f"{context}-app"}], skipped_apps=[], history=[])


def doc(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "fleet.json").read_text())


def test_each_write_covers_every_cluster_in_the_archive(tmp_path: Path) -> None:
    write_reports(clean("alpha"), tmp_path, ["json"])
    write_summary(tmp_path, [Outcome("alpha", "https://a:6443", ["alpha-app"], "alpha")], warnings.append)
    drifty = sample_report()  # prod-eu-1: drift, unknown and errors
    write_reports(drifty, tmp_path, ["json", "html"])
    written = write_summary(tmp_path, [Outcome("eu", "https://10.0.0.1:6443", ["shop"], "prod-eu-1")],
                            warnings.append)  # a second shard: only its own cluster
    fleet = doc(tmp_path)
    by_name = {c["name"]: c for c in fleet["clusters"]}
    assert set(by_name) == {"alpha", "eu"}  # alpha from the first shard's record and run
    assert by_name["alpha"]["exit_status"] == 0 and by_name["alpha"]["counts"]["in_sync"] == 1
    assert by_name["eu"]["exit_status"] == 2
    assert by_name["eu"]["counts"] == {"total": 7, "in_sync": 2, "drifted": 2, "missing": 1, "extra": 1,
                                       "unknown": 1, "errors": 2}
    assert by_name["eu"]["report"].endswith("/report.html") and (tmp_path / by_name["eu"]["report"]).is_file()
    assert fleet["exit_status"] == written.exit_status == 2
    standings = {(a["name"], a["cluster"], a["standing"]) for a in fleet["apps"]}
    assert ("alpha-app", "alpha", "in-sync") in standings and ("payments", "eu", "error") in standings


def test_the_latest_run_counts_and_a_failed_attempt_keeps_its_error(tmp_path: Path) -> None:
    write_reports(sample_report("2026-11-25T09:00:00+00:00"), tmp_path, ["json"])
    write_reports(clean("prod-eu-1", "2026-11-26T09:00:00+00:00"), tmp_path, ["json"])
    write_summary(tmp_path, [Outcome("eu", "", ["prod-eu-1-app"], "prod-eu-1")], warnings.append)
    [eu] = doc(tmp_path)["clusters"]
    assert eu["latest_run"] == "20261126T090000Z" and eu["exit_status"] == 0

    write_summary(tmp_path, [Outcome("eu", "", ["prod-eu-1-app"], None, "connection refused")],
                  warnings.append)
    [eu] = doc(tmp_path)["clusters"]
    assert eu["error"] == "connection refused" and eu["exit_status"] == 2
    assert eu["archive"] == "prod-eu-1"  # its earlier runs are still linked
    assert doc(tmp_path)["apps"] == [{"name": "prod-eu-1-app", "cluster": "eu", "standing": "error"}]


def test_a_single_cluster_archive_without_a_record_is_listed_by_its_directory(tmp_path: Path) -> None:
    write_reports(clean("solo"), tmp_path, ["json"])
    write_summary(tmp_path, [], warnings.append)
    listed = [(c["name"], c["archive"], c["exit_status"]) for c in doc(tmp_path)["clusters"]]
    assert listed == [("solo", "solo", 0)]


def test_names_servers_and_errors_from_clusters_are_escaped(tmp_path: Path) -> None:
    hostile = HOSTILE_SCRIPT + HOSTILE_IMG
    write_summary(tmp_path, [Outcome(hostile, "https://x/" + HOSTILE_IMG, [hostile], None, hostile)],
                  warnings.append)
    page = (tmp_path / "index.html").read_text()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in page
    assert "script-src &#39;none&#39;" in page  # no script may run at all
    assert doc(tmp_path)["clusters"][0]["name"] == hostile  # the JSON keeps the value as it is


def test_a_planted_record_is_set_aside_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / ".fleet").mkdir()
    (tmp_path / ".fleet" / "bad.json").write_text("[1, 2")
    told: list[str] = []
    write_summary(tmp_path, [Outcome("ok", "", [], None, "down")], told.append)
    assert [c["name"] for c in doc(tmp_path)["clusters"]] == ["ok"]
    assert any("bad.json: left out of the fleet summary: not readable JSON" in m for m in told)


@pytest.mark.parametrize(("text", "why"), [
    ("3/2", "--shard 3/2: INDEX must be below COUNT (0 to 1)"),
    ("x/y", "--shard 'x/y': expected INDEX/COUNT"),
    ("1/0", "--shard 1/0: COUNT must be at least 1"),
    ("2", "--shard '2': expected INDEX/COUNT"),
])
def test_bad_shards_say_what_is_expected(text: str, why: str) -> None:
    with pytest.raises(DriftcheckError, match="^" + why.replace("(", r"\(").replace(")", r"\)")):
        parse_shard(text)


def test_the_assignment_is_stable_across_processes_and_spreads_clusters() -> None:
    names = [f"cluster-{i}" for i in range(200)]
    here = [shard_of(n, 7) for n in names]
    code = ("import sys; from driftcheck.clusters.shard import shard_of; "
            "print([shard_of(f'cluster-{i}', 7) for i in range(200)])")
    for seed in ("1", "2"):  # Python's own str hash differs per seed; the assignment must not
        there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout
        assert there.strip() == str(here)
    counts = [here.count(i) for i in range(7)]
    assert min(counts) > 10, counts  # every shard gets a fair part of 200 clusters
    shards = [Shard(i, 7) for i in range(7)]
    parts = [select([Outcome(n, "", [], None) for n in names], s) for s in shards]
    assert sorted(o.name for part in parts for o in part) == sorted(names)  # each cluster exactly once
    assert select(names_of := [Outcome("a", "", [], None)], None) is names_of
