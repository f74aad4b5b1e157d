"""ArgoCD repository / repo-creds Secrets: loading (stringData, base64 data, errors at file:line, never a
value) and the matching ArgoCD does (same URL, longest repo-creds prefix, type helm for dependencies)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from driftcheck.fetch.repo_credentials import (
    NO_CREDENTIALS,
    CredentialsError,
    load_repo_credentials,
    normalize_git_url,
    same_url,
)
from driftcheck.scrub import scrub
from testing import planted


def secret(name: str, kind: str, string_data: dict[str, str] | None = None,
           data: dict[str, str] | None = None) -> str:
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}", "  namespace: argocd",
             "  labels:", f"    argocd.argoproj.io/secret-type: {kind}"]
    for section, values in (("stringData", string_data), ("data", data)):
        if values:
            lines.append(f"{section}:")
            lines += [f"  {k}: {v!r}" if isinstance(v, str) and section == "stringData" else f"  {k}: {v}"
                      for k, v in values.items()]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, *docs: str) -> Path:
    return planted.write_input(tmp_path / "repo-secrets.yaml", "---\n".join(docs))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_string_data_and_base64_data_are_read_and_passwords_scrubbed(tmp_path: Path) -> None:
    one, two = planted.secret("repo-pw-one"), planted.secret("repo-pw-two")
    path = write(tmp_path,
                 secret("charts", "repository", {"url": "https://charts.example.com", "type": "helm",
                                                  "username": "bot", "password": one, "name": "example"}),
                 secret("registry", "repository",
                        data={"url": b64("registry.example.com/charts"), "type": b64("helm"),
                              "enableOCI": b64("true"), "username": b64("robot"), "password": b64(two)}),
                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n")
    creds = load_repo_credentials(path)
    charts = creds.for_url("https://charts.example.com", "helm")
    assert charts is not None and (charts.username, charts.password, charts.name) == ("bot", one, "example")
    oci = creds.for_url("oci://registry.example.com/charts", "helm")
    assert oci is not None and oci.enable_oci and oci.password == two
    assert one not in repr(charts)
    assert scrub(f"login failed for {one} and {two}") == "login failed for *** and ***"


def test_repository_url_matches_as_argocd_normalizes(tmp_path: Path) -> None:
    path = write(tmp_path, secret("app", "repository", {"url": "https://GitHub.com/Org/Repo.git",
                                                        "username": "u", "password": "pw-12345"}))
    creds = load_repo_credentials(path)
    assert creds.for_url("https://github.com/org/repo", "git") is not None
    assert creds.for_url("https://github.com/org/repo-other", "git") is None
    assert normalize_git_url("git@github.com:org/repo.git") == "git@github.com/org/repo"
    assert same_url("git@github.com:Org/Repo.git", "ssh://git@github.com/org/repo")


def test_longest_repo_creds_prefix_wins_and_a_repository_without_credentials_inherits(tmp_path: Path) -> None:
    path = write(tmp_path,
                 secret("org", "repo-creds", {"url": "https://git.example.com/org", "username": "org-bot",
                                              "password": "org-pass"}),
                 secret("team", "repo-creds", {"url": "https://git.example.com/org/team",
                                               "username": "team-bot", "password": "team-pass",
                                               "enableOCI": "true"}),
                 secret("bare", "repository", {"url": "https://git.example.com/org/team/app",
                                               "insecure": "true"}),
                 secret("own", "repository", {"url": "https://git.example.com/org/team/own",
                                              "username": "own-bot", "password": "own-pass"}))
    creds = load_repo_credentials(path)
    team = creds.for_url("https://git.example.com/org/team/other", "git")
    assert team is not None and team.username == "team-bot" and team.url.endswith("/team/other")
    org = creds.for_url("https://git.example.com/org/else", "git")
    assert org is not None and org.username == "org-bot"
    bare = creds.for_url("https://git.example.com/org/team/app", "git")
    # the repository's own flags, the template's credentials and its enableOCI (CopyCredentialsFrom)
    assert bare is not None and (bare.username, bare.insecure, bare.enable_oci) == ("team-bot", True, True)
    assert "repository bare" in bare.source and "repo-creds team" in bare.source
    own = creds.for_url("https://git.example.com/org/team/own", "git")
    assert own is not None and own.username == "own-bot" and not own.enable_oci
    assert creds.for_url("https://elsewhere.example.com/org", "git") is None
    assert NO_CREDENTIALS.for_url("https://git.example.com/org", "git") is None


def test_project_scoped_repository_first_then_the_shared_one(tmp_path: Path) -> None:
    path = write(tmp_path,
                 secret("shared", "repository", {"url": "https://c.example.com", "username": "shared",
                                                 "password": "p-shared"}),
                 secret("team", "repository", {"url": "https://c.example.com", "username": "team",
                                               "password": "p-team", "project": "team-a"}))
    creds = load_repo_credentials(path)
    def user(project: str) -> str:
        return getattr(creds.for_url("https://c.example.com", "helm", project=project), "username", "")

    assert (user("team-a"), user(""), user("other")) == ("team", "shared", "shared")


def test_helm_lookups_accept_oci_scheme_and_git_lookups_do_not(tmp_path: Path) -> None:
    path = write(tmp_path, secret("reg", "repo-creds", {"url": "registry.example.com/charts", "type": "helm",
                                                        "enableOCI": "true", "username": "r",
                                                        "password": "reg-pass"}))
    creds = load_repo_credentials(path)
    oci = creds.for_url("oci://registry.example.com/charts/team", "helm")
    assert oci is not None and oci.enable_oci and oci.url == "oci://registry.example.com/charts/team"
    assert creds.for_url("oci://registry.example.com/charts/team", "git") is None


def test_dependencies_see_only_named_helm_repositories_and_helm_templates(tmp_path: Path) -> None:
    path = write(tmp_path,
                 secret("git-typed", "repository", {"url": "https://charts.example.com/stable",
                                                    "username": "g", "password": "git-pass"}),
                 secret("helm-named", "repository", {"url": "https://charts.example.com/incubator",
                                                     "type": "helm", "name": "incubator", "username": "h",
                                                     "password": "helm-pass"}),
                 secret("git-tpl", "repo-creds", {"url": "https://charts.example.com", "username": "gt",
                                                  "password": "git-tpl-pass"}),
                 secret("helm-tpl", "repo-creds", {"url": "https://charts.example.com/s", "type": "helm",
                                                   "username": "ht", "password": "helm-tpl-pass"}))
    creds = load_repo_credentials(path)
    # an Application source sees every Secret; a dependency only type helm ones
    assert getattr(creds.for_url("https://charts.example.com/stable", "helm"), "username", "") == "g"
    assert getattr(creds.for_dependency("https://charts.example.com/stable"), "username", "") == "ht"
    assert getattr(creds.for_dependency("https://charts.example.com/incubator"), "username", "") == "h"
    assert getattr(creds.for_dependency("", "incubator"), "username", "") == "h"
    assert creds.for_dependency("https://other.example.com/x") is None


def test_unsupported_credentials_are_recognised(tmp_path: Path) -> None:
    key = planted.secret("ssh-key")
    path = write(tmp_path, secret("ssh", "repository", {"url": "git@github.com:org/charts.git",
                                                        "sshPrivateKey": key, "githubAppID": "12"}))
    cred = load_repo_credentials(path).for_url("git@github.com:org/charts.git", "git")
    assert cred is not None and cred.unsupported == ("sshPrivateKey", "githubAppID") and cred.has_credentials
    assert key not in scrub(f"key {key}")


@pytest.mark.parametrize(("doc", "line", "problem"), [
    (secret("a", "repository", {"username": "u"}), 2, "repository a: no url"),
    (secret("b", "repository", {"url": "https://x", "enableOCI": "yes"}), 10, "enableOCI must be true or"),
    (secret("c", "repository", {"url": "https://x", "type": "svn"}), 10, "type must be git, helm or oci"),
    (secret("d", "repo-creds", data={"url": b64("https://x"), "password": "not base64!"}), 10,
     "data.password is not base64"),
    ("kind: Secret\nmetadata: {labels: {argocd.argoproj.io/secret-type: repository}}\nstringData:\n"
     "  password: [PLANTED-list-value]\n  url: https://x\n", 4, "stringData.password is not a string"),
    ("kind: Secret\nstringData: {password: 'oops\n", 3, "not YAML"),
])
def test_malformed_secrets_name_file_line_never_the_value(tmp_path: Path, doc: str, line: int,
                                                         problem: str) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(CredentialsError) as caught:
        load_repo_credentials(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ") and problem in message
    assert "not base64!" not in message and "PLANTED" not in message and "oops" not in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=r"repo-secrets\.yaml: cannot read"):
        load_repo_credentials(tmp_path / "repo-secrets.yaml")
