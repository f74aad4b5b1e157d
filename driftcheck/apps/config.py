"""`driftcheck.yaml`: the run's defaults and the apps it lists, parsed into `Config` and `App`s.

Nothing here touches Git: the text arrives already read, from disk or from the repository at a commit.

driftcheck.yaml (every key optional; unknown keys are errors, so typos do not pass silently)::

    repo: https://github.com/org/gitops.git   # default for --repo
    revision: main                            # default for --revision
    repoURLs: [git@github.com:org/gitops]     # other spellings Applications use for this repository
    argocdApps: argocd/*.yaml                 # Application manifests to take apps from
    historySince: 90d
    gitopsManagers: [argocd-controller]       # field managers that mean "the GitOps tool"
    rules: {packs: [argo-rollouts, istio], files: [rules/team.yaml]}
    apps:
      - name: web
        path: apps/web
        namespace: shop
        recurse: false
        ignoreDifferences: [{group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}]
        valuesFiles: [values-prod.yaml]       # Helm apps, relative to the chart
        releaseName: web                      # Helm apps; default: the app name
    clusters:                                 # destination clusters (as ArgoCD cluster Secrets name them)
      - name: prod-eu
        server: https://prod-eu.example.com:6443   # optional when context/snapshot gives it
        context: prod-eu                      # kubeconfig context that reads it, or
        snapshot: snapshots/prod-eu.yaml      # a snapshot file, relative to this file
        labels: {env: prod}                   # for the clusters generator
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftcheck.model import (
    App,
    AppSource,
    DefinedBy,
    Destination,
    DirectoryOptions,
    DriftcheckError,
    GitSource,
    HelmOptions,
    IgnoreRule,
    Render,
    ValuesFile,
)
from driftcheck.render.yaml import LinedMap, LinedSeq, YAMLStreamError, load_lined
from driftcheck.scrub import register_url


@dataclass
class Config:
    """Everything a run can take from `driftcheck.yaml`; command-line options override it."""

    path: str = ""
    apps: list[App] = field(default_factory=list)
    rule_packs: list[str] = field(default_factory=list)  # names of shipped packs under rules/
    rule_files: list[str] = field(default_factory=list)  # extra rule files, relative to the config file
    gitops_managers: list[str] = field(default_factory=list)  # field managers that mean "the GitOps tool"
    argocd_apps: str = ""  # glob of Application manifests in the repo, e.g. argocd/*.yaml
    repo: str = ""
    revision: str = ""
    repo_urls: list[str] = field(default_factory=list)  # URLs Applications use for this repository
    history_since: str = ""  # e.g. 90d or an ISO date
    clusters: list[ConfiguredCluster] = field(default_factory=list)


@dataclass(frozen=True)
class ConfiguredCluster:
    """A `clusters:` entry: a destination's name and server, and what reads it (context or snapshot)."""

    name: str
    server: str = ""
    context: str = ""
    snapshot: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    where: str = ""  # file:line


_TOP_KEYS = {"apps", "rules", "gitopsManagers", "argocdApps", "repo", "revision", "repoURLs", "historySince",
             "clusters"}
_CLUSTER_KEYS = {"name", "server", "context", "snapshot", "labels"}
_APP_KEYS = {"name", "path", "namespace", "recurse", "ignoreDifferences", "valuesFiles", "releaseName"}


def load_config(path: str | Path) -> Config:
    """Parse driftcheck.yaml from disk; any mistake is a DriftcheckError naming file:line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DriftcheckError(f"{file}: no such config file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DriftcheckError(f"{file}: cannot read config: {e}") from None
    return parse_config(text, file)


def parse_config(text: str, file: str) -> Config:
    """Parse driftcheck.yaml text (from disk or from the repository at a commit)."""
    try:
        doc = load_lined(text)  # typed as Kubernetes types manifests, with the line of each key
    except YAMLStreamError as e:
        where = f"{file}:{e.line}" if e.line else file
        raise DriftcheckError(f"{where}: malformed YAML: {e.problem}") from None
    if doc is None:
        return Config(path=file)
    if not isinstance(doc, LinedMap):
        raise DriftcheckError(f"{file}:1: expected a mapping with apps:, rules:, ...")
    _check_keys(doc, _TOP_KEYS, file, "driftcheck.yaml")
    cfg = Config(path=file)
    apps = doc.get("apps")
    if apps is None:  # no apps: listed; they come from ArgoCD Applications or the command line
        apps = LinedSeq()
    if not isinstance(apps, LinedSeq):
        raise DriftcheckError(f"{_where(doc, 'apps', file)}: apps must be a list")
    names: set[str] = set()
    for i, entry in enumerate(apps):
        where = f"{file}:{apps.lines[i]}"
        app = _app(entry, where, file, apps.lines[i])
        if app.name in names:
            raise DriftcheckError(f"{where}: app {app.name!r} is defined twice")
        names.add(app.name)
        cfg.apps.append(app)
    rules = doc.get("rules") or {}
    if not isinstance(rules, dict):
        raise DriftcheckError(f"{_where(doc, 'rules', file)}: rules must be a mapping with packs: and files:")
    _check_keys(rules, {"packs", "files"}, file, "rules")
    cfg.rule_packs = _strings(rules, "packs", file)
    cfg.rule_files = _strings(rules, "files", file)
    cfg.gitops_managers = _strings(doc, "gitopsManagers", file)
    cfg.repo_urls = _strings(doc, "repoURLs", file)
    for key, attr in (("argocdApps", "argocd_apps"), ("repo", "repo"), ("revision", "revision"),
                      ("historySince", "history_since")):
        value = doc.get(key)
        if value is not None and not isinstance(value, (str, int)):
            raise DriftcheckError(f"{_where(doc, key, file)}: {key} must be a string")
        setattr(cfg, attr, "" if value is None else str(value))  # a date stays the text written
    cfg.clusters = _clusters(doc, file)
    if cfg.repo.startswith(("http://", "https://")):  # a token in `repo:` is a credential like --repo's
        register_url(cfg.repo)
    return cfg


def _app(entry: Any, where: str, file: str, line: int) -> App:
    if not isinstance(entry, LinedMap):
        raise DriftcheckError(f"{where}: each app must be a mapping with name:, path:, namespace:")
    _check_keys(entry, _APP_KEYS, file, "app")
    for key in ("name", "path"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise DriftcheckError(f"{where}: app needs a {key}:")
    ignore = entry.get("ignoreDifferences") or []
    if not isinstance(ignore, list) or not all(isinstance(r, dict) for r in ignore):
        raise DriftcheckError(f"{_where(entry, 'ignoreDifferences', file)}: ignoreDifferences must be a list "
                              "of rules (group, kind, name, jsonPointers, ...)")
    recurse = entry.get("recurse", False)
    if not isinstance(recurse, bool):
        raise DriftcheckError(f"{_where(entry, 'recurse', file)}: recurse must be true or false")
    helm = HelmOptions(release_name=str(entry.get("releaseName") or ""),
                       values_files=tuple(ValuesFile(v) for v in _strings(entry, "valuesFiles", file)))
    render = Render(directory=DirectoryOptions(recurse=recurse), helm=helm)
    return App(name=entry["name"].strip(),
               sources=(AppSource(GitSource(path=entry["path"].strip()), render),),
               destination=Destination(namespace=str(entry.get("namespace") or "")),
               ignore=tuple(IgnoreRule(_plain(r)) for r in ignore),
               defined_by=DefinedBy("config", file, line))


def _clusters(doc: LinedMap, file: str) -> list[ConfiguredCluster]:
    entries = doc.get("clusters")
    if entries is None:
        return []
    if not isinstance(entries, LinedSeq):
        raise DriftcheckError(f"{_where(doc, 'clusters', file)}: clusters must be a list")
    out: list[ConfiguredCluster] = []
    for i, entry in enumerate(entries):
        where = f"{file}:{entries.lines[i]}"
        if not isinstance(entry, LinedMap):
            raise DriftcheckError(f"{where}: each cluster must be a mapping with name:, server:, context:")
        _check_keys(entry, _CLUSTER_KEYS, file, "cluster")
        text = {k: entry.get(k) for k in ("name", "server", "context", "snapshot")}
        if any(v is not None and not isinstance(v, str) for v in text.values()):
            raise DriftcheckError(f"{where}: name, server, context and snapshot must be strings")
        labels = entry.get("labels") or {}
        if not isinstance(labels, dict):
            raise DriftcheckError(f"{_where(entry, 'labels', file)}: labels must be a mapping")
        name, server = str(text["name"] or "").strip(), str(text["server"] or "").strip().rstrip("/")
        if not name and not server:
            raise DriftcheckError(f"{where}: a cluster needs a name: or a server:")
        if text["context"] and text["snapshot"]:
            raise DriftcheckError(f"{where}: cluster {name or server}: give context: or snapshot:, not both")
        snapshot = Path(file).parent / str(text["snapshot"]) if text["snapshot"] else None
        out.append(ConfiguredCluster(name or server, server, str(text["context"] or ""), snapshot,
                                     {str(k): str(v) for k, v in labels.items()}, where))
    return out


def _check_keys(doc: dict[Any, Any], allowed: set[str], file: str, what: str) -> None:
    for key in doc:
        if key not in allowed:
            raise DriftcheckError(f"{_where(doc, key, file)}: unknown key {key!r} in {what} "
                                  f"(expected one of: {', '.join(sorted(allowed))})")


def _where(doc: Any, key: str, file: str) -> str:
    try:
        return f"{file}:{doc.lines[key]}"
    except (AttributeError, KeyError, TypeError):
        return file


def _strings(doc: Any, key: str, file: str) -> list[str]:
    value = doc.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DriftcheckError(f"{_where(doc, key, file)}: {key} must be a list of strings")
    return [str(v) for v in value]


def _plain(value: Any) -> Any:
    """Line-keeping YAML containers turned into plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
