"""History's memory follows one version of an app, not all of them, and `check` walks only its window.

A multi-MB file (a CRD bundle, a Grafana dashboard) bumped in every commit made `history` keep every
parsed version: 2 MB x 200 versions was 1 GB, past the CronJob's 2 Gi soon after; and `check` walked the
whole chain whatever --history-since said."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import git

from driftcheck.apps import path_app
from driftcheck.history import app_history, match_live_commit
from driftcheck.model import FieldDiff, Origin, Resource, ResourceKey, ResourceResult

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

KEY = ResourceKey("", "ConfigMap", "demo", "big")


def big_configmap(version: int, keys: int) -> str:
    rows = "".join(f"  key{k:05d}: value-{k}-{'y' * 70}-{version if k == 0 else 0}\n" for k in range(keys))
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big, namespace: demo}}\ndata:\n{rows}"


def versions(git_repo: GitRepoBuilder, count: int, keys: int = 20) -> list[str]:
    return [git_repo.commit({"app/big.yaml": big_configmap(i, keys)}, f"v{i}",
                            date=f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00+00:00") for i in range(count)]


def peak_rss_kb(repo: Path, revision: str) -> int:
    """The history command's peak RSS, in its own process."""
    script = ("import resource, sys; from driftcheck.cli import main; sys.argv = ['driftcheck', 'history', "
              f"'--repo', {str(repo)!r}, '--revision', {revision!r}, '--path', 'app', '-n', 'demo', "
              "'-o', 'json']\n"
              "try: main()\nexcept SystemExit: pass\n"
              "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert json.loads(proc.stdout)["apps"][0]["events"], proc.stderr
    return int(proc.stderr.strip().splitlines()[-1])


def test_history_memory_does_not_grow_with_the_versions_of_a_big_file(git_repo: GitRepoBuilder) -> None:
    shas = versions(git_repo, 48, keys=5000)  # 0.5 MB a version
    few = peak_rss_kb(git_repo.path, f"{shas[8]}")
    grown = peak_rss_kb(git_repo.path, "HEAD") - few
    # each version kept parsed was ~1.3 MB here (61 MB for 40 more); what may grow is the YAML loader's JSON
    # cache of parsed files (~0.5 MB a version, capped at 64 MB)
    assert grown < 35_000, f"40 more versions of a 0.5 MB file took {grown} kB more (kept every version?)"


def test_the_walk_stops_at_since_and_the_live_match_ends_with_the_state_at_the_windows_start(
        git_repo: GitRepoBuilder) -> None:
    shas = versions(git_repo, 6)  # v0 at 00:00 ... v5 at 05:00
    since = datetime.fromisoformat("2026-01-01T03:30:00+00:00")
    app = path_app("web", "app", "demo")
    result = app_history(git.Repo(git_repo.path), app, since=since, keep={KEY})
    assert [e.message for e in result.events] == ["v5", "v4"]
    assert [s.commit for s in result.timeline] == [shas[5], shas[4], shas[3]], "the walk ended at v3"

    def live_holding(version: int) -> tuple[ResourceResult, Resource]:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "demo"},
                "data": {"key00000": f"value-0-{'y' * 70}-{version}"}}
        drift = ResourceResult(KEY, "web", "drifted", "v1", diffs=[FieldDiff("/data/key00000", "new", "old")])
        return drift, Resource(KEY, "v1", body, Origin("snapshot"))

    assert match_live_commit(result, *live_holding(4)) == {"commit": shas[4], "date": result.timeline[1].date,
                                                          "behind": 1}
    assert match_live_commit(result, *live_holding(3))["commit"] == shas[3]  # type: ignore[index]
    assert match_live_commit(result, *live_holding(1)) is None, "older than the window: not walked"
    everything = app_history(git.Repo(git_repo.path), app, keep=set())
    assert len(everything.events) == 6 and all(s.objects == {} for s in everything.timeline)
