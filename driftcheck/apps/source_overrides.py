"""`.argocd-source.yaml` and `.argocd-source-<app>.yaml`: parameter overrides in the app's path, merged over
the Application's source as ArgoCD's repo-server merges them (`mergeSourceParameters`).

Argo CD Image Updater's Git write-back puts them there (helm.parameters, kustomize.images). Each file that
exists, the generic one first, is a JSON merge patch (RFC 7386: mappings merged, lists and scalars
replaced, null deletes) over the source; repoURL, path, chart and targetRevision are put back after, so
only the tool options can change. A file that does not parse fails the app, as in ArgoCD.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from typing import Any

from driftcheck.apps.urls import Document, normalize_repo_url
from driftcheck.fetch.tree import FileReader
from driftcheck.model import RunError
from driftcheck.render.yaml import YAMLStreamError, load_documents

KEPT = ("repoURL", "path", "chart", "targetRevision")  # restored after the merge, as ArgoCD does


def override_files(path: str, app_name: str) -> list[str]:
    """The files ArgoCD reads for app_name at path, in merge order."""
    names = [".argocd-source.yaml"] + ([f".argocd-source-{app_name}.yaml"] if app_name else [])
    return [posixpath.join(path, n) if path else n for n in names]


def merge_source_overrides(tree: FileReader, path: str, app_name: str, source: Mapping[str, Any],
                           ) -> tuple[dict[str, Any], list[str], list[RunError]]:
    """(the source with the override files of path merged over it, the files read, errors). On an error
    the source is returned unchanged: ArgoCD does not render the app then."""
    merged: dict[str, Any] = copy.deepcopy(dict(source))
    read: list[str] = []
    for file in override_files(path, app_name):
        if not tree.exists(file) or tree.is_dir(file):
            continue
        read.append(file)
        try:
            docs = load_documents(tree.read(file))
        except YAMLStreamError as e:
            return dict(source), read, [RunError(f"error while parsing source parameters: {e.problem}",
                                                 file=file, line=e.line, stage="source")]
        patch = docs[0] if docs else None
        result = merge_patch(merged, patch)
        if not isinstance(result, dict) or any(not isinstance(result.get(k), dict | None)
                                               for k in ("helm", "kustomize", "directory", "plugin")):
            return dict(source), read, [RunError("error while parsing source parameters: the file does not "
                                                 "merge into an Application source (not a mapping of tool "
                                                 "blocks)", file=file, line=1, stage="source")]
        merged = result
    for key in KEPT:
        merged.pop(key, None)
        if key in source:
            merged[key] = copy.deepcopy(source[key])
    return merged, read, []


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of patch over target (target is not modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def with_source_overrides(tree: FileReader, documents: list[Document], wanted: set[str],
                          ) -> tuple[list[Document], list[RunError]]:
    """The Application documents with the override files of this repository merged into each source
    that renders from it (spec.source, or every entry of spec.sources with a path). An Application
    whose override file is broken is left out, with the error naming the app and the file: ArgoCD does
    not render it either."""
    out: list[Document] = []
    errors: list[RunError] = []
    for body, file, line in documents:
        spec = body.get("spec")
        name = str((body.get("metadata") or {}).get("name") or "") if isinstance(body.get("metadata"), dict) \
            else ""
        if body.get("kind") != "Application" or not isinstance(spec, dict) or not name:
            out.append((body, file, line))
            continue
        multi = isinstance(spec.get("sources"), list) and bool(spec["sources"])
        sources = spec["sources"] if multi else [spec.get("source")]
        merged_sources: list[Any] = []
        failed: list[RunError] = []
        for source in sources:
            if not isinstance(source, dict) or source.get("chart") or (multi and not source.get("path")) \
                    or normalize_repo_url(str(source.get("repoURL") or "")) not in wanted:
                merged_sources.append(source)
                continue
            merged, _, problems = merge_source_overrides(tree, str(source.get("path") or "").strip("/"),
                                                         name, source)
            failed += problems
            merged_sources.append(merged)
        if failed:
            errors += [RunError(e.message, app=name, file=e.file, line=e.line, stage="source")
                       for e in failed]
            continue
        new_spec = {**spec, "sources": merged_sources} if multi else {**spec, "source": merged_sources[0]}
        out.append(({**body, "spec": new_spec}, file, line))
    return out, errors
