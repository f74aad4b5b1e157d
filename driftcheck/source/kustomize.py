"""Kustomize apps: the files a kustomization reads, and `kustomize build` on an export of the commit.

The build runs on a temporary export of the commit (never the work tree) with kustomize's load
restrictor on. References that would leave the repository or fetch remote bases are refused before
the build, so the result depends only on what Git holds at that commit.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftcheck.model import AppSpec, Origin, RunError
from driftcheck.source.tree import CommitTree
from driftcheck.source.yamlload import dump_yaml, load_manifests

if TYPE_CHECKING:
    from driftcheck.source.render import Rendered

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)|\?ref=|//")
_DIR_OR_FILE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")


def kustomization_file(tree: CommitTree, directory: str) -> str | None:
    """The kustomization file in directory at this commit, if any."""
    for name in KUSTOMIZATION_NAMES:
        candidate = posixpath.join(directory, name) if directory else name
        if tree.exists(candidate) and not tree.is_dir(candidate):
            return candidate
    return None


@dataclass
class Inputs:
    """Every repository file a kustomization (and its bases, components, patches...) reads."""

    files: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)  # files holding resources, for origin tracing
    errors: list[RunError] = field(default_factory=list)
    fatal: bool = False  # a reference the build must not follow (remote, outside the repository)


def inputs(tree: CommitTree, directory: str) -> Inputs:
    """Walk the kustomization graph from directory, statically, as kustomize would read it."""
    found = Inputs()
    _walk(tree, directory, found, set())
    return found


def _walk(tree: CommitTree, directory: str, found: Inputs, seen: set[str]) -> None:
    kfile = kustomization_file(tree, directory)
    if kfile is None or kfile in seen:
        return
    seen.add(kfile)
    _add(found.files, kfile)
    docs, errors = load_manifests(tree.read(kfile), kfile)
    found.errors.extend(errors)
    spec: dict[str, Any] = docs[0][0] if docs else {}
    for ref in _references(spec):
        if _REMOTE.search(ref):
            found.errors.append(RunError(f"remote reference {ref!r} is not fetched (driftcheck renders "
                                         "offline, from the repository alone)", file=kfile))
            found.fatal = True
            continue
        target = posixpath.normpath(posixpath.join(directory, ref))
        if target == ".." or target.startswith("../") or posixpath.isabs(ref):
            found.errors.append(RunError(f"reference {ref!r} reaches outside the repository", file=kfile))
            found.fatal = True
        elif tree.is_dir(target):
            _walk(tree, "" if target == "." else target, found, seen)
        elif tree.exists(target):
            _add(found.files, target)
            if ref in _manifest_refs(spec):
                _add(found.manifests, target)


def _references(spec: dict[str, Any]) -> list[str]:
    """Local paths a kustomization names: resources, bases, components, patches, generator inputs."""
    refs: list[str] = []
    for name in _DIR_OR_FILE_FIELDS:
        refs += [r for r in _list(spec.get(name)) if isinstance(r, str) and "\n" not in r]
    refs += [r for r in _list(spec.get("patchesStrategicMerge")) if isinstance(r, str) and "\n" not in r]
    refs += [r for r in _list(spec.get("crds")) if isinstance(r, str)]
    for name in ("patches", "patchesJson6902", "replacements"):
        refs += [p["path"] for p in _list(spec.get(name))
                 if isinstance(p, dict) and isinstance(p.get("path"), str)]
    openapi = spec.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        refs.append(openapi["path"])
    for name in ("configMapGenerator", "secretGenerator"):
        for gen in _list(spec.get(name)):
            if not isinstance(gen, dict):
                continue
            refs += [f.split("=", 1)[-1] for f in _list(gen.get("files")) if isinstance(f, str)]
            refs += [e for e in _list(gen.get("envs")) if isinstance(e, str)]
            if isinstance(gen.get("env"), str):
                refs.append(gen["env"])
    return refs


def _manifest_refs(spec: dict[str, Any]) -> set[str]:
    return {r for name in ("resources", "bases", "crds") for r in _list(spec.get(name)) if isinstance(r, str)}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _add(items: list[str], item: str) -> None:
    if item not in items:
        items.append(item)


def builder() -> list[str] | None:
    """The kustomize command on PATH: `kustomize build`, else `kubectl kustomize`."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(tree: CommitTree, app: AppSpec, path: str, out: Rendered, timeout: float) -> None:
    """Build the kustomization at path into out (objects, errors, files read)."""
    from driftcheck.source.render import add_object

    graph = inputs(tree, path)
    out.files_read.extend(graph.files)
    out.errors.extend(graph.errors)
    if graph.fatal:
        out.errors.append(RunError("kustomize build not run: the kustomization reads outside this repository",
                                   app=app.name, file=kustomization_file(tree, path) or path))
        return
    command = builder()
    if command is None:
        out.errors.append(RunError("Kustomize app, but neither kustomize nor kubectl is on PATH",
                                   app=app.name, file=path))
        return
    options = app.source_options.get("kustomize") or {}
    with tree.exported(private=bool(options)) as (root, export_errors):
        # Only the export's complaints about files this build reads concern this app.
        out.errors.extend(e for e in export_errors if e.file in graph.files or e.file.startswith(f"{path}/"))
        if options:
            kfile = kustomization_file(tree, path) or path
            apply_argocd_options(root / kfile, options)
            out.files_read.extend(posixpath.normpath(posixpath.join(path, p["path"]))
                                  for p in options.get("patches") or []
                                  if isinstance(p, dict) and p.get("path"))
        try:
            proc = subprocess.run([*command, str(root / path)], capture_output=True, timeout=timeout,
                                  cwd=root, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            out.errors.append(RunError(f"{' '.join(command)} did not finish within {timeout:g} s",
                                       app=app.name, file=path))
            return
        if proc.returncode != 0:
            text = proc.stderr.decode("utf-8", "replace").replace(f"{root}/", "").replace(str(root), ".")
            detail = " ".join(line.strip() for line in text.splitlines() if line.strip())
            out.errors.append(RunError(f"{' '.join(command)} failed: {detail or f'exit {proc.returncode}'}",
                                       app=app.name, file=kustomization_file(tree, path) or path))
            return
    docs, errors = load_manifests(proc.stdout, f"{' '.join(command)} {path}")
    out.errors.extend(errors)
    trace = _Tracer(tree, graph.manifests, kustomization_file(tree, path) or path)
    for body, _ in docs:
        add_object(out, body, trace.origin(body))


def apply_argocd_options(kfile: Path, options: dict[str, Any]) -> None:
    """Edit an exported kustomization as ArgoCD does for spec.source.kustomize (`kustomize edit set
    nameprefix/image/namespace/replicas`, `add label/annotation`, plus patches and components)."""
    docs, _ = load_manifests(kfile.read_bytes(), kfile.name)
    spec: dict[str, Any] = docs[0][0] if docs else {}
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if options.get(key):
            spec[key] = options[key]
    for key in ("commonLabels", "commonAnnotations"):
        if isinstance(options.get(key), dict):
            spec[key] = {**(spec.get(key) or {}), **options[key]}
    for image in options.get("images") or []:
        entry = parse_image_override(str(image))
        spec["images"] = [i for i in _list(spec.get("images")) if i.get("name") != entry["name"]] + [entry]
    for replica in options.get("replicas") or []:
        if isinstance(replica, dict) and replica.get("name"):
            kept = [r for r in _list(spec.get("replicas")) if r.get("name") != replica["name"]]
            spec["replicas"] = [*kept, {"name": replica["name"], "count": int(replica.get("count", 0))}]
    spec["patches"] = _list(spec.get("patches")) + [p for p in options.get("patches") or []
                                                     if isinstance(p, dict)]
    spec["components"] = _list(spec.get("components")) + [str(c) for c in options.get("components") or []]
    for key in ("patches", "components"):
        if not spec[key]:
            del spec[key]
    kfile.write_text(dump_yaml(spec), encoding="utf-8")


def parse_image_override(text: str) -> dict[str, str]:
    """An ArgoCD/`kustomize edit set image` override as a kustomization images: entry.

    `nginx:1.25`, `nginx@sha256:...`, `nginx=registry.example.com/nginx:1.25`.
    """
    name, _, replacement = text.partition("=")
    entry = {"name": name}
    target = replacement or name
    if "@" in target:
        target, entry["digest"] = target.split("@", 1)
    elif ":" in target.rsplit("/", 1)[-1]:
        target, entry["newTag"] = target.rsplit(":", 1)
    if replacement:
        entry["newName"] = target
    else:
        entry["name"] = target
    return entry


class _Tracer:
    """Finds the source file:line of a built object by kind and name among the files the build read."""

    def __init__(self, tree: CommitTree, files: list[str], fallback: str) -> None:
        self.sha = tree.sha
        self.fallback = fallback
        self.fallback_text = tree.read(fallback).decode("utf-8", "replace") if tree.exists(fallback) else ""
        self.by_kind_name: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for file in files:
            docs, _ = load_manifests(tree.read(file), file)
            for body, line in docs:
                name = str((body.get("metadata") or {}).get("name", ""))
                self.by_kind_name.setdefault((str(body.get("kind", "")), name), []).append((file, line))

    def origin(self, body: dict[str, Any]) -> Origin:
        kind = str(body.get("kind", ""))
        name = str((body.get("metadata") or {}).get("name", ""))
        exact = self.by_kind_name.get((kind, name))
        if exact:
            return Origin("git", exact[0][0], exact[0][1], self.sha)
        # namePrefix / nameSuffix: a single source of that kind whose name the built name contains.
        near = [places[0] for (k, n), places in self.by_kind_name.items() if k == kind and n and n in name]
        if len(near) == 1:
            return Origin("git", near[0][0], near[0][1], self.sha)
        return Origin("git", self.fallback, self._line_in_fallback(name), self.sha)

    def _line_in_fallback(self, name: str) -> int:
        """Generated objects (configMapGenerator...): the line of the longest `name:` the built name
        contains (prefixes, suffixes and content hashes aside), else 1."""
        best, best_len = 1, 0
        for i, line in enumerate(self.fallback_text.splitlines(), 1):
            m = re.search(r"\bname:\s*['\"]?([\w.-]+)", line)
            if m and m.group(1) in name and len(m.group(1)) > best_len:
                best, best_len = i, len(m.group(1))
        return best
