"""Opening the Git repository (local path or remote URL) and resolving --revision / --at to a commit.

Remote repositories are cloned bare into a cache directory and fetched on reuse. Credentials reach
git only through its environment (`credentials.GitEnv`), never through argv, URLs, logs or error
messages.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import signal
import subprocess
import tempfile
import time
import weakref
from datetime import datetime, timedelta
from pathlib import Path

import git

from driftcheck.fetch.credentials import GitEnv, split_credentials
from driftcheck.fetch.gitobjects import GIT_OPTIONS, shallow_boundary
from driftcheck.fetch.moments import parse_moment
from driftcheck.model import DriftcheckError
from driftcheck.scrub import mask_url
from driftcheck.textsafe import for_terminal, shown

log = logging.getLogger(__name__)

REMOTE_TIMEOUT = 60.0  # seconds for one clone or fetch
# Clone and fetch check every object as `git fsck` does (a tree entry `..` or `.git`, duplicate entries,
# hostile .gitmodules are refused before they reach the cache). The ignored checks are commit and tree
# formatting quirks of old tools that long-lived legitimate repositories still carry.
_FETCH_CHECKS = tuple(arg for option in (
    "fetch.fsckObjects=true", *(f"fetch.fsck.{check}=ignore" for check in (
        "zeroPaddedFilemode", "badFilemode", "badTimezone", "badDate", "badDateOverflow", "zeroPaddedDate",
        "missingSpaceBeforeDate", "missingEmail", "badEmail", "missingNameBeforeEmail",
        "missingSpaceBeforeEmail", "missingTaggerEntry", "badTagName", "extraHeaderEntry")))
    for arg in ("-c", option))
_FSCK_LINE = re.compile(r"^error: object ([0-9a-f]{7,64}): (\w+): (.*)$")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")


def is_remote(spec: str) -> bool:
    """URLs (https://, ssh://, file://, ...) and scp-like user@host:path are remote; the rest are paths."""
    return "://" in spec or bool(_SCP_LIKE.match(spec))


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftcheck" / "repos"


def open_repo(spec: str, cache_dir: Path | None = None, require_fresh: bool = False,
              token: str | None = None, ssh_key: str | None = None, known_hosts: str | None = None,
              timeout: float = REMOTE_TIMEOUT, token_file: Path | None = None) -> git.Repo:
    """A local work tree or bare repository, or a remote URL cloned (bare) into the cache and fetched.

    token (or the content of token_file) defaults to $DRIFTCHECK_GIT_TOKEN (HTTPS); ssh_key and
    known_hosts to $DRIFTCHECK_SSH_KEY and $DRIFTCHECK_SSH_KNOWN_HOSTS. A failed fetch falls back
    to the cached clone with a warning that states its age, unless require_fresh.
    """
    if token_file is not None and token is None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise DriftcheckError(f"--git-token-file {token_file}: cannot read: "
                                  f"{getattr(e, 'strerror', None) or e}") from None
    if not is_remote(spec):
        path = Path(spec).expanduser()
        if not path.exists():
            raise DriftcheckError(f"--repo {shown(spec)}: no such directory")
        try:
            return _opened(git.Repo(path))
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise DriftcheckError(f"--repo {shown(spec)}: not a Git repository") from None
    url, username, password = split_credentials(spec)
    dest = (cache_dir or default_cache_dir()) / hashlib.sha256(url.encode()).hexdigest()
    with GitEnv(token or password, ssh_key, known_hosts, username) as env:
        if (dest / "HEAD").exists():
            try:
                fetch_clone(dest, url, env, timeout)
            except DriftcheckError as e:
                if require_fresh:
                    raise
                log.warning("%s; using the cached clone, last fetched %s ago", e, _age(dest))
        else:
            clone_bare(url, dest, env, timeout)
    return _opened(git.Repo(dest))


def fetch_clone(dest: Path, url: str, env: dict[str, str], timeout: float, *refspecs: str) -> None:
    """Bring the cached bare clone at dest up to url's branches and tags (or only refspecs), checked."""
    refspecs = refspecs or ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
    _run_git(["fetch", "--prune", "--quiet", "--force", url, *refspecs], dest, env, timeout, url)
    (dest / "driftcheck-fetched").touch()


def clone_bare(url: str, dest: Path, env: dict[str, str], timeout: float) -> None:
    """A checked bare clone of url at dest, made beside it and renamed in: nobody sees half a clone."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        _run_git(["clone", "--bare", "--quiet", "--", url, str(partial)], dest.parent, env, timeout, url)
        (partial / "driftcheck-fetched").touch()
        try:
            partial.rename(dest)
        except OSError:
            if not (dest / "HEAD").exists():  # else another run cloned it meanwhile: use theirs
                raise DriftcheckError(f"cannot store the clone of {mask_url(url)} in {dest}") from None
    finally:
        if partial.exists():
            _rmtree(partial)


def opened(path: Path) -> git.Repo:
    """The repository at path with every git that GitPython runs for it hook-free."""
    return _opened(git.Repo(path))


def _opened(repo: git.Repo) -> git.Repo:
    """The repository with every git that GitPython runs for it hook-free too."""
    repo.git.set_persistent_git_options(c=GIT_OPTIONS[1])
    _OPENED.add(repo)
    return repo


_OPENED: weakref.WeakSet[git.Repo] = weakref.WeakSet()
_INHERITED: list[object] = []  # a forked child's copies of its parent's persistent git processes


def _detach_persistent_git() -> None:
    """In a process forked from the run (driftcheck.forked): leave the parent's persistent `git cat-file`
    processes to the parent, so that two processes never interleave requests on one pipe. Their handles
    are kept, never finalized (that would kill the parent's process); the child starts its own."""
    for repo in list(_OPENED):
        _INHERITED.extend((repo.git.cat_file_all, repo.git.cat_file_header))
        repo.git.cat_file_all = repo.git.cat_file_header = None


os.register_at_fork(after_in_child=_detach_persistent_git)


def _age(dest: Path) -> str:
    marker = dest / "driftcheck-fetched"
    seconds = time.time() - (marker if marker.exists() else dest).stat().st_mtime
    return str(timedelta(seconds=int(seconds)))


def _rmtree(path: Path) -> None:
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            p = os.path.join(root, name)
            os.unlink(p) if os.path.islink(p) else os.rmdir(p)
    os.rmdir(path)


def _run_git(args: list[str], cwd: Path, env: dict[str, str], timeout: float, url: str) -> None:
    """Run a remote git command; failures become one clear line without credentials."""
    # Own process group, killed whole on timeout and on anything else that ends the wait (SIGTERM's
    # SystemExit, Ctrl-C): git's remote helpers (git-remote-https, ssh) never outlive the run.
    proc = subprocess.Popen(["git", *GIT_OPTIONS, *_FETCH_CHECKS, *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise DriftcheckError(f"git {args[0]} {mask_url(url)}: no answer within {timeout:g} s") from None
    except BaseException:
        _kill_group(proc)
        raise
    if proc.returncode == 0:
        return
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    refused = [m for m in map(_FSCK_LINE.match, lines) if m]
    if refused:
        sha, check, why = refused[0].groups()
        raise DriftcheckError(f"git {args[0]} {mask_url(url)}: refused, object {sha[:12]} fails Git's "
                              f"object check ({check}: {for_terminal(why)})")
    fatal = [ln for ln in lines if ln.startswith("fatal:")]
    detail = (fatal or lines or [f"exit {proc.returncode}"])[-1]
    at = lines.index(detail) if detail in lines else 0
    if detail.endswith("Could not read from remote repository.") and at > 0:
        # ssh said why just before git's generic line (host key verification, permission denied)
        detail = f"{lines[at - 1]} ({detail.removeprefix('fatal: ')})"
    token = env.get("DRIFTCHECK_GIT_TOKEN")
    if token:
        detail = detail.replace(token, "***")
    raise DriftcheckError(f"git {args[0]} {mask_url(url)}: {detail.removeprefix('fatal: ')}")


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def resolve_commit(repo: git.Repo, revision: str | None = None,
                   at: str | datetime | None = None) -> git.Commit:
    """The commit for --revision (branch, tag, full/short SHA; default HEAD) and optionally --at.

    With at: the last commit on revision's first-parent chain whose committer date is <= the moment,
    the same commit `git rev-list -1 --first-parent --before=<moment> <revision>` gives.
    """
    rev = revision or "HEAD"
    try:
        commit = repo.commit(rev)
    except (git.BadName, git.BadObject, ValueError):
        raise DriftcheckError(f"--revision {shown(rev)}: no such branch, tag or commit in the repository"
                              ) from None
    if at is None:
        return commit
    moment = at if isinstance(at, datetime) else parse_moment(at)
    limit = moment.timestamp()
    tip = commit
    boundary = shallow_boundary(repo.git_dir)
    while commit.committed_date > limit:
        first = f"({commit.hexsha[:12]}, {commit.committed_datetime.isoformat()})"
        if commit.hexsha in boundary:  # its parents are named but were never fetched
            raise DriftcheckError(f"--at {moment.isoformat()}: before the oldest commit of this shallow "
                                  f"clone {first}; fetch more history (git fetch --unshallow)")
        if not commit.parents:
            raise DriftcheckError(f"--at {moment.isoformat()}: before the first commit of {shown(rev)} "
                                  f"{first}")
        commit = commit.parents[0]
    log.debug("--at %s on %s (%s) resolved to %s", moment.isoformat(), shown(rev), tip.hexsha[:12],
              commit.hexsha)
    return commit


def remote_urls(repo: git.Repo) -> set[str]:
    """The repository's remote URLs, credentials removed: who "this repository" is to Applications."""
    urls: set[str] = set()
    for remote in repo.remotes:
        try:
            urls.update(split_credentials(u)[0] for u in remote.urls)
        except git.GitCommandError:
            continue
    return urls
