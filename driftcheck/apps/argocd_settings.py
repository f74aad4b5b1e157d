"""argocd-cm (and argocd-cmd-params-cm) read into `ArgoSettings`: the keys that change ArgoCD's comparison.

As util/settings/settings.go reads them: the legacy `resource.customizations` block and the split keys
`resource.customizations.<type>.<group_kind>` (a split key replaces the block's field for its group/kind,
`.all` is `*/*`), `resource.compareoptions` over its defaults, `resource.exclusions`/`inclusions` after
the core exclusions, the tracking label key, method and installation id. A bad entry is a RunError naming
file:line and the key; the rest of the file still applies.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from driftcheck.kube import TRACKING_LABEL
from driftcheck.model import App, DriftcheckError, Resource, RunError
from driftcheck.render.yaml import YAMLStreamError, load_lined_documents, load_single

if TYPE_CHECKING:
    from driftcheck.fetch.tree import Tree

CUSTOMIZATIONS = "resource.customizations"
SPLIT_TYPES = ("health", "useOpenLibs", "actions", "ignoreDifferences", "ignoreResourceUpdates",
               "knownTypeFields")
TRACKING_METHODS = ("annotation", "label", "annotation+label")
STATUS_FIELD = {"all": "all", "crd": "crd", "none": "none", "off": "none", "false": "none"}
IGNORE_FIELDS = ("jsonPointers", "jqPathExpressions", "managedFieldsManagers")
IN_CLUSTER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class ResourceFilter:
    """One resource.exclusions/inclusions entry; an omitted list matches everything (filtered_resource.go)."""

    api_groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    def matches_cluster(self, cluster: str) -> bool:
        return not self.clusters or any(fnmatch.fnmatchcase(cluster, c) for c in self.clusters)

    def matches(self, group: str, kind: str, cluster: str) -> bool:
        return ((not self.api_groups or any(fnmatch.fnmatchcase(group, g) for g in self.api_groups))
                and (not self.kinds or any(k in ("*", kind) for k in self.kinds))
                and self.matches_cluster(cluster))


# resources_filter.go coreExcludedResources: excluded whatever argocd-cm says.
CORE_EXCLUSIONS = (ResourceFilter(("events.k8s.io", "metrics.k8s.io")), ResourceFilter(("",), ("Event",)),
                   ResourceFilter(("coordination.k8s.io",), ("Lease",)))


@dataclass(frozen=True)
class IgnoreOverride:
    """The ignoreDifferences of one override key, and the argocd-cm key (and line) it came from."""

    key: str  # argocd-cm data key: resource.customizations.ignoreDifferences.apps_Deployment, or the block
    line: int
    group_kind: str  # the override key: "apps/Deployment", "ConfigMap", "*/*"
    json_pointers: tuple[str, ...] = ()
    jq_paths: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()

    @property
    def managers_apply(self) -> bool:
        """ArgoCD looks system-level managers up under the exact key "<group>/<Kind>" or "*/*" only
        (diff/ignore.go HasIgnoreDifference): a core kind's "ConfigMap" key or a glob never matches."""
        group, _, kind = self.group_kind.rpartition("/")
        return self.group_kind == "*/*" or ("/" in self.group_kind and not _has_glob(group + kind))

    def rule_spec(self) -> dict[str, Any] | None:
        """The ignoreDifferences entry ArgoCD's normalizer builds from this override (None: nothing
        ArgoCD applies)."""
        group, _, kind = self.group_kind.rpartition("/")
        spec: dict[str, Any] = {"group": group, "kind": kind}
        for name, values in (("jsonPointers", self.json_pointers), ("jqPathExpressions", self.jq_paths),
                             ("managedFieldsManagers", self.managers if self.managers_apply else ())):
            if values:
                spec[name] = list(values)
        return spec if len(spec) > 2 else None


@dataclass(frozen=True)
class ArgoSettings:
    """What one ArgoCD instance's settings say about comparing; the defaults are ArgoCD 3.x's."""

    file: str
    overrides: tuple[IgnoreOverride, ...] = ()
    exclusions: tuple[ResourceFilter, ...] = ()
    inclusions: tuple[ResourceFilter, ...] = ()
    ignore_aggregated_roles: bool = False
    ignore_status: str = "all"  # all | crd | none
    instance_label_key: str = TRACKING_LABEL
    tracking_method: str = "annotation"
    installation_id: str = ""
    params: Mapping[str, str] = field(default_factory=dict)  # argocd-cmd-params-cm, when in the stream
    problems: tuple[RunError, ...] = ()  # entries not applied (errors) and what driftcheck does not do

    def rule_sources(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(rule id prefix, origin, ignoreDifferences entry) per override ArgoCD applies."""
        out = []
        for o in self.overrides:
            spec = o.rule_spec()
            split = o.key != CUSTOMIZATIONS
            if spec is not None:
                named = o.key if split else f"{o.key}[{o.group_kind}]"
                out.append((f"argocd-cm:{named}", f"argocd-cm key {named} ({self.file}:{o.line})", spec))
        return out

    def compare_settings(self, compare_status: bool, compare_aggregated_rules: bool) -> dict[str, Any]:
        """CompareOptions' fields as these settings make ArgoCD compare; a flag given still turns
        comparing on (--compare-status, --compare-aggregated-rules)."""
        return {"tracking_label": self.instance_label_key, "tracking_method": self.tracking_method,
                "installation_id": self.installation_id,
                "compare_status": compare_status or self.ignore_status != "all",
                "compare_aggregated_rules": compare_aggregated_rules or not self.ignore_aggregated_roles}

    def is_excluded(self, group: str, kind: str, cluster: str) -> bool:
        """ResourcesFilter.IsExcludedResource: excluded, else included, else excluded when inclusions
        name this cluster (default deny), else included."""
        if any(f.matches(group, kind, cluster) for f in (*CORE_EXCLUSIONS, *self.exclusions)):
            return True
        if any(f.matches(group, kind, cluster) for f in self.inclusions):
            return False
        return any(f.matches_cluster(cluster) for f in self.inclusions)


def _has_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


class _Reader:
    """Collects problems with the key and line they are about."""

    def __init__(self, file: str, data: Mapping[str, Any]) -> None:
        self.file, self.data, self.problems = file, data, list[RunError]()
        self.lines: dict[str, int] = getattr(data, "lines", {})

    def problem(self, key: str, message: str, severity: str = "error", config_map: str = "argocd-cm") -> None:
        self.problems.append(RunError(f"{config_map} key {key}: {message}", file=self.file,
                                      line=self.lines.get(key, 0), stage="settings",
                                      severity="warning" if severity == "warning" else "error"))

    def yaml(self, key: str, text: Any) -> Any:
        if not isinstance(text, str):
            self.problem(key, "expected a string holding YAML (a `|` block)")
            return None
        try:
            return load_single(text)
        except YAMLStreamError as exc:
            self.problem(key, f"not valid YAML: {exc.problem} (line {exc.line} of the value)")
            return None


def parse_argocd_settings(text: str | bytes, file: str) -> ArgoSettings:
    """The argocd-cm ConfigMap of a YAML stream (argocd-cmd-params-cm may sit next to it)."""
    try:
        documents = load_lined_documents(text)
    except YAMLStreamError as exc:
        raise DriftcheckError(f"{file}:{exc.line}: not valid YAML: {exc.problem}") from None
    maps = {str(_dig(d, "metadata", "name")): d for d in documents
            if isinstance(d, dict) and d.get("kind") == "ConfigMap"}
    if "argocd-cm" not in maps:
        raise DriftcheckError(f"{file}: no ConfigMap named argocd-cm (--argocd-settings takes the argocd-cm "
                              "ConfigMap's YAML, as `kubectl get configmap argocd-cm -o yaml` prints it)")
    data = maps["argocd-cm"].get("data") or {}
    params = maps.get("argocd-cmd-params-cm", {}).get("data") or {}
    if not isinstance(data, dict) or not isinstance(params, dict):
        raise DriftcheckError(f"{file}: the ConfigMap's data is not a mapping")
    reader = _Reader(file, data)
    status, aggregated = _compare_options(reader)
    method = str(data.get("application.resourceTrackingMethod") or "annotation")
    if method not in TRACKING_METHODS:
        reader.problem("application.resourceTrackingMethod", f"unknown method {method!r}: ArgoCD then tracks "
                       "by annotation, and so does driftcheck", "warning")
        method = "annotation"
    if str(params.get("controller.diff.server.side", "")).lower() == "true":
        reader.problem("controller.diff.server.side", "server-side diff is not emulated: driftcheck compares "
                       "client-side (three-way with last-applied)", "warning", "argocd-cmd-params-cm")
    return ArgoSettings(
        file=file, overrides=_overrides(reader), exclusions=_filters(reader, "resource.exclusions"),
        inclusions=_filters(reader, "resource.inclusions"), ignore_aggregated_roles=aggregated,
        ignore_status=status,
        instance_label_key=str(data.get("application.instanceLabelKey") or TRACKING_LABEL),
        tracking_method=method, installation_id=str(data.get("installationID") or ""),
        params={str(k): str(v) for k, v in params.items()}, problems=tuple(reader.problems))


def _dig(body: Any, *keys: str) -> Any:
    for key in keys:
        body = body.get(key) if isinstance(body, dict) else None
    return body


def _compare_options(reader: _Reader) -> tuple[str, bool]:
    """resource.compareoptions over GetDefaultDiffOptions; an unknown status value means `all`."""
    key = "resource.compareoptions"
    options = reader.yaml(key, reader.data[key]) if key in reader.data else {}
    options = options if isinstance(options, dict) else {}
    raw = options.get("ignoreResourceStatusField", "all")
    value = "false" if raw is False else str(raw or "all")
    if value not in STATUS_FIELD:
        reader.problem(key, f"unknown ignoreResourceStatusField {value!r}: status is ignored on all "
                       "resources, as ArgoCD does", "warning")
    return STATUS_FIELD.get(value, "all"), options.get("ignoreAggregatedRoles") is True


def _overrides(reader: _Reader) -> tuple[IgnoreOverride, ...]:
    """The legacy block first, then split keys replacing its ignoreDifferences per group/kind."""
    found: dict[str, IgnoreOverride] = {}
    block = reader.yaml(CUSTOMIZATIONS, reader.data[CUSTOMIZATIONS]) \
        if reader.data.get(CUSTOMIZATIONS) else {}
    for group_kind, override in (block.items() if isinstance(block, dict) else ()):
        if not isinstance(override, dict):
            reader.problem(CUSTOMIZATIONS, f"{group_kind}: expected a mapping")
            continue
        if "knownTypeFields" in override:
            reader.problem(CUSTOMIZATIONS, f"{group_kind}: knownTypeFields are not applied by driftcheck",
                           "warning")
        if "ignoreDifferences" in override:
            where = f"{CUSTOMIZATIONS} {group_kind}"
            ignore = _ignore_diff(reader, CUSTOMIZATIONS, where, override["ignoreDifferences"])
            if ignore is not None:
                found[str(group_kind)] = _override(CUSTOMIZATIONS, reader, str(group_kind), ignore)
    for key in sorted(k for k in reader.data if str(k).startswith(CUSTOMIZATIONS)):
        parts = str(key).split(".", 3)
        if len(parts) < 4:
            continue
        kind_part = parts[3].split("_")
        if len(kind_part) > 2 or not parts[3]:
            reader.problem(key, "the group/kind part must be <group>_<Kind>, <Kind> or all")
            continue
        group_kind = "*/*" if parts[3] == "all" else "/".join(kind_part)
        if parts[2] not in SPLIT_TYPES:
            reader.problem(key, f"resource customization type {parts[2]} not supported")
        elif parts[2] == "knownTypeFields":
            reader.problem(key, "knownTypeFields are not applied by driftcheck", "warning")
        elif parts[2] == "ignoreDifferences":
            ignore = _ignore_diff(reader, key, key, reader.data[key])
            if ignore is not None:
                found[group_kind] = _override(key, reader, group_kind, ignore)
    for override in found.values():
        if override.managers and not override.managers_apply:
            reader.problem(override.key, f"managedFieldsManagers under {override.group_kind!r} are not "
                           "applied: ArgoCD looks them up only under <group>/<Kind> or */*", "warning")
    return tuple(found.values())


def _override(key: str, reader: _Reader, group_kind: str,
              ignore: dict[str, tuple[str, ...]]) -> IgnoreOverride:
    return IgnoreOverride(key, reader.lines.get(key, 0), group_kind, ignore["jsonPointers"],
                          ignore["jqPathExpressions"], ignore["managedFieldsManagers"])


def _ignore_diff(reader: _Reader, key: str, where: str, value: Any) -> dict[str, tuple[str, ...]] | None:
    """An OverrideIgnoreDiff: a YAML string with jsonPointers, jqPathExpressions, managedFieldsManagers."""
    parsed = reader.yaml(key, value)
    if parsed is None:
        return None
    where = f"{where}: " if where != key else ""
    if not isinstance(parsed, dict):
        reader.problem(key, f"{where}expected jsonPointers, jqPathExpressions or managedFieldsManagers")
        return None
    for unknown in sorted(set(parsed) - set(IGNORE_FIELDS)):
        reader.problem(key, f"{where}unknown field {unknown!r} (ArgoCD ignores it)", "warning")
    out: dict[str, tuple[str, ...]] = {}
    for name in IGNORE_FIELDS:
        values = parsed.get(name) or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            reader.problem(key, f"{where}{name} must be a list of strings")
            return None
        out[name] = tuple(values)
    return out


def _filters(reader: _Reader, key: str) -> tuple[ResourceFilter, ...]:
    if key not in reader.data:
        return ()
    entries = reader.yaml(key, reader.data[key])
    if entries is None:
        return ()
    if not isinstance(entries, list):
        reader.problem(key, "expected a list of {apiGroups, kinds, clusters}")
        return ()
    out = []
    for index, entry in enumerate(entries):
        lists = [entry.get(name) or [] for name in ("apiGroups", "kinds", "clusters")] \
            if isinstance(entry, dict) else None
        if lists is None or not all(isinstance(v, list) and all(isinstance(s, str) for s in v)
                                    for v in lists):
            reader.problem(key, f"entry #{index}: apiGroups, kinds and clusters must be lists of strings")
            continue
        out.append(ResourceFilter(*(tuple(v) for v in lists)))
    return tuple(out)


def read_argocd_settings(given: str, tree: Tree) -> tuple[ArgoSettings, str]:
    """--argocd-settings: a local file when one exists at that path, else a path inside the audited
    commit; also returns where it was read from, for the progress line."""
    local = FsPath(given)
    if local.is_file():
        try:
            return parse_argocd_settings(local.read_bytes(), given), f"{given} (local file)"
        except OSError as exc:
            raise DriftcheckError(f"cannot read --argocd-settings {given}: {exc}") from None
    inside = given.lstrip("/")
    if inside and tree.exists(inside) and not tree.is_dir(inside):
        where = f"{inside} in the repository at {tree.sha[:12]}"
        return parse_argocd_settings(tree.read(inside), inside), where
    raise DriftcheckError(f"--argocd-settings {given}: no such local file, nor a file of that path in the "
                          f"repository at {tree.sha[:12]}")


def excluded_objects(settings: ArgoSettings, app: App, resources: list[Resource]) -> tuple[list[Resource],
                                                                                          list[RunError]]:
    """The app's desired objects without the kinds the settings exclude, and a warning for each dropped
    one (ArgoCD's ExcludedResourceWarning); matched against the destination's server URL."""
    cluster = app.destination.cluster
    server = cluster.server or (IN_CLUSTER if cluster.name in ("", "in-cluster") else "")
    kept, warnings = [], []
    for res in resources:
        key = res.key
        if settings.is_excluded(key.group, key.kind, server):
            warnings.append(RunError(f"{key.group}/{key.kind} {key.name} is excluded in the settings "
                                     f"({settings.file}: resource.exclusions/inclusions): not compared",
                                     app=app.name, file=res.origin.file, line=res.origin.line,
                                     resource=str(key),
                                     stage="settings", severity="warning"))
        else:
            kept.append(res)
    return kept, warnings
