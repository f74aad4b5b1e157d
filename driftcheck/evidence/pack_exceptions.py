"""`exceptions.yaml`: the dispositions of drift, kept in a repository the auditors name, matched to the
period's drift episodes field by field.

    exceptions:
      - id: EX-2026-014                  # unique; the pack's rows name it
        match:                           # shell globs; a key left out matches anything
          cluster: prod
          app: shop
          kind: Deployment               # also group, namespace, name
          name: api
          field: /spec/template/spec/containers/0/image
        owner: jane.doe@shop.example     # required
        ticket: OPS-1234                 # required
        disposition: accepted            # accepted | remediated | false-positive | under-review
        reason: emergency rollback during the incident
        expires: 2026-12-31              # optional: no longer covers drift seen after that day

Read from a file, or from a Git URL and a path inside it (cloned, never a working copy one can edit
unseen); the pack records the commit it used. A bad entry is an error naming file:line and is skipped.
"""

from __future__ import annotations

import fnmatch
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from driftcheck import scrub
from driftcheck.evidence.pack_changes import Episode
from driftcheck.model import DriftcheckError
from driftcheck.report import present

DISPOSITIONS = ("accepted", "remediated", "false-positive", "under-review")
MATCH_KEYS = ("cluster", "app", "group", "kind", "namespace", "name", "field")
KEYS = {"id", "match", "owner", "ticket", "disposition", "reason", "expires", "approved_by"}


@dataclass
class Exception_:
    id: str
    match: dict[str, str]
    owner: str
    ticket: str
    disposition: str
    reason: str = ""
    expires: str = ""
    approved_by: str = ""
    line: int = 0
    matched: list[str] = field(default_factory=list)  # episode ids


@dataclass
class ExceptionsFile:
    shown: str  # the file, or URL:path
    commit: str = ""  # the commit read (Git), or the last commit touching the file (a local clone)
    dirty: bool = False  # a local file with changes no commit holds
    entries: list[Exception_] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load(path: str, repo_url: str | None = None, ref: str | None = None) -> ExceptionsFile:
    """The exceptions file at path, or at path inside the Git repository repo_url (at ref)."""
    if repo_url:
        scrub.register_url(repo_url)
        text, commit = _from_git(repo_url, path, ref)
        found = ExceptionsFile(f"{scrub.mask_url(repo_url)}:{path}", commit)
    else:
        file = Path(path)
        try:
            text = file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DriftcheckError(f"cannot read the exceptions file {file}: "
                                  f"{getattr(exc, 'strerror', None) or 'not UTF-8'}") from exc
        found = ExceptionsFile(str(file), *_local_commit(file))
    _parse(text, found)
    return found


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
                          env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


def _from_git(url: str, path: str, ref: str | None) -> tuple[str, str]:
    if url.startswith("-") or path.startswith("-") or (ref or "").startswith("-"):
        raise DriftcheckError("--exceptions-repo, --exceptions and --exceptions-ref may not start with -")
    with tempfile.TemporaryDirectory(prefix="driftcheck-exceptions-") as tmp:
        clone = Path(tmp) / "repo"
        done = _git("clone", "--quiet", "--bare", "--depth", "1", *(["--branch", ref] if ref else []),
                    "--", url, str(clone))
        if done.returncode:
            why = (done.stderr.strip().splitlines() or ["git clone failed"])[-1]
            raise DriftcheckError(f"cannot clone the exceptions repository {scrub.mask_url(url)}: "
                                  f"{scrub.scrub(why)}")
        shown = _git("show", f"HEAD:{path}", cwd=clone)
        if shown.returncode:
            raise DriftcheckError(f"{scrub.mask_url(url)}: no file {path} at its {ref or 'default branch'}")
        return shown.stdout, _git("rev-parse", "HEAD", cwd=clone).stdout.strip()


def _local_commit(file: Path) -> tuple[str, bool]:
    where = file.resolve().parent
    log = _git("log", "-1", "--format=%H", "--", file.name, cwd=where)
    if log.returncode:
        return "", False  # not in a Git work tree
    status = _git("status", "--porcelain", "--", file.name, cwd=where)
    return log.stdout.strip(), bool(status.stdout.strip())


def _parse(text: str, into: ExceptionsFile) -> None:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise DriftcheckError(f"{into.shown}{where}: not valid YAML") from exc
    items = None
    if isinstance(root, yaml.MappingNode):
        items = next((v for k, v in root.value if k.value == "exceptions"), None)
    if not isinstance(items, yaml.SequenceNode):
        raise DriftcheckError(f"{into.shown}:1: expected a mapping with `exceptions: [...]`")
    seen: set[str] = set()
    for node in items.value:
        line = node.start_mark.line + 1
        try:
            entry = _entry(yaml.safe_load(yaml.serialize(node)), line)
        except ValueError as exc:
            into.errors.append(f"{into.shown}:{line}: {exc}; entry skipped")
            continue
        if entry.id in seen:
            into.errors.append(f"{into.shown}:{line}: id {entry.id!r} repeats an earlier one; entry skipped")
            continue
        seen.add(entry.id)
        into.entries.append(entry)


def _entry(data: Any, line: int) -> Exception_:
    if not isinstance(data, dict):
        raise ValueError("an exception must be a mapping")
    unknown = sorted(set(map(str, data)) - KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")
    for key in ("id", "owner", "ticket", "disposition"):
        if not isinstance(data.get(key), str | int) or not str(data[key]).strip():
            raise ValueError(f"{key} is required")
    if data["disposition"] not in DISPOSITIONS:
        raise ValueError(f"disposition {str(data['disposition'])[:40]!r} is not one of "
                         f"{', '.join(DISPOSITIONS)}")
    match = data.get("match")
    if not isinstance(match, dict) or not match or set(map(str, match)) - set(MATCH_KEYS):
        raise ValueError(f"match must be a non-empty mapping of {', '.join(MATCH_KEYS)}")
    expires = str(data.get("expires") or "")
    if expires and present.parse_time(expires) is None:
        raise ValueError(f"expires {expires[:40]!r} is not a date")
    return Exception_(str(data["id"]), {str(k): str(v) for k, v in match.items()}, str(data["owner"]),
                      str(data["ticket"]), str(data["disposition"]), str(data.get("reason") or ""), expires,
                      str(data.get("approved_by") or ""), line)


def apply(exceptions: ExceptionsFile | None, episodes: list[Episode]) -> None:
    """Give each episode the first exception (file order) matching every field of it, unexpired at its
    last seen; an expired one that would match is named as such."""
    for episode in episodes:
        paths = [str(d.get("path")) for d in episode.differences] or [""]
        for entry in exceptions.entries if exceptions else []:
            if not all(_matches(entry, episode, p) for p in paths):
                continue
            expired = _expired(entry, episode.last_seen)
            episode.exception = {"id": entry.id, "owner": entry.owner, "ticket": entry.ticket,
                                 "disposition": "expired" if expired else entry.disposition,
                                 "reason": entry.reason, "expires": entry.expires,
                                 "approved_by": entry.approved_by}
            entry.matched.append(episode.episode_id)
            if not expired:
                break


def _matches(entry: Exception_, episode: Episode, path: str) -> bool:
    values = {"cluster": episode.cluster, "app": episode.app, "group": episode.group, "kind": episode.kind,
              "namespace": episode.namespace, "name": episode.name, "field": path}
    return all(fnmatch.fnmatchcase(values[k], pattern) for k, pattern in entry.match.items())


def _expired(entry: Exception_, last_seen: str) -> bool:
    until, seen = present.parse_time(entry.expires), present.parse_time(last_seen)
    if until is None or seen is None:
        return False
    if len(entry.expires) <= 10:  # a date covers its whole day
        until = until.replace(tzinfo=UTC) + timedelta(days=1)
    return seen >= until.astimezone(UTC) if isinstance(until, datetime) else False
