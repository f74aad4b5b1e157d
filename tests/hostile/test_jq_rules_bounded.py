"""A looping jq ignore rule from Git neither hangs the run nor makes it deaf to SIGTERM.

`.data | until(false; .)` computes forever without producing output; libjq never returned to Python,
so the SIGTERM of a CronJob deadline did nothing and only SIGKILL ended the run, night after night. Now
jq runs in a worker child under a deadline: the run completes with the rule reported as not applied,
and a SIGTERM while jq loops ends the run at once, with no report and no child left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.compare import jqeval, load_rules
from driftcheck.compare.rules import RuleUnfinished
from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

LOOP = ".data | until(false; .)"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: demo}\ndata: {a: %s}\n"
APPLICATION = f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web}}
spec:
  source: {{repoURL: https://example.com/this.git, path: app}}
  destination: {{namespace: demo}}
  ignoreDifferences:
  - kind: ConfigMap
    name: looping
    jqPathExpressions: ['{LOOP}']
  - kind: ConfigMap
    name: plain
    jqPathExpressions: ['.data.a']
"""


@pytest.fixture
def looping_repo(git_repo: GitRepoBuilder, tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    git_repo.commit({"argocd/app.yaml": APPLICATION, "app/looping.yaml": CM % ("looping", "b"),
                     "app/plain.yaml": CM % ("plain", "b")}, "apps")
    live = tmp_path / "live.yaml"
    # looping differs live: with its rule not applied, that difference may be one the rule ignores
    live.write_text(CM % ("looping", "edited") + "---\n" + CM % ("plain", "live"))
    out = tmp_path / "out"
    yield ["check", "--repo", str(git_repo.path), "--argocd-apps", "argocd/*.yaml", "--repo-url",
           "https://example.com/this.git", "--live-snapshot", str(live), "--out", str(out),
           "--format", "json"], out


@pytest.mark.slow
def test_a_looping_jq_rule_is_reported_not_applied_and_the_run_completes(
        looping_repo: tuple[list[str], Path], tmp_path: Path) -> None:
    args, out = looping_repo
    started = time.monotonic()
    proc = planted.run_cli(args, tmp_path / "logs", timeout=60)
    assert time.monotonic() - started < jqeval.TIMEOUT + 20
    assert proc.returncode == 2, proc.stderr
    report = json.loads(next(out.rglob("report.json")).read_text())
    [error] = report["errors"]
    assert error["file"] == "argocd/app.yaml:1" and error["app"] == "web"  # the Application's document
    assert f"jq rule #0 in argocd/app.yaml:1 did not finish within {jqeval.TIMEOUT:g} s" in error["message"]
    verdicts = {r["name"]: (r["status"], r["reason"]) for r in report["resources"]}
    assert verdicts["looping"] == ("unknown",
                                   "ignore rule app:web#0 could not be applied (jq did not finish)")
    assert verdicts["plain"][0] == "in-sync", "the other rule still applies"


def _jq_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid and b"jqeval.py" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_sigterm_while_a_jq_rule_loops_ends_the_run_at_once_with_nothing_written_or_left_running(
        looping_repo: tuple[list[str], Path], tmp_path: Path) -> None:
    args, out = looping_repo
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "term.stdout", "w") as stdout, open(logs / "term.stderr", "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "driftcheck.cli", *args], stdout=stdout, stderr=stderr)
        deadline = time.monotonic() + 30
        while not (children := _jq_children(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert children, "the jq worker never started"
        time.sleep(1)  # well inside the loop: the rule's deadline is seconds away
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = proc.wait(timeout=15)
    assert time.monotonic() - sent < 3
    assert code == 128 + signal.SIGTERM
    assert not list(out.rglob("report.*")), "no partial report"
    time.sleep(0.2)
    assert not any(_alive(child) for child in children), "the jq worker outlived the run"
    rerun = planted.run_cli(args, logs, timeout=60)  # the archive lock is free
    assert rerun.returncode == 2, rerun.stderr


def test_an_expression_that_never_outputs_is_stopped_at_the_deadline_and_the_next_rule_still_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jqeval, "TIMEOUT", 1.0)
    rules, errors = load_rules([], [], [("app:web", [
        {"kind": "ConfigMap", "jqPathExpressions": ["last(range(1e12))"]},
        {"kind": "ConfigMap", "jqPathExpressions": [".data.a"]}])])
    assert errors == []
    looping, plain = rules.rules
    body = {"data": {"a": "b"}}
    started = time.monotonic()
    with pytest.raises(RuleUnfinished, match="did not finish within 1 s"):
        looping.paths(body, {})
    assert time.monotonic() - started < 3
    assert plain.paths(body, {}) == [("data", "a")], "a fresh worker answers the next rule"
    with pytest.raises(RuleUnfinished):  # not tried again: no second wait
        looping.paths(body, {})
    assert time.monotonic() - started < 3


def test_the_worker_dies_with_its_parent_even_when_killed() -> None:
    script = ("from driftcheck.compare import jqeval; import os, sys; jqeval.paths('.a', {}, [{}]); "
              "print(jqeval._worker[0].proc.pid, flush=True); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    child = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running, not gone nor a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
