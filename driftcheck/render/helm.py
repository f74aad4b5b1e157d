"""Helm apps: checking that chart dependencies are vendored, then rendering as ArgoCD's repo-server does.

Rendering uses `helm template` when a helm binary is on PATH, else the optional helm-python-sdk
package (`pip install 'driftcheck[helm]'`), both bounded by `helm_run`, with every spec.source.helm option
ArgoCD passes (`helmTemplate`, util/helm/cmd.go `template`). Values files and file parameters resolve as
ArgoCD resolves them (`helm_values`), and nothing outside the repository (or a ref source) is ever read.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from driftcheck.fetch.tree import Tree
from driftcheck.model import HelmOptions, Origin, Render, RunError
from driftcheck.render import helm_pool
from driftcheck.render.argocd_env import build_env, envsubst
from driftcheck.render.helm_run import HelmError, run_binary
from driftcheck.render.helm_sdk import TemplateRequest, template_with_sdk
from driftcheck.render.helm_values import ResolvedFile, Roots, download, resolve_path, resolve_values_files
from driftcheck.render.hooks import is_helm_test
from driftcheck.render.renderer import Document, Output, Target
from driftcheck.render.yaml import dump_yaml, load_manifests

_SOURCE = re.compile(r"^# Source: (\S+)", re.MULTILINE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # a scheme, where Go's url.Parse sees one
_KUBE_VERSION = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)+)")  # k8s version.ParseGeneric's leading part


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
    """Render the chart at path with the app's Helm options: its objects, errors and the files it reads."""
    if not shutil.which("helm"):
        helm_pool.POOL.prestart()  # the SDK loads while the chart is exported and its values resolved
    out = Output(files_read=tree.list_files(path, recurse=True))
    chart_file = posixpath.join(path, "Chart.yaml")
    missing = missing_dependencies(tree, path)
    if missing and target.charts is not None:
        return _with_dependencies(tree, path, options, target, timeout, out)
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
    with tree.exported() as (root, export_errors):
        out.errors.extend(e for e in export_errors if e.file.startswith(f"{path}/"))
        return _render_exported(tree, root, path, options, target, timeout, out)


def _with_dependencies(tree: Tree, path: str, options: Render, target: Target, timeout: float,
                       out: Output) -> Output:
    """The repo-server's `helm dependency build` on a private copy (a dependency is missing), then the
    render; what each dependency resolved to is noted for the report."""
    # here, not at the top: fetch/ reads YAML through render.yaml, whose package imports this module
    from driftcheck.fetch.dependencies import DependencyError, build_dependencies

    assert target.charts is not None
    with tree.exported(private=True) as (root, export_errors):
        out.errors.extend(e for e in export_errors if e.file.startswith(f"{path}/"))
        try:
            built = build_dependencies(root / path, target.charts, shown_path=path, root=root)
        except DependencyError as e:
            out.errors.append(RunError(str(e), app=target.app, file=e.file))
            return out
        out.notes += [f"dependency {d.describe()}" for d in built]
        return _render_exported(tree, root, path, options, target, timeout, out)


def _render_exported(tree: Tree, root: Path, path: str, options: Render, target: Target, timeout: float,
                     out: Output) -> Output:
    """helm template of the chart at root/path into out."""
    helm = options.helm or HelmOptions()
    chart_file = posixpath.join(path, "Chart.yaml")
    with tempfile.TemporaryDirectory(prefix="driftcheck-helm-") as tmp:
        try:  # the options (value files, $refs, parameters) are declared where the app is
            request = _request(helm, tree, root, path, target, Path(tmp), timeout)
        except HelmError as e:
            out.errors.append(RunError(str(e), app=target.app, file=target.declared_at or chart_file))
            return out
        out.files_read.extend(shown for file, shown in request.values if not shown.startswith("$")
                              and Path(tmp) not in file.parents)
        try:
            text = _template(request, root, timeout)
        except HelmError as e:
            out.errors.append(RunError(str(e), app=target.app, file=chart_file))
            return out
    docs, errors = load_manifests(text.encode(), f"helm template {path}", duplicate_keys="last")
    out.errors.extend(errors)
    sources = _sources_by_line(text, path)
    for body, line in docs:
        if helm.skip_tests and is_helm_test(body):
            continue  # `--skip-tests`: the SDK has no such option
        file = _source_before(sources, line) or chart_file
        out.documents.append(Document(body, Origin("git", file, 0 if file != chart_file else 1, tree.sha)))
    return out


def _request(helm: HelmOptions, tree: Tree, root: Path, path: str, target: Target, tmp: Path,
             timeout: float) -> TemplateRequest:
    """The helm template ArgoCD would run for these options (repo-server `helmTemplate`)."""
    env = build_env(target.app, target.namespace, tree.sha, path, target.env)
    roots = Roots(root.resolve(), (root / path).resolve(), target.refs, tree.symlink_target)
    values = [_local(f, tmp / f"remote-{i}.yaml", timeout, target)
              for i, f in enumerate(resolve_values_files(helm.values_files, roots, env))]
    for i, layer in enumerate(helm.values):  # ArgoCD's one temp file: valuesObject, else values
        inline = tmp / f"argocd-values-{i}.yaml"
        inline.write_text(layer if isinstance(layer, str) else dump_yaml(dict(layer)), encoding="utf-8")
        values.append((inline, "spec.source.helm.values"))
    by_kind: dict[bool, dict[str, str]] = {False: {}, True: {}}
    for param in helm.parameters:  # a Go map in ArgoCD: a repeated name keeps its last value
        by_kind[param.force_string][param.name] = clean_set_value(envsubst(param.value, env))
    set_file = {}
    for i, file_param in enumerate(helm.file_parameters):
        resolved, _ = resolve_path(file_param.path, roots, env)
        local, _ = _local(resolved, tmp / f"file-parameter-{i}", timeout, target)
        set_file[file_param.name] = clean_set_value(str(local))
    capabilities = target.capabilities
    kube = helm.kube_version or (capabilities.kube_version if capabilities else "")
    return TemplateRequest(
        chart=root / path, release=helm.release_name or target.app,
        namespace=helm.namespace or target.namespace, values=tuple(values),
        set=tuple(f"{k}={v}" for k, v in by_kind[False].items()),
        set_string=tuple(f"{k}={v}" for k, v in by_kind[True].items()),
        set_file=tuple(f"{k}={v}" for k, v in set_file.items()),
        kube_version=kube_version(kube),
        api_versions=helm.api_versions or (capabilities.api_versions if capabilities else ()),
        include_crds=not helm.skip_crds, skip_schema_validation=helm.skip_schema_validation,
        skip_tests=helm.skip_tests)


def values_file_path(chart_dir: str, raw: str) -> str | None:
    """The repository path of a values file by ArgoCD's rule, from the path alone (history reads this):
    relative to the chart directory, a leading `/` from the repository root; None for a URL or a path
    that leaves the repository."""
    if _URL.match(raw):
        return None
    rel = posixpath.normpath(raw.lstrip("/") if raw.startswith("/") else posixpath.join(chart_dir, raw))
    return None if rel in (".", "..") or rel.startswith("../") else rel


def _local(file: ResolvedFile, dest: Path, timeout: float, target: Target) -> tuple[Path, str]:
    """(file on disk, name for messages); a remote file is downloaded to dest first."""
    if file.local is not None:
        return file.local, file.shown
    return download(file, dest, timeout, target.offline), file.shown


def clean_set_value(value: str) -> str:
    """ArgoCD's `cleanSetParameters`: commas are literal (escaped) unless already escaped or the value is
    a Helm list `{a,b}`."""
    if value.startswith("{") and value.endswith("}"):
        return value
    out, previous = [], ""
    for c in value:
        out.append("\\," if c == "," and previous != "\\" else c)
        previous = c
    return "".join(out)


def kube_version(text: str) -> str:
    """The Kubernetes version as ArgoCD passes it (`parseKubeVersion`: `v1.29.3-eks-x` -> `1.29.3`)."""
    if not text:
        return ""
    m = _KUBE_VERSION.match(text)
    if not m:
        raise HelmError(f"could not parse kubernetes version {text}")
    return m.group(1)


def _template(request: TemplateRequest, root: Path, timeout: float) -> str:
    """The chart's manifest stream, from `helm template` on PATH, else from an SDK worker."""
    if shutil.which("helm"):
        return run_binary(request.argv(), root, timeout)
    return helm_pool.POOL.render(template_with_sdk, (request,), timeout)


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
