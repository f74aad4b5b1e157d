"""The artifact of each Flux source, as source-controller makes it, once per run and shared by its builds.

A `GitRepository` artifact is the files of its `ref` (this repository: a branch, or no ref, is the audited
commit; a tag, semver range, ref name or commit is resolved in this repository; another repository
through `fetch.sources`), with each `spec.include` copied in (`fromPath` of the included GitRepository's
own artifact to `toPath`, default its name), then filtered by `.sourceignore` files and `spec.ignore`
(`sourceignore.py`). Symlinks are left out: source-controller's archive holds only regular files and
directories. An `OCIRepository` artifact is the layer `fetch.oci_artifact` pulls, filtered the same way.

The artifact is written once, read-only. A build's private export is its own directory of hard links to
the artifact's files, except the kustomization files, which are copies (the generator edits one in
place; a generated one is a new file), so a build neither sees nor changes another's files and no build
copies the whole repository.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import posixpath
import shutil
import stat
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from driftcheck.apps.urls import normalize_repo_url
from driftcheck.fetch import semver
from driftcheck.fetch.dirtree import DirTree
from driftcheck.fetch.oci_artifact import OciArtifactError
from driftcheck.fetch.sources import SourceError, SourceTrees
from driftcheck.fetch.tree import CommitTree, Tree
from driftcheck.flux import sourceignore
from driftcheck.flux.artifact_generator import (
    ArtifactGenerator,
    GeneratorError,
    OutputArtifact,
    make_external,
)
from driftcheck.flux.objects import (
    FluxObjectError,
    GitRepository,
    SourceRef,
    check_version,
    git_repository,
    mapping_of,
)
from driftcheck.flux.oci_source import copy_oci_artifact
from driftcheck.model import App, DriftcheckError, GitSource, OciSource, RunError, Source
from driftcheck.render.kustomize import KUSTOMIZATION_NAMES
from driftcheck.scrub import mask_url
from driftcheck.textsafe import shown

BUILT = ("GitRepository", "OCIRepository", "ExternalArtifact")
NOT_BUILT = {"Bucket": "a Bucket's objects are in S3-compatible storage, which driftcheck does not read",
             "HelmChart": "a HelmChart is a chart, not a Kustomization's source"}
MAX_INCLUDE_DEPTH = 10


class ArtifactError(DriftcheckError):
    """A source whose artifact cannot be made; the message names the source and its URL."""


class ArtifactTree(DirTree):
    """A source's artifact on disk, read-only; `private_build` gives each build its own linked copy."""

    def __init__(self, root: Path, sha: str, date: str, errors: list[RunError]) -> None:
        super().__init__(root, sha, date)
        self.export_errors = errors

    @contextlib.contextmanager
    def exported(self, private: bool = False) -> Iterator[tuple[Path, list[RunError]]]:
        """The artifact itself for readers; for a build (private) a directory of its own: hard links to
        every file but the kustomization files, which are copies (the generator edits one in place)."""
        if not private:
            yield self.root, self.export_errors
            return
        with tempfile.TemporaryDirectory(prefix="driftcheck-build-") as tmp:
            dest = Path(tmp) / "artifact"
            for directory, _, files in os.walk(self.root):
                relative = os.path.relpath(directory, self.root)
                (dest / relative).mkdir(parents=True, exist_ok=True)
                for name in files:
                    source, target = Path(directory) / name, dest / relative / name
                    if name in KUSTOMIZATION_NAMES:
                        shutil.copyfile(source, target)
                        continue
                    try:
                        os.link(source, target)
                    except OSError:
                        shutil.copyfile(source, target)
            yield dest, self.export_errors


@dataclass
class Artifact:
    """One source's artifact and how the report names it."""

    tree: ArtifactTree
    source: Source  # as the app lists it (this repository: no URL)
    shown: str


@dataclass
class Artifacts:
    """The sources the graph has seen (by kind, namespace, name) and their artifacts, made on first use."""

    trees: SourceTrees
    this_repo: set[str]
    declared: dict[tuple[str, str, str], tuple[Mapping[str, Any], str]] = field(default_factory=dict)
    generated: dict[tuple[str, str], tuple[ArtifactGenerator, OutputArtifact]] = field(default_factory=dict)
    _made: dict[tuple[str, str, str], Artifact | ArtifactError] = field(default_factory=dict)
    _workdir: str = ""
    _serial: Iterator[int] = field(default_factory=itertools.count)  # one directory per artifact made

    def declare(self, kind: str, body: Mapping[str, Any], namespace: str, where: str) -> None:
        """A source object seen in the root or a build; the first declaration of a name counts."""
        check_version(body)
        name = mapping_of(body.get("metadata")).get("name")
        if not isinstance(name, str) or not name:
            raise FluxObjectError(f"{kind} without metadata.name")
        ns = str(mapping_of(body.get("metadata")).get("namespace") or namespace or "default")
        self.declared.setdefault((kind, ns, name), (body, where))

    def declare_generator(self, generator: ArtifactGenerator) -> None:
        """A generator seen in a build: the ExternalArtifacts it makes (a name's first maker counts)."""
        for output in generator.artifacts:
            self.generated.setdefault((generator.namespace, output.name), (generator, output))

    def known(self, ref: SourceRef, seen: frozenset[SourceRef] = frozenset()) -> bool:
        """Whether ref can be made now (an ExternalArtifact: its generator and its inputs are declared)."""
        if ref.kind == "ExternalArtifact":
            made = self.generated.get((ref.namespace, ref.name))
            return made is not None and all(r in seen or self.known(r, seen | {ref})
                                            for _, r in made[0].sources)
        return ref.kind not in BUILT or (ref.kind, ref.namespace, ref.name) in self.declared

    def missing(self, ref: SourceRef) -> str:
        """Why ref never became known, in words."""
        nowhere = "does not exist in the root or in any Kustomization's rendered output"
        made = self.generated.get((ref.namespace, ref.name)) if ref.kind == "ExternalArtifact" else None
        if made is None:
            maker = " (no ArtifactGenerator there makes it)" if ref.kind == "ExternalArtifact" else ""
            return f"{ref} {nowhere}{maker}"
        for alias, source in made[0].sources:
            if not self.known(source, frozenset({ref})):
                return f"{ref} is made by {made[0]} (declared at {made[0].where}), whose source @{alias} " \
                       f"{self.missing(source)}"
        return f"{ref} {nowhere}"

    def artifact(self, ref: SourceRef, chain: tuple[tuple[str, str, str], ...] = ()) -> Artifact:
        """The artifact of ref (declared); ArtifactError naming it when it cannot be made."""
        key = (ref.kind, ref.namespace, ref.name)
        if key not in self._made:
            if key in chain:
                raise ArtifactError(f"GitRepository {ref.namespace}/{ref.name} includes itself")
            try:
                self._made[key] = self._make(ref, key, chain)
            except (ArtifactError, SourceError, FluxObjectError, OciArtifactError) as e:
                self._made[key] = ArtifactError(str(e))
        made = self._made[key]
        if isinstance(made, ArtifactError):
            raise made
        return made

    def _make(self, ref: SourceRef, key: tuple[str, str, str], chain: tuple[tuple[str, str, str], ...]
              ) -> Artifact:
        if ref.kind == "ExternalArtifact":
            return self._external(ref, (*chain, key))
        if key not in self.declared:
            raise ArtifactError(f"spec.sourceRef {ref} does not exist")
        body, _ = self.declared[key]
        spec = mapping_of(body.get("spec"))
        dest = self._dir() / f"{next(self._serial)}-{ref.kind}"  # an include is made before it is recorded
        if ref.kind == "OCIRepository":
            oci = copy_oci_artifact(self.trees, body, ref, dest)
            if oci.filtered:
                _filter(dest, spec.get("ignore"))
            _read_only(dest)
            return Artifact(ArtifactTree(dest, oci.revision, oci.date, []), oci.source, oci.shown)
        source, sha, date, shown_as, errors = self._git(ref, body, dest)
        for include in spec.get("include") or ():
            self._include(ref, mapping_of(include), dest, (*chain, key))
        _filter(dest, spec.get("ignore"))
        _read_only(dest)
        return Artifact(ArtifactTree(dest, sha, date, errors), source, shown_as)

    def _external(self, ref: SourceRef, chain: tuple[tuple[str, str, str], ...]) -> Artifact:
        """An ExternalArtifact an ArtifactGenerator of the graph makes, from its inputs' artifacts."""
        made = self.generated.get((ref.namespace, ref.name))
        if made is None:
            raise ArtifactError(f"{ref}: no ArtifactGenerator in the root or in any Kustomization's rendered "
                                "output makes it (source-watcher makes ExternalArtifacts in the cluster)")
        inputs: list[Artifact] = []

        def input_tree(source: SourceRef) -> tuple[ArtifactTree, str]:
            key = (source.kind, source.namespace, source.name)
            if key in chain:
                raise GeneratorError(f"{source} is made from itself")
            if source.kind != "ExternalArtifact" and key not in self.declared:
                raise GeneratorError(f"{source} does not exist in the root or in any Kustomization's "
                                     "rendered output")
            try:
                inputs.append(self.artifact(source, chain))
            except ArtifactError as e:
                raise GeneratorError(str(e)) from None
            return inputs[-1].tree, inputs[-1].shown

        dest = Path(tempfile.mkdtemp(prefix="ExternalArtifact-", dir=self._dir()))
        try:
            generated = make_external(made[0], made[1], dest, input_tree)
        except GeneratorError as e:
            raise ArtifactError(f"{ref}: {e}") from None
        _read_only(dest)
        aliases = [alias for alias, _ in made[0].sources]
        chosen = made[1].revision.removeprefix("@")
        source = inputs[aliases.index(chosen)].source if chosen in aliases else inputs[0].source
        return Artifact(ArtifactTree(dest, generated.revision, generated.date, generated.errors), source,
                        generated.shown)

    def _git(self, ref: SourceRef, body: Mapping[str, Any], dest: Path
             ) -> tuple[Source, str, str, str, list[RunError]]:
        url = str(mapping_of(body.get("spec")).get("url") or "")
        repo = git_repository(body, ref.namespace) if url else GitRepository(ref.namespace, ref.name, "", "")
        git_ref = mapping_of(mapping_of(body.get("spec")).get("ref"))
        chosen = {k: v for k, v in git_ref.items() if isinstance(v, str) and v}
        if set(chosen) == {"name"} and chosen["name"].startswith("refs/heads/"):
            chosen = {"branch": chosen["name"].removeprefix("refs/heads/")}  # flux-operator's sync ref
        ours = not url or normalize_repo_url(url) in self.this_repo
        if ours and set(chosen) <= {"branch"}:
            tree: Tree = self.trees.run_tree
            source: Source = GitSource()
            shown_as = "this repository"
        elif ours:
            tree = _this_repo_at(self.trees.run_tree, chosen, repo.url)
            source = GitSource(url=repo.url, revision=repo.revision)
            shown_as = f"this repository at {tree.sha[:12]}"
        else:
            located = self.trees.locate(GitSource(url=repo.url, revision=repo.revision))
            tree, shown_as = located.tree, located.shown
            source = GitSource(url=repo.url, revision=repo.revision)
        errors = tree.export(dest)
        for directory, _, files in os.walk(dest):
            for name in files:
                if os.path.islink(Path(directory) / name):
                    os.unlink(Path(directory) / name)
        return source, tree.sha, tree.date, shown_as, errors

    def _include(self, ref: SourceRef, include: Mapping[str, Any], dest: Path,
                 chain: tuple[tuple[str, str, str], ...]) -> None:
        name = mapping_of(include.get("repository")).get("name")
        if not isinstance(name, str) or not name:
            raise ArtifactError(f"GitRepository {ref.namespace}/{ref.name}: spec.include needs "
                                "repository.name")
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise ArtifactError(f"GitRepository {ref.namespace}/{ref.name}: includes nested deeper than "
                                f"{MAX_INCLUDE_DEPTH}")
        included = SourceRef("GitRepository", ref.namespace, name)
        try:
            artifact = self.artifact(included, chain)
        except ArtifactError as e:
            raise ArtifactError(f"GitRepository {ref.namespace}/{ref.name}: include {name}: {e}") from None
        from_path = _inside(str(include.get("fromPath") or ""), "fromPath", ref)
        to_path = _inside(str(include.get("toPath") or name), "toPath", ref)
        source = artifact.tree.root / from_path if from_path else artifact.tree.root
        if not source.is_dir():
            raise ArtifactError(f"GitRepository {ref.namespace}/{ref.name}: include {name}: fromPath "
                                f"{shown(from_path)} is not a directory of its artifact")
        target = dest / to_path if to_path else dest
        for directory, _, files in os.walk(source):
            relative = os.path.relpath(directory, source)
            (target / relative).mkdir(parents=True, exist_ok=True)
            for file in files:
                out = target / relative / file
                if out.is_symlink() or out.is_dir():
                    continue
                shutil.copyfile(Path(directory) / file, out)

    def _dir(self) -> Path:
        if not self._workdir:
            self._workdir = tempfile.mkdtemp(prefix="driftcheck-artifacts-")
            weakref.finalize(self, _remove, self._workdir)
        return Path(self._workdir)


def _this_repo_at(run_tree: Tree, ref: Mapping[str, str], url: str) -> CommitTree:
    """This repository at the revision a GitRepository's ref names, with Flux's precedence
    (branch < tag < semver < name < commit)."""
    if not isinstance(run_tree, CommitTree):
        raise ArtifactError(f"{mask_url(url)}: this repository is not a Git repository here")
    repo = run_tree.repo
    try:
        if "commit" in ref:
            commit = repo.commit(ref["commit"])
        elif "name" in ref:
            commit = repo.commit(ref["name"])
        elif "semver" in ref:
            found = semver.best_match(ref["semver"], [t.name for t in repo.tags])
            if found is None:
                raise ArtifactError(f"{mask_url(url)}: no tag matches semver {shown(ref['semver'])}")
            commit = repo.commit(f"refs/tags/{found}")
        else:
            commit = repo.commit(f"refs/tags/{ref['tag']}")
        commit.committed_date  # noqa: B018 -- loads the object: a missing one raises here
    except (ValueError, semver.SemverError, git.BadName, git.BadObject):
        raise ArtifactError(f"{mask_url(url)}: ref {shown(str(dict(ref)))} is not in this "
                            "repository") from None
    return CommitTree(repo, commit)


def _inside(path: str, what: str, ref: SourceRef) -> str:
    """A relative path that stays inside the artifact (SecureJoin refuses nothing, it confines; so do we)."""
    normal = posixpath.normpath("/" + path.strip()).lstrip("/")
    if "\0" in normal:
        raise ArtifactError(f"GitRepository {ref.namespace}/{ref.name}: include {what} {shown(path)}")
    return normal


def _filter(root: Path, ignore: object) -> None:
    """Remove what source-controller's archive leaves out of the artifact at root."""
    directories = [""]
    for directory, names, _ in os.walk(root):
        relative = os.path.relpath(directory, root)
        directories += [posixpath.join(relative, n) if relative != "." else n for n in names]

    def read(path: str) -> str | None:
        try:
            return (root / path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    patterns = sourceignore.load_patterns(directories, read)
    if isinstance(ignore, str):
        patterns += sourceignore.read_patterns(ignore)
    matcher = sourceignore.Matcher(patterns)
    for directory, names, files in os.walk(root, topdown=False):
        relative = os.path.relpath(directory, root)
        relative = "" if relative == "." else relative
        for name in files:
            if matcher.excluded(posixpath.join(relative, name) if relative else name):
                os.unlink(Path(directory) / name)
        for name in names:
            sub = Path(directory) / name
            path = posixpath.join(relative, name) if relative else name
            if not any(sub.iterdir()) and matcher.excluded(path, is_dir=True):
                sub.rmdir()


def _read_only(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            os.chmod(Path(directory) / name, 0o444)
        os.chmod(directory, 0o555)


def _remove(path: str) -> None:
    for directory, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(directory, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def as_run_repo(app: App) -> App:
    """app with its sources read from the tree it is rendered with (the artifact), not located again."""
    sources = tuple(dataclasses.replace(s, source=GitSource(path=getattr(s.source, "path", "")))
                    for s in app.sources)
    return dataclasses.replace(app, sources=sources)


def with_path(source: Source, path: str) -> Source:
    """source with the app's path in it."""
    if isinstance(source, GitSource):
        return dataclasses.replace(source, path=path)
    if isinstance(source, OciSource):
        return dataclasses.replace(source, path=path)
    return source
