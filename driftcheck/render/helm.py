"""Helm apps: checking that chart dependencies are vendored, then rendering offline.

Rendering uses `helm template` when a helm binary is on PATH, else the optional helm-python-sdk
package (`pip install 'driftcheck[helm]'`), both bounded by `helm_run`. Nothing is fetched: a dependency
that is not vendored under `charts/`, or a values file given as a URL, is an app error that names it.
Values files are resolved as ArgoCD resolves them, and nothing outside the repository is ever read.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from driftcheck.fetch.tree import Tree
from driftcheck.model import HelmOptions, Origin, Render, RunError, ValuesFile
from driftcheck.render.helm_run import HelmError, run_binary, run_in_child
from driftcheck.render.renderer import Document, Output, Target
from driftcheck.render.yaml import dump_yaml, load_manifests

_SOURCE = re.compile(r"^# Source: (\S+)", re.MULTILINE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # a scheme, where Go's url.Parse sees one


def missing_dependencies(tree: Tree, chart_dir: str) -> list[dict[str, Any]]:
    """Dependencies of the chart (Chart.yaml, or requirements.yaml for v1) not vendored under charts/."""
    declared: list[dict[str, Any]] = []
    for name in ("Chart.yaml", "requirements.yaml"):
        file = posixpath.join(chart_dir, name)
        if tree.exists(file):
            docs, _ = load_manifests(tree.read(file), file)
            deps = docs[0][0].get("dependencies") if docs else None
            declared += [d for d in deps or [] if isinstance(d, dict) and d.get("name")]
    charts = posixpath.join(chart_dir, "charts")
    vendored = {posixpath.basename(p) for p in tree.list_files(charts)} if tree.is_dir(charts) else set()
    missing = []
    for dep in declared:
        name = str(dep["name"])
        as_dir = tree.exists(posixpath.join(charts, name, "Chart.yaml"))
        as_tgz = any(f.startswith(f"{name}-") and f.endswith(".tgz") for f in vendored)
        if not (as_dir or as_tgz):
            missing.append(dep)
    return missing


def render(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """Render the chart at path with the app's values files: its objects, errors and the files it reads."""
    out = Output(files_read=tree.list_files(path, recurse=True))
    chart_file = posixpath.join(path, "Chart.yaml")
    missing = missing_dependencies(tree, path)
    if missing:
        for dep in missing:
            where = f" from {dep['repository']}" if dep.get("repository") else ""
            version = f" {dep['version']}" if dep.get("version") else ""
            out.errors.append(RunError(
                f"Helm chart dependency {dep['name']}{version}{where} is not vendored under "
                f"{posixpath.join(path, 'charts')}/; run `helm dependency build {path}` and commit the "
                "result",
                app=target.app, file=chart_file))
        return out
    helm = options.helm or HelmOptions()
    release = helm.release_name or target.app
    with tree.exported() as (root, export_errors), \
            tempfile.TemporaryDirectory(prefix="driftcheck-helm-") as tmp:
        out.errors.extend(e for e in export_errors if e.file.startswith(f"{path}/"))
        try:
            values = _values_files(tree, path, helm.values_files, root)
            out.files_read.extend(str(v.relative_to(root.resolve())) for v in values)
            extra = _argocd_values(helm, Path(tmp))
            crds = not helm.skip_crds  # ArgoCD's default includes them
            text = _template(root, path, values + extra, release, target.namespace, timeout, crds)
        except HelmError as e:
            out.errors.append(RunError(str(e), app=target.app, file=chart_file))
            return out
    docs, errors = load_manifests(text.encode(), f"helm template {path}")
    out.errors.extend(errors)
    sources = _sources_by_line(text, path)
    for body, line in docs:
        file = _source_before(sources, line) or chart_file
        out.documents.append(Document(body, Origin("git", file, 0 if file != chart_file else 1, tree.sha)))
    return out


def _values_files(tree: Tree, chart_dir: str, values_files: tuple[ValuesFile, ...], root: Path) -> list[Path]:
    """The app's values files on disk, resolved by ArgoCD's rule (`getResolvedValueFiles`,
    `ResolveValueFilePathOrUrl`): relative to the chart directory, a leading `/` from the repository
    root; the result, symlinks resolved, must be a file inside the repository. A URL is refused, since
    this render is offline. An optional file (ArgoCD's `ignoreMissingValueFiles`) may be missing."""
    real_root = root.resolve()
    files: list[Path] = []
    for values_file in values_files:
        raw = values_file.path
        if _URL.match(raw):
            raise HelmError(f"values file {raw}: remote value files are not fetched (the render is offline)")
        rel = values_file_path(chart_dir, raw)
        real = Path(os.path.realpath(real_root / rel)) if rel is not None else real_root
        if rel is None or real_root not in real.parents:
            raise HelmError(f"values file {raw} resolves outside the repository; not read")
        if not real.is_file():
            link = tree.symlink_target(rel)
            if link is not None:
                raise HelmError(f"values file {raw} is a symlink to {link!r}, which leads outside the "
                                "repository; not read")
            if values_file.optional:
                continue
            raise HelmError(f"values file {rel} does not exist at this commit")
        if real not in files:  # ArgoCD passes each file once
            files.append(real)
    return files


def values_file_path(chart_dir: str, raw: str) -> str | None:
    """The repository path of a values file by ArgoCD's rule: relative to the chart directory, a leading
    `/` from the repository root; None for a URL or a path that leaves the repository (never read)."""
    if _URL.match(raw):
        return None
    rel = posixpath.normpath(raw.lstrip("/") if raw.startswith("/") else posixpath.join(chart_dir, raw))
    return None if rel in (".", "..") or rel.startswith("../") else rel


def _argocd_values(helm: HelmOptions, tmp: Path) -> list[Path]:
    """ArgoCD's inline helm values, valuesObject and parameters as values files, in ArgoCD's order of
    precedence (after the valueFiles): values, then valuesObject, then parameters."""
    layers: list[dict[str, Any]] = []
    for layer in helm.values:
        if isinstance(layer, str):
            docs, errors = load_manifests(layer.encode(), "spec.source.helm.values")
            if errors:
                raise HelmError(f"spec.source.helm.values: {errors[0].message}")
            layers += [body for body, _ in docs]
        else:
            layers.append(dict(layer))
    params: dict[str, Any] = {}
    for param in helm.parameters:
        if any(c in param.name for c in "[]\\,"):
            raise HelmError(f"helm parameter {param.name!r}: list indexes and escapes are not supported; "
                             "use valuesObject")
        typed = param.value if param.force_string else _set_value(param.value)
        _merge(params, _nested(param.name.split("."), typed))
    if params:
        layers.append(params)
    files = []
    for i, layer in enumerate(layers):
        files.append(tmp / f"argocd-values-{i}.yaml")
        files[-1].write_text(dump_yaml(layer), encoding="utf-8")
    return files


def _set_value(text: str) -> Any:
    """A `--set` value typed as helm types it: true/false, null, integers, else the string."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    return int(text) if re.fullmatch(r"-?(0|[1-9][0-9]*)", text) else text


def _nested(path: list[str], value: Any) -> dict[str, Any]:
    return {path[0]: _nested(path[1:], value) if len(path) > 1 else value}


def _template(root: Path, path: str, values: list[Path], release: str, namespace: str,
              timeout: float, crds: bool = True) -> str:
    """The chart's manifest stream, from `helm template` on PATH, else from the SDK in a child."""
    chart = root / path
    if shutil.which("helm"):
        argv = ["template", release, str(chart), "--namespace", namespace or "default"]
        if crds:
            argv.append("--include-crds")
        for v in values:
            argv += ["--values", str(v)]
        return run_binary(argv, root, timeout)
    return run_in_child(_template_with_sdk, (chart, values, release, namespace, crds), timeout)


def _template_with_sdk(chart: Path, values: list[Path], release: str, namespace: str, crds: bool) -> str:
    """In the child: what `helm template` prints, from the SDK (run_in_child has imported it)."""
    import helm_python

    merged: dict[str, Any] = {}
    for v in values:
        docs, errors = load_manifests(v.read_bytes(), v.name)
        if errors:
            raise HelmError(f"values file {v.name}: {errors[0]}")
        for body, _ in docs:
            _merge(merged, body)
    try:
        with helm_python.Chart.load(str(chart)) as loaded:
            templates = loaded.render(merged, name=release, namespace=namespace or "default")
            rendered = dict(sorted(templates.items()))
            if crds:  # crds/ files are not templates; `helm template --include-crds` puts them first
                rendered = {**{c["filename"]: c["data"] for c in loaded.crds}, **rendered}
    except helm_python.errors.HelmError as e:
        raise HelmError(f"helm render failed: {e}") from None
    # template path -> manifest text; NOTES.txt is for humans, as in `helm template`
    return "\n---\n".join(f"# Source: {name}\n{text}" for name, text in rendered.items()
                          if text.strip() and not name.endswith("NOTES.txt"))


def _merge(into: dict[str, Any], overlay: dict[str, Any]) -> None:
    """Helm's values merge: maps merge key by key, everything else is replaced."""
    for k, v in overlay.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _sources_by_line(text: str, chart_path: str) -> list[tuple[int, str]]:
    """(line, repository file) of each `# Source: chart/templates/x.yaml` comment helm writes."""
    out = []
    for m in _SOURCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        _, _, rel = m.group(1).partition("/")
        out.append((line, posixpath.join(chart_path, rel)))
    return out


def _source_before(sources: list[tuple[int, str]], line: int) -> str:
    best = ""
    for src_line, file in sources:
        if src_line > line:
            break
        best = file
    return best
