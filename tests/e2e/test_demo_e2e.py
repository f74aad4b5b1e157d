"""`driftcheck demo` end to end: exit 1, exactly the planted drift, no secret value in any report."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from driftcheck.model import ResourceKey
from testing.demo_scenario import DRIFTED, EXTRA, HOSTILE_OWNER, MISSING, UNMANAGED

DemoRun = tuple[subprocess.CompletedProcess[str], Path]
SECRET_VALUES = ("demo-Passw0rd-not-real", "sk_test_demo_4eC39HqLyjWDarjtT1zdp7dc")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    out = tmp_path_factory.mktemp("demo-reports")
    proc = subprocess.run([sys.executable, "-m", "driftcheck.cli", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    return proc, out


def _key(entry: dict[str, Any]) -> ResourceKey:
    return ResourceKey(entry["group"], entry["kind"], entry["namespace"], entry["name"])


def test_demo_exits_1_and_says_where_the_report_is(demo_run: DemoRun) -> None:
    proc, out = demo_run
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    reported = [Path(line.split("report: ", 1)[1]) for line in proc.stdout.splitlines() if "report: " in line]
    assert reported and all(p.exists() and out in p.parents for p in reported)


def test_demo_finds_exactly_the_planted_drift(demo_run: DemoRun) -> None:
    _, out = demo_run
    report = json.loads(next(out.rglob("report.json")).read_text())
    not_in_sync = {_key(r): r for r in report["resources"] if r["status"] != "in-sync"}
    assert {k: r["status"] for k, r in not_in_sync.items()} == {
        **dict.fromkeys(DRIFTED, "drifted"), MISSING: "missing", EXTRA: "extra"}
    for key, pointers in DRIFTED.items():
        assert sorted(d["path"] for d in not_in_sync[key]["differences"]) == sorted(pointers)
    assert UNMANAGED.name in {u["name"] for u in report["unmanaged"]}


def test_no_report_contains_a_secret_value(demo_run: DemoRun) -> None:
    _, out = demo_run
    needles = [*SECRET_VALUES, *(base64.b64encode(v.encode()).decode() for v in SECRET_VALUES)]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text(errors="replace")
        assert not [n for n in needles if n in text], path


def test_hostile_annotation_is_never_raw_html(demo_run: DemoRun) -> None:
    _, out = demo_run
    for page in out.rglob("*.html"):
        assert HOSTILE_OWNER not in page.read_text(), page
