"""Markdown, JUnit and the archive index: what a ticket, a CI system and an archive browser see."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from driftcheck.model import DriftcheckError
from driftcheck.report import parse_formats, write_reports
from driftcheck.report.fleet import Outcome, write_summary


def test_format_list_is_comma_separated_and_unknown_names_are_one_error() -> None:
    assert parse_formats("html, md,junit") == ["html", "md", "junit"]
    with pytest.raises(DriftcheckError, match="unknown report format pdf: choose from html, json, md, junit"):
        parse_formats("html,pdf")


def test_json_is_always_kept_because_the_archive_is_built_from_it(report, tmp_path: Path) -> None:
    written = write_reports(report, tmp_path, ["md"])
    assert sorted(p.name for p in written.run_dir.iterdir()) == ["report.json", "report.md"]


def test_markdown_summarises_counts_and_drifts_without_letting_markup_in(report, tmp_path: Path) -> None:
    md = write_reports(report, tmp_path, ["md"]).paths[0].read_text()
    assert "| 2 | 1 | 1 | 1 | 2 | 2 | 7 |" in md
    assert "| drifted | `Deployment/shop/frontend` | shop | `/metadata/annotations/note`, " in md
    assert "<script>" not in md and "\\<script\\>document.title" in md


def test_junit_has_one_case_per_resource_and_fails_the_drifts(report, tmp_path: Path) -> None:
    root = ET.parse(write_reports(report, tmp_path, ["junit"]).paths[0]).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert len([n for n in cases if not n.startswith("error ")]) == 7
    assert cases["Deployment/shop/frontend"].find("failure").get("type") == "drifted"
    assert cases["Secret/payments/stripe"].find("error").get("type") == "unknown"
    assert list(cases["Service/shop/frontend"]) == []
    assert cases["error payments/values.yaml:7"].find("error") is not None
    assert {s.get("name"): s.get("failures") for s in root.iter("testsuite")} == {
        "monitoring": "0", "payments": "2", "shop": "2"}


def test_index_lists_every_run_with_counts_and_links_the_latest(copy_report, tmp_path: Path) -> None:
    for day in ("24", "25", "26"):
        run = copy_report()
        run.generated_at = f"2026-11-{day}T06:00:00+00:00"
        written = write_reports(run, tmp_path, ["html", "json"])
    html = (tmp_path / "index.html").read_text()
    assert written.index == tmp_path / "index.html"
    assert 'Latest: <a href="prod-eu-1/20261126T060000Z/report.html">2026-11-26 06:00 UTC</a>' in html
    assert html.count("<circle") == 6  # two series over three runs
    assert html.count('<tr class="newest">') == 1
    for day in ("24", "25", "26"):
        assert f'href="prod-eu-1/202611{day}T060000Z/report.json"' in html


def test_a_fleet_archive_keeps_its_run_history_beside_the_fleet_summary(copy_report, tmp_path: Path) -> None:
    fleet_run = write_reports(copy_report(), tmp_path, ["json"], fleet=True)
    assert fleet_run.index is None and not list(tmp_path.glob("*.html"))  # the summary writes both, once
    write_summary(tmp_path, [Outcome("prod-eu-1", "https://prod", ["shop"], fleet_run.run_dir.parent.name)],
                  lambda _m: None)
    assert "fleet summary" in (tmp_path / "index.html").read_text()
    assert fleet_run.run_dir.name in (tmp_path / "runs.html").read_text()
    later = copy_report()
    later.generated_at = "2026-11-27T06:00:00+00:00"
    single = write_reports(later, tmp_path, ["json"])  # a one-cluster run into the same archive
    assert single.index == tmp_path / "runs.html"
    assert "fleet summary" in (tmp_path / "index.html").read_text()
    assert "20261127T060000Z" in (tmp_path / "runs.html").read_text()
