"""Hostile Git trees, written object by object: what `git checkout` would refuse but a pushed commit can hold.

Trees are written raw (`git hash-object -t tree --literally`), so an entry can be named `..`, `.git`,
`.GIT`, `git~1`, `a/b` or the empty string, appear twice, or be a symlink and a directory at once, and a
blob can be an executable hook. Any renderer or provider that turns a Git tree into files (directory,
Kustomize, Helm, chart repositories, OCI, ApplicationSets, Flux) can be pointed at such a repository by
the standing hostile suite (`tests/hostile/`).

    repo = CraftedRepo.init(tmp_path / "src")
    evil = repo.climb(3, "PWNED.txt", repo.blob("outside\\n"))   # evil/../../../PWNED.txt
    repo.commit(repo.tree(*repo.kustomize_app("app"), tree_entry("evil", evil)))
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

FILE, EXECUTABLE, SYMLINK, TREE = "100644", "100755", "120000", "40000"
_IDENTITY = {"GIT_AUTHOR_NAME": "crafted", "GIT_AUTHOR_EMAIL": "crafted@example.invalid",
             "GIT_COMMITTER_NAME": "crafted", "GIT_COMMITTER_EMAIL": "crafted@example.invalid",
             "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


@dataclass(frozen=True)
class Entry:
    """One raw tree entry; name is bytes so that anything a tree object can hold can be written."""

    mode: str
    name: bytes
    sha: str


def _name(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode()


def file_entry(name: str | bytes, sha: str) -> Entry:
    return Entry(FILE, _name(name), sha)


def hook_entry(name: str | bytes, sha: str) -> Entry:
    """A 100755 blob: exported with chmod 755, so a git hook if it lands in a hooks directory."""
    return Entry(EXECUTABLE, _name(name), sha)


def link_entry(name: str | bytes, sha: str) -> Entry:
    return Entry(SYMLINK, _name(name), sha)


def tree_entry(name: str | bytes, sha: str) -> Entry:
    return Entry(TREE, _name(name), sha)


@dataclass(frozen=True)
class CraftedRepo:
    """A repository whose objects are written by hand; its branch `main` points at the last commit."""

    path: Path

    @classmethod
    def init(cls, path: Path) -> CraftedRepo:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True,
                       env={**os.environ, **_IDENTITY})
        return cls(path)

    def _git(self, *args: str, data: bytes | None = None) -> str:
        out = subprocess.run(["git", *args], cwd=self.path, input=data, capture_output=True, check=True,
                             env={**os.environ, **_IDENTITY})
        return out.stdout.decode().strip()

    def blob(self, data: str | bytes) -> str:
        return self._git("hash-object", "-w", "--stdin", data=_name(data))

    def tree(self, *entries: Entry) -> str:
        """A tree holding exactly these entries, in this order: no sorting, no check, duplicates kept."""
        raw = b"".join(e.mode.encode() + b" " + e.name + b"\0" + bytes.fromhex(e.sha) for e in entries)
        return self._git("hash-object", "-t", "tree", "--literally", "-w", "--stdin", data=raw)

    def nest(self, tree: str, *names: str | bytes) -> str:
        """Wrap tree in directories, innermost name first: nest(t, "c", "b", "a") is a/b/c/<t>."""
        for name in names:
            tree = self.tree(tree_entry(name, tree))
        return tree

    def climb(self, levels: int, relpath: str, blob: str, mode: str = FILE, top: str = "") -> str:
        """A tree whose path `<top>/../..(levels)/relpath` names the blob: written as is, it lands `levels`
        directories above where the tree is put, then down relpath (e.g. a clone cache's hooks/)."""
        *dirs, leaf = relpath.split("/")
        tree = self.tree(Entry(mode, leaf.encode(), blob))
        return self.nest(tree, *reversed(dirs), *[".."] * levels, *([top] if top else []))

    def kustomize_app(self, name: str = "app", *inside: Entry) -> list[Entry]:
        """Root entries of a one-ConfigMap Kustomize app (any Kustomize app makes the whole-tree export),
        with the given entries added inside its directory."""
        cm = self.blob("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: crafted, namespace: demo}\n")
        kz = self.blob("resources: [cm.yaml]\n")
        return [tree_entry(name, self.tree(file_entry("cm.yaml", cm), file_entry("kustomization.yaml", kz),
                                           *inside))]

    def commit(self, tree: str, message: str = "crafted") -> str:
        """Commit tree on top of main (the first commit has no parent) and move main to it."""
        head = subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/heads/main"], cwd=self.path,
                              capture_output=True, text=True)
        parent = ["-p", head.stdout.strip()] if head.returncode == 0 else []
        sha = self._git("commit-tree", tree, "-m", message, *parent)
        self._git("update-ref", "refs/heads/main", sha)
        return sha

    @property
    def url(self) -> str:
        """A file:// URL, so driftcheck clones it into its cache as it would a remote."""
        return self.path.resolve().as_uri()
