"""The ignore rules in force during an evidence period (each report's `rules.in_force`), how often each
hid nothing, and the commit of the audited repository that introduced it.

Ignore rules are control exclusions, so the pack shows they were change-managed: for a rule from a file
of the repository (a rule file, an Application's ignoreDifferences), the oldest commit since which the
file has held that rule unchanged, walking the file's history (`git log`); a shipped pack's rule came
with driftcheck itself.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from driftcheck.evidence.pack_runs import PackRun

MAX_COMMITS = 500  # per rule file: the walk stops there and says so


@dataclass
class RuleInForce:
    id: str
    file: str
    app: str
    spec: dict[str, Any]
    first_run: str
    last_run: str
    runs: int = 0
    unused_runs: int = 0
    introduced_commit: str = ""
    introduced_by: str = ""
    introduced_at: str = ""
    introduced_note: str = ""
    clusters: set[str] = field(default_factory=set)


def rules_in_force(runs: list[PackRun]) -> tuple[list[RuleInForce], list[str]]:
    """One entry per rule id and content; -> (rules, the runs whose reports do not list their rules)."""
    found: dict[tuple[str, str], RuleInForce] = {}
    unlisted = []
    for run in runs:
        rules = (run.document or {}).get("rules") or {}
        if run.document is None:
            continue
        if "in_force" not in rules:
            unlisted.append(run.run)
            continue
        unused = set(rules.get("unused") or [])
        for rule in rules["in_force"]:
            key = (str(rule["id"]), json.dumps(rule.get("spec"), sort_keys=True))
            entry = found.setdefault(key, RuleInForce(str(rule["id"]), str(rule.get("file", "")),
                                                      str(rule.get("app", "")), dict(rule.get("spec") or {}),
                                                      run.generated_at, run.generated_at))
            entry.last_run, entry.runs = run.generated_at, entry.runs + 1
            entry.unused_runs += rule["id"] in unused
            entry.clusters.add(run.cluster)
    return sorted(found.values(), key=lambda r: (r.id, r.first_run)), unlisted


def introduce(rules: list[RuleInForce], repo: Path | None, tool_version: str) -> None:
    """Fill each rule's introduced_* from the repository's history (or say why not)."""
    for rule in rules:
        file = rule.file.rsplit(":", 1)[0] if rule.file.rsplit(":", 1)[-1].isdigit() else rule.file
        if rule.file.startswith("rules/") and "#" in rule.id and not rule.id.startswith(("file:", "app:")):
            rule.introduced_note = f"shipped rule pack (driftcheck {tool_version})"
        elif repo is None:
            rule.introduced_note = "no --repo given"
        elif Path(file).is_absolute():
            rule.introduced_note = "a rule file outside the audited repository (--rules)"
        else:
            _walk(rule, repo, file)


def _walk(rule: RuleInForce, repo: Path, file: str) -> None:
    log = subprocess.run(["git", "-C", str(repo), "log", "--first-parent", f"-n{MAX_COMMITS}",
                          "--format=%H%x1f%an <%ae>%x1f%cI", "--", file],
                         capture_output=True, text=True, check=False)
    if log.returncode:
        rule.introduced_note = f"git log failed on {repo}: {log.stderr.strip()[:200]}"
        return
    introduced: list[str] | None = None
    for line in log.stdout.splitlines():  # newest first: the last commit still holding the rule wins
        commit = line.split("\x1f")
        shown = subprocess.run(["git", "-C", str(repo), "show", f"{commit[0]}:{file}"],
                               capture_output=True, text=True, check=False)
        if shown.returncode or not _holds(shown.stdout, rule.spec):
            break
        introduced = commit
    if introduced is None:
        rule.introduced_note = f"{file} at the repository's HEAD does not hold this rule"
        return
    rule.introduced_commit, rule.introduced_by, rule.introduced_at = introduced[:3]
    if len(log.stdout.splitlines()) >= MAX_COMMITS and introduced[0] == log.stdout.splitlines()[-1][:40]:
        rule.introduced_note = f"at or before this commit (history walked {MAX_COMMITS} commits back)"


def _holds(text: str, spec: dict[str, Any]) -> bool:
    """Does some YAML document of text hold a mapping equal to spec, at any depth?"""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return False
    stack: list[Any] = documents
    while stack:
        item = stack.pop()
        if item == spec:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
