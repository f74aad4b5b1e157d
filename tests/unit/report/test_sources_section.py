"""What each app's sources resolved to, and its hooks, in the JSON (schema additions), HTML and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from driftcheck.model import AppResolution, AuditReport, ListedHook, ResolvedSource
from driftcheck.report import write_reports
from driftcheck.report.json_report import schema_problems, to_document

HOSTILE = "<img src=x onerror=alert(1)>|`x`"
CHART = ResolvedSource("chart", "https://charts.example.com/stable", "sealed-secrets", "2.16.x", "2.16.2",
                       "sha256:" + "ab" * 32)
SHA = "c0ffee1" * 5 + "c0ffe"
THIS_REPO = ResolvedSource("git", "", "apps/shop", "HEAD", SHA)


def with_resolutions(report: AuditReport) -> AuditReport:
    report.resolutions = {
        "shop": AppResolution([CHART, THIS_REPO], ["dependency redis ^1.0.0 resolved to 1.2.0"],
                              [ListedHook("Job/db-migrate", "PreSync", "apps/shop/templates/migrate.yaml", 3),
                               ListedHook(f"Pod/{HOSTILE}", "none (helm.sh/hook: test)")]),
        "monitoring": AppResolution([ResolvedSource("git", "", "monitoring", "HEAD", SHA)]),
    }
    return report


def test_apps_carry_sources_resolved_versions_and_hooks_and_stay_valid_v1(report: AuditReport) -> None:
    doc = to_document(with_resolutions(report))
    rows = {a["name"]: a for a in doc["apps"]}
    assert rows["shop"]["sources"][0] == {
        "type": "chart", "repository": "https://charts.example.com/stable", "path": "sealed-secrets",
        "requested": "2.16.x", "resolved": "2.16.2", "digest": "sha256:" + "ab" * 32}
    assert rows["shop"]["resolved"] == ["dependency redis ^1.0.0 resolved to 1.2.0"]
    assert [h["resource"] for h in rows["shop"]["hooks"]] == ["Job/db-migrate", f"Pod/{HOSTILE}"]
    assert rows["monitoring"]["hooks"] == [] and rows["monitoring"]["resolved"] == []
    assert "sources" not in rows["payments"]  # not rendered this run: nothing claimed
    assert schema_problems(doc) == []


def test_the_schema_refuses_a_hook_without_its_types(report: AuditReport) -> None:
    doc = to_document(with_resolutions(report))
    del next(a for a in doc["apps"] if a["name"] == "shop")["hooks"][0]["types"]
    assert any("types" in p for p in schema_problems(doc))


def test_html_and_markdown_list_charts_and_hooks_escaped(report: AuditReport, tmp_path: Path) -> None:
    written = write_reports(with_resolutions(report), tmp_path, ["html", "md", "json"])
    html, markdown = (next(p for p in written.paths if p.suffix == s).read_text() for s in (".html", ".md"))
    assert "chart sealed-secrets 2.16.x from https://charts.example.com/stable → 2.16.2" in html
    assert "dependency redis ^1.0.0 resolved to 1.2.0" in html
    assert "Job/db-migrate" in html and "apps/shop/templates/migrate.yaml:3" in html
    assert "<img" not in html and "&lt;img src=x" in html
    section = html.split('id="sources"')[1].split("</section>")[0]
    assert 'data-app="monitoring"' not in section  # this repository at the run's commit: nothing to add
    line = next(x for x in markdown.splitlines() if x.startswith("- shop:"))
    assert "`chart sealed-secrets 2.16.x from https://charts.example.com/stable → 2.16.2`" in line
    assert "`Job/db-migrate` (PreSync)" in line
    assert "`` Pod/<img src=x onerror=alert(1)>\\|`x` ``" in line  # a code span: shown, never markup
    assert "- monitoring:" not in markdown
    report_json = json.loads(next(p for p in written.paths if p.suffix == ".json").read_text())
    assert schema_problems(report_json) == []
