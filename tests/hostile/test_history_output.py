"""Commit messages and authors are anyone's text: `history` shows them, but they cannot steer the terminal,
fake lines, or put HTML and links into the Markdown a reviewer renders.

The inputs are what a committer could try: an `<img onerror>` and a `javascript:` link in the subject,
ANSI and OSC escapes (erase the line, set the window title) and a NEL in the subject and in the author
name. Everything runs through the real CLI."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from testing import planted

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import GitRepoBuilder

HTML = "<img src=x onerror=alert(1)> [click](javascript:alert(2)) **bold** | cell"
ESCAPES = "deploy\x1b[2K\x1b[1A\x1b]0;pwned\x07 ALL GOOD\x85fake line"
AUTHOR = "Eve\x1b[32m <eve@example.com>"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: demo}\ndata: {k: %s}\n"


def hostile_history(git_repo: GitRepoBuilder) -> Path:
    git_repo.commit({"app/cm.yaml": CM % "one"}, "first", date="2026-01-19T10:00:00+00:00")
    git_repo.commit({"app/cm.yaml": CM % "two"}, HTML, date="2026-01-20T10:00:00+00:00")
    git_repo.commit({"app/cm.yaml": CM % "three"}, ESCAPES, date="2026-01-21T10:00:00+00:00",
                    author=AUTHOR)
    return git_repo.path


def history(repo: Path, logs: Path, *args: str) -> str:
    proc = planted.run_cli(["history", "--repo", str(repo), "--path", "app", "-n", "demo", *args], logs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_history_markdown_shows_html_and_links_from_commit_messages_as_text(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    out = history(hostile_history(git_repo), tmp_path / "logs", "-o", "md")
    raw = re.compile(r"(?<!\\)(<img|\]\(javascript:|\*\*bold)")  # not preceded by Markdown's escape
    assert not raw.search(out), raw.search(out)
    [row] = [line for line in out.splitlines() if "onerror" in line]
    assert r"\<img src=x onerror=alert(1)\> \[click\](javascript:alert(2)) \*\*bold\*\* \| cell" in row
    assert row.count(" | ") == 3, "a | in the message does not add a table cell"


def test_history_text_shows_escapes_in_messages_and_authors_visibly_on_one_line(
        git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    out = history(hostile_history(git_repo), tmp_path / "logs")
    assert not any(c in out for c in ("\x1b", "\x07", "\x85")), "a control character reached the terminal"
    [line] = [line for line in out.splitlines() if "ALL GOOD" in line]
    assert r"Eve\x1b[32m <eve@example.com>" in line
    assert r"deploy\x1b[2K\x1b[1A\x1b]0;pwned\x07 ALL GOOD\x85fake line" in line
