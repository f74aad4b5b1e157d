"""Repository credentials as ArgoCD keeps them: `repository` and `repo-creds` Secrets, matched to a URL.

The file is a YAML stream of the Secrets an ArgoCD namespace holds (`stringData`, or base64 `data`).
The matching is ArgoCD's (argo-cd `util/db/repository_secrets.go`, `util/git/git.go`,
`reposerver/repository/repository.go` `getHelmRepos`): a `repository` Secret whose URL is the same after
`NormalizeGitURL` (lower case, no `.git`, scp-style SSH as ssh://); if it holds no credential of its
own, or there is none, the `repo-creds` template with the longest URL prefix lends its credential (and
its enableOCI). Chart dependencies look only at `type: helm` Secrets, as the repo-server does.
The same Secrets read live from ArgoCD's namespace (`--argocd-namespace`) go through the same reader
(`live_repo_credentials`). Every credential value is registered with `scrub` the moment it is read;
errors name file:line (or `Secret NS/NAME`) and the field, never a value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from driftcheck import scrub
from driftcheck.model import DriftcheckError
from driftcheck.render.yaml import LinedMap, YAMLStreamError, load_lined_documents

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
_KINDS = ("repository", "repo-creds")
_OCI = "oci://"
# Credential fields whose values are secret: registered with scrub whatever else happens to the Secret.
_SECRET_FIELDS = ("password", "tlsClientCertKey", "sshPrivateKey", "githubAppPrivateKey", "bearerToken",
                  "gcpServiceAccountKey", "azureServicePrincipalClientSecret")
# Credentials ArgoCD knows that a chart download cannot use (Git-only or cloud-identity schemes).
_UNSUPPORTED = ("sshPrivateKey", "githubAppPrivateKey", "githubAppID", "githubAppInstallationID",
                "bearerToken", "gcpServiceAccountKey", "useAzureWorkloadIdentity",
                "azureServicePrincipalClientSecret")
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,  # strconv.ParseBool
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_NOT_CREDENTIALS = {"githubAppID", "githubAppInstallationID", "gcpServiceAccountKey"}  # for HasCredentials
_SCP_SSH = re.compile(r"^(ssh://)?([^/:]*?)@[^@]+$")  # argo-cd's sshURLRegex


class CredentialsError(DriftcheckError):
    """A repository-credentials file that cannot be used; the message names file:line, never a value."""


@dataclass(frozen=True)
class RepoCredential:
    """What ArgoCD would use for one repository URL; `source` says which Secret (file:line, kind, name)."""

    url: str
    type: str = "git"  # "git" | "helm" | "oci" (ArgoCD's `type`; empty means git)
    username: str = ""
    password: str = field(default="", repr=False)
    enable_oci: bool = False
    insecure: bool = False  # skip TLS verification
    tls_client_cert: str = ""
    tls_client_key: str = field(default="", repr=False)
    name: str = ""
    insecure_oci_force_http: bool = False  # plain HTTP to the registry
    project: str = ""
    unsupported: tuple[str, ...] = ()  # credential fields present that a chart download cannot use
    source: str = ""

    @property
    def has_credentials(self) -> bool:
        """ArgoCD's Repository.HasCredentials: a Secret without any takes a repo-creds template's."""
        return bool(self.username or self.password or self.tls_client_cert
                    or set(self.unsupported) - _NOT_CREDENTIALS)

    def inherit(self, template: RepoCredential) -> RepoCredential:
        """This repository with the template's credentials (Repository.CopyCredentialsFrom): its own fields
        where set, the template's otherwise; enableOCI and insecureOCIForceHttp always the template's."""
        return replace(self, username=self.username or template.username,
                       password=self.password or template.password,
                       tls_client_cert=self.tls_client_cert or template.tls_client_cert,
                       tls_client_key=self.tls_client_key or template.tls_client_key,
                       enable_oci=template.enable_oci,
                       insecure_oci_force_http=template.insecure_oci_force_http,
                       unsupported=tuple(sorted(set(self.unsupported) | set(template.unsupported))),
                       source=f"{self.source}, credentials from {template.source}")


class RepoCredentials:
    """The repository and repo-creds Secrets of one file, in file order (ArgoCD's ties go to the first)."""

    def __init__(self, repositories: Sequence[RepoCredential] = (),
                 templates: Sequence[RepoCredential] = ()) -> None:
        self.repositories = tuple(repositories)
        self.templates = tuple(templates)

    def for_url(self, url: str, type: str, project: str = "") -> RepoCredential | None:
        """The credential ArgoCD uses for an Application source at url (db.GetRepository): the repository
        Secret of the same URL (project-scoped first), inheriting from the longest repo-creds prefix when it
        has no credential; else that template alone. Secret types are not filtered here, as in ArgoCD.
        type "helm" also accepts `oci://host/path` for the scheme-less `host/path` ArgoCD stores."""
        key = _trim_oci(url) if type == "helm" else url
        comparable = _trim_oci if type == "helm" else _same
        repository = _repository_secret(self.repositories, key, project, comparable)
        if repository is not None and repository.has_credentials:
            return repository
        template = _longest_prefix(self.templates, key, comparable)
        if repository is not None:
            return repository.inherit(template) if template else repository
        if template is None:
            return None
        return replace(template, url=url, name="", insecure=False)

    def for_dependency(self, repository: str, name: str = "") -> RepoCredential | None:
        """The credential the repo-server uses for a chart dependency (`getHelmRepos`): a `type: helm`
        repository with a name, by URL (oci:// trimmed) or by name (`@name`, `alias:name`); else the first
        `type: helm` repo-creds whose URL is a prefix; for an OCI dependency, then the first OCI-enabled
        helm repository whose URL is a prefix of it or it of them."""
        helm = [r for r in self.repositories if r.type == "helm" and r.name]
        helm = [r if r.has_credentials else _inherited(r, self.templates) for r in helm]
        dep = _trim_oci(repository)
        for r in helm:
            if _trim_oci(r.url) == dep and dep:
                return r
        for r in helm:
            if name and r.name == name:
                return r
        if not dep:
            return None
        for t in self.templates:
            if t.type == "helm" and dep.startswith(t.url):
                return replace(t, url=repository, insecure=False)
        if repository.startswith(_OCI):
            for r in helm:
                if r.enable_oci and (dep.startswith(r.url) or r.url.startswith(dep)):
                    return replace(r, url=repository, enable_oci=True)
        return None


NO_CREDENTIALS = RepoCredentials()


def normalize_git_url(url: str) -> str:
    """argo-cd's git.NormalizeGitURL: lower case, scp-style SSH rewritten, `.git` dropped, no ssh://; ""
    where Go's url.Parse would refuse it (a scheme-less first segment with a colon: `10.0.0.1:5000/x`)."""
    url = url.strip().lower()
    if _SCP_SSH.match(url) and not url.startswith("ssh://"):
        url = "ssh://" + url.replace(":", "/", 1)
    url = url.removesuffix(".git")
    if not _parses(url):
        return ""
    return url.removeprefix("ssh://")


def same_url(left: str, right: str) -> bool:
    """argo-cd's git.SameURL (an unparsable URL compares as written)."""
    a, b = normalize_git_url(left) or left, normalize_git_url(right) or right
    return bool(a and b and a == b)


def load_repo_credentials(path: Path) -> RepoCredentials:
    """The repository and repo-creds Secrets of a YAML stream; other documents are ignored. Any malformed
    Secret is an error naming file:line and the field."""
    try:
        docs = load_lined_documents(path.read_bytes())
    except OSError as e:
        raise CredentialsError(f"{path}: cannot read repository credentials: {e.strerror}") from None
    except YAMLStreamError as e:
        where = f"{path}:{e.line}" if e.line else str(path)
        raise CredentialsError(f"{where}: not YAML: {e.problem}") from None
    repositories: list[RepoCredential] = []
    templates: list[RepoCredential] = []
    for doc in docs:
        if not isinstance(doc, LinedMap) or doc.get("kind") != "Secret":
            continue
        labels = _mapping(doc.get("metadata")).get("labels")
        kind = _mapping(labels).get(SECRET_TYPE_LABEL)
        if kind in _KINDS:
            credential = _credential(doc, str(kind), lambda line: f"{path}:{line}")
            (repositories if kind == "repository" else templates).append(credential)
    return RepoCredentials(repositories, templates)


def _credential(doc: LinedMap, kind: str, at: Callable[[int], str]) -> RepoCredential:
    """One Secret as a RepoCredential: data decoded, stringData over it (as the API server merges them),
    secret values registered before anything can go wrong with them; at(line) names where it is."""
    metadata = _mapping(doc.get("metadata"))
    where = at(doc.lines.get("kind", 0))
    label = f"{kind} {metadata.get('name') or '(unnamed)'}"
    values: dict[str, tuple[str, int]] = {}
    for section in ("data", "stringData"):
        block = doc.get(section)
        if block is None:
            continue
        if not isinstance(block, LinedMap):
            raise CredentialsError(f"{at(doc.lines.get(section, 0))}: {label}: {section} is not a mapping")
        for key, value in block.items():
            line = block.lines.get(key, 0)
            text = _scalar(value)
            if text is None:
                raise CredentialsError(f"{at(line)}: {label}: {section}.{key} is not a string")
            if section == "data":
                try:
                    text = base64.b64decode(text, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    problem = f"data.{key} is not base64 of UTF-8 text"
                    raise CredentialsError(f"{at(line)}: {label}: {problem}") from None
            if key in _SECRET_FIELDS:
                scrub.register(text)
            values[key] = (text, line)
    get = {k: v for k, (v, _) in values.items()}
    if get.get("username") and get.get("password"):
        # what a registry login stores (config.json "auth"): hidden too, should a message ever quote it
        scrub.register(base64.b64encode(f"{get['username']}:{get['password']}".encode()).decode())
    url = get.get("url", "").strip()
    if not url:
        raise CredentialsError(f"{where}: {label}: no url")

    def flag(key: str) -> bool:
        if key not in values:
            return False
        text, line = values[key]
        if text not in _BOOLS:
            raise CredentialsError(f"{at(line)}: {label}: {key} must be true or false")
        return _BOOLS[text]

    secret_type = get.get("type", "")
    if secret_type not in ("", "git", "helm", "oci"):
        raise CredentialsError(f"{at(values['type'][1])}: {label}: type must be git, helm or oci")
    return RepoCredential(
        url=url, type=secret_type or ("git" if kind == "repository" else ""),
        username=get.get("username", ""), password=get.get("password", ""),
        enable_oci=flag("enableOCI"), insecure=flag("insecure") if kind == "repository" else False,
        tls_client_cert=get.get("tlsClientCertData", ""), tls_client_key=get.get("tlsClientCertKey", ""),
        name=get.get("name", ""), insecure_oci_force_http=flag("insecureOCIForceHttp"),
        project=get.get("project", ""),
        unsupported=tuple(k for k in _UNSUPPORTED if get.get(k) and _BOOLS.get(get[k]) is not False),
        source=f"{where} ({label})")


def live_repo_credentials(secrets: Sequence[Mapping[str, Any]],
                          namespace: str) -> tuple[RepoCredentials, list[str]]:
    """The repository and repo-creds Secrets an ArgoCD namespace holds (read live), in the API server's
    order, matched exactly as a --repo-creds file's; a malformed one is left out, with a problem naming
    `Secret NS/NAME` and the field."""
    repositories: list[RepoCredential] = []
    templates: list[RepoCredential] = []
    problems: list[str] = []
    for body in secrets:
        kind = _mapping(_mapping(body.get("metadata")).get("labels")).get(SECRET_TYPE_LABEL)
        if body.get("kind") != "Secret" or kind not in _KINDS:
            continue
        where = f"Secret {namespace}/{_mapping(body.get('metadata')).get('name')}"
        doc = load_lined_documents(json.dumps(body).encode())[0]  # JSON is YAML: the same reader
        if not isinstance(doc, LinedMap):
            continue
        try:
            credential = _credential(doc, str(kind), _named(where))
        except CredentialsError as exc:
            problems.append(str(exc))
            continue
        (repositories if kind == "repository" else templates).append(credential)
    return RepoCredentials(repositories, templates), problems


def _named(where: str) -> Callable[[int], str]:
    """A live Secret has no file lines: every problem names the Secret."""
    return lambda _line: where


def _repository_secret(secrets: Sequence[RepoCredential], url: str, project: str,
                       comparable: Any) -> RepoCredential | None:
    """getRepositorySecret: the first Secret of this URL and project; else the last project-less one."""
    fallback = None
    for secret in secrets:
        if not same_url(comparable(secret.url), url):
            continue
        if secret.project == project:
            return secret
        if not secret.project:
            fallback = secret
    return fallback


def _longest_prefix(templates: Sequence[RepoCredential], url: str, comparable: Any) -> RepoCredential | None:
    """getRepositoryCredentialIndex: the template with the longest normalized URL prefix (first of ties)."""
    best, best_len = None, 0
    target = normalize_git_url(url)
    for template in templates:
        prefix = normalize_git_url(comparable(template.url))
        if target.startswith(prefix) and len(prefix) > best_len:
            best, best_len = template, len(prefix)
    return best


def _inherited(repository: RepoCredential, templates: Sequence[RepoCredential]) -> RepoCredential:
    template = _longest_prefix(templates, repository.url, _same)
    return repository.inherit(template) if template else repository


def _same(url: str) -> str:
    return url


def _trim_oci(url: str) -> str:
    return url.removeprefix(_OCI)


def _parses(url: str) -> bool:
    """Whether Go's url.Parse accepts url, for the one refusal that matters here: no scheme, and a colon in
    the first path segment."""
    scheme = re.match(r"^[a-z][a-z0-9+.-]*:", url)
    if scheme or url.startswith("/"):
        return True
    return ":" not in url.split("/", 1)[0]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _scalar(value: Any) -> str | None:
    """A Secret value as the string the API server would hold (YAML may type `true` or `5000`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None
