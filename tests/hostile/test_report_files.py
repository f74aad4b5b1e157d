"""The report files stay what they claim to be, whatever a cluster, Git or an editor puts in them.

`driftcheck verify` says honestly what its unsigned digest proves, and a file crafted so that two JSON
readers see different reports (a duplicate key), or that a parser cannot hold (NaN, 1e999, 100k-deep
nesting), is one clear "not a valid report" line, exit 2. report.xml stays well-formed XML when a
drifted value carries ANSI colours or a NUL; report.md shows hostile names as text, never as markup.
Everything runs through the real CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from driftcheck.report import json_report
from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

REPO_URL = "https://example.com/this.git"
ROOT = Path(__file__).resolve().parents[2]
HONEST = "anyone who can edit the file can recompute"
# YAML double-quoted escapes: \e is ESC, \a BEL, \0 NUL
GIT_MOTD = r"\e[1;32mWelcome\e[0m"
LIVE_MOTD = r"\e[1;31mWelcome\e[0m\0"
TITLE_KEY = r"title\e]0;pwned\a"
HOSTILE_APP = "<img src=x onerror=alert(1)>[x](javascript:alert(1))"
FAKE_CELLS = r"\r| 0 | fake |"  # a carriage return and pipes: a new line or cells in a table row
Check = Callable[..., subprocess.CompletedProcess[str]]


def configmap(data: str, namespace: str = "") -> str:
    meta = f"{{name: motd{', namespace: ' + namespace if namespace else ''}}}"
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {meta}\ndata: {{{data}}}\n"


@pytest.fixture
def check(git_repo: GitRepoBuilder, tmp_path: Path) -> Check:
    """`driftcheck check` on one drifted ConfigMap whose values carry ANSI colours, a NUL and an OSC key."""
    app = (f'apiVersion: argoproj.io/v1alpha1\nkind: Application\n'
           f'metadata: {{name: "{HOSTILE_APP}{FAKE_CELLS}"}}\n'
           f"spec:\n  source: {{repoURL: {REPO_URL}, path: app}}\n  destination: {{namespace: demo}}\n")
    git_repo.commit({"argocd/app.yaml": app,
                     "app/cm.yaml": configmap(f'motd: "{GIT_MOTD}", "{TITLE_KEY}": "git"')}, "motd")
    live = tmp_path / "live.yaml"
    live.write_text(configmap(f'motd: "{LIVE_MOTD}", "{TITLE_KEY}": "live"', "demo"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return planted.run_cli(["check", "--repo", str(git_repo.path), "--argocd-apps", "argocd/*.yaml",
                                "--repo-url", REPO_URL, "--live-snapshot", str(live),
                                "--out", str(tmp_path / "reports"), "-o", "none", *args], tmp_path / "logs")
    return run


def written(proc: subprocess.CompletedProcess[str], name: str) -> Path:
    assert proc.returncode == 1, proc.stderr  # the drift was found and the reports written
    paths = [Path(line.split(" ", 1)[1]) for line in proc.stderr.splitlines() if line.startswith("wrote ")]
    return next(p for p in paths if p.name == name)


def verify(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return planted.run_cli(["verify", str(path)], tmp_path / "logs")


# -- verify (H6) ------------------------------------------------------------------------------------------


def test_verify_ok_says_the_digest_cannot_tell_a_deliberate_edit_that_resealed(
        check: Check, tmp_path: Path) -> None:
    report = written(check("--format", "json"), "report.json")
    doc = json.loads(report.read_text())
    for r in doc["resources"]:
        r.update(status="in-sync", differences=[])
    doc["summary"].update(drifted=0, in_sync=doc["summary"]["total"])
    report.write_text(json_report.dumps(json_report.seal(doc)))  # what anyone with the shipped code can do
    proc = verify(report, tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"OK: {report}: digest sha256:") and HONEST in proc.stdout
    assert len(proc.stdout.splitlines()) == 1


def test_the_readmes_do_not_promise_tamper_evidence() -> None:
    for readme in (ROOT / "README.md", ROOT / "deploy" / "README.md"):
        text = readme.read_text()
        assert "tamper evidence" not in text and "was not edited since" not in text, readme
        around = text[max(0, text.index("driftcheck verify") - 250):text.index("driftcheck verify") + 250]
        assert "not a deliberate edit" in around, readme


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def fake_summary_first(text: str) -> str:
    """A second, false summary before the real one: json.loads keeps the last, a reader sees the first."""
    fake = '"summary": {"total": 9, "in_sync": 9, "drifted": 0, "missing": 0, "extra": 0, "unknown": 0, ' \
           '"errors": 0},\n  '
    return text.replace('"summary":', fake + '"summary":', 1)


def before_schema(value: str) -> Callable[[str], str]:
    return lambda text: text.replace('"schema":', f'"x": {value}, "schema":', 1)


EDITS: dict[str, tuple[Callable[[str], str], str]] = {
    "duplicate summary": (fake_summary_first, 'duplicate key "summary" in one object'),
    "duplicate nested key": (lambda t: t.replace('"status": "drifted"', '"status": 1, "status": "drifted"'),
                             'duplicate key "status" in one object'),
    "NaN": (before_schema("NaN"), "NaN is not a JSON number"),
    "Infinity": (before_schema("Infinity"), "Infinity is not a JSON number"),
    "-Infinity": (before_schema("-Infinity"), "-Infinity is not a JSON number"),
    "1e999": (before_schema("1e999"), "number 1e999 is out of range"),
    "100k deep": (before_schema(nested(100_000)), f"nested deeper than {json_report.MAX_DEPTH} levels"),
    "just past the bound": (before_schema(nested(json_report.MAX_DEPTH)),
                            f"nested deeper than {json_report.MAX_DEPTH} levels"),
    "5000-digit number": (before_schema("9" * 5000), "digits"),
    "truncated": (lambda t: t[: len(t) // 2], "was it truncated or edited?"),  # a cut inside a string too
    "not an object": (lambda t: f"[{t}]", "a JSON list, not an object"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_crafted_report_is_one_not_a_valid_report_line_and_exit_2(check: Check, tmp_path: Path,
                                                                    edit: str) -> None:
    report = written(check("--format", "json"), "report.json")
    change, why = EDITS[edit]
    report.write_text(change(report.read_text()))
    proc = verify(report, tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"driftcheck: error: {report}: not a valid report: "), lines
    assert why in lines[0] and "internal error" not in lines[0]


def test_a_report_holding_a_value_as_deep_as_a_manifest_may_be_still_verifies(check: Check,
                                                                             tmp_path: Path) -> None:
    report = written(check("--format", "json"), "report.json")
    doc = json.loads(report.read_text())
    deep: object = "bottom"
    for _ in range(500):  # source/yaml/limits.MAX_DEPTH: the deepest object a manifest can hold
        deep = [deep]
    doc["resources"][0]["differences"][0]["live"] = deep
    report.write_text(json_report.dumps(json_report.seal(doc)))
    proc = verify(report, tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_non_utf8_report_is_not_a_valid_report(tmp_path: Path) -> None:
    report = planted.write_input(tmp_path / "report.json", b'{"schema": "\xff"}')
    proc = verify(report, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"driftcheck: error: {report}: not a valid report: not UTF-8 text (byte 12)"


# -- JUnit (M9) -------------------------------------------------------------------------------------------


def test_junit_xml_parses_after_a_drifted_configmap_with_ansi_colours_and_nul(check: Check) -> None:
    xml = written(check("--format", "junit"), "report.xml")
    failures = ET.parse(xml).getroot().findall(".//failure")  # a ParseError is the finding itself
    assert len(failures) == 1
    message, text = failures[0].get("message") or "", failures[0].text or ""
    assert "/data/title\\x1b]0;pwned\\x07" in message
    assert "git \\x1b[1;32mWelcome\\x1b[0m / live \\x1b[1;31mWelcome\\x1b[0m\\x00" in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", xml.read_text())


# -- Markdown ---------------------------------------------------------------------------------------------


def test_report_md_shows_a_hostile_app_name_and_values_as_text_never_as_html_or_a_link(
        check: Check) -> None:
    md = written(check("--format", "md"), "report.md").read_text()
    assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(javascript:", md)  # no tag, no link
    assert r"\<img src=x onerror=alert(1)\>\[x\](javascript:alert(1))" in md  # shown as text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", md)  # no raw escape or carriage return
    rows = [line for line in md.splitlines() if line.startswith("| drifted | `")]
    assert len(rows) == 1 and len(re.findall(r"(?<!\\)\|", rows[0])) == 6, rows  # five cells, none added
    assert "`/data/title\\x1b]0;pwned\\x07`" in rows[0]
