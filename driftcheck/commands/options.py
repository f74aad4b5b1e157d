"""The flag groups several commands share (source, cluster, report output) and the options of `check`.

A run's code reads these typed values, never click's parameters; `with_config_defaults` is the one
place where flags left out fall back to `--config`'s keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftcheck.clusters.shard import Shard
    from driftcheck.live.memory_credentials import MemoryCredentials

DEFAULT_HISTORY_SINCE = "90d"


@dataclass
class FetchOptions:
    """How sources outside the audited repository arrive: charts, other Git repositories, their cache."""

    cache_dir: Path | None = None  # None = ~/.cache/driftcheck
    offline: bool = False  # the cache only; a miss is the app's error
    repo_credentials: Path | None = None  # ArgoCD repository / repo-creds Secrets
    mirrors: dict[str, str] = field(default_factory=dict)  # URL prefix -> the prefix to fetch from
    timeout: float = 30.0  # seconds one request may take (check: --request-timeout)


@dataclass
class SourceOptions:
    """Which desired state: the repository, the moment, the apps (what `apps.find_apps` reads)."""

    repo: str = ""  # "" until with_config_defaults: --config's repo, else "."
    revision: str | None = None
    at: str | None = None
    paths: list[str] = field(default_factory=list)
    namespace: str = ""
    recurse: bool = False
    app_names: list[str] = field(default_factory=list)
    config_file: Path | None = None
    argocd_apps: str | None = None
    repo_urls: list[str] = field(default_factory=list)
    git_token_file: Path | None = None
    require_fresh: bool = False
    fetch: FetchOptions = field(default_factory=FetchOptions)
    argocd_settings: str | None = None  # argocd-cm YAML: a local file, else a path in the audited commit
    argocd_namespace: str | None = None  # list the Applications the cluster holds in this namespace
    flux: str | None = None  # a Flux cluster directory: its root Kustomization and all it renders
    flux_strict_substitution: bool = True  # StrictPostBuildSubstitutions, on since 1.9
    # seconds one render may take (check/render: --render-timeout): --flux builds while finding apps
    render_timeout: float = 120.0

    def chooses_apps(self) -> bool:
        """Whether any flag names apps or where they come from (snapshot then captures what they use)."""
        return bool(self.repo or self.paths or self.app_names or self.config_file or self.argocd_apps
                    or self.argocd_namespace or self.flux)


@dataclass
class ClusterOptions:
    """Where live objects come from and which of them: a snapshot, or a kubeconfig context."""

    live_snapshot: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    request_timeout: float = 30.0
    destinations: list[tuple[str, str]] = field(default_factory=list)  # --cluster DEST=CONTEXT
    destination_snapshots: list[tuple[str, Path]] = field(default_factory=list)  # --cluster-snapshot
    credentials: MemoryCredentials | None = None  # a live cluster Secret's, instead of a kubeconfig context


@dataclass
class S3Options:
    """`--out s3://bucket/prefix`: write-once storage in an Object Lock bucket (report/s3archive.py)."""

    url: str
    retain_days: int = 400  # PCI DSS 10.5.1's twelve months, and slack
    retain_mode: str = "COMPLIANCE"  # or GOVERNANCE (staging: removable with the bypass permission)
    endpoint: str | None = None  # None: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS


@dataclass
class OutputOptions:
    """Where and how the reports of a run are written."""

    out: Path = Path("reports")
    formats: str = "html,json"  # as given: parse_formats checks it before the run starts
    keep: int | None = None
    metrics_file: Path | None = None
    pushgateway: str | None = None
    output: str = "table"  # stdout: table | json | none
    sign_key: Path | None = None  # ECDSA P-256 PKCS#8 PEM (evidence/keys.py)
    sign_key_passphrase_env: str | None = None  # the passphrase's variable, never the passphrase itself
    sign_key_passphrase_file: Path | None = None
    s3: S3Options | None = None  # --out s3://...: the archive is in the bucket, not under `out`


@dataclass
class CheckOptions:
    """Everything one `check` run needs; built by the CLI or by callers such as the demo."""

    source: SourceOptions = field(default_factory=SourceOptions)
    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    rule_files: list[Path] = field(default_factory=list)
    rule_packs: list[str] = field(default_factory=list)
    render_timeout: float = 120.0
    history_since: str = ""  # "" until with_config_defaults: --config's historySince, else 90d
    explain_target: str | None = None
    compare_status: bool = False
    compare_aggregated_rules: bool = False
    audit_logs: list[str] = field(default_factory=list)  # --audit-log: files, directories, globs
    gitops_identities: list[str] = field(default_factory=list)  # [] = Argo CD's and Flux's accounts
    audit_skew: float = 2.0  # seconds
    trusted_signers: Path | None = None  # GPG keys, allowed_signers, X.509 roots: outside the audited repo
    shard: Shard | None = None  # --shard INDEX/COUNT: only the clusters clusters/shard.py assigns it
    workers: int | None = None  # --workers: processes auditing clusters at once; None = the usable CPUs


def parse_mapping(flag: str, text: str) -> tuple[str, str]:
    """`DEST=VALUE` of --cluster and --cluster-snapshot; DEST a cluster name or a server URL."""
    from driftcheck.model import DriftcheckError

    dest, sep, value = text.partition("=")
    if not sep or not dest.strip() or not value.strip():
        raise DriftcheckError(f"{flag} {text!r}: expected DEST=VALUE (DEST a cluster name or server URL)")
    return dest.strip(), value.strip()


def cluster_mappings(contexts: Sequence[str], snapshots: Sequence[str],
                     ) -> tuple[list[tuple[str, str]], list[tuple[str, Path]]]:
    """--cluster and --cluster-snapshot values as ClusterOptions takes them (a malformed one fails now)."""
    return ([parse_mapping("--cluster", v) for v in contexts],
            [(d, Path(f)) for d, f in (parse_mapping("--cluster-snapshot", v) for v in snapshots)])


def with_config_defaults(source: SourceOptions) -> tuple[SourceOptions, str]:
    """--repo and --revision left out fall back to --config's keys (the repo to '.'); also returns
    --config's historySince ('' without one)."""
    repo, revision, history_since = source.repo, source.revision, ""
    if source.config_file is not None:
        from driftcheck.apps.config import load_config

        config = load_config(source.config_file)
        repo, revision = repo or config.repo, revision or config.revision or None
        history_since = config.history_since
    return replace(source, repo=repo or ".", revision=revision), history_since


def resolved(options: CheckOptions) -> CheckOptions:
    """A check's options with --config's defaults applied (and 90d when no history window is given)."""
    source, config_since = with_config_defaults(options.source)
    since = options.history_since or config_since or DEFAULT_HISTORY_SINCE
    return replace(options, source=source, history_since=since)
