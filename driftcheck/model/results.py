"""What a run finds: per-object verdicts and their differences, errors, deploy events, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from driftcheck.model.objects import Origin, ResourceKey, utf8_text
from driftcheck.model.pickling import by_fields

Status = Literal["in-sync", "drifted", "missing", "extra", "unknown"]
STATUSES: tuple[Status, ...] = ("in-sync", "drifted", "missing", "extra", "unknown")


@dataclass(frozen=True)
class Identity:
    """Who made the request a managedFields entry records, from the API server's audit log.

    `status`: attributed (one principal), ambiguous (several in the same window: `candidates`), no-event
    (the log covers the time but holds no matching request: `reason` says what was ruled out) or no-data
    (the log does not cover the time). `user` is the authenticated identity; with impersonation it is the
    impersonator and `impersonated_user` is whom it acted as. `finding` is "gitops-impersonation" when the
    manager names the GitOps tool but the user is not the tool's service account."""

    status: Literal["attributed", "ambiguous", "no-event", "no-data"]
    reason: str = ""
    confidence: str = ""  # strong (fieldManager or user-agent manager) | weak (a known tool's user agent)
    user: str = ""
    groups: tuple[str, ...] = ()
    impersonated_user: str = ""
    impersonated_groups: tuple[str, ...] = ()
    source_ips: tuple[str, ...] = ()
    user_agent: str = ""
    verb: str = ""
    time: str = ""  # requestReceivedTimestamp
    audit_id: str = ""
    evidence: str = ""  # where the event is: file:line or a cloud log entry id
    finding: str = ""
    candidates: tuple[str, ...] = ()


@by_fields
@dataclass(frozen=True)
class ChangedBy:
    """The managedFields entry that owns a differing path (and, with --audit-log, who made it)."""

    manager: str
    operation: str
    time: str = ""
    subresource: str = ""
    identity: Identity | None = None


@by_fields
@dataclass
class FieldDiff:
    """One differing field. `path` is an RFC 6901 JSON pointer; absent values are None."""

    path: str
    desired: Any
    live: Any
    changed_by: ChangedBy | None = None
    note: str = ""  # e.g. "removed from Git, still live"


@by_fields
@dataclass(frozen=True)
class IgnoredField:
    path: str
    rule: str  # rule id, e.g. "argo-rollouts#0" or "app:blog-system#1"


@by_fields
@dataclass
class ResourceResult:
    key: ResourceKey
    app: str
    status: Status
    api_version: str = ""
    diffs: list[FieldDiff] = field(default_factory=list)
    ignored: list[IgnoredField] = field(default_factory=list)
    source: Origin | None = None
    live_commit: dict[str, Any] | None = None  # {commit, date, behind}
    first_seen: str | None = None
    reason: str = ""  # why unknown/missing/extra, in words
    extra: Literal["stale", "orphan", ""] = ""  # a Flux `extra`: in its Kustomization's inventory or not


@dataclass
class RunError:
    """Something the run could not do; carries the context a reader needs to find it."""

    message: str
    app: str = ""
    file: str = ""
    line: int = 0
    resource: str = ""
    stage: str = ""  # source | render | live | compare | history | report | rules
    # a warning is what ArgoCD accepts but an auditor should see (a repeated YAML key, an object defined
    # twice): reported apart from the errors, it neither fails the run nor makes its app an error
    severity: Literal["error", "warning"] = "error"

    def __post_init__(self) -> None:  # every report format writes UTF-8
        self.message, self.file = utf8_text(self.message), utf8_text(self.file)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        parts = [p for p in (self.app and f"app {self.app}", where, self.resource) if p]
        return f"{', '.join(parts)}: {self.message}" if parts else self.message


class DriftcheckError(Exception):
    """An error that ends a command with one clear line and exit 2 (never a traceback)."""


@dataclass(frozen=True)
class CommitSignature:
    """Whether a deploy's commit is signed, and by whom, as checked against --trusted-signers only.

    status: trusted | untrusted (a valid signature by a key not in the trust file) | bad | expired-key |
    revoked-key | expired-signature | unverifiable (no verifier: `reason`) | not-verified (signed, no
    --trusted-signers given: nothing was run) | unsigned."""

    status: Literal["trusted", "untrusted", "bad", "expired-key", "revoked-key", "expired-signature",
                    "unverifiable", "not-verified", "unsigned"]
    format: str = ""  # gpg | ssh | x509
    signer: str = ""  # GPG user id, SSH principal, X.509 subject: as the verifier names it
    key: str = ""  # GPG primary fingerprint, SSH SHA256 fingerprint, X.509 certificate fingerprint
    signed_at: str = ""  # the signature's own time (GPG, X.509): the signer's clock
    reason: str = ""


@dataclass(frozen=True)
class Landing:
    """How a deploy's commit reached the branch, as far as Git can tell, and how strong that evidence is.

    kind: merge (second parent) | squash | rebase (one parent, forge committer or PR marker) | direct.
    evidence, strongest first: forge-signed | verified-signature | forge-merge | direct-push |
    unsigned-direct-push. Git alone cannot prove a push path (a forge's API would): forge-merge rests on
    a message or committer anyone can write."""

    kind: Literal["merge", "squash", "rebase", "direct"]
    evidence: str
    pr: str = ""  # "#123", "group/project!12"
    forge: str = ""  # github | gitlab | bitbucket | azure | gitea
    notes: tuple[str, ...] = ()  # date and identity doubts, in words


@dataclass
class DeployEvent:
    commit: str
    date: str  # ISO-8601 with the committer's original offset
    author: str
    message: str
    committer: str = ""
    files: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)  # {kind, namespace, name, fields[]}
    images: list[dict[str, str]] = field(default_factory=list)  # {resource, container, from, to}
    replicas: list[dict[str, Any]] = field(default_factory=list)  # {resource, from, to}
    revert_of: str | None = None
    restores: str | None = None  # commit whose content this change brings back (rollback)
    merged: list[str] = field(default_factory=list)
    app: str = ""
    note: str = ""
    # where the objects come from, changed: chart/source revisions, dependency versions, Helm/Kustomize
    # options of the declaration ({kind, name, field, from, to, file}; history/changes.py)
    sources: list[dict[str, Any]] = field(default_factory=list)
    signature: CommitSignature | None = None  # evidence/provenance.py
    landing: Landing | None = None


@dataclass
class SkippedApp:
    name: str
    reason: str
    origin: str = ""


@dataclass(frozen=True)
class ResolvedSource:
    """What one source of an app resolved to when it was rendered: the evidence of which bytes ran."""

    type: Literal["git", "chart", "oci"]
    repository: str  # the URL as shown (credentials masked); "" = the audited repository
    path: str  # the path inside the repository, or the chart's name
    requested: str  # targetRevision or chart version (range) as declared
    resolved: str  # the commit SHA or chart version rendered; "" when the source could not be had
    digest: str = ""  # sha256:<hex> of the chart archive


@dataclass(frozen=True)
class ListedHook:
    """A sync hook the app renders: listed in the report, never compared (ArgoCD runs it, not keeps it)."""

    resource: str  # "Job/db-migrate"
    types: str  # "PreSync", "PostSync,PreDelete", "none (helm.sh/hook: test)"
    file: str = ""
    line: int = 0


@dataclass
class AppResolution:
    """One app's sources as resolved, what its render resolved beyond them, and its hooks."""

    sources: list[ResolvedSource] = field(default_factory=list)
    # the render's own resolutions in words ("dependency grafana 8.5.* resolved to 8.5.2")
    resolved: list[str] = field(default_factory=list)
    hooks: list[ListedHook] = field(default_factory=list)


@dataclass
class AuditReport:
    """Everything a report needs; report/json_report.py turns it into the v1 JSON contract."""

    generated_at: str
    tool_version: str
    source: dict[str, Any]  # repo, revision, commit, commit_date, at
    cluster: dict[str, Any]  # context, server, snapshot
    rules: dict[str, Any]  # packs, digest, unused
    apps: list[dict[str, Any]]  # name, path, namespace, origin, status, counts, error?
    resources: list[ResourceResult]
    coverage: list[dict[str, Any]] = field(default_factory=list)
    audit_log: dict[str, Any] | None = None  # with --audit-log: the files read, what they cover, findings
    provenance: dict[str, Any] | None = None  # with --trusted-signers: the trust file, counts, findings
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    history: list[DeployEvent] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    skipped_apps: list[SkippedApp] = field(default_factory=list)
    warnings: list[RunError] = field(default_factory=list)  # RunErrors of severity "warning"
    resolutions: dict[str, AppResolution] = field(default_factory=dict)  # by app name
    duration_seconds: float | None = None  # wall time of the run, for metrics only (not in the JSON)
