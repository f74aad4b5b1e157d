"""One Helm template request, as the `helm template` flags ArgoCD passes, or rendered by the Helm SDK.

The SDK path runs in a bounded worker (`helm_pool`), one render at a time, and does what `helm template`
does with those flags: values files merged in order, then each --set, --set-string and --set-file
parsed into the result by Helm's own strvals parser (`helm_python.parse_set_*`), so list indexes,
escapes and `{a,b}` lists type as Helm types them; CRDs first unless skipped; the schema skipped only
when asked.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftcheck.render.helm_run import HelmError

_LEAF = "driftcheck-leaf-4f1c"  # a value no parameter has: marks where a --set key's path ends


@dataclass(frozen=True)
class TemplateRequest:
    """What ArgoCD's `helm template` command line carries (util/helm/cmd.go `template`)."""

    chart: Path
    release: str
    namespace: str = ""  # "" = Helm's default namespace
    values: tuple[tuple[Path, str], ...] = ()  # (file on disk, name for messages), in --values order
    set: tuple[str, ...] = ()  # "name=value" as ArgoCD writes the flag
    set_string: tuple[str, ...] = ()
    set_file: tuple[str, ...] = ()  # "name=path on disk"
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()
    include_crds: bool = True
    skip_schema_validation: bool = False
    skip_tests: bool = False

    def argv(self) -> list[str]:
        """The helm binary's arguments, in ArgoCD's order."""
        argv = ["template", str(self.chart), "--name-template", self.release]
        argv += ["--namespace", self.namespace] if self.namespace else []
        argv += ["--kube-version", self.kube_version] if self.kube_version else []
        for flag, exprs in (("--set", self.set), ("--set-string", self.set_string),
                            ("--set-file", self.set_file)):
            for expr in exprs:
                argv += [flag, expr]
        for path, _ in self.values:
            argv += ["--values", str(path)]
        for api in self.api_versions:
            argv += ["--api-versions", api]
        flags = (("--include-crds", self.include_crds),
                 ("--skip-schema-validation", self.skip_schema_validation), ("--skip-tests", self.skip_tests))
        return argv + [flag for flag, on in flags if on]


def merge(into: dict[str, Any], overlay: dict[str, Any]) -> None:
    """Helm's values-file merge (`mergeMaps`): maps merge key by key, everything else is replaced."""
    for k, v in overlay.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            merge(into[k], v)
        else:
            into[k] = v


def _key(expr: str) -> str:
    """The key of `key=value`, up to the first `=` strvals does not see escaped."""
    i = 0
    while i < len(expr) and expr[i] != "=":
        i += 2 if expr[i] == "\\" else 1
    return expr[:i]


def _leaf_path(parsed: Any) -> list[str | int] | None:
    """The one path a single assignment's parse leads down: a map key, or a list's last index."""
    path: list[str | int] = []
    while True:
        if isinstance(parsed, dict) and len(parsed) == 1:
            key = next(iter(parsed))
            path.append(key)
            parsed = parsed[key]
        elif isinstance(parsed, list) and parsed and all(x is None for x in parsed[:-1]):
            path.append(len(parsed) - 1)
            parsed = parsed[-1]
        else:
            return path if parsed == _LEAF and path else None


def _set(base: dict[str, Any], path: list[str | int], value: Any) -> None:
    """strvals' ParseInto for one path: existing maps and lists are kept and written into, a list is
    padded with nulls up to the index."""
    node: Any = base
    for step, following in zip(path, [*path[1:], None], strict=True):
        if isinstance(step, int):
            node.extend([None] * (step + 1 - len(node)))
        if following is None:
            node[step] = value
            return
        child = node[step] if isinstance(step, int) or step in node else None
        want: type = list if isinstance(following, int) else dict
        if not isinstance(child, want):
            child = want()
            node[step] = child
        node = child


def parse_into(base: dict[str, Any], expr: str, parse: Callable[[str], dict[str, Any]],
               parse_key: Callable[[str], dict[str, Any]]) -> None:
    """One --set style flag into base, as Helm's strvals.ParseInto does: the key's path found with a
    marker value, the typed value from Helm's parser, written into what the values files gave."""
    parsed = parse(expr)
    path = _leaf_path(parse_key(f"{_key(expr)}={_LEAF}"))
    value: Any = parsed
    try:
        for step in path or []:
            value = value[step]
    except (KeyError, IndexError, TypeError):
        path = None
    if path is None:
        merge(base, parsed)  # not a single assignment: the parse as it stands
    else:
        _set(base, path, value)


def _without_schemas(chart: Path, dest: Path) -> Path:
    """A copy of the chart and its subcharts (archives expanded) with no values.schema.json: the SDK's
    render validates the schema and has no option not to (`--skip-schema-validation`)."""
    import helm_python

    copy = dest / chart.name
    shutil.copytree(chart, copy)
    for _ in range(32):  # subcharts of subcharts, bounded
        archives = [a for a in copy.rglob("*.tgz") if a.parent.name == "charts"]
        if not archives:
            break
        for archive in archives:
            helm_python.expand(str(archive.parent), str(archive))
            archive.unlink()
    for schema in copy.rglob("values.schema.json"):
        schema.unlink()
    return copy


def _render(chart: Any, values: dict[str, Any], options: dict[str, Any]) -> dict[str, str]:
    """The SDK's native render with kube_version and api_versions: `Chart.render` does not pass them on,
    and .Capabilities must be the destination cluster's, as ArgoCD's --kube-version/--api-versions."""
    from helm_python import _native

    rendered: dict[str, str] = json.loads(_native.call_string("helm_render", chart._raw(), json.dumps(values),
                                                              json.dumps(options)))
    return rendered


def template_with_sdk(req: TemplateRequest) -> str:
    """In a worker: what `helm template` prints for req (the worker has imported the SDK)."""
    import helm_python

    base: dict[str, Any] = {}
    try:
        for path, shown in req.values:
            try:
                merge(base, helm_python.values_from_yaml(path.read_text(encoding="utf-8")) or {})
            except (helm_python.errors.HelmError, UnicodeDecodeError) as e:
                raise HelmError(f"values file {shown}: {e}") from None
        key = helm_python.parse_set_string_values  # every key parses the same; the value decides
        for exprs, parse in ((req.set, helm_python.parse_set_string), (req.set_string, key),
                             (req.set_file, helm_python.parse_set_file)):
            for expr in exprs:
                try:
                    parse_into(base, expr, parse, key)
                except helm_python.errors.HelmError as e:
                    raise HelmError(f"helm parameter {_key(expr)}: {e}") from None
        options: dict[str, Any] = {"name": req.release, "namespace": req.namespace or "default"}
        options.update({"kube_version": req.kube_version} if req.kube_version else {})
        options.update({"api_versions": list(req.api_versions)} if req.api_versions else {})
        with tempfile.TemporaryDirectory(prefix="driftcheck-chart-") as tmp:
            chart = _without_schemas(req.chart, Path(tmp)) if req.skip_schema_validation else req.chart
            with helm_python.Chart.load(str(chart)) as loaded:
                rendered = dict(sorted(_render(loaded, base, options).items()))
                if req.include_crds:  # crds/ files are not templates; `--include-crds` puts them first
                    rendered = {**{c["filename"]: c["data"] for c in loaded.crds}, **rendered}
    except helm_python.errors.HelmError as e:
        raise HelmError(f"helm render failed: {e}") from None
    # template path -> manifest text; NOTES.txt is for humans, as in `helm template`
    return "\n---\n".join(f"# Source: {name}\n{text}" for name, text in rendered.items()
                          if text.strip() and not name.endswith("NOTES.txt"))
