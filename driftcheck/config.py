"""App configuration: `driftcheck.yaml`, and ArgoCD `Application` documents turned into `AppSpec`s.

Nothing here touches Git or the cluster: Application documents arrive already read (with their file
and line), so the same code serves any commit and any source of documents.

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
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from driftcheck.model import AppSpec, DriftcheckError, SkippedApp
from driftcheck.scrub import mask_url, register_url
from driftcheck.source.yaml import LinedMap, LinedSeq, YAMLStreamError, load_lined

ARGOCD_KINDS = ("Application", "ApplicationSet")


@dataclass
class Config:
    """Everything a run can take from `driftcheck.yaml`; command-line options override it."""

    path: str = ""
    apps: list[AppSpec] = field(default_factory=list)
    rule_packs: list[str] = field(default_factory=list)  # names of shipped packs under rules/
    rule_files: list[str] = field(default_factory=list)  # extra rule files, relative to the config file
    gitops_managers: list[str] = field(default_factory=list)  # field managers that mean "the GitOps tool"
    argocd_apps: str = ""  # glob of Application manifests in the repo, e.g. argocd/*.yaml
    repo: str = ""
    revision: str = ""
    repo_urls: list[str] = field(default_factory=list)  # URLs Applications use for this repository
    history_since: str = ""  # e.g. 90d or an ISO date


_TOP_KEYS = {"apps", "rules", "gitopsManagers", "argocdApps", "repo", "revision", "repoURLs", "historySince"}
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
        app = _app(entry, where, file)
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
    if cfg.repo.startswith(("http://", "https://")):  # a token in `repo:` is a credential like --repo's
        register_url(cfg.repo)
    return cfg


def _app(entry: Any, where: str, file: str) -> AppSpec:
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
    return AppSpec(name=entry["name"].strip(), path=entry["path"].strip(),
                   namespace=str(entry.get("namespace") or ""), recurse=recurse,
                   ignore_differences=_plain(ignore), values_files=_strings(entry, "valuesFiles", file),
                   release_name=str(entry.get("releaseName") or ""), origin=where)


def _check_keys(doc: LinedMap, allowed: set[str], file: str, what: str) -> None:
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


def normalize_repo_url(url: str) -> str:
    """host/path, lower-case host, no scheme, user, port, `.git` or trailing slash: one repo, one string.

    https://github.com/Org/repo.git, git@github.com:Org/repo and ssh://git@github.com/Org/repo are equal.
    """
    url = url.strip()
    scp = re.match(r"^[\w.-]+@([\w.-]+):(?!//)(.*)$", url)
    if scp:
        host, path = scp.group(1), scp.group(2)
    elif "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or ""), parts.path
    else:
        host, path = "", url
    path = path.strip("/").removesuffix(".git").strip("/")
    return f"{host.lower()}/{path}" if host else path


Document = tuple[dict[str, Any], str, int]  # (body, file, line)


def infer_repo_urls(documents: list[Document], known: set[str]) -> tuple[set[str], str]:
    """The URLs that mean "this repository", and a note when they had to be guessed.

    known are the clone's remote URLs and --repo-url values. When no Application points at any of
    them (e.g. the clone came from a bundle), the repoURL most Applications share is taken, and
    the note says so.
    """
    urls = [_source(body).get("repoURL") for body, _, _ in documents if body.get("kind") == "Application"]
    urls = [u for u in urls if isinstance(u, str) and u]
    wanted = {normalize_repo_url(u) for u in known}
    if any(normalize_repo_url(u) in wanted for u in urls) or not urls:
        return set(known), ""
    guess, count = Counter(urls).most_common(1)[0]
    shown = ", ".join(sorted(mask_url(u) for u in known)) or "none"  # a clone URL may carry a token
    note = (f"no Application uses this clone's URL ({shown}); "
            f"taking {mask_url(guess)} (used by {count} of {len(urls)}) as this repository")
    return set(known) | {guess}, note


def _source(body: dict[str, Any]) -> dict[str, Any]:
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    source = spec.get("source")
    return source if isinstance(source, dict) else {}


def apps_from_argocd(documents: list[Document],
                     repo_urls: set[str]) -> tuple[list[AppSpec], list[SkippedApp]]:
    """ArgoCD Applications (body, file, line) that render from this repository, as apps.

    Applications from other repositories, Helm-repository charts, multi-source Applications,
    plugins and ApplicationSets are returned as skipped, with the reason.
    """
    wanted = {normalize_repo_url(u) for u in repo_urls}
    apps: list[AppSpec] = []
    skipped: list[SkippedApp] = []
    seen: dict[str, str] = {}
    for body, file, line in documents:
        kind = body.get("kind")
        if kind not in ARGOCD_KINDS or not str(body.get("apiVersion", "")).startswith("argoproj.io/"):
            continue
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        name = str(meta.get("name") or "")
        origin = f"{file}:{line}"
        reason = _skip_reason(body, wanted)
        if not reason and name in seen:
            reason = f"another Application named {name} is defined at {seen[name]}"
        if reason:
            skipped.append(SkippedApp(name=name, reason=reason, origin=origin))
            continue
        seen[name] = origin
        spec = body["spec"]
        source = spec["source"]
        destination = spec.get("destination") if isinstance(spec.get("destination"), dict) else {}
        directory = source.get("directory") if isinstance(source.get("directory"), dict) else {}
        helm = source.get("helm") if isinstance(source.get("helm"), dict) else {}
        ignore = spec.get("ignoreDifferences")
        apps.append(AppSpec(
            name=name,
            path=str(source.get("path") or ""),
            namespace=str(destination.get("namespace") or ""),
            recurse=bool(directory.get("recurse", False)),
            ignore_differences=[r for r in ignore if isinstance(r, dict)] if isinstance(ignore, list) else [],
            values_files=[str(v) for v in helm.get("valueFiles") or [] if isinstance(v, str)],
            release_name=str(helm.get("releaseName") or ""),
            origin=origin,
            source_options={k: source[k] for k in ("directory", "kustomize", "helm")
                            if isinstance(source.get(k), dict) and source[k]},
        ))
    return apps, skipped


def _skip_reason(body: dict[str, Any], wanted: set[str]) -> str:
    if body.get("kind") == "ApplicationSet":
        return "ApplicationSet: its generators are not expanded; list the generated apps in driftcheck.yaml"
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    if not meta.get("name"):
        return "Application without metadata.name"
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return "Application without spec"
    if spec.get("sources"):
        return "multi-source Application (spec.sources) is not supported"
    source = spec.get("source")
    if not isinstance(source, dict):
        return "Application without spec.source"
    if source.get("chart"):
        return (f"Helm chart {source['chart']} from the Helm repository {source.get('repoURL', '?')}, "
                "not from this Git repository")
    url = str(source.get("repoURL") or "")
    if normalize_repo_url(url) not in wanted:
        return f"repoURL {url or '(none)'} is another repository"
    if source.get("plugin"):
        return "config management plugin (spec.source.plugin) is not supported"
    return ""
