"""Who changed it: the audit event behind each drifted field's managedFields entry, and its identity.

A managedFields entry names a manager (a string the client chooses), an operation, a subresource and
a time at one-second resolution. The audit log names the authenticated user. An event made the change
when it is for the same object and subresource, an update/patch/create that succeeded (2xx) at
ResponseComplete and was not a dry run, carries the same field manager (the `fieldManager` query
parameter, else the user-agent prefix the API server derives the manager from) and its request
interval, widened by the skew, contains the entry's time. Nothing is guessed: without a matching
event the identity says why, and a time the log does not cover is `no-data`, never "unknown user".
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from driftcheck.evidence.auditlog import AuditEvent, AuditLog, log_paths, parse_time, read_audit_logs
from driftcheck.model import ChangedBy, FieldDiff, Identity, ResourceKey, ResourceResult

DEFAULT_SKEW = 2.0  # seconds either side of the request interval (HA apiservers' clocks)
# The service accounts GitOps controllers run as by default (Argo CD, Flux).
DEFAULT_GITOPS_IDENTITIES = (
    "system:serviceaccount:argocd:argocd-application-controller",
    "system:serviceaccount:flux-system:kustomize-controller",
    "system:serviceaccount:flux-system:helm-controller",
)
# Managers that name a GitOps controller when the configuration names none (kubectl's own managers are
# GitOps managers for the comparison, but a person using kubectl is no impersonation of a controller).
GITOPS_TOOL_MANAGERS = ("argocd-controller", "argocd-application-controller", "kustomize-controller",
                        "helm-controller")
GITOPS_IMPERSONATION = "gitops-impersonation"
# Weak matches: a manager a known tool sets itself, recognised by the tool's user agent alone.
_TOOL_AGENTS = (("kubectl", "kubectl/"), ("helm", "Helm/"),
                ("kube-controller-manager", "kube-controller-manager/"))
_VERBS = {"Update": {"update", "patch", "create"}, "Apply": {"patch", "create"}}
# Kinds whose resource name is not kube's guess from the kind.
_IRREGULAR = {"Endpoints": "endpoints"}


def resource_name(kind: str) -> str:
    """The plural resource of a kind as the API server guesses it (UnsafeGuessKindToResource)."""
    if kind in _IRREGULAR:
        return _IRREGULAR[kind]
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    return lower + "s"


def object_key(key: ResourceKey) -> tuple[str, str, str, str]:
    return (key.group, resource_name(key.kind), key.namespace, key.name)


def manager_from_user_agent(user_agent: str) -> str:
    """The manager the API server records when a request names none: the user agent up to the first
    `/`, non-printable characters dropped, at most 128 bytes."""
    prefix = "".join(c for c in user_agent.split("/", 1)[0] if c.isprintable())
    return prefix.encode()[:128].decode(errors="ignore")


@dataclass(frozen=True)
class Policy:
    """What the run believes about GitOps: which managers claim to be the tool, which users really are."""

    gitops_managers: frozenset[str] = frozenset(GITOPS_TOOL_MANAGERS)
    gitops_identities: frozenset[str] = frozenset(DEFAULT_GITOPS_IDENTITIES)
    skew: float = DEFAULT_SKEW

    @classmethod
    def of(cls, configured_managers: Iterable[str], identities: Iterable[str],
           skew: float = DEFAULT_SKEW) -> Policy:
        return cls(frozenset(configured_managers) or frozenset(GITOPS_TOOL_MANAGERS),
                   frozenset(identities) or frozenset(DEFAULT_GITOPS_IDENTITIES), skew)


def attribute_from_logs(given: list[str], results: list[ResourceResult], configured_managers: Iterable[str],
                        identities: Iterable[str], skew: float = DEFAULT_SKEW) -> dict[str, Any]:
    """--audit-log: read the logs (keeping only writes to drifted objects), attribute every drifted
    field, and return the report's `audit_log` section."""
    policy = Policy.of(configured_managers, identities, skew)
    keys = wanted(results)
    log = read_audit_logs(log_paths(given), keep=lambda e: e.object_key in keys)
    attribute(results, log, policy)
    return summary(log, results, policy)


def wanted(results: Iterable[ResourceResult]) -> set[tuple[str, str, str, str]]:
    """The objects whose events are worth keeping while the log streams by: drifted ones."""
    return {object_key(r.key) for r in results if any(d.changed_by for d in r.diffs)}


def attribute(results: list[ResourceResult], log: AuditLog, policy: Policy) -> None:
    """Give every drifted field's changed_by its identity (in place)."""
    by_object: dict[tuple[str, str, str, str], list[AuditEvent]] = {}
    for event in log.events:
        by_object.setdefault(event.object_key, []).append(event)
    for result in results:
        events = by_object.get(object_key(result.key), [])
        for diff in result.diffs:
            if diff.changed_by is not None:
                diff.changed_by = replace(diff.changed_by,
                                          identity=identify(diff.changed_by, events, log, policy))


def identify(changed: ChangedBy, events: list[AuditEvent], log: AuditLog, policy: Policy) -> Identity:
    """The identity behind one managedFields entry, among the events for its object."""
    when = parse_time(changed.time)
    if when is None:
        return Identity("no-data", reason="the managedFields entry records no time to match")
    if not log.covers(when, policy.skew):
        return Identity("no-data",
                        reason=f"the audit log does not cover {changed.time} ({coverage_text(log)})")
    ruled_out: Counter[str] = Counter()
    found: dict[str, list[AuditEvent]] = {"strong": [], "weak": []}
    for event in events:
        verdict = _judge(changed, when, event, policy.skew)
        if verdict in found:
            found[verdict].append(event)
        else:
            ruled_out[verdict] += 1
    for confidence in ("strong", "weak"):
        if found[confidence]:
            return _chosen(changed, when, found[confidence], confidence, policy)
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(ruled_out.items())) or "none for this object"
    return Identity("no-event", reason=f"no audit event made this change: {len(events)} write(s) to the "
                                       f"object in the log ({why})")


def _judge(changed: ChangedBy, when: datetime, e: AuditEvent, skew: float) -> str:
    """'strong' or 'weak' for a match, else why the event is not the one."""
    if e.subresource != changed.subresource:
        return "to another subresource"
    if e.verb not in _VERBS.get(changed.operation, {"update", "patch", "create"}):
        return f"{e.verb} for a {changed.operation or 'write'}"
    if e.stage and e.stage != "ResponseComplete":
        return f"at stage {e.stage}"
    if not 200 <= e.code < 300:
        return "that failed" if e.code else "without a response status"
    if e.dry_run:
        return "dry-run"
    start, end = e.received or e.completed, e.completed or e.received
    if start is None or end is None or not (
            math.floor(start.timestamp()) - skew <= when.timestamp() <= math.ceil(end.timestamp()) + skew):
        return "at other times"
    if e.field_manager:
        return "strong" if e.field_manager == changed.manager else "by other managers"
    if manager_from_user_agent(e.user_agent) == changed.manager:
        return "strong"
    if any(changed.manager.startswith(tool) and e.user_agent.startswith(agent)
           for tool, agent in _TOOL_AGENTS):
        return "weak"
    return "by other managers"


def _chosen(changed: ChangedBy, when: datetime, events: list[AuditEvent], confidence: str,
            policy: Policy) -> Identity:
    principals = sorted({principal(e) for e in events})
    claims_gitops = changed.manager in policy.gitops_managers
    impostor = claims_gitops and any(e.user not in policy.gitops_identities for e in events)
    finding = GITOPS_IMPERSONATION if impostor else ""
    if len(principals) > 1:
        return Identity("ambiguous", confidence=confidence, finding=finding, candidates=tuple(principals),
                        reason=f"{len(events)} requests by different users match this change")
    event = min(events, key=lambda e: abs(((e.completed or e.received or when) - when).total_seconds()))
    reason = "manager from the request's fieldManager" if event.field_manager else \
        "manager from the user agent" if confidence == "strong" else "a known tool's user agent"
    if finding:
        reason = (f"the manager {changed.manager} claims to be the GitOps tool, but the request was made "
                  f"by {event.user}, not by a GitOps identity")
    return Identity(
        "attributed", reason=reason, confidence=confidence, user=event.user, groups=event.groups,
        impersonated_user=event.impersonated_user, impersonated_groups=event.impersonated_groups,
        source_ips=event.source_ips, user_agent=event.user_agent, verb=event.verb,
        time=_iso(event.received or event.completed), audit_id=event.audit_id, evidence=event.evidence,
        finding=finding)


def principal(e: AuditEvent) -> str:
    """Whom the request acted as: the impersonated user when there is one (naming who impersonated)."""
    return f"{e.impersonated_user} (impersonated by {e.user})" if e.impersonated_user else e.user


def coverage_text(log: AuditLog) -> str:
    spans = [(f.first, f.last) for f in log.files if f.first and f.last]
    if not spans:
        return f"{len(log.files)} file(s) with no dated event"
    return (f"{len(log.files)} file(s) from {_iso(min(s for s, _ in spans))} "
            f"to {_iso(max(e for _, e in spans))}")


def summary(log: AuditLog, results: Iterable[ResourceResult], policy: Policy) -> dict[str, Any]:
    """The report's `audit_log` section: files read and their span, counts per status, the findings."""
    counts: Counter[str] = Counter()
    findings = []
    for result in results:
        for diff in result.diffs:
            identity = diff.changed_by.identity if diff.changed_by else None
            if identity is None:
                continue
            counts[identity.status] += 1
            if identity.finding:
                findings.append(_finding(result, diff, identity))
    return {
        "files": [{"path": f.path, "formats": sorted(f.formats), "events": f.events,
                   "from": _iso(f.first), "to": _iso(f.last), "skipped": f.skipped,
                   "first_skipped": f.first_skipped} for f in log.files],
        "gitops_managers": sorted(policy.gitops_managers),
        "gitops_identities": sorted(policy.gitops_identities),
        "skew_seconds": policy.skew,
        "fields": {s: counts[s] for s in ("attributed", "ambiguous", "no-event", "no-data")},
        "findings": findings,
    }


def _finding(result: ResourceResult, diff: FieldDiff, identity: Identity) -> dict[str, Any]:
    assert diff.changed_by is not None
    return {"finding": identity.finding, "app": result.app, "resource": str(result.key), "path": diff.path,
            "manager": diff.changed_by.manager, "time": diff.changed_by.time,
            "users": [identity.user] if identity.user else list(identity.candidates),
            "audit_id": identity.audit_id, "reason": identity.reason}


def _iso(when: datetime | None) -> str:
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z") if when else ""
