"""The kustomization kustomize-controller builds: the path's own, or one generated, with the spec edited in.

As fluxcd/pkg `kustomize/kustomize_generator.go` does it, on an export the caller may edit: a path with a
kustomization file keeps it (and its name); a path without one gets one listing, in lexical walk order,
every `.yaml`/`.yml` file that decodes as Kubernetes objects (any other YAML fails the build, as in Flux)
and every sub-directory holding a kustomization (added whole, not descended into); nothing at all gives
`namespace: _placeholder`. Then the Kustomization's spec is written into *that* file, not a wrapping
overlay: `targetNamespace` becomes `namespace`, `namePrefix`/`nameSuffix` replace the file's, `patches`
and `components` are appended, `images` merged by name.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.model import FluxBuildOptions
from driftcheck.render.kustomize import KUSTOMIZATION_NAMES, parse_kustomization
from driftcheck.render.yaml import dump_yaml, load_manifests

PLACEHOLDER_NAMESPACE = "_placeholder"
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")
_SELECTOR_KEYS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")


class GenerateError(ValueError):
    """What stops the build before kustomize runs (as the controller's generate step fails)."""

    def __init__(self, message: str, file: str = "") -> None:
        super().__init__(message)
        self.file = file


@dataclass
class Generated:
    """The kustomization file written (repository path), and the manifests a generated one lists."""

    file: str
    generated: bool = False
    manifests: list[str] = field(default_factory=list)  # repository paths of listed files
    directories: list[str] = field(default_factory=list)  # listed sub-directories with a kustomization


def write_kustomization(root: Path, path: str, options: FluxBuildOptions) -> Generated:
    """Find or generate the kustomization at root/path and edit the spec into it in place."""
    directory = root / path if path else root
    if not directory.is_dir():
        raise GenerateError(f"kustomization path not found: {path or '.'}", file=path)
    existing = next((n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)
    if existing is not None:
        kfile = posixpath.join(path, existing) if path else existing
        spec, problem = parse_kustomization((directory / existing).read_bytes(), kfile)
        if problem is not None:
            raise GenerateError(problem.message, file=kfile)
        out = Generated(kfile)
        if not spec.get("resources"):
            spec["buildMetadata"] = ["originAnnotations"]  # Flux's quirk for a file without resources
    else:
        kfile = posixpath.join(path, "kustomization.yaml") if path else "kustomization.yaml"
        out = Generated(kfile, generated=True)
        spec = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
        resources = _scan(root, path, out)
        if resources:
            spec["resources"] = resources
        else:
            spec["namespace"] = PLACEHOLDER_NAMESPACE
    edited = edit(spec, options, directory)
    (root / kfile).write_text(dump_yaml(edited), encoding="utf-8")
    return out


def edit(spec: dict[str, Any], options: FluxBuildOptions, directory: Path) -> dict[str, Any]:
    """The kustomization with the Kustomization's spec written in, as the generator does."""
    out = dict(spec)
    if options.target_namespace:
        out["namespace"] = options.target_namespace
    if options.name_prefix:
        out["namePrefix"] = options.name_prefix
    if options.name_suffix:
        out["nameSuffix"] = options.name_suffix
    patches = [_patch(p) for p in options.patches]
    if patches:
        out["patches"] = [*_list(out.get("patches")), *patches]
    components = []
    for component in options.components:
        if not is_local_relative(component):
            raise GenerateError(f"component path '{component}' must be local and relative")
        if options.ignore_missing_components and not (directory / component).exists():
            continue
        components.append(component)
    if components:
        out["components"] = [*_list(out.get("components")), *components]
    if options.images:
        out["images"] = merge_images(_list(out.get("images")), options.images)
    return out


def merge_images(own: list[Any], given: Any) -> list[dict[str, Any]]:
    """images merged by name: newName overrides; newTag and digest override as a pair (one given clears
    the other); a name the file does not list is appended."""
    merged = [dict(i) for i in own if isinstance(i, dict)]
    for image in given:
        name = image.get("name")
        match = next((m for m in merged if m.get("name") == name), None)
        if match is None:
            merged.append({k: image[k] for k in ("name", "newName", "newTag", "digest") if image.get(k)})
            continue
        if image.get("newName"):
            match["newName"] = image["newName"]
        if image.get("newTag") or image.get("digest"):
            for key in ("newTag", "digest"):
                if image.get(key):
                    match[key] = image[key]
                else:
                    match.pop(key, None)
    return merged


def is_local_relative(path: str) -> bool:
    """fluxcd/pkg IsLocalRelativePath: no remote prefix, not absolute (file:// aside)."""
    lower = path.lower()
    if any(len(p) < len(path) and lower.startswith(p) for p in _REMOTE_PREFIXES):
        return False
    return not (posixpath.isabs(path) or posixpath.isabs(lower.removeprefix("file://")))


def _patch(patch: Any) -> dict[str, Any]:
    """A Flux patch (patch + target selector) as kustomize's patches entry."""
    if not isinstance(patch, dict) or not isinstance(patch.get("patch"), str):
        raise GenerateError("spec.patches: each entry needs a patch (text)")
    out: dict[str, Any] = {"patch": patch["patch"]}
    target = patch.get("target")
    if isinstance(target, dict):
        selector = {k: target[k] for k in _SELECTOR_KEYS if target.get(k)}
        if selector:
            out["target"] = selector
    return out


def _scan(root: Path, path: str, out: Generated) -> list[str]:
    """scanManifests: the resources a generated kustomization lists, in filepath.Walk's lexical order."""
    resources: list[str] = []
    base = root / path if path else root

    def walk(directory: Path, relative: str) -> None:
        for entry in sorted(os.listdir(directory)):
            full, rel = directory / entry, posixpath.join(relative, entry) if relative else entry
            repo_path = posixpath.join(path, rel) if path else rel
            if full.is_dir() and not full.is_symlink():
                if any((full / n).is_file() for n in KUSTOMIZATION_NAMES):
                    resources.append(f"./{rel}")
                    out.directories.append(repo_path)
                else:
                    walk(full, rel)
            elif posixpath.splitext(entry)[1] in (".yaml", ".yml") and full.is_file():
                problem = _not_kubernetes(full.read_bytes(), repo_path)
                if problem:
                    raise GenerateError(f"failed to decode Kubernetes YAML from {repo_path}: {problem}",
                                        file=repo_path)
                resources.append(f"./{rel}")
                out.manifests.append(repo_path)

    walk(base, "")
    return resources


def _not_kubernetes(data: bytes, file: str) -> str:
    """Why a YAML file is not Kubernetes objects to kustomize's resource factory, else ""; comment-only
    and empty files are fine."""
    docs, errors = load_manifests(data, file)
    if errors:
        return errors[0].message
    for body, line in docs:
        if not isinstance(body, dict) or not body.get("kind"):
            return f"line {line}: missing Resource metadata (no kind)"
    return ""


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
