"""`ExternalArtifact`s made by source-watcher's `ArtifactGenerator` (`source.extensions.fluxcd.io/v1beta1`,
Flux 2.7), when the generator is in Git and each of its inputs is a source driftcheck builds.

Each `spec.artifacts[]` entry is one ExternalArtifact named as the entry, in the generator's namespace.
Its files are the entry's `copy` rules (`artifact_copy.py`) applied to the artifacts of *every* source in
`spec.sources` (alias → GitRepository, OCIRepository or another generated ExternalArtifact; the
controller fetches them all before it builds, so one it cannot fetch fails every artifact). A Bucket,
a HelmChart, a missing source, a malformed generator, `spec.pathPattern` (not emulated) or a generator
with reconciliation disabled is an error naming the generator and, for a source, its alias. The
generator's validation (unique aliases and artifact names, a `revision` alias that exists) is the
controller's. An artifact's revision is its `revision` source's, else a digest of its files
(source-watcher's is the digest of its tarball, which driftcheck does not make).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from driftcheck.flux.artifact_copy import STRATEGIES, CopyError, CopyRule, build_artifact
from driftcheck.flux.objects import FluxObjectError, SourceRef, group_of, mapping_of
from driftcheck.kube import invalid_name
from driftcheck.model import RunError
from driftcheck.textsafe import shown

GENERATOR_GROUP = "source.extensions.fluxcd.io"
GENERATOR_KIND = "ArtifactGenerator"
SERVED = ("v1beta1",)
INPUTS = ("GitRepository", "OCIRepository", "ExternalArtifact")
NOT_INPUTS = {"Bucket": "a Bucket's objects are in S3-compatible storage, which driftcheck does not read",
              "HelmChart": "a HelmChart's artifact is a chart source-controller packages, which "
                           "driftcheck does not make"}
_ALIAS = re.compile(r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?\Z")
_RECONCILE = f"{GENERATOR_GROUP}/reconcile"


class GeneratorError(ValueError):
    """An ExternalArtifact that cannot be made; the message names the generator (and the alias)."""


@dataclass(frozen=True)
class OutputArtifact:
    name: str
    revision: str  # "@alias" or ""
    copy: tuple[CopyRule, ...]


@dataclass(frozen=True)
class ArtifactGenerator:
    """One generator as the controller reads it; `problem` is why it builds nothing ("" when none)."""

    namespace: str
    name: str
    where: str
    sources: tuple[tuple[str, SourceRef], ...]
    artifacts: tuple[OutputArtifact, ...]
    problem: str = ""

    def __str__(self) -> str:
        return f"ArtifactGenerator {self.namespace}/{self.name}"


class InputTree(Protocol):
    root: Path
    sha: str
    date: str
    export_errors: list[RunError]


def is_generator(body: Mapping[str, Any]) -> bool:
    return group_of(body)[0] == GENERATOR_GROUP and body.get("kind") == GENERATOR_KIND


def artifact_generator(body: Mapping[str, Any], default_namespace: str, where: str) -> ArtifactGenerator:
    """The generator in body; FluxObjectError when not even the artifacts it makes can be told."""
    meta = mapping_of(body.get("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise FluxObjectError(f"{GENERATOR_KIND} without metadata.name")
    namespace = str(meta.get("namespace") or default_namespace or "default")
    label = f"{GENERATOR_KIND} {namespace}/{name}"
    spec = mapping_of(body.get("spec"))
    entries = spec.get("artifacts")
    if not isinstance(entries, list) or not entries:
        raise FluxObjectError(f"{label}: spec.artifacts must list at least one artifact")
    artifacts, problems = [], []
    for i, entry in enumerate(entries):
        entry = mapping_of(entry)
        if not isinstance(entry.get("name"), str) or not entry["name"]:
            raise FluxObjectError(f"{label}: spec.artifacts[{i}].name is missing")
        rules, problem = _rules(entry.get("copy"), f"spec.artifacts[{i}]")
        problems += [problem] if problem else []
        artifacts.append(OutputArtifact(entry["name"], str(entry.get("revision") or ""), rules))
    sources = _sources(spec.get("sources"), namespace, problems)
    problems += _validate(spec, artifacts, {alias for alias, _ in sources}, body)
    return ArtifactGenerator(namespace, name, where, tuple(sources), tuple(artifacts),
                             "; ".join(problems))


def _rules(value: Any, at: str) -> tuple[tuple[CopyRule, ...], str]:
    if not isinstance(value, list) or not value:
        return (), f"{at}.copy must list at least one copy operation"
    rules = []
    for j, rule in enumerate(value):
        rule = mapping_of(rule)
        source, to, strategy = rule.get("from"), rule.get("to"), rule.get("strategy") or "Overwrite"
        exclude = rule.get("exclude") or []
        if not isinstance(source, str) or not isinstance(to, str):
            return (), f"{at}.copy[{j}] needs from and to"
        if strategy not in STRATEGIES:
            return (), f"{at}.copy[{j}].strategy {shown(str(strategy))} is not one of {', '.join(STRATEGIES)}"
        if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
            return (), f"{at}.copy[{j}].exclude is not a list of patterns"
        rules.append(CopyRule(source, to, tuple(exclude), str(strategy)))
    return tuple(rules), ""


def _sources(value: Any, namespace: str, problems: list[str]) -> list[tuple[str, SourceRef]]:
    if not isinstance(value, list) or not value:
        problems.append("spec.sources must list at least one source")
        return []
    out: list[tuple[str, SourceRef]] = []
    for i, source in enumerate(value):
        source = mapping_of(source)
        alias, kind, name = source.get("alias"), source.get("kind"), source.get("name")
        if not isinstance(alias, str) or not _ALIAS.match(alias):
            problems.append(f"spec.sources[{i}].alias {shown(str(alias))} is not lower-case alphanumerics, "
                            "'_' and '-'")
        elif not isinstance(kind, str) or not isinstance(name, str) or not name:
            problems.append(f"spec.sources[{i}] ({alias}) needs kind and name")
        elif any(a == alias for a, _ in out):
            problems.append(f"duplicate source alias '{alias}' found")
        else:
            out.append((alias, SourceRef(kind, str(source.get("namespace") or namespace), name)))
    return out


def _validate(spec: Mapping[str, Any], artifacts: list[OutputArtifact], aliases: set[str],
              body: Mapping[str, Any]) -> list[str]:
    problems = []
    version = group_of(body)[1]
    if version not in SERVED:
        problems.append(f"apiVersion {GENERATOR_GROUP}/{version} is not served; use "
                        f"{GENERATOR_GROUP}/{SERVED[0]}")
    if spec.get("pathPattern"):
        problems.append("spec.pathPattern (artifacts per matched directory) is not emulated by driftcheck")
    annotations = mapping_of(mapping_of(body.get("metadata")).get("annotations"))
    if str(annotations.get(_RECONCILE)).lower() == "disabled":
        problems.append(f"{_RECONCILE}: disabled, so the cluster holds whatever it made last")
    seen: set[str] = set()
    for a in artifacts:
        if a.name in seen:
            problems.append(f"duplicate artifact name '{shown(a.name)}' found")
        elif why := invalid_name("ExternalArtifact", a.name):
            problems.append(f"artifact name {shown(a.name)} is not a valid Kubernetes object name: {why}")
        if a.revision and a.revision.removeprefix("@") not in aliases:
            problems.append(f"artifact {shown(a.name)} revision source alias "
                            f"'{shown(a.revision.removeprefix('@'))}' not found")
        seen.add(a.name)
    return problems


@dataclass(frozen=True)
class Generated:
    """What `make_external` made: the revision, the newest input's date, the inputs' export errors."""

    revision: str
    date: str
    errors: list[RunError]
    shown: str


def make_external(generator: ArtifactGenerator, output: OutputArtifact, dest: Path,
                  input_tree: Callable[[SourceRef], tuple[InputTree, str]]) -> Generated:
    """The files of output into dest. input_tree(ref) gives an input's artifact and how it is shown, or
    raises GeneratorError (the caller's failure, in words)."""
    if generator.problem:
        raise GeneratorError(f"{generator} (declared at {generator.where}): {generator.problem}")
    trees: dict[str, InputTree] = {}
    shown_as = []
    for alias, ref in generator.sources:
        if ref.kind not in INPUTS:
            why = NOT_INPUTS.get(ref.kind, "not a kind of source source-watcher reads")
            raise GeneratorError(f"{generator} source @{alias} ({ref}): {why}")
        try:
            trees[alias], text = input_tree(ref)
        except GeneratorError as e:
            raise GeneratorError(f"{generator} source @{alias}: {e}") from None
        shown_as.append(f"@{alias} {text}")
    try:
        build_artifact(output.copy, {alias: tree.root for alias, tree in trees.items()}, dest)
    except CopyError as e:
        raise GeneratorError(f"{generator}: {output.name} build failed: {e}") from None
    except OSError as e:
        raise GeneratorError(f"{generator}: {output.name} build failed: {e.strerror or e}") from None
    revision_tree = trees.get(output.revision.removeprefix("@")) if output.revision else None
    revision = revision_tree.sha if revision_tree else f"latest@sha256:{_digest(dest)}"
    errors = [e for tree in trees.values() for e in tree.export_errors]
    date = max((tree.date for tree in trees.values()), default="")
    return Generated(revision, date, errors,
                     f"made by {generator} from {', '.join(shown_as)} (revision {revision[:24]})")


def _digest(root: Path) -> str:
    """sha256 over the artifact's paths and contents, in path order."""
    digest = hashlib.sha256()
    for directory, names, files in os.walk(root):
        names.sort()
        for name in sorted(files):
            path = Path(directory) / name
            digest.update(os.path.relpath(path, root).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
