"""The shared dataclasses every stage of a run exchanges; imports no other driftcheck module.

`objects` (identity, origin, live state), `apps` (what an app is), `results` (verdicts, errors, the
report). Import them from here.
"""

from driftcheck.model.apps import (
    App,
    AppSource,
    ChartSource,
    ClusterRef,
    DefinedBy,
    Destination,
    DirectoryOptions,
    GitSource,
    HelmFileParameter,
    HelmOptions,
    HelmParameter,
    IgnoreRule,
    KustomizeOptions,
    KustomizeReplica,
    OciSource,
    Render,
    Source,
    Tracking,
    ValuesFile,
)
from driftcheck.model.objects import LiveState, Origin, Resource, ResourceKey, split_api_version, utf8_text
from driftcheck.model.results import (
    STATUSES,
    AppResolution,
    AuditReport,
    ChangedBy,
    CommitSignature,
    DeployEvent,
    DriftcheckError,
    FieldDiff,
    Identity,
    IgnoredField,
    Landing,
    ListedHook,
    ResolvedSource,
    ResourceResult,
    RunError,
    SkippedApp,
    Status,
)

__all__ = [
    "STATUSES", "App", "AppResolution", "AppSource", "AuditReport", "ChangedBy", "ChartSource", "ClusterRef",
    "DefinedBy", "DeployEvent", "Destination", "DirectoryOptions", "DriftcheckError", "FieldDiff",
    "GitSource", "HelmFileParameter", "HelmOptions", "HelmParameter", "Identity", "IgnoreRule",
    "IgnoredField", "ListedHook", "ResolvedSource", "CommitSignature", "Landing",
    "KustomizeOptions", "KustomizeReplica", "LiveState", "OciSource", "Origin", "Render", "Resource",
    "ResourceKey",
    "ResourceResult", "RunError", "SkippedApp", "Source", "Status", "Tracking", "ValuesFile",
    "split_api_version", "utf8_text",
]
