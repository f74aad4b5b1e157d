"""spec.source.helm as ArgoCD reads it: option parsing, the build env, --set cleaning, kube versions, value
file resolution (refs, schemes, `/`, globs in ArgoCD's order, ignoreMissingValueFiles) and hook classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftcheck.apps.argocd import helm_options
from driftcheck.model import HelmFileParameter, ValuesFile
from driftcheck.render.argocd_env import envsubst
from driftcheck.render.helm import clean_set_value, kube_version
from driftcheck.render.helm_run import HelmError
from driftcheck.render.helm_sdk import TemplateRequest
from driftcheck.render.helm_values import Roots, resolve_path, resolve_values_files
from driftcheck.render.hooks import hook_of, is_helm_test


def test_values_object_replaces_values_and_every_option_is_read() -> None:
    helm = helm_options({"values": "a: 1\n", "valuesObject": {"b": 2}, "namespace": "other",
                         "kubeVersion": "1.29", "apiVersions": ["x/v1", 3], "skipTests": True,
                         "skipSchemaValidation": True,
                         "fileParameters": [{"name": "cfg", "path": "c.txt"}, {}]})
    assert helm.values == ({"b": 2},)
    assert (helm.namespace, helm.kube_version, helm.api_versions) == ("other", "1.29", ("x/v1",))
    assert helm.skip_tests and helm.skip_schema_validation
    assert helm.file_parameters == (HelmFileParameter("cfg", "c.txt"),)
    assert helm_options({"values": "a: 1\n"}).values == ("a: 1\n",)
    assert helm_options({"values": "a: 1\n", "valuesObject": {}}).values == ({},)  # given, even empty


def test_envsubst_is_go_os_expand_with_dollar_dollar() -> None:
    env = {"ARGOCD_APP_NAME": "web"}
    assert envsubst("$ARGOCD_APP_NAME-${ARGOCD_APP_NAME}", env) == "web-web"
    assert envsubst("pa$$word $UNKNOWN. ${} end$", env) == "pa$word .  end$"  # ${} is eaten
    assert envsubst("$values/prod.yaml", env) == "/prod.yaml"  # ArgoCD's surprise in a single-source app


def test_set_values_keep_commas_literal_unless_a_helm_list() -> None:
    assert clean_set_value("a,b") == "a\\,b"
    assert clean_set_value("a\\,b") == "a\\,b"
    assert clean_set_value("{a,b}") == "{a,b}"


def test_kube_version_is_normalized_as_argocd_parses_it() -> None:
    assert kube_version("v1.29.3-eks-4a1b") == "1.29.3"
    assert kube_version("1.30") == "1.30"
    assert kube_version("") == ""
    with pytest.raises(HelmError, match="could not parse kubernetes version garbage"):
        kube_version("garbage")


def test_template_request_is_argocds_command_line() -> None:
    req = TemplateRequest(Path("/c"), "rel", "ns", ((Path("/v.yaml"), "v.yaml"),), set=("a=1",),
                          set_string=("b=2",), kube_version="1.29.3", api_versions=("x/v1",),
                          skip_schema_validation=True)
    assert req.argv() == ["template", "/c", "--name-template", "rel", "--namespace", "ns", "--kube-version",
                          "1.29.3", "--set", "a=1", "--set-string", "b=2", "--values", "/v.yaml",
                          "--api-versions", "x/v1", "--include-crds", "--skip-schema-validation"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in ("chart/Chart.yaml", "chart/values.yaml", "envs/a.yaml", "envs/z.yaml", "envs/nested/c.yaml",
                 "prod/b.yaml", "top.yaml"):
        (tmp_path / "repo" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repo" / name).write_text("x: 1\n")
    (tmp_path / "library" / "prod").mkdir(parents=True)
    (tmp_path / "library" / "prod" / "v.yaml").write_text("y: 2\n")
    return tmp_path


def shown(files: list[ValuesFile], repo: Path, refs: dict[str, Path] | None = None) -> list[str]:
    roots = Roots((repo / "repo").resolve(), (repo / "repo" / "chart").resolve(), refs)
    return [f.shown for f in resolve_values_files(files, roots, {"ENV": "prod"})]


def test_values_files_relative_rooted_and_globbed_in_argocds_order(repo: Path) -> None:
    files = [ValuesFile("values.yaml"), ValuesFile("/**/*.yaml"), ValuesFile("/envs/z.yaml")]
    # the explicit envs/z.yaml keeps its own (last) place; a directory's files before its subdirectories'
    assert shown(files, repo) == ["chart/values.yaml", "top.yaml", "chart/Chart.yaml", "envs/a.yaml",
                                  "envs/nested/c.yaml", "prod/b.yaml", "envs/z.yaml"]
    assert shown([ValuesFile("/envs/[a-b].yaml"), ValuesFile("/$ENV/b.yaml")], repo) == [
        "envs/a.yaml", "prod/b.yaml"]


def test_missing_files_and_empty_globs_are_errors_unless_optional(repo: Path) -> None:
    with pytest.raises(HelmError, match=r'values file glob "/none/\*\.yaml" matched no files'):
        shown([ValuesFile("/none/*.yaml")], repo)
    with pytest.raises(HelmError, match=r"values file chart/gone\.yaml does not exist"):
        shown([ValuesFile("gone.yaml")], repo)
    assert shown([ValuesFile("gone.yaml", optional=True), ValuesFile("/none/*", optional=True)], repo) == []


def test_urls_by_scheme_and_paths_that_leave_the_repository(repo: Path) -> None:
    assert shown([ValuesFile("https://example.com/v.yaml", optional=True)], repo) == ["https://example.com/v.yaml"]
    with pytest.raises(HelmError, match="the URL scheme 'file' is not allowed"):
        shown([ValuesFile("file:///etc/passwd")], repo)
    with pytest.raises(HelmError, match="outside the repository"):
        shown([ValuesFile("../../library/prod/v.yaml")], repo)
    with pytest.raises(HelmError, match="repository root"):
        shown([ValuesFile("/")], repo)


def test_ref_files_come_from_the_ref_sources_root(repo: Path) -> None:
    refs = {"values": repo / "library"}
    assert shown([ValuesFile("$values/$ENV/v.yaml"), ValuesFile("$values/prod/*.yaml")], repo, refs) == [
        "$values/prod/v.yaml"]
    with pytest.raises(HelmError, match="outside the repository"):
        shown([ValuesFile("$values/../repo/top.yaml")], repo, refs)
    with pytest.raises(HelmError, match=r'"\$other", which is not one of the available sources \(\$values\)'):
        shown([ValuesFile("$other/x.yaml")], repo, refs)
    with pytest.raises(HelmError, match="but no source has a 'ref' field defined"):
        shown([ValuesFile("$other/x.yaml")], repo, {})
    # a single-source app: `$values` is substituted away and the path is the repository root's
    assert shown([ValuesFile("$values/top.yaml")], repo) == ["top.yaml"]


def test_file_parameter_paths_resolve_like_value_files(repo: Path) -> None:
    roots = Roots((repo / "repo").resolve(), (repo / "repo" / "chart").resolve(),
                  {"values": repo / "library"})
    assert resolve_path("$values/prod/v.yaml", roots, {})[0].shown == "$values/prod/v.yaml"
    assert resolve_path("/envs/a.yaml", roots, {})[0].shown == "envs/a.yaml"


def annotated(**annotations: str) -> dict[str, object]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "annotations": annotations}}


@pytest.mark.parametrize(("annotations", "expected"), [
    ({}, None),
    ({"helm.sh/hook": "crd-install"}, None),
    ({"helm.sh/hook": "pre-install,post-upgrade"}, "PreSync,PostSync"),
    ({"helm.sh/hook": "pre-delete"}, "PreDelete"),
    ({"helm.sh/hook": "test"}, "none (helm.sh/hook: test)"),
    ({"argocd.argoproj.io/hook": "Skip"}, "Skip"),
    ({"argocd.argoproj.io/hook": "Skip,PreSync"}, "Skip,PreSync"),
    ({"argocd.argoproj.io/hook": "PostSync", "helm.sh/hook": "pre-install"}, "PostSync"),  # Argo's wins
    ({"argocd.argoproj.io/hook": "PostDelete"}, "PostDelete"),
    ({"argocd.argoproj.io/hook": "Bogus"}, "none (argocd.argoproj.io/hook: Bogus)"),
])
def test_hooks_are_classified_as_argocd_does(annotations: dict[str, str], expected: str | None) -> None:
    assert hook_of(annotated(**annotations)) == expected


def test_helm_test_hooks_are_what_skip_tests_drops() -> None:
    assert is_helm_test(annotated(**{"helm.sh/hook": "Test-Success"}))
    assert not is_helm_test(annotated(**{"helm.sh/hook": "pre-install"}))
