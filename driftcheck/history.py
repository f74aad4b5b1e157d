"""Deploy history of an app from Git: which first-parent commits changed what it renders, and how.

How an app's files are found. The app is its path at `revision`. At each commit the files it reads
are what its layout says there: the kustomization graph (resources, bases, components, patches,
generator inputs, ... also outside the app path) when the path holds a kustomization, the chart
directory for Helm, else the manifests of the directory (recursively with `recurse`). Walking back,
a file the app reads at a newer commit stays one of its files at older commits, followed through
renames as `git log --follow` does, even where that older layout did not read it; and when the
app's path itself does not exist in the parent commit, the rename that created it gives the old
path. So a workload keeps its history through moves such as `blog-system/web-deployment.yaml` →
`services/blog-system/web/web-rollout.yaml`, even at commits where the layout was half-migrated
(the corpus had web/ subdirectories for hours before their kustomization.yaml existed).

How it stays fast. One `git log --raw -M` over the first-parent chain gives every commit's changed
blobs; the tree is kept in memory and rewound commit by commit; only commits touching the app's
files are looked at, only their changed blobs are parsed (once per blob id), and the read set is
recomputed only when a commit adds, deletes or renames files near the app or edits a kustomization.
Kustomize is never run: objects are the raw source documents with the kustomizations' `namespace`,
`images:` and `replicas:` applied (see images.py); patches and other transformers are not applied,
so fields only they set are compared as the source documents have them.

A commit is an entry when the app's objects or kustomizations changed, or files it reads were
added, removed or renamed; edits that change only comments or formatting are not deploys. For a Helm
chart the files are the chart directory and its values files; its entries list files, not objects.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import posixpath
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import git

from driftcheck import images
from driftcheck.compare.canonical import is_empty, scalars_equal
from driftcheck.compare.mergekeys import find_item
from driftcheck.compare.pointer import ABSENT, parse_pointer
from driftcheck.model import (
    AppSpec,
    DeployEvent,
    DriftcheckError,
    Resource,
    ResourceKey,
    ResourceResult,
    RunError,
    utf8_text,
)
from driftcheck.source import kustomize
from driftcheck.source.kinds import key_of
from driftcheck.source.render import MANIFEST_SUFFIXES
from driftcheck.source.repo import parse_moment
from driftcheck.source.yamlload import load_manifests
from driftcheck.textsafe import for_terminal

if TYPE_CHECKING:
    from driftcheck.audit import AuditOptions

_SUBMODULE = "160000"
# Kustomization fields whose effect history computes; a change to any other one is render-only.
APPLIED_KUSTOMIZE_FIELDS = frozenset({"apiVersion", "kind", "metadata", "resources", "bases", "components",
                                      "namespace", "images", "replicas"})
REVERT_RE = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")


@dataclass(frozen=True)
class FileRole:
    """Why the app reads a file: its objects (`resource`), its build (`kustomization`) or an input (`aux`)."""

    kind: Literal["resource", "kustomization", "aux"]
    namespace: str = ""  # Kustomize `namespace:` that overrides the objects' own
    chain: tuple[str, ...] = ()  # kustomization files that include it, outermost first


@dataclass
class Snapshot:
    """The app's objects after a commit; the timeline of these is what live state is matched against."""

    commit: str
    date: str
    objects: dict[ResourceKey, dict[str, Any]]
    digest: str


@dataclass
class HistoryResult:
    events: list[DeployEvent] = field(default_factory=list)  # newest first, after --since/--until/--author
    errors: list[RunError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Unfiltered: the state after each deploy, newest first (the first is the state at the revision).
    timeline: list[Snapshot] = field(default_factory=list)
    found: bool = True  # False when the app's path never held anything the app reads


@dataclass(frozen=True)
class _Change:
    status: str  # A, D, M, T, R
    old: str | None
    new: str | None
    old_blob: str
    new_blob: str


@dataclass(frozen=True)
class _Commit:
    sha: str
    parents: list[str]
    author: str
    committer: str
    date: str
    message: str
    changes: list[_Change]


# A blob's documents (body, line), its parse errors and the digest of each document.
_Parsed = tuple[list[tuple[dict[str, Any], int]], list[RunError], tuple[str, ...]]


@dataclass
class _State:
    files: dict[str, str]  # path -> blob id, for every file the app reads
    objects: dict[ResourceKey, tuple[dict[str, Any], str]]  # key -> (effective body, file)
    digest: str
    broken: dict[str, RunError]  # file -> why it does not parse


def app_history(repo: git.Repo, app: AppSpec, revision: str = "HEAD", since: datetime | None = None,
                until: datetime | None = None, author: str | None = None,
                keep: set[ResourceKey] | None = None) -> HistoryResult:
    """Every deploy of `app` on the first-parent chain of `revision`, newest first.

    since/until (aware datetimes, on the committer date) and author (a case-insensitive substring of
    "name <email>") filter the events. The walk stops at the first commit older than `since`, as
    `git log --since` does, so its time is that of the window, not of the whole history: the timeline
    for matching live state then ends with the state in effect at the window's start (at that commit),
    and a live state older than that matches nothing. The timeline keeps the bodies of the objects in
    `keep` only (all when None; `match_live_commit` needs those it is asked about), so its memory does
    not grow with every version of every object.
    """
    if since and until and since > until:
        raise DriftcheckError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    with _Blobs(repo) as blobs:
        result = _Walker(repo, app, blobs, keep).run(revision, since)
    wanted = author.lower() if author else None
    result.events = [e for e in result.events
                     if (since is None or datetime.fromisoformat(e.date) >= since)
                     and (until is None or datetime.fromisoformat(e.date) <= until)
                     and (wanted is None or wanted in e.author.lower())]
    return result


class _Walker:
    """One pass over the first-parent chain, newest to oldest, keeping the tree and the app's files."""

    def __init__(self, repo: git.Repo, app: AppSpec, blobs: _Blobs,
                 keep: set[ResourceKey] | None = None) -> None:
        self.repo = repo
        self.app = app
        self.blobs = blobs
        self.keep = None if keep is None else {(k.group, k.kind, k.name) for k in keep}
        self.tree: dict[str, str] = {}
        self.parsed: dict[str, _Parsed] = {}
        self.object_cache: dict[tuple[Any, ...], list[tuple[ResourceKey, dict[str, Any]]]] = {}
        self.errors: list[RunError] = []

    def run(self, revision: str, since: datetime | None = None) -> HistoryResult:
        result = HistoryResult()
        try:
            tip_commit = self.repo.commit(revision)
        except (git.BadName, git.BadObject, ValueError):
            raise DriftcheckError(f"--revision {revision}: no such branch, tag or commit") from None
        tip = tip_commit.hexsha
        self.tree = dict(_ls_tree(self.repo.git_dir, tip))
        root = _norm(self.app.path)
        files, watched = self._read_set(root)
        watched |= set(files)
        state = self._state(files)
        revision_state = state
        shallow = _shallow_commits(self.repo)
        boundary: _Commit | None = None
        window: _Commit | None = None
        for commit in _first_parent_log(self.repo.git_dir, tip, frozenset(shallow)):
            if commit.sha in shallow:
                boundary = commit
                break
            if since is not None and datetime.fromisoformat(commit.date) < since:
                window = commit
                break
            by_new = {c.new: c for c in commit.changes if c.new}
            for change in commit.changes:  # rewind the tree to the parent
                if change.new:
                    self.tree.pop(change.new, None)
            for change in commit.changes:
                if change.old:
                    self.tree[change.old] = change.old_blob
            if self._structural(commit, files, watched):
                root = self._parent_root(root, commit)
                parent_files, watched = self._read_set(root)
                for path, role in files.items():
                    change = by_new.get(path)
                    if change is None or change.status in ("M", "T"):
                        parent_files.setdefault(path, role)
                    elif change.status == "R" and change.old:
                        parent_files.setdefault(change.old, role)
                watched |= set(parent_files)
            else:
                parent_files = files
            relevant = [c for c in commit.changes if c.new in files or c.old in parent_files]
            if relevant:
                parent_state = self._state(parent_files)
                layout = any(c.status not in ("M", "T") for c in relevant)
                if layout or parent_state.digest != state.digest:
                    roles = {**parent_files, **files}
                    result.events.append(self._event(commit, relevant, parent_state, state, roles))
                    result.timeline.append(self._snapshot(commit, state))
                state = parent_state
                self._forget(parent_files)
            files = parent_files
        if boundary is not None:
            result.notes.append(f"shallow clone: history stops at the shallow boundary, commit "
                                f"{boundary.sha[:12]} ({boundary.date}); earlier deploys are not in it")
            result.timeline.append(self._snapshot(boundary, state))
        elif window is not None:
            result.timeline.append(self._snapshot(window, state))  # the state the window starts with
        if not result.timeline:
            result.timeline.append(Snapshot(tip, tip_commit.committed_datetime.isoformat(),
                                            self._bodies(revision_state), revision_state.digest))
        if not revision_state.files and not result.events:
            result.found = False
            self.errors.append(RunError(f"path {self.app.path!r} has no manifests at {tip[:12]} nor "
                                        "anywhere in its history", app=self.app.name, stage="history"))
        _mark_restores(result)
        result.errors = self.errors
        return result

    def _snapshot(self, commit: _Commit, state: _State) -> Snapshot:
        return Snapshot(commit.sha, commit.date, self._bodies(state), state.digest)

    def _bodies(self, state: _State) -> dict[ResourceKey, dict[str, Any]]:
        """The state's objects the timeline keeps: those in `keep` (by group, kind and name)."""
        return {k: body for k, (body, _) in state.objects.items()
                if self.keep is None or (k.group, k.kind, k.name) in self.keep}

    def _forget(self, roles: dict[str, FileRole]) -> None:
        """Drop parsed blobs and objects the app no longer reads: only its current files stay cached, so
        memory follows one version of the app, not all of them (a blob read again is parsed again)."""
        current = {self.tree[p] for p in roles if p in self.tree}
        for blob in [b for b in self.parsed if b not in current]:
            del self.parsed[blob]
        for key in [k for k in self.object_cache if k[0] not in current]:
            del self.object_cache[key]

    # -- which files the app reads -------------------------------------------------------------

    def _read_set(self, root: str) -> tuple[dict[str, FileRole], set[str]]:
        """The files the app's layout reads in the current tree, and the paths whose change alters that.

        Kustomize inputs come from source.kustomize's static walk; a file's kustomizations (for
        namespace/images/replicas) are those whose own walk reaches it, outermost (widest) first.
        """
        view = _TreeView(self.tree, self.blobs)
        files: dict[str, FileRole] = {}
        if root in self.tree:
            files[root] = FileRole("resource")
        elif kustomize.kustomization_file(view, root):
            found = kustomize.inputs(view, root)
            kfiles = [f for f in found.files if posixpath.basename(f) in kustomize.KUSTOMIZATION_NAMES]
            reach = {k: set(kustomize.inputs(view, posixpath.dirname(k)).files) for k in kfiles}
            manifests = set(found.manifests)
            for path in found.files:
                chain = tuple(sorted((k for k in kfiles if path in reach[k]), key=lambda k: -len(reach[k])))
                namespaces = (str(self._kustomization(k).get("namespace") or "") for k in chain)
                namespace = next((ns for ns in namespaces if ns), "")
                kind = "kustomization" if path in reach else "resource" if path in manifests else "aux"
                files[path] = FileRole(kind, namespace, chain)
        elif posixpath.join(root, "Chart.yaml") in self.tree:
            files.update({p: FileRole("aux") for p in self._list(root, recurse=True)})
            for values in self.app.values_files:
                path = posixpath.normpath(posixpath.join(root, values))
                if path in self.tree:
                    files[path] = FileRole("aux")
        else:
            files.update({p: FileRole("resource") for p in self._list(root, self.app.recurse)
                          if p.endswith(MANIFEST_SUFFIXES)})
        return files, {root} | {posixpath.dirname(p) for p in files}

    def _list(self, root: str, recurse: bool) -> list[str]:
        prefix = f"{root}/" if root else ""
        return [p for p in self.tree if p.startswith(prefix) and (recurse or "/" not in p[len(prefix):])]

    def _structural(self, commit: _Commit, files: dict[str, FileRole], watched: set[str]) -> bool:
        """Whether the commit may change which files the app reads (else only their content changed)."""
        prefixes = tuple(f"{w}/" for w in watched if w) if "" not in watched else ("",)
        for change in commit.changes:
            if change.status in ("M", "T"):
                role = files.get(change.new or "")
                if role is not None and role.kind == "kustomization":
                    return True
                continue
            for path in (change.old, change.new):
                if path and (path in watched or path.startswith(prefixes)):
                    return True
        return False

    def _parent_root(self, root: str, commit: _Commit) -> str:
        """The app's path in the parent: the same, or where the commit's renames brought it from."""
        prefix = f"{root}/" if root else ""
        if root in self.tree or any(p.startswith(prefix) for p in self.tree):
            return root
        origins: Counter[str] = Counter()
        for change in commit.changes:
            if change.status == "R" and change.old and change.new and change.new.startswith(prefix):
                rest = change.new[len(prefix):]
                if change.old == rest:
                    origins[""] += 1
                elif change.old.endswith(f"/{rest}"):
                    origins[change.old[:-len(rest) - 1]] += 1
        return origins.most_common(1)[0][0] if origins else root

    # -- the app's objects in one state ---------------------------------------------------------

    def _parse(self, blob: str, path: str, data: bytes | None = None) -> _Parsed:
        """Documents, errors and per-document digests of a blob; parsed once per blob id."""
        cached = self.parsed.get(blob)
        if cached is None:
            docs, errs = load_manifests(self.blobs.read(blob) if data is None else data, path)
            digests = tuple(_digest(body) for body, _ in docs)
            if errs:
                digests += (f"unparseable:{blob}",)
            cached = (docs, errs, digests)
            self.parsed[blob] = cached
        return cached

    def _kustomization(self, path: str) -> dict[str, Any]:
        docs, _, _ = self._parse(self.tree[path], path)
        return docs[0][0] if docs else {}

    def _state(self, roles: dict[str, FileRole]) -> _State:
        files = {p: self.tree[p] for p in roles if p in self.tree}
        unread = {b: p for p, b in files.items() if roles[p].kind != "aux" and b not in self.parsed}
        for blob, data in self.blobs.read_many(list(unread)).items():  # one round trip for all
            self._parse(blob, unread[blob], data)
        objects: dict[ResourceKey, tuple[dict[str, Any], str]] = {}
        digests: list[str] = []
        broken: dict[str, RunError] = {}
        for path, blob in files.items():
            role = roles[path]
            if role.kind == "aux":
                digests.append(f"blob:{blob}")
                continue
            _, errs, doc_digests = self._parse(blob, path)
            digests.extend(doc_digests)
            if errs:
                broken[path] = errs[0]
            if role.kind == "resource":
                for key, body in self._objects(path, blob, role, files):
                    objects[key] = (body, path)
        digest = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()
        return _State(files, objects, digest, broken)

    def _objects(self, path: str, blob: str, role: FileRole,
                 files: dict[str, str]) -> list[tuple[ResourceKey, dict[str, Any]]]:
        """The objects of one resource file, as its kustomizations' namespace/images/replicas leave them."""
        chain_blobs = tuple(files.get(k, "") for k in role.chain)
        cache_key = (blob, role, chain_blobs)
        cached = self.object_cache.get(cache_key)
        if cached is None:
            kusts = [docs[0][0] for k, b in zip(role.chain, chain_blobs, strict=True)
                     if b and (docs := self._parse(b, k)[0])]
            cached = []
            for body, _ in self._parse(blob, path)[0]:
                if not body.get("apiVersion") or not body.get("kind"):
                    continue
                body = images.transform(body, kusts)
                key = key_of(body, role.namespace or self.app.namespace)
                if role.namespace and key.namespace:
                    key = ResourceKey(key.group, key.kind, role.namespace, key.name)
                cached.append((key, body))
            self.object_cache[cache_key] = cached
        return cached

    # -- one entry ------------------------------------------------------------------------------

    def _event(self, commit: _Commit, relevant: list[_Change], before: _State, after: _State,
               roles: dict[str, FileRole]) -> DeployEvent:
        event = DeployEvent(commit=commit.sha, date=commit.date, author=commit.author,
                            message=commit.message.split("\n", 1)[0], committer=commit.committer,
                            app=self.app.name)
        event.files = sorted(utf8_text(f"{c.old} → {c.new}" if c.status == "R" else str(c.new or c.old))
                             for c in relevant)
        renamed = {c.new: c.old for c in relevant if c.status == "R" and c.new}
        _describe_changes(event, before, after, renamed)
        broken = []
        for change in relevant:
            err = after.broken.get(change.new or "")
            if err is not None and change.new_blob == after.files.get(change.new or ""):
                broken.append(f"{change.new}:{err.line}")
        notes = [f"unparseable at this commit: {', '.join(broken)}"] if broken else []
        unseen = sorted({path for c in relevant for path in (c.old, c.new)
                         if path and self._render_only(path, roles.get(path), before, after)})
        if unseen:
            notes.append(f"changes only a render shows (patches, generators, charts; objects not compared): "
                         f"{', '.join(unseen)}")
        event.note = utf8_text("; ".join(notes))  # file names a report writes as UTF-8
        match = REVERT_RE.search(commit.message)
        if match:
            event.revert_of = self._full_sha(match.group(1))
        if len(commit.parents) > 1:
            event.merged = self._merged(commit, relevant)
        return event

    def _render_only(self, path: str, role: FileRole | None, before: _State, after: _State) -> bool:
        """A changed input whose effect on objects history does not compute (it applies no patches)."""
        if role is None or role.kind == "resource":
            return False
        if role.kind == "aux":
            return True
        return self._unapplied(before, path) != self._unapplied(after, path)

    def _unapplied(self, state: _State, path: str) -> dict[str, Any]:
        """The fields of a kustomization whose effect history does not compute."""
        docs = self._parse(state.files[path], path)[0] if path in state.files else []
        return {k: v for k, v in docs[0][0].items() if k not in APPLIED_KUSTOMIZE_FIELDS} if docs else {}

    def _full_sha(self, short: str) -> str:
        try:
            return self.repo.commit(short).hexsha
        except (git.BadName, git.BadObject, ValueError):
            return short

    def _merged(self, commit: _Commit, relevant: list[_Change]) -> list[str]:
        """Commits the merge brought in that touched the app's files."""
        paths = sorted({p for c in relevant for p in (c.old, c.new) if p})
        out = self.repo.git.rev_list(f"{commit.parents[0]}..{commit.sha}", "--", *paths)
        return [sha for sha in out.split() if sha != commit.sha]


def _describe_changes(event: DeployEvent, before: _State, after: _State,
                      renamed: dict[str, str | None]) -> None:
    """Resources, images and replicas that differ between the two states.

    An object removed and one added with the same namespace/name in the same (or a renamed) file is
    one object whose kind changed, e.g. a Deployment migrated to an Argo Rollout.
    """
    broken = set(before.broken) | set(after.broken)
    removed = {k: v for k, v in before.objects.items() if k not in after.objects}
    added = {k: v for k, v in after.objects.items() if k not in before.objects}
    pairs: list[tuple[ResourceKey | None, ResourceKey | None]] = [
        (k, k) for k, (body, _) in after.objects.items()
        if k in before.objects and before.objects[k][0] is not body]
    for new_key in sorted(added):
        new_file = added[new_key][1]
        old_key = next((k for k in sorted(removed)
                        if (k.namespace, k.name) == (new_key.namespace, new_key.name)
                        and removed[k][1] in (new_file, renamed.get(new_file))), None)
        if old_key is not None:
            del removed[old_key]
        pairs.append((old_key, new_key))
    pairs += [(k, None) for k in sorted(removed)]
    for old_key, new_key in sorted(pairs, key=lambda p: str(p[1] or p[0])):
        old = before.objects.get(old_key) if old_key else None
        new = after.objects.get(new_key) if new_key else None
        if (old and old[1] in broken) or (new and new[1] in broken):
            continue  # a file that does not parse on one side says nothing about its objects
        old_body, new_body = (old[0] if old else None), (new[0] if new else None)
        key = new_key or old_key
        assert key is not None
        fields = _changed_pointers(old_body, new_body)
        if not fields and old_key == new_key:
            continue
        entry: dict[str, Any] = {"group": key.group, "kind": key.kind, "namespace": key.namespace,
                                 "name": key.name, "change": "modified", "fields": fields}
        if old_key is None:
            entry.update(change="added", fields=[])
        elif new_key is None:
            entry.update(change="removed", fields=[])
        elif old_key.kind != new_key.kind or old_key.group != new_key.group:
            entry.update(change="kind-changed", from_kind=old_key.kind, from_group=old_key.group)
        event.resources.append(entry)
        old_images = images.container_images(old_body) if old_body else {}
        new_images = images.container_images(new_body) if new_body else {}
        for container in sorted(set(old_images) | set(new_images)):
            if old_images.get(container) != new_images.get(container):
                event.images.append({"resource": str(key), "container": container,
                                     "from": old_images.get(container, ""),
                                     "to": new_images.get(container, "")})
        old_replicas = images.replica_count(old_body) if old_body else None
        new_replicas = images.replica_count(new_body) if new_body else None
        if old_replicas != new_replicas:
            event.replicas.append({"resource": str(key), "from": old_replicas, "to": new_replicas})


def _mark_restores(result: HistoryResult) -> None:
    """A deploy whose result equals the state after an older deploy (not its own parent) restores it."""
    timeline = result.timeline
    positions: dict[str, list[int]] = {}
    for i, snapshot in enumerate(timeline):
        positions.setdefault(snapshot.digest, []).append(i)
    for i, event in enumerate(result.events):
        if i + 1 >= len(timeline) or timeline[i].digest == timeline[i + 1].digest:
            continue
        same = positions[timeline[i].digest]
        at = bisect.bisect_left(same, i + 2)
        if at < len(same):
            event.restores = timeline[same[at]].commit


# -- live state matched to history --------------------------------------------------------------


def match_live_commit(history: HistoryResult, result: ResourceResult,
                      live: Resource) -> dict[str, Any] | None:
    """The newest deploy whose desired object equals the live one on every drifted field.

    Paths are the FieldDiffs' JSON pointers into the desired body at the revision. List items are
    followed by their merge key (compare.mergekeys: containers by name, ports by port and protocol,
    ...) into older commits and into the live object, so a reordered list does not break the match;
    scalars compare as compare does (quantities, int-or-string). Returns {commit, date, behind},
    behind counting the app's deploys after that commit, or None when Git never had those values.
    """
    if not result.diffs or not history.timeline:
        return None
    key = result.key
    current = _object_in(history.timeline[0], key)
    wanted = [(segments, _follow(current, segments, live.body, key)) for segments in
              (parse_pointer(d.path) for d in result.diffs)]
    for behind, snapshot in enumerate(history.timeline):
        body = _object_in(snapshot, key)
        if body is not None and all(_same(_follow(current, segments, body, key), value, segments)
                                    for segments, value in wanted):
            return {"commit": snapshot.commit, "date": snapshot.date, "behind": behind}
    return None


def _object_in(snapshot: Snapshot, key: ResourceKey) -> dict[str, Any] | None:
    body = snapshot.objects.get(key)
    if body is None:  # keyed cluster-scoped by the audit, or namespaced by us: match without namespace
        same = [b for k, b in snapshot.objects.items()
                if (k.group, k.kind, k.name) == (key.group, key.kind, key.name)]
        body = same[0] if len(same) == 1 else None
    return body


def _follow(reference: Any, segments: tuple[str, ...], target: Any, key: ResourceKey) -> Any:
    """The value in target at the pointer segments meant in reference (list items by merge key), or ABSENT."""
    names: tuple[str, ...] = ()
    for segment in segments:
        if isinstance(target, dict):
            reference = reference.get(segment, ABSENT) if isinstance(reference, dict) else ABSENT
            target = target.get(segment, ABSENT)
            names += (segment,)
        elif isinstance(target, list) and segment.isdigit():
            position = int(segment)
            known = isinstance(reference, list) and position < len(reference)
            like = reference[position] if known else ABSENT
            index = find_item(names, key.group, key.kind, target, like, position) if known else position
            if index is None or index >= len(target):
                return ABSENT
            reference, target = like, target[index]
        else:
            return ABSENT
    return target


def _same(a: Any, b: Any, segments: tuple[str, ...]) -> bool:
    if is_empty(a) and is_empty(b):
        return True
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return bool(a == b)
    names = tuple(s for s in segments if not s.isdigit())
    return scalars_equal(a, b, names)


class _Blobs:
    """Blob contents through one `git cat-file --batch` process, many blobs per round trip."""

    def __init__(self, repo: git.Repo) -> None:
        self.proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo.git_dir, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)

    def __enter__(self) -> _Blobs:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()

    def read(self, sha: str) -> bytes:
        return self.read_many([sha])[sha]

    def read_many(self, shas: list[str]) -> dict[str, bytes]:
        """Requests go out in chunks small enough for the pipe, so neither side waits on the other."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        out: dict[str, bytes] = {}
        for start in range(0, len(shas), 500):
            chunk = shas[start:start + 500]
            self.proc.stdin.write("".join(f"{sha}\n" for sha in chunk).encode())
            self.proc.stdin.flush()
            for sha in chunk:
                header = self.proc.stdout.readline().split()
                if len(header) != 3:
                    raise DriftcheckError(f"blob {sha} is missing from the repository")
                out[sha] = self.proc.stdout.read(int(header[2]))
                self.proc.stdout.read(1)  # the newline after the content
        return out


class _TreeView:
    """The rewound in-memory tree seen through CommitTree's reading interface, for source.kustomize."""

    def __init__(self, tree: dict[str, str], blobs: _Blobs) -> None:
        self.tree = tree
        self.blobs = blobs
        self._dirs: set[str] | None = None

    def exists(self, path: str) -> bool:
        return _norm(path) in self.tree or self.is_dir(path)

    def is_dir(self, path: str) -> bool:
        if self._dirs is None:
            self._dirs = {""}
            for file in self.tree:
                cut = file.rfind("/")
                while cut > 0 and file[:cut] not in self._dirs:
                    self._dirs.add(file[:cut])
                    cut = file.rfind("/", 0, cut)
        return _norm(path) in self._dirs

    def read(self, path: str) -> bytes:
        blob = self.tree.get(_norm(path))
        if blob is None:
            raise DriftcheckError(f"{path}: no such file")
        return self.blobs.read(blob)


# -- helpers ------------------------------------------------------------------------------------


def parse_since(text: str, reference: str | datetime, flag: str = "--history-since") -> datetime:
    """`90d`, `12w`, `36h` before reference (an ISO date-time), or a date/moment; a bare date is its start."""
    ref = datetime.fromisoformat(reference) if isinstance(reference, str) else reference
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text)
    if match:
        unit = {"h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        return ref - timedelta(**{unit: int(match.group(1))})
    moment = _moment(text, flag)
    if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text):
        return moment - timedelta(hours=23, minutes=59, seconds=59)
    return moment


def _moment(text: str, flag: str) -> datetime:
    try:
        return parse_moment(text)
    except DriftcheckError:
        raise DriftcheckError(f"{flag} {text!r}: not a date, a moment or an age "
                              "(e.g. 2026-01-19, 2026-01-20T16:30:00+09:00, 90d)") from None


def histories(options: AuditOptions, since: str | None = None, until: str | None = None,
              author: str | None = None) -> list[tuple[AppSpec, HistoryResult]]:
    """The `history` command: each chosen app's deploys on the first-parent chain of --revision/--at.

    --since takes an age (90d, before now), a date (from its start) or a moment; --until a date
    (to its end) or a moment.
    """
    from driftcheck.source.apps import discover_apps
    from driftcheck.source.repo import open_repo, resolve_commit
    from driftcheck.source.tree import CommitTree

    start = parse_since(since, datetime.now(UTC), "--since") if since else None
    end = _moment(until, "--until") if until else None
    if start and end and start > end:
        raise DriftcheckError(f"--since {since} is after --until {until}")
    repo = open_repo(options.repo, require_fresh=options.require_fresh, token_file=options.git_token_file)
    commit = resolve_commit(repo, options.revision, options.at)
    apps = discover_apps(CommitTree(repo, commit), options).apps
    # the text forms show events only: the timeline keeps no bodies
    found = [(app, app_history(repo, app, commit.hexsha, start, end, author, keep=set())) for app in apps]
    missing = [str(error) for _, result in found if not result.found for error in result.errors]
    if missing:
        raise DriftcheckError("; ".join(missing))
    return found


@functools.lru_cache(maxsize=4)
def _ls_tree(git_dir: str, commit: str) -> dict[str, str]:
    """Path -> blob id of every file at commit (cached: every app of a run starts from the same tree)."""
    out = subprocess.run(["git", "ls-tree", "-r", "-z", "--full-tree", commit], cwd=git_dir,
                         capture_output=True, check=True).stdout
    tree = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            _mode, kind, sha = meta.split()
            if kind == b"blob":
                tree[path.decode("utf-8", "surrogateescape")] = sha.decode()
    return tree


@functools.lru_cache(maxsize=4)
def _first_parent_log(git_dir: str, tip: str, shallow: frozenset[str]) -> tuple[_Commit, ...]:
    """Every first-parent commit with its diff against its first parent (renames detected), newest first.

    Cached per tip (and shallow boundary): every app of a run walks the same chain.
    """
    return tuple(_parse_log(git_dir, tip))


def _parse_log(git_dir: str, tip: str) -> Iterator[_Commit]:
    fmt = "%x01%H%x00%P%x00%an <%ae>%x00%cn <%ce>%x00%cI%x00%B%x00"
    proc = subprocess.Popen(["git", "log", "--first-parent", "--diff-merges=first-parent", "--root", "-M",
                             "--raw", "--no-abbrev", "-z",
                             f"--format={fmt}", tip], cwd=git_dir, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    data = proc.stdout.read()
    proc.wait()
    for chunk in data.split(b"\x01")[1:]:
        tokens = chunk.decode("utf-8", "surrogateescape").split("\0")
        sha, parents, author, committer, date, message = tokens[:6]
        changes: list[_Change] = []
        rest = iter(tokens[6:])
        for token in rest:
            token = token.lstrip("\n")
            if not token.startswith(":"):
                continue
            old_mode, new_mode, old_blob, new_blob, status = token[1:].split(" ")
            kind = status[0]
            first = next(rest)
            second = next(rest) if kind in ("R", "C") else ""
            if _SUBMODULE in (old_mode, new_mode):
                continue  # another repository's commit, not a file of this one
            if kind in ("R", "C"):
                changes.append(_Change("R" if kind == "R" else "A", first if kind == "R" else None, second,
                                       old_blob, new_blob))
            elif kind == "A":
                changes.append(_Change("A", None, first, old_blob, new_blob))
            elif kind == "D":
                changes.append(_Change("D", first, None, old_blob, new_blob))
            else:
                changes.append(_Change(kind, first, first, old_blob, new_blob))
        yield _Commit(sha, parents.split(), author, committer, date, message.strip(), changes)


def _shallow_commits(repo: git.Repo) -> set[str]:
    path = Path(repo.git_dir) / "shallow"
    return set(path.read_text().split()) if path.exists() else set()


def _norm(path: str) -> str:
    path = posixpath.normpath(path.strip().strip("/")) if path.strip().strip("/") else ""
    return "" if path == "." else path


def _digest(body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _changed_pointers(old: Any, new: Any, prefix: str = "") -> list[str]:
    """JSON pointers of what differs; an added or removed subtree is reported at its root."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key) or (key in old) != (key in new):
                token = str(key).replace("~", "~0").replace("/", "~1")
                out += _changed_pointers(old.get(key), new.get(key), f"{prefix}/{token}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [prefix]
        return [p for i, (a, b) in enumerate(zip(old, new, strict=True))
                for p in _changed_pointers(a, b, f"{prefix}/{i}")]
    return [] if old == new else [prefix or "/"]


# -- text forms of a history ---------------------------------------------------------------------


def format_histories(found: list[tuple[AppSpec, HistoryResult]], fmt: str) -> str:
    """Histories as `table` (terminal), `md` (Markdown) or `json` ({apps: [{app, path, events, ...}]})."""
    if fmt == "json":
        apps = [{"app": app.name, "path": app.path, "events": [asdict(e) for e in r.events], "notes": r.notes,
                 "errors": [asdict(e) for e in r.errors]} for app, r in found]
        return json.dumps({"apps": apps}, indent=2, ensure_ascii=False)
    from driftcheck.report.markdown import code as markdown_code
    from driftcheck.report.markdown import text as markdown_text

    md = fmt == "md"
    # Commit messages, authors and paths are anyone's text: escaped for Markdown (no HTML, no links)
    # or for the terminal (no control character reaches it raw).
    safe = markdown_text if md else for_terminal
    lines: list[str] = []
    for app, result in found:
        title = f"{safe(app.name)} ({safe(app.path)})"
        lines.append(f"## {title}" if md else f"app {title}")
        if md and result.events:
            lines += ["", "| date | commit | author | change |", "|---|---|---|---|"]
        for event in result.events:
            details = _details(event)
            if md:
                cell = "<br>".join(safe(d) for d in [event.message, *details])
                commit = markdown_code(event.commit[:12])
                lines.append(f"| {safe(event.date)} | {commit} | {safe(event.author)} | {cell} |")
            else:
                lines.append(f"  {safe(event.date)}  {safe(event.commit[:12])}  {safe(event.author)}  "
                             f"{safe(event.message)}")
                lines += [f"      {safe(d)}" for d in details]
        if not result.events:
            lines.append("no deploys in the chosen range")
        lines += [("- " if md else "  ") + f"note: {safe(n)}" for n in result.notes]
        lines += [("- " if md else "  ") + f"error: {safe(str(e))}" for e in result.errors]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _details(event: DeployEvent) -> list[str]:
    out = [f"image {i['resource']} {i['container']}: {i['from'] or '(none)'} → {i['to'] or '(none)'}"
           for i in event.images]
    out += [f"replicas {r['resource']}: {r['from']} → {r['to']}" for r in event.replicas]
    for r in event.resources:
        name = "/".join(p for p in (r["namespace"], r["name"]) if p)
        if r["change"] == "kind-changed":
            out.append(f"kind {r['from_kind']} → {r['kind']}: {name}")
        elif r["change"] != "modified":
            out.append(f"{r['change']} {r['kind']}/{name}")
        elif not all(f.endswith("/image") or f == "/spec/replicas" for f in r["fields"]):  # else shown above
            out.append(f"modified {r['kind']}/{name}: {', '.join(r['fields'][:6])}"
                       + (" ..." if len(r["fields"]) > 6 else ""))
    shown = ", ".join(event.files[:3]) + (f" (+{len(event.files) - 3} more)" if len(event.files) > 3 else "")
    out.append(f"files: {shown}")
    if event.revert_of:
        out.append(f"reverts {event.revert_of[:12]}")
    if event.restores:
        out.append(f"restores the state of {event.restores[:12]} (rollback)")
    if event.merged:
        out.append(f"merges {', '.join(s[:12] for s in event.merged)}")
    if event.note:
        out.append(event.note)
    return out

