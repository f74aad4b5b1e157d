"""The pack's summary.html printed to PDF by headless Chromium, as an auditor would print it: every page
carries the period in its header and a page number, no table row is cut across two pages (each run's row
is whole on one page), table headers repeat, and the pages are kept as PNG for a person to look at."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from testing import evidence_archive, planted

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NIGHTS = list(range(1, 31))
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif((CHROMIUM is None or evidence_archive.FAKETIME is None)
                                 and not os.environ.get("CI"), reason="no chromium or faketime"),
              pytest.mark.skipif(shutil.which("pdftotext") is None and not os.environ.get("CI"),
                                 reason="no poppler-utils")]


def pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")[:-1]


def test_the_summary_prints_to_pdf_with_headers_and_whole_rows(tmp_path: Path) -> None:
    archive = evidence_archive.build(tmp_path / "archive", [n for n in NIGHTS if n != 17])
    out = tmp_path / "pack"
    done = planted.run_cli(["evidence", "--archive", str(archive.reports), "--from", "2026-10-01", "--to",
                            "2026-10-30", "--out", str(out), "--schedule", "17 2 * * *", "--key",
                            str(archive.public), "--repo", str(archive.repo), "--sign-key",
                            str(archive.private)], tmp_path / "logs")
    assert done.returncode == 1, done.stderr
    pdf = tmp_path / "summary.pdf"
    subprocess.run([CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (out / "summary.html").as_uri()],
                   capture_output=True, timeout=120, check=True)
    printed = pages(pdf)
    assert len(printed) >= 8  # summary, then one section per table
    for number, page in enumerate(printed, 1):
        assert "Period 2026-10-01 to 2026-10-30 (UTC)" in page, f"page {number} has no period header"
        assert f"page {number} of {len(printed)}" in page
    assert "1 missed (2026-10-17 02:17 UTC)" in re.sub(r"\s+", " ", printed[0])
    run_pages = [p for p in printed if re.search(r"^\s*demo\s+\d+\s+2026\d{4}T", p, re.M)]
    assert len(run_pages) >= 2, "29 runs should need more than one page"
    for page in run_pages:
        assert re.search(r"cluster\s+seq\s+run\s+status", page), "the runs table header repeats on every page"
    table = csv.DictReader((out / "runs.csv").read_text().splitlines())
    digests = {r["run"]: r["report_sha256"] for r in table}
    printed_digests: dict[str, str] = {}
    for page in run_pages:  # a row's digest wraps over lines: all of it must be on the run's page
        current = ""
        for line in page.splitlines():
            row = re.search(r"\b(2026\d{4}T\d{6}Z)\s+ok\s+1\b.*?\b([0-9a-f]+)\s*$", line)
            if row:
                current = row.group(1)
                printed_digests[current] = row.group(2)
            elif current and re.fullmatch(r"\s+[0-9a-f]+\s*", line):
                printed_digests[current] += line.strip()
            elif line.strip():
                current = ""
    assert printed_digests == digests, "a runs row is cut across pages (or not printed whole)"
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    kept = Path(os.environ.get("DRIFTCHECK_SCREENSHOTS", tmp_path)) / "evidence-pack"
    kept.mkdir(parents=True, exist_ok=True)
    for png in sorted(tmp_path.glob("page-*.png")):
        shutil.copy(png, kept / png.name)
    assert len(list(kept.glob("page-*.png"))) == len(printed)
