"""`verify --archive`: what a report archive's signed chain says happened, per cluster.

Findings, each named once: an edited report (a subject's digest differs), a deleted report (attested but
absent after reports still present: --keep prunes the oldest only), a bad signature, a gap (seqs missing:
a deleted run), a broken link (previous digest wrong), a fork (two runs claim one seq; the one the chain
does not continue from is named), a missed schedule slot (no run, no seq consumed), and a force-push of
the audited branch between two runs (with a repository). Tail truncation needs an outside anchor.
"""

from __future__ import annotations

import itertools
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from driftcheck.evidence import bundle, chain, schedule, statement
from driftcheck.report import archive, present


@dataclass(frozen=True)
class Finding:
    kind: str  # modified, deleted, invalid, unsigned, gap, broken-link, fork, missed, force-push, unreadable
    seq: int | None
    run: str
    message: str


@dataclass
class ClusterVerdict:
    cluster: str
    links: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    pruned: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Link:
    seq: int
    run: str
    digest: str
    previous: dict[str, Any] | None
    generated_at: datetime | None
    commit: str
    read: bundle.Bundle


def verify_archive(out: Path, public: ec.EllipticCurvePublicKey | None, cron: str | None = None,
                   repo: Path | None = None) -> list[ClusterVerdict]:
    return [_cluster(out, name, public, cron, repo) for name in archive.clusters(out)]


def _cluster(out: Path, name: str, public: ec.EllipticCurvePublicKey | None, cron: str | None,
             repo: Path | None) -> ClusterVerdict:
    verdict = ClusterVerdict(name)
    found = verdict.findings.append
    now = datetime.now(UTC).strftime(archive.STAMP_FORMAT)
    run_dirs = {p.name: p for p in archive.run_paths(out, name, now, lambda m: verdict.notes.append(m))}
    candidates = sorted((out / name / chain.CHAIN_DIR).glob("*.sigstore.json"))
    candidates += [p / bundle.FILE_NAME for p in run_dirs.values() if (p / bundle.FILE_NAME).is_file()]
    links: dict[str, _Link] = {}
    for path in candidates:
        link = _read(path, public, found)
        if link is not None:
            links.setdefault(link.digest, link)
    if public is None:
        verdict.notes.append("signatures not checked: give --key to check them")
    for run, path in sorted(run_dirs.items()):
        if not (path / bundle.FILE_NAME).is_file() and links:
            found(Finding("unsigned", None, run, f"{run} UNSIGNED: a run directory without a bundle"))
    by_seq: dict[int, list[_Link]] = defaultdict(list)
    for link in links.values():
        by_seq[link.seq].append(link)
    main = _main_chain(by_seq, found)
    verdict.links = len(links)
    if main:
        verdict.first_seq, verdict.last_seq = main[0].seq, main[-1].seq
    _subjects(main, run_dirs, verdict)
    _links(main, found)
    if cron:
        _slots(cron, main, found)
    if repo is not None:
        _ancestry(repo, main, found)
    verdict.findings.sort(key=lambda f: (f.seq if f.seq is not None else 0, f.kind))
    return verdict


def _read(path: Path, public: ec.EllipticCurvePublicKey | None, found: Any) -> _Link | None:
    try:
        read = bundle.parse(path.read_bytes())
    except (OSError, ValueError) as exc:
        found(Finding("unreadable", None, path.parent.name, f"{path} UNREADABLE: {exc}"))
        return None
    link, predicate = chain.link_of(read), read.statement.predicate
    run = str((predicate.get("run") or {}).get("name", ""))
    if not link:
        found(Finding("unreadable", None, run, f"{path} UNREADABLE: its statement has no chain link"))
        return None
    if public is not None and not bundle.signature_ok(read, public):
        found(Finding("invalid", link["seq"], run,
                      f"seq {link['seq']} ({run}) INVALID SIGNATURE: {path} does not verify with the key"))
        return None
    previous = link.get("previous")
    moment = present.parse_time(str((predicate.get("report") or {}).get("generatedAt")))
    commit = str((predicate.get("source") or {}).get("commit") or "")
    return _Link(link["seq"], run, read.body_sha256, previous if isinstance(previous, dict) else None,
                 moment, commit, read)


def _main_chain(by_seq: dict[int, list[_Link]], found: Any) -> list[_Link]:
    """One link per seq: where two claim it, the one the next link names; the other is the fork."""
    main = []
    for seq in sorted(by_seq):
        claims = sorted(by_seq[seq], key=lambda link: link.run)
        if len(claims) > 1:
            named = {str((n.previous or {}).get("statementSha256")) for n in by_seq.get(seq + 1, [])}
            kept = [c for c in claims if c.digest in named][:1] or claims[:1]
            for other in claims:
                if other is not kept[0]:
                    found(Finding("fork", seq, other.run,
                                  f"FORK at seq {seq}: {other.run} claims the seq of {kept[0].run}, "
                                  "and the chain does not continue from it"))
            claims = kept
        main.append(claims[0])
    return main


def _subjects(main: list[_Link], run_dirs: dict[str, Path], verdict: ClusterVerdict) -> None:
    present_seqs = [link.seq for link in main if link.run in run_dirs]
    oldest_present = min(present_seqs, default=None)
    for link in main:
        directory = run_dirs.get(link.run)
        if directory is None:
            if oldest_present is not None and link.seq > oldest_present:
                verdict.findings.append(Finding("deleted", link.seq, link.run, (
                    f"seq {link.seq} ({link.run}) REPORT DELETED: attested, absent, and newer reports are "
                    "kept (--keep prunes only the oldest)")))
            else:
                verdict.pruned += 1
            continue
        changed = []
        for name, digest in sorted(link.read.statement.subjects.items()):
            path = directory / name
            if not path.is_file() or path.is_symlink():
                changed.append(f"{name} (absent)")
            elif statement.file_sha256(path) != digest:
                changed.append(name)
        if changed:
            verdict.findings.append(Finding("modified", link.seq, link.run,
                                            f"seq {link.seq} ({link.run}) MODIFIED: {', '.join(changed)}"))


def _links(main: list[_Link], found: Any) -> None:
    if main and main[0].seq != 1:
        found(Finding("gap", main[0].seq, main[0].run,
                      f"GAP before seq {main[0].seq}: seq 1-{main[0].seq - 1} missing"))
    for before, after in itertools.pairwise(main):
        if after.seq > before.seq + 1:
            missing = (f"seq {before.seq + 1}" if after.seq == before.seq + 2
                       else f"seq {before.seq + 1}-{after.seq - 1}")
            found(Finding("gap", before.seq + 1, after.run,
                          f"GAP after seq {before.seq} ({before.run}): {missing} missing (a deleted run)"))
        elif (after.previous or {}).get("statementSha256") != before.digest:
            found(Finding("broken-link", after.seq, after.run,
                          f"seq {after.seq} ({after.run}) BROKEN LINK: its previous digest is not seq "
                          f"{before.seq}'s statement"))
        elif before.generated_at and after.generated_at and after.generated_at <= before.generated_at:
            found(Finding("broken-link", after.seq, after.run,
                          f"seq {after.seq} ({after.run}) OUT OF ORDER: not later than seq {before.seq}"))


def _slots(cron: str, main: list[_Link], found: Any) -> None:
    """Each schedule slot between the first and the last run needs a run before the next slot; slots
    inside a seq gap are the gap's (a deleted run), not a missed one."""
    timed = [(link.generated_at, link.seq) for link in main if link.generated_at is not None]
    for start, end in schedule.empty_slots(cron, [moment for moment, _ in timed]):
        before = [seq for moment, seq in timed if moment < start]
        after = [seq for moment, seq in timed if moment >= end]
        if before and after and after[0] > before[-1] + 1:
            continue
        found(Finding("missed", None, start.strftime(archive.STAMP_FORMAT),
                      f"MISSED run at {start.isoformat()} (no run recorded before {end.isoformat()})"))


def _ancestry(repo: Path, main: list[_Link], found: Any) -> None:
    for before, after in itertools.pairwise(main):
        if not before.commit or not after.commit or before.commit == after.commit:
            continue
        done = subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", "--", before.commit,
                               after.commit], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            continue
        why = ("is not an ancestor of" if done.returncode == 1 else "cannot be compared with (unknown to "
               f"{repo}: rewritten away?)")
        found(Finding("force-push", after.seq, after.run,
                      f"FORCE-PUSH between seq {before.seq} and {after.seq}: commit {before.commit[:12]} "
                      f"{why} {after.commit[:12]}"))
