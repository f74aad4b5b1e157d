"""Other Git repositories an Application names: each cloned once into the cache, fetched once per run.

A repository is one bare clone under `<cache>/repos/`, keyed as ArgoCD keys its checkouts (the URL after
`NormalizeGitURL`, taken after mirrors rewrote it), and guarded by a cross-process lock so overlapping runs
never fetch into it together. A `targetRevision` resolves as ArgoCD's `lsRemote` does: a commit SHA, a
branch (before a tag of the same name), a tag, `HEAD`/empty, or a semver constraint over the tags (the
highest match, optionally within `tagPrefix`). `at` moves to the last first-parent commit at or before
the moment; a constraint then only considers tags whose commit existed by then. Credentials come from the
repository-credentials file and reach git only through `GitEnv`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import git

from driftcheck.fetch import semver
from driftcheck.fetch.cache import Cache
from driftcheck.fetch.charts import mirrored
from driftcheck.fetch.credentials import GitEnv, split_credentials
from driftcheck.fetch.git import REMOTE_TIMEOUT, clone_bare, fetch_clone, opened, resolve_commit
from driftcheck.fetch.repo_credentials import RepoCredentials, normalize_git_url
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import DriftcheckError
from driftcheck.scrub import mask_url
from driftcheck.textsafe import shown

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHORT_SHA = re.compile(r"[0-9a-f]{7,63}")


class RemoteGitError(DriftcheckError):
    """A repository that cannot be had or a revision it does not have; the message names the URL."""


class GitRepositories:
    """The other repositories of one run. `clones` and `fetches` count network operations done."""

    def __init__(self, cache_root: Path, credentials: RepoCredentials, *, offline: bool,
                 timeout: float = REMOTE_TIMEOUT, mirrors: Mapping[str, str] | None = None) -> None:
        self.cache = Cache(cache_root)
        self.repos_dir = cache_root / "repos"
        self.credentials = credentials
        self.offline = offline
        self.timeout = timeout
        self.mirrors = dict(mirrors or {})
        self.clones = 0
        self.fetches = 0
        self._repos: dict[str, git.Repo | RemoteGitError] = {}
        self._trees: dict[tuple[str, str, datetime | None, str], CommitTree | RemoteGitError] = {}

    def tree(self, url: str, revision: str, at: datetime | None = None, *, prefix: str = "") -> CommitTree:
        """The files of url at revision (and at the moment, if given); RemoteGitError naming the URL."""
        key = (url, revision, at, prefix)
        if key not in self._trees:
            try:
                self._trees[key] = self._tree(url, revision, at, prefix)
            except RemoteGitError as e:
                self._trees[key] = e
        found = self._trees[key]
        if isinstance(found, RemoteGitError):
            raise found
        return found

    def _tree(self, url: str, revision: str, at: datetime | None, prefix: str) -> CommitTree:
        target = mirrored(url, self.mirrors)
        repo = self._repository(target)
        commit = self._commit(repo, target, revision or "HEAD", at, prefix)
        if at is not None:
            try:
                commit = resolve_commit(repo, commit.hexsha, at)
            except DriftcheckError as e:
                raise RemoteGitError(f"{mask_url(target)} at {shown(revision)}: {e}") from None
        return CommitTree(repo, commit)

    def _repository(self, url: str) -> git.Repo:
        """The clone of url, made or fetched by the first call of this run and reused after."""
        clean, _, _ = split_credentials(url)
        key = normalize_git_url(clean) or clean
        if key not in self._repos:
            try:
                dest = self.repos_dir / hashlib.sha256(key.encode()).hexdigest()
                self._repos[key] = self._update(url, dest)
            except RemoteGitError as e:
                self._repos[key] = e
        found = self._repos[key]
        if isinstance(found, RemoteGitError):
            raise found
        return found

    def _update(self, url: str, dest: Path) -> git.Repo:
        if self.offline:
            if not (dest / "HEAD").exists():
                raise RemoteGitError(f"{mask_url(url)}: not in the cache ({dest}) and --offline is set")
            return opened(dest)
        with self.cache.lock(f"git {dest.name}"), self._env(url) as env:
            clean = split_credentials(url)[0]
            try:
                if (dest / "HEAD").exists():
                    fetch_clone(dest, clean, env, self.timeout)
                    self.fetches += 1
                else:
                    clone_bare(clean, dest, env, self.timeout)
                    self.clones += 1
            except DriftcheckError as e:
                raise RemoteGitError(str(e)) from None
        return opened(dest)

    def _env(self, url: str) -> GitEnv:
        """Username and password for url: the credentials file's, else the URL's own; never the run's token
        for the audited repository ($DRIFTCHECK_GIT_TOKEN), which belongs to another host."""
        clean, username, password = split_credentials(url)
        credential = self.credentials.for_url(clean, "git")
        if credential is not None and (credential.username or credential.password):
            username, password = credential.username, credential.password
        return GitEnv(password or "", None, None, username or None)

    def _commit(self, repo: git.Repo, url: str, revision: str, at: datetime | None,
                prefix: str) -> git.Commit:
        if _FULL_SHA.fullmatch(revision):
            return self._sha(repo, url, revision)
        ref = self._ref(repo, url, revision, at, prefix)
        if ref is None and _SHORT_SHA.fullmatch(revision):
            ref = revision  # a truncated SHA
        commit = _existing(repo, ref) if ref is not None else None
        if commit is not None:
            return commit
        raise RemoteGitError(f"{mask_url(url)}: revision {shown(revision)}: no such branch, tag or commit")

    def _ref(self, repo: git.Repo, url: str, revision: str, at: datetime | None, prefix: str) -> str | None:
        """The full ref name revision means, branches before tags as in ArgoCD's ls-remote order."""
        if semver.is_constraint(revision):
            return f"refs/tags/{self._highest_tag(repo, url, revision, at, prefix)}"
        if prefix and semver.is_version(revision):
            revision = prefix + revision  # an exact version is a pin on the prefixed tag
        names = {ref.path for ref in repo.refs}
        for candidate in (revision, f"refs/heads/{revision}", f"refs/tags/{revision}"):
            if candidate in names:
                return candidate
        return "HEAD" if revision == "HEAD" else None

    def _highest_tag(self, repo: git.Repo, url: str, constraint: str, at: datetime | None,
                     prefix: str) -> str:
        tags = [tag for tag in repo.tags if at is None or _existed(tag, at)]
        try:
            found = semver.best_match(constraint, [tag.name for tag in tags], prefix=prefix)
        except semver.SemverError as e:
            raise RemoteGitError(f"{mask_url(url)}: revision {shown(constraint)}: {e}") from None
        if found is None:
            scope = f" with prefix {shown(prefix)}" if prefix else ""
            when = f" by {at.isoformat()}" if at is not None else ""
            raise RemoteGitError(f"{mask_url(url)}: no tag{scope} matches the constraint {shown(constraint)}"
                                 f"{when} ({len(tags)} tags)")
        return found

    def _sha(self, repo: git.Repo, url: str, sha: str) -> git.Commit:
        """A full commit SHA; one the branches and tags do not reach is fetched by itself, as ArgoCD does."""
        commit = _existing(repo, sha)
        if commit is None and not self.offline:
            dest = Path(repo.git_dir)
            with self.cache.lock(f"git {dest.name}"), self._env(url) as env:
                try:
                    fetch_clone(dest, split_credentials(url)[0], env, self.timeout,
                                f"+{sha}:refs/driftcheck/{sha}")
                    self.fetches += 1
                    commit = _existing(repo, sha)
                except DriftcheckError:
                    pass
        if commit is None:
            raise RemoteGitError(f"{mask_url(url)}: revision {sha}: no such commit")
        return commit


def _existing(repo: git.Repo, revision: str) -> git.Commit | None:
    """The commit revision names, or None; GitPython hands out a missing full SHA lazily, so read it."""
    try:
        commit = repo.commit(revision)
        commit.committed_date  # noqa: B018 -- loads the object
    except (git.BadName, git.BadObject, ValueError):
        return None
    return commit


def _existed(tag: git.TagReference, at: datetime) -> bool:
    """Whether the tag could have been seen at the moment: its commit (and tag object) dated by then."""
    try:
        commit = tag.commit
    except ValueError:
        return False  # a tag of a tree or blob
    tag_object = tag.tag
    dated = tag_object.tagged_date if tag_object is not None else commit.committed_date
    return max(dated, commit.committed_date) <= at.timestamp()
