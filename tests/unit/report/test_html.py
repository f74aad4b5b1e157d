"""The HTML page without a browser: escaping, the CSP hashes, the words an auditor reads."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from driftcheck.model import AuditReport, Origin, ResourceKey, ResourceResult
from driftcheck.report import write_reports


def page(report: AuditReport, tmp_path: Path) -> str:
    return write_reports(report, tmp_path, ["html"]).paths[0].read_text()


def test_hostile_strings_are_escaped_everywhere(report, tmp_path: Path) -> None:
    html = page(report, tmp_path)
    assert "<script>document.title" not in html
    assert "<img" not in html
    assert html.count("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;") >= 2  # diff value, error
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html  # commit message and annotation
    assert len(re.findall(r"<script>", html)) == 1


def test_csp_allows_exactly_the_inline_style_and_script_by_hash(report, tmp_path: Path) -> None:
    html = page(report, tmp_path)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", html, re.S).group(1)

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert f"style-src {digest(style)};" in csp.replace("&#39;", "'")
    assert f"script-src {digest(script)};" in csp.replace("&#39;", "'")
    assert "default-src &#39;none&#39;" in csp
    assert "http" not in html.split("<body>")[0].replace('http-equiv', '')  # nothing fetched from anywhere


def test_drift_age_and_live_commit_read_as_sentences(copy_report, tmp_path: Path) -> None:
    earlier, now = copy_report(), copy_report()
    earlier.generated_at = "2026-11-20T09:00:00+00:00"
    write_reports(earlier, tmp_path, ["json"])
    html = page(now, tmp_path)
    assert "drifting since 2026-11-20 (6 days)" in html
    assert "missing since 2026-11-20 (6 days)" in html
    assert "live matches Git as of ab12cd3 (2026-11-18), 3 commits behind" in html
    assert "ignored by rule <span class=\"mono\">hpa#0</span>" in html


def test_history_marks_rollbacks_and_reverts(report, tmp_path: Path) -> None:
    html = page(report, tmp_path)
    assert '<span class="pill k-rollback">rollback</span>' in html and "restores <span" in html
    assert '<span class="pill k-revert">revert</span>' in html and "reverts <span" in html
    assert "ghcr.io/acme/frontend:1.4.2</code> → <code class=\"to\">ghcr.io/acme/frontend:1.4.1" in html


def test_a_clean_run_says_in_sync_and_has_no_problem_section(tmp_path: Path) -> None:
    source = {"repo": ".", "revision": "main", "commit": "c" * 40, "commit_date": "", "at": "2026-01-19"}
    cluster = {"context": "", "server": "", "snapshot": "live.yaml"}
    service = ResourceResult(ResourceKey("", "Service", "web", "web"), "web", "in-sync", "v1",
                             source=Origin("git", "web.yaml", 1))
    clean = AuditReport("2026-11-26T09:00:00+00:00", "0.1.0", source, cluster,
                        {"packs": [], "digest": None, "unused": []}, [{"name": "web"}], [service])
    html = page(clean, tmp_path)
    assert "<strong>In sync</strong> The 1 resource checked matches Git." in html
    assert 'id="problems"' not in html
    assert "at 2026-01-19" in html  # the --at moment is in the header
