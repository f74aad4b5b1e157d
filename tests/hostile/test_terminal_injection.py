"""Names and values from Git or the cluster cannot steer the terminal or fake a line of output.

The inputs are what an attacker who can write an Application or a live object would try: CSI sequences
that erase the header and print a green "ALL IN SYNC", a name whose newlines add a fake row and a fake
TOTAL, OSC sequences that set the window title or plant a hyperlink, a live value that clears the
screen in `--explain`, and the characters some terminals take for a line break or a reversal (NEL,
U+2028, U+202E). Everything runs through the real CLI; the output must hold none of them raw."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from testing import planted

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

# YAML double-quoted escapes: \e is ESC, \a BEL, \N NEL (U+0085), \L U+2028
ERASE = r"web\e[2K\e[1A\e[2K\e[32mALL IN SYNC\e[0m"
FAKE_ROWS = r"payments  0  0  0  0  12  0\nTOTAL  0  0  0  0  12  0\n\n"
BREAKS = r"bidi\u202eevil\Lnext\Nline"
OSC_URL = r"https://evil.example/\e]0;pwned-title\a\e]8;;https://evil.example/\e\\click\e]8;;\e\\"
RAW = ("\x1b", "\x07", "\x9b", "\x85", "\u2028", "\u2029", "\u202e")
OWN_LINES = ("desired state:", "note:", "apps rendered: ", "live state:", "wrote ", "driftcheck: error:")


def application(name: str, repo_url: str = "https://example.com/this.git") -> str:
    return (f'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: "{name}"}}\n'
            f'spec:\n  source: {{repoURL: "{repo_url}", path: app}}\n  destination: {{namespace: demo}}\n')


def hostile_repo(git_repo: GitRepoBuilder, *apps: str) -> Path:
    git_repo.commit({"argocd/apps.yaml": "---\n".join(apps),
                     "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: demo}\n"
                                    "data: {k: git}\n"}, "apps")
    return git_repo.path


def live_snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "live.yaml"
    path.write_text('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: demo}\n'
                    'data: {k: "live\\e[2J\\e[HCLEARED\\u2028\\u202e"}\n')
    return path


def assert_nothing_raw(text: str) -> None:
    found = sorted({repr(c) for c in RAW if c in text})
    assert not found, f"control characters reached the terminal raw: {found}"


def test_hostile_app_names_urls_and_live_values_are_shown_escaped_one_row_per_app(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    repo = hostile_repo(git_repo, application(ERASE), application(FAKE_ROWS), application(BREAKS),
                        application("other", OSC_URL))
    out = tmp_path / "out"
    proc = planted.run_cli(["check", "--repo", str(repo), "--argocd-apps", "argocd/*.yaml",
                            "--repo-url", "https://example.com/this.git", "--live-snapshot",
                            str(live_snapshot(tmp_path)), "--out", str(out), "--format", "json",
                            "--explain", "ConfigMap/cm"], tmp_path / "logs")
    assert proc.returncode == 2, proc.stderr  # the other repository cannot be fetched: that app's error
    assert_nothing_raw(proc.stdout)
    assert_nothing_raw(proc.stderr)

    report = json.loads(next(out.rglob("report.json")).read_text())
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("APP "))
    totals = [i for i, line in enumerate(lines) if line.startswith("TOTAL ")]
    assert len(totals) == 1, "a name faked a TOTAL row"
    rows = lines[header + 1:totals[0]]
    assert len(rows) == len([a for a in report["apps"] if a["status"] != "skipped"]) == 4
    [other] = [row for row in rows if row.startswith("other ")]
    assert other.split()[-6:] == ["0", "0", "0", "0", "0", "2"], other
    rows.remove(other)
    assert all(row.split()[-6:] == ["0", "1", "0", "0", "0", "0"] for row in rows), rows
    assert any(row.startswith(r"web\x1b[2K\x1b[1A") for row in rows), "the name is shown, escaped"
    assert any(row.startswith(r"payments  0  0  0  0  12  0\nTOTAL") for row in rows)
    assert any(row.startswith(r"bidi\u202eevil\u2028next\x85line") for row in rows)
    [progress] = [line for line in proc.stderr.splitlines()
                  if re.match(r"apps rendered: \d+/\d+: other, ", line)]
    assert r"\x1b]0;pwned-title\x07\x1b]8;;https://evil.example/" in progress
    errors = [e["message"] for e in report["errors"] if e.get("app") == "other"]
    assert errors and all("evil.example" in m for m in errors), errors

    differences = [line for line in lines if line.startswith("/data/k: git")]
    assert differences and all(r"live\x1b[2J\x1b[HCLEARED\u2028\u202e" in d for d in differences)
    assert all(line.startswith(OWN_LINES) for line in proc.stderr.splitlines()), proc.stderr
    assert re.search(r"apps rendered: \d+/\d+: web\\x1b\[2K", proc.stderr), "progress names the app, escaped"


def test_a_hostile_repo_url_in_the_note_line_is_shown_escaped(git_repo: GitRepoBuilder,
                                                              tmp_path: Path) -> None:
    """No --repo-url and no remote: the note names the repoURL the Applications share, from Git."""
    repo = hostile_repo(git_repo, application("one", OSC_URL), application("two", OSC_URL))
    proc = planted.run_cli(["check", "--repo", str(repo), "--argocd-apps", "argocd/*.yaml",
                            "--live-snapshot", str(live_snapshot(tmp_path)), "--out", str(tmp_path / "out"),
                            "--format", "json", "-o", "none"], tmp_path / "logs")
    assert proc.returncode == 1, proc.stderr
    assert_nothing_raw(proc.stderr)
    [note] = [line for line in proc.stderr.splitlines() if line.startswith("note:")]
    assert r"\x1b]0;pwned-title\x07" in note
    assert all(line.startswith(OWN_LINES) for line in proc.stderr.splitlines()), proc.stderr


def test_an_error_naming_hostile_apps_stays_one_escaped_line(git_repo: GitRepoBuilder,
                                                             tmp_path: Path) -> None:
    """`--app` with an unknown name lists the known ones, which come from Git."""
    repo = hostile_repo(git_repo, application(ERASE), application(FAKE_ROWS))
    proc = planted.run_cli(["check", "--repo", str(repo), "--argocd-apps", "argocd/*.yaml",
                            "--repo-url", "https://example.com/this.git", "--app", "nosuch",
                            "--live-snapshot", str(live_snapshot(tmp_path)), "--out", str(tmp_path / "out")],
                           tmp_path / "logs")
    assert proc.returncode == 2
    assert_nothing_raw(proc.stderr)
    [error] = [line for line in proc.stderr.splitlines() if line.startswith("driftcheck: error:")]
    assert r"\nTOTAL" in error and r"web\x1b[2K" in error
    assert all(line.startswith(OWN_LINES) for line in proc.stderr.splitlines()), proc.stderr
