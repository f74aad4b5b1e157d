"""compare_app: one app's desired objects against the live state -> one verdict per object."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftcheck.compare.derived import Relations, derive
from driftcheck.compare.diff import Walker
from driftcheck.compare.managedfields import ManagedEntry, managed_entries, owned_leaves, owner
from driftcheck.compare.normalize import last_applied, normalize
from driftcheck.compare.pointer import ABSENT, Path, dig, get_at, mapping, to_pointer
from driftcheck.compare.rules import Rule, RuleError, RuleSet, RuleUnfinished, of_kind
from driftcheck.compare.secrets import CHANGED, CHANGED_NOTE, redact
from driftcheck.compare.versions import to_live_version
from driftcheck.flux import sops
from driftcheck.flux.helm_drift import policy as helm_policy
from driftcheck.flux.inventory import classify_extra
from driftcheck.flux.managers import flux_owned, with_flux_note
from driftcheck.flux.objects import KUSTOMIZE_GROUP
from driftcheck.flux.policies import Policy, policy
from driftcheck.flux.unresolved import narrowed, unresolved_names, unresolved_reason
from driftcheck.kube import COMPARE_OPTIONS, DNS1123_LABEL_MAX, INSTALLATION_ID, TRACKING_ID, TRACKING_LABEL
from driftcheck.model import App, FieldDiff, LiveState, Resource, ResourceKey, ResourceResult, Status

DEFAULT_GITOPS_MANAGERS = ("argocd-controller", "argocd-application-controller", "kubectl-client-side-apply",
                           "kubectl", "kustomize-controller", "helm-controller")
AGGREGATED_RULES = "builtin:aggregated-clusterrole-rules"
IGNORE_EXTRANEOUS = "IgnoreExtraneous"
NOT_SERVED = "resource type not served by the cluster (CRD not installed?)"
IGNORED_EXTRANEOUS = ("live only, not in Git: not counted as drift (argocd.argoproj.io/compare-options: "
                      "IgnoreExtraneous; ArgoCD shows it OutOfSync but keeps the app Synced)")
LABEL_METHODS = ("label", "annotation+label")
CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


@dataclass
class CompareOptions:
    """How strict the comparison is; the defaults are what ArgoCD users expect."""

    gitops_managers: tuple[str, ...] = DEFAULT_GITOPS_MANAGERS
    compare_aggregated_rules: bool = False  # an aggregated ClusterRole's rules are its controller's
    compare_status: bool = False  # `status` of CRDs; built-in kinds' status is never compared
    tracking_label: str = TRACKING_LABEL
    tracking_annotation: str = TRACKING_ID
    # "": the label or the annotation names the app; else argocd-cm's method (annotation | label |
    # annotation+label), which alone decides, as ArgoCD's GetAppName does
    tracking_method: str = ""
    installation_id: str = ""  # argocd-cm installationID: annotation modes track only objects carrying it

    def __post_init__(self) -> None:
        # an empty list means "not configured" (config files default to it)
        self.gitops_managers = tuple(self.gitops_managers or DEFAULT_GITOPS_MANAGERS)


@dataclass
class Prepared:
    """Both sides normalized and redacted, with what the live object says about who set what."""

    desired: dict[str, Any]
    live: dict[str, Any]
    applied: Any  # normalized last-applied-configuration, or ABSENT
    entries: list[ManagedEntry] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # Secret keys whose live values were redacted


def prepare(key: ResourceKey, desired: dict[str, Any] | None, live: dict[str, Any] | None,
            options: CompareOptions) -> Prepared:
    """Normalize and redact a desired/live pair; used by the comparison and by --explain alike."""
    label, annotation = options.tracking_label, options.tracking_annotation
    if desired is not None and live is not None:
        desired = to_live_version(desired, str(live.get("apiVersion", "")))
    status = options.compare_status
    more = frozenset({INSTALLATION_ID}) if options.tracking_method else frozenset()  # ArgoCD's bookkeeping
    d = normalize(desired, key.group, compare_status=status, tracking_label=label,
                  tracking_annotation=annotation, more_annotations=more) if desired is not None else None
    labels = mapping(d, "metadata", "labels")
    lv = normalize(live, key.group, compare_status=status, desired_labels=labels, tracking_label=label,
                   tracking_annotation=annotation, more_annotations=more) if live is not None else None
    raw_applied = last_applied(live) if live is not None else None
    applied = normalize(raw_applied, key.group, desired_labels=labels, tracking_label=label,
                        tracking_annotation=annotation, more_annotations=more) if raw_applied else ABSENT
    not_compared = redact(key.group, key.kind, d, lv, applied)
    return Prepared(d if d is not None else {}, lv if lv is not None else {}, applied,
                    managed_entries(live) if live is not None else [], not_compared)


def compare_app(app: App, desired: list[Resource], live: LiveState, rules: RuleSet,
                options: CompareOptions) -> list[ResourceResult]:
    """Verdicts for every desired object of `app`, plus live objects it tracks that Git no longer has.

    Pure apart from what it records on `rules` (which rules were used, which failed to apply).
    `rules` may be the run's RuleSet or the view `rules.for_app(app)` returns.
    """
    scoped = rules.for_app(app)
    app_rules = scoped.applicable()
    relations = derive(desired)
    index = live_index(live, options)
    by_key = index.by_key
    kinds: dict[tuple[str, str], list[Rule]] = {}  # the rules whose group and kind globs match, per kind
    flux = app.primary.render.tool == "flux"
    helm_release = app.primary.render.tool == "flux-helm"
    built = app.primary.render.flux
    results = []
    for res in desired:
        reason = _unreadable(res.key, live)
        if reason:
            results.append(ResourceResult(res.key, app.name, "unknown", res.api_version, source=res.origin,
                                          reason=reason))
        elif ruled := _flux_policy(app, res, by_key, flux, helm_release):
            results.append(_by_policy(app.name, res, ruled, res.key in by_key))
        else:
            result = ResourceResult(res.key, app.name, "missing", res.api_version, source=res.origin,
                                    reason="in Git, not in the cluster") if res.key not in by_key else \
                compare_pair(app.name, res, by_key[res.key], of_kind(kinds, app_rules, res.key), scoped,
                             relations, options, flux)
            if flux and built and (names := unresolved_names(built, res.body)):
                result = narrowed(result, names, unresolved_reason(built, names))
            if flux and sops.marked(res.body):
                result = sops.by_keys(result)
            results.append(result)
    wanted = {r.key for r in desired}
    for res in index.owned(app.tracking.labels) if app.tracking.labels else index.tracking(app.name, options):
        if res.key in wanted or controller_made(res, index.services) or not self_referenced(res, options):
            continue
        if IGNORE_EXTRANEOUS in compare_options(res.body):
            results.append(ResourceResult(res.key, app.name, "in-sync", res.api_version,
                                          reason=IGNORED_EXTRANEOUS))
        elif flux:
            kind, why = classify_extra(res.key, res.body, app.name, _kustomization(app, by_key))
            results.append(ResourceResult(res.key, app.name, "extra", res.api_version, reason=why,
                                          extra=kind))
        else:
            results.append(ResourceResult(res.key, app.name, "extra", res.api_version,
                                          reason=f"tracked as part of app {app.name} but no longer in Git"))
    return results


def _kustomization(app: App, by_key: Mapping[ResourceKey, Resource]) -> dict[str, Any] | None:
    """The live Kustomization object a Flux app is built from (its status holds the inventory)."""
    flux = app.primary.render.flux
    if flux is None:
        return None
    found = by_key.get(ResourceKey(KUSTOMIZE_GROUP, "Kustomization", flux.namespace, flux.name))
    return found.body if found else None


def _flux_policy(app: App, res: Resource, by_key: Mapping[ResourceKey, Resource], flux: bool,
                 helm_release: bool) -> Policy | None:
    """What kustomize-controller's (flux) or helm-controller's (helm_release) per-object policy says."""
    if flux:
        return policy(res.body, by_key[res.key].body if res.key in by_key else None)
    return helm_policy(app, res) if helm_release else None


def _by_policy(app: str, desired: Resource, ruled: Policy, present: bool) -> ResourceResult:
    """The verdict Flux's per-object policy gives: skipped, or (IfNotPresent) only whether it exists."""
    kind, why = ruled
    if kind == "presence" and not present:
        return ResourceResult(desired.key, app, "missing", desired.api_version, source=desired.origin,
                              reason=f"in Git, not in the cluster ({why})")
    return ResourceResult(desired.key, app, "in-sync", desired.api_version, source=desired.origin, reason=why)


def compare_pair(app: str, desired: Resource, live: Resource, app_rules: list[Rule], ruleset: RuleSet,
                 relations: Relations, options: CompareOptions, flux: bool = False) -> ResourceResult:
    """The verdict for one object present on both sides, under app_rules (those of its kind: of_kind);
    flux: the fields kustomize-controller's next apply owns are what the GitOps side owns (flux.managers)."""
    key = desired.key
    prep = prepare(key, with_tracking_label(desired.body, key, app, options), live.body, options)
    def writer(path: Path) -> str | None:
        who = owner(prep.entries, prep.live, path)
        return who.manager if who else None

    walker = Walker(key.group, key.kind, writer=writer, gitops=frozenset(options.gitops_managers))
    unapplied = _apply_rules(app, key, prep, app_rules, ruleset, relations, walker)
    aggregated = "aggregationRule" in prep.desired or "aggregationRule" in prep.live
    if key.group_kind == ("rbac.authorization.k8s.io", "ClusterRole") and aggregated \
            and not options.compare_aggregated_rules:
        walker.ignore_desired.setdefault(("rules",), AGGREGATED_RULES)
        walker.ignore_live.setdefault(("rules",), AGGREGATED_RULES)
    gitops = flux_owned(prep.entries, desired.body) if flux else [
        (e.manager, e.fields) for e in prep.entries
        if e.manager in options.gitops_managers and e.operation == "Apply" and not e.subresource]
    walker.run(prep.desired, prep.live, prep.applied, list(gitops))
    diffs = [FieldDiff(to_pointer(d.path), d.desired, d.live,
                       None if d.live_path is None else owner(prep.entries, prep.live, d.live_path),
                       CHANGED_NOTE if d.live == CHANGED else d.note)
             for d in walker.diffs]
    if flux:
        diffs = [with_flux_note(d) for d in diffs]
    reasons = [f"values of {', '.join(prep.not_compared)} not compared: redacted in snapshot"] \
        if prep.not_compared else []
    # A rule that could not be applied may be the one that hides these diffs: unknown, not drifted.
    status: Status = "unknown" if unapplied else "drifted" if diffs else "in-sync"
    return ResourceResult(key, app, status, desired.api_version, diffs=diffs, ignored=walker.ignored,
                          source=desired.origin, reason="; ".join(reasons + unapplied))


def _apply_rules(app: str, key: ResourceKey, prep: Prepared, app_rules: list[Rule], ruleset: RuleSet,
                 relations: Relations, walker: Walker) -> list[str]:
    """Resolve each rule selecting `key` to concrete paths on each side; failures become RunErrors.

    A rule that names nothing in this object's shape (a pointer into a missing item, a jq type error)
    ignores nothing; one whose jq did not finish is unknown, and the returned reasons make the verdict
    say so instead of leaving it silently in-sync."""
    unapplied: list[str] = []
    for rule in app_rules:  # of key's kind already (of_kind)
        if not rule.selects_object(key):
            continue
        variables: dict[str, Any] = {}
        if rule.derived_from:
            if key not in relations.get(rule.derived_from, {}):
                continue
            variables = relations[rule.derived_from][key]
        failures: list[RuleError] = []
        sides = ((prep.desired, walker.ignore_desired), (prep.live, walker.ignore_live))
        found = rule.paths_each([body for body, _ in sides], variables)
        for (body, target), named in zip(sides, found, strict=True):
            if isinstance(named, RuleError):
                failures.append(named)
                continue
            _mark(rule, ruleset, body, named, target)
        if len(failures) == 2:
            ruleset.error(rule, key, str(failures[1]), app=app)
        if any(isinstance(f, RuleUnfinished) for f in failures):
            unapplied.append(f"ignore rule {rule.id} could not be applied (jq did not finish)")
        if rule.managers:
            paths = [p for e in prep.entries if e.manager in rule.managers
                     for p in owned_leaves(e.fields, prep.live)]
            _mark(rule, ruleset, prep.live, paths, walker.ignore_live)
    return unapplied


def _mark(rule: Rule, ruleset: RuleSet, body: Any, paths: list[Path], target: dict[Path, str]) -> None:
    for path in paths:
        if get_at(body, path) is not ABSENT:
            ruleset.used.add(rule.id)
        target.setdefault(path, rule.id)


def _unreadable(key: ResourceKey, live: LiveState) -> str:
    if key.group_kind in live.not_served:
        return NOT_SERVED
    return live.unreadable.get((key.group, key.kind, key.namespace)) or live.unreadable.get(
        (key.group, key.kind, ""), "")


@dataclass
class LiveIndex:
    """Lookups over one LiveState, built once and shared by every app's comparison (not once per app)."""

    resources: list[Resource]
    by_key: dict[ResourceKey, Resource]
    services: set[ResourceKey]
    by_tracking: dict[str, list[int]]  # tracking label value / tracking-id app part -> positions

    def owned(self, labels: Mapping[str, str]) -> list[Resource]:
        """Live objects carrying all these labels (a Flux Kustomization's owner labels), in live order."""
        return [r for r in self.resources if owns_labels(r.body, labels)]

    def tracking(self, app: str, options: CompareOptions) -> list[Resource]:
        """Live objects whose tracking label or annotation names `app`, in live order."""
        positions = set(self.by_tracking.get(app, ())) | set(self.by_tracking.get(app.split(":")[0], ()))
        return [self.resources[i] for i in sorted(positions)
                if tracked_by(self.resources[i].body, app, options)]


_INDEX: list[tuple[weakref.ref[LiveState], tuple[str, str, int], LiveIndex]] = []


def live_index(live: LiveState, options: CompareOptions) -> LiveIndex:
    """The index of `live`, reused while the same LiveState (same size, same tracking keys) is compared."""
    stamp = (options.tracking_label, options.tracking_annotation, len(live.resources))
    if _INDEX:
        ref, cached_stamp, cached = _INDEX[0]
        if ref() is live and cached_stamp == stamp and cached.resources is live.resources:
            return cached
    by_tracking: dict[str, list[int]] = {}
    for i, res in enumerate(live.resources):
        label = mapping(res.body, "metadata", "labels").get(options.tracking_label)
        tracking = mapping(res.body, "metadata", "annotations").get(options.tracking_annotation)
        for name in {str(label) if label else "", str(tracking).split(":")[0] if tracking else ""} - {""}:
            by_tracking.setdefault(name, []).append(i)
    index = LiveIndex(live.resources, {r.key: r for r in live.resources},
                      {r.key for r in live.resources if r.key.group_kind == ("", "Service")}, by_tracking)
    ref = weakref.ref(live)
    _INDEX[:] = [(ref, stamp, index)]
    # The index holds every live object: it must not keep them alive once their LiveState is gone (at
    # 20,000 objects that was ~300 MB still held while the reports were written).
    weakref.finalize(live, _forget, ref)
    return index


def _forget(ref: weakref.ref[LiveState]) -> None:
    """Drop the cached index when the LiveState it was built for is gone (and no newer one replaced it)."""
    if _INDEX and _INDEX[0][0] is ref:
        _INDEX.clear()


def owns_labels(body: dict[str, Any], labels: Mapping[str, str]) -> bool:
    own = mapping(body, "metadata", "labels")
    return all(own.get(k) == v for k, v in labels.items())


def owned_by(body: dict[str, Any], app: App, options: CompareOptions) -> bool:
    """Whether a live object is app's: its owner labels when the app has them (Flux), else ArgoCD's."""
    if app.tracking.labels:
        return owns_labels(body, app.tracking.labels)
    return tracked_by(body, app.name, options)


def tracked_by(body: dict[str, Any], app: str, options: CompareOptions) -> bool:
    """Whether a live object is the app's: its tracking label or tracking-id annotation names it; with
    argocd-cm's method, only what that method reads (resource_tracking.go GetAppName)."""
    label = mapping(body, "metadata", "labels").get(options.tracking_label)
    if options.tracking_method == "label":
        return label == app
    if options.tracking_method:
        found = tracking_id(body, options)
        return found is not None and found[0] == app
    tracking = str(mapping(body, "metadata", "annotations").get(options.tracking_annotation) or "")
    return label == app or tracking.startswith(app + ":")


def tracking_id(body: dict[str, Any], options: CompareOptions) -> tuple[str, str, str, str, str] | None:
    """(app, group, kind, namespace, name) of `app:group/Kind:namespace/name`, as ArgoCD parses it (the
    first two `:` split; one `/` in each later part), or None; None too when argocd-cm sets an
    installationID the object does not carry."""
    annotations = mapping(body, "metadata", "annotations")
    if options.installation_id and annotations.get(INSTALLATION_ID) != options.installation_id:
        return None
    parts = str(annotations.get(options.tracking_annotation) or "").split(":", 2)
    if len(parts) != 3:
        return None
    group_kind, where = parts[1].split("/"), parts[2].split("/")
    if len(group_kind) != 2 or len(where) != 2:
        return None
    return parts[0], group_kind[0], group_kind[1], where[0], where[1]


def self_referenced(res: Resource, options: CompareOptions) -> bool:
    """An object whose tracking id names another object is a copy (made by HNC and the like): ArgoCD
    gives it no status (controller/state.go isSelfReferencedObj). Cluster-scoped objects carry the app's
    destination namespace in their id, so an object without a namespace matches any."""
    if options.tracking_method not in ("annotation", "annotation+label"):
        return True
    found = tracking_id(res.body, options)
    if found is None:
        return True
    _, group, kind, namespace, name = found
    key = res.key
    return key.namespace in (namespace, "") and (key.group, key.kind, key.name) == (group, kind, name)


def compare_options(body: dict[str, Any]) -> set[str]:
    """The comma-separated values of argocd.argoproj.io/compare-options, trimmed."""
    text = mapping(body, "metadata", "annotations").get(COMPARE_OPTIONS)
    return {v.strip() for v in text.split(",") if v.strip()} if isinstance(text, str) else set()


def with_tracking_label(body: dict[str, Any], key: ResourceKey, app: str,
                        options: CompareOptions) -> dict[str, Any]:
    """The desired object as ArgoCD applies it in label modes: the instance label set to the app name,
    over any value the chart gave (truncated to 63 in annotation+label); CRDs get no tracking."""
    if options.tracking_method not in LABEL_METHODS or key.group_kind == CRD:
        return body
    value = app if options.tracking_method == "label" else _truncate_label(app)
    labels = mapping(body, "metadata", "labels")
    if labels.get(options.tracking_label) == value:
        return body
    metadata = mapping(body, "metadata")
    return {**body, "metadata": {**metadata, "labels": {**labels, options.tracking_label: value}}}


def _truncate_label(value: str) -> str:
    """resource_tracking.go TruncateLabel: 63 characters, then no trailing non-alphanumerics."""
    if len(value) <= DNS1123_LABEL_MAX:
        return value
    return value[:DNS1123_LABEL_MAX].rstrip("-_.")


def controller_made(res: Resource, live_services: set[ResourceKey]) -> bool:
    """Objects with ownerReferences (any: gitops-engine's GetManagedLiveObjs skips them all) and a Service's
    Endpoints are never `extra`/unmanaged."""
    refs = dig(res.body, "metadata", "ownerReferences")
    if isinstance(refs, list) and refs:
        return True
    return res.key.group_kind == ("", "Endpoints") and ResourceKey("", "Service", res.key.namespace,
                                                                    res.key.name) in live_services
