"""ApplicationSet generators and expansion, cases from ArgoCD's applicationset/generators/*_test.go
(list, cluster, git, matrix, merge) and controllers/template tests, turned into data."""

from __future__ import annotations

from typing import Any

import pytest

from driftcheck.apps.appset import clusters_from_secrets, expand_appsets
from driftcheck.apps.appset.context import Cluster, Context, GeneratorError
from driftcheck.apps.appset.expand import expand
from driftcheck.apps.appset.generators import generate
from driftcheck.apps.appset.git import go_path_match
from driftcheck.apps.appset.template import TemplateError, fast_replace

REPO = "https://github.com/argoproj/argocd-example-apps.git"


class FakeTree:
    """The files of a commit, as the git generators read them."""

    sha = "c" * 40

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def list_files(self, prefix: str, recurse: bool = False) -> list[str]:
        return sorted(self.files)

    def read(self, path: str) -> bytes:
        return self.files[path].encode()


TREE = FakeTree({
    "applicationset/examples/git-generator-directory/cluster-addons/argo-workflows/kustomization.yaml": "",
    "applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator/Chart.yaml": "",
    "applicationset/examples/git-generator-directory/excludes/cluster-addons/exclude-helm-guestbook/x": "",
    ".hidden/app/x.yaml": "",
    "cluster-config/engineering/dev/config.json": '{"aws_account": "123456", "asset_id": 11223344,'
                                                   ' "cluster": {"owner": "john.doe@example.com",'
                                                   ' "name": "engineering-dev", "address": "https://1.2.3.4"}}',
    "cluster-config/engineering/prod/config.json": '{"aws_account": "123456", "asset_id": 11223344,'
                                                    ' "cluster": {"owner": "foo.bar@example.com",'
                                                    ' "name": "engineering-prod", "address": "https://1.2.3.4"}}',
    "list/items.yaml": "- name: a\n- name: b\n",
})


def fast_ctx(clusters: list[Cluster] | None = None) -> Context:
    def render(jobs: Any, strict: bool) -> list[str | TemplateError]:
        return [fast_replace(t, p) for t, p in jobs]
    return Context(False, TREE, lambda url: url == REPO, clusters or [], render)  # type: ignore[arg-type]


CLUSTERS = [
    Cluster("production_01/west", "https://production-01.example.com", labels={
        "argocd.argoproj.io/secret-type": "cluster", "environment": "production", "org": "bar"},
        annotations={"foo.argoproj.io": "production"}),
    Cluster("staging-01", "https://staging-01.example.com", labels={
        "argocd.argoproj.io/secret-type": "cluster", "environment": "staging", "org": "foo"}),
]


def test_list_default_engine_takes_strings_and_flattens_values() -> None:
    gen = {"list": {"elements": [{"cluster": "engineering-dev", "url": "https://kubernetes.default.svc",
                                  "values": {"foo": "bar"}}]}}
    assert generate(gen, fast_ctx()) == [{"cluster": "engineering-dev", "url": "https://kubernetes.default.svc",
                                          "values.foo": "bar"}]


def test_list_non_string_is_an_error_with_the_default_engine() -> None:
    with pytest.raises(GeneratorError, match="not a string"):
        generate({"list": {"elements": [{"replicas": 3}]}}, fast_ctx())


def test_list_elements_yaml_appended() -> None:
    gen = {"list": {"elements": [{"a": "1"}], "elementsYaml": "- a: '2'\n- a: '3'\n"}}
    assert [p["a"] for p in generate(gen, fast_ctx())] == ["1", "2", "3"]


def test_clusters_params_labels_annotations_and_implicit_in_cluster_last() -> None:
    out = generate({"clusters": {"values": {"lbl": "{{metadata.labels.org}}", "v": "{{values.lbl}}"}}},
                   fast_ctx(CLUSTERS))
    assert [p["name"] for p in out] == ["production_01/west", "staging-01", "in-cluster"]
    first = out[0]
    assert first["nameNormalized"] == "production-01-west"
    assert first["metadata.labels.argocd.argoproj.io/secret-type"] == "cluster"
    assert first["metadata.annotations.foo.argoproj.io"] == "production"
    assert first["values.lbl"] == "bar" and first["values.v"] == "{{values.lbl}}"  # values never see values
    assert out[2] == {"name": "in-cluster", "nameNormalized": "in-cluster",
                      "server": "https://kubernetes.default.svc", "project": "", "values.lbl":
                      "{{metadata.labels.org}}", "values.v": "{{values.lbl}}"}


@pytest.mark.parametrize(("selector", "names"), [
    ({"matchLabels": {"environment": "production"}}, ["production_01/west"]),
    ({"matchExpressions": [{"key": "environment", "operator": "In", "values": ["staging", "production"]}]},
     ["production_01/west", "staging-01"]),
    ({"matchExpressions": [{"key": "org", "operator": "NotIn", "values": ["foo"]}]}, ["production_01/west"]),
])
def test_clusters_selector_excludes_the_implicit_in_cluster(selector: dict[str, Any],
                                                            names: list[str]) -> None:
    assert [p["name"] for p in generate({"clusters": {"selector": selector}}, fast_ctx(CLUSTERS))] == names


def test_cluster_secret_records() -> None:
    labels = {"argocd.argoproj.io/secret-type": "cluster"}
    secret = {"kind": "Secret", "metadata": {"name": "s", "labels": labels},
              "stringData": {"name": "prod-eu", "server": "https://prod-eu.example.com:6443/"}}
    errors: list[Any] = []
    nameless = {**secret, "stringData": {"name": "x"}}
    clusters = clusters_from_secrets([(secret, "c.yaml", 1), (nameless, "c.yaml", 9)], errors)
    assert clusters == [Cluster("prod-eu", "https://prod-eu.example.com:6443",
                                labels={"argocd.argoproj.io/secret-type": "cluster"})]
    assert "has no server" in errors[0].message and (errors[0].file, errors[0].line) == ("c.yaml", 9)


@pytest.mark.parametrize(("pattern", "name", "match"), [
    ("apps/*", "apps/web", True), ("apps/*", "apps/web/x", False), ("apps/?eb", "apps/web", True),
    ("apps/[a-w]*", "apps/web", True), ("apps/[^w]*", "apps/web", False),
])
def test_directory_patterns_are_go_path_match(pattern: str, name: str, match: bool) -> None:
    assert go_path_match(pattern, name) is match


def test_git_directories_with_exclude_and_hidden_skipped() -> None:
    gen = {"git": {"repoURL": REPO, "revision": "HEAD", "directories": [
        {"path": "applicationset/examples/git-generator-directory/*/*"},
        {"path": "applicationset/examples/git-generator-directory/excludes/*", "exclude": True}]}}
    out = generate(gen, fast_ctx())
    assert [p["path.basename"] for p in out] == ["argo-workflows", "prometheus-operator"]
    paths = [p["path"] for p in out]
    assert paths == ["applicationset/examples/git-generator-directory/cluster-addons/argo-workflows",
                     "applicationset/examples/git-generator-directory/cluster-addons/prometheus-operator"]
    assert out[0]["path[0]"] == "applicationset" and out[0]["path[4]"] == "argo-workflows"
    assert out[1]["path.basenameNormalized"] == "prometheus-operator"


def test_git_files_flattened_and_stringified() -> None:
    gen = {"git": {"repoURL": REPO, "revision": "HEAD", "files": [{"path": "cluster-config/**/config.json"}]}}
    out = generate(gen, fast_ctx())
    assert out[0]["cluster.name"] == "engineering-dev" and out[0]["asset_id"] == "1.1223344e+07"
    assert out[0]["path"] == "cluster-config/engineering/dev" and out[0]["path.basename"] == "dev"
    assert out[0]["path.filename"] == "config.json" and out[0]["path[1]"] == "engineering"
    assert [p["cluster.name"] for p in out] == ["engineering-dev", "engineering-prod"]


def test_git_files_list_of_objects() -> None:
    gen = {"git": {"repoURL": REPO, "files": [{"path": "list/items.yaml"}]}}
    assert [p["name"] for p in generate(gen, fast_ctx())] == ["a", "b"]


def test_git_of_another_repository_is_skipped() -> None:
    from driftcheck.apps.appset.context import Skip
    with pytest.raises(Skip, match="another repository"):
        generate({"git": {"repoURL": "https://example.com/other.git", "directories": [{"path": "*"}]}},
                 fast_ctx())


def test_matrix_interpolates_the_second_child_and_refuses_conflicts() -> None:
    gen = {"matrix": {"generators": [
        {"list": {"elements": [{"env": "dev"}, {"env": "prod"}]}},
        {"list": {"elements": [{"name": "{{env}}-a"}, {"name": "{{env}}-b"}]}}]}}
    assert [p["name"] for p in generate(gen, fast_ctx())] == ["dev-a", "dev-b", "prod-a", "prod-b"]
    clash = {"matrix": {"generators": [{"list": {"elements": [{"a": "1"}]}},
                                       {"list": {"elements": [{"a": "2"}]}}]}}
    with pytest.raises(GeneratorError, match="duplicate key a"):
        generate(clash, fast_ctx())


def test_merge_left_join_and_unique_keys() -> None:
    gen = {"merge": {"mergeKeys": ["server"], "generators": [
        {"clusters": {"values": {"kafka": "true"}}},
        {"list": {"elements": [{"server": "https://staging-01.example.com", "values.kafka": "false"},
                               {"server": "https://nowhere", "values.kafka": "x"}]}}]}}
    out = {p["server"]: p["values.kafka"] for p in generate(gen, fast_ctx(CLUSTERS))}
    assert out == {"https://production-01.example.com": "true", "https://staging-01.example.com": "false",
                   "https://kubernetes.default.svc": "true"}
    dup = {"merge": {"mergeKeys": ["a"], "generators": [{"list": {"elements": [{"a": "1"}, {"a": "1"}]}},
                                                         {"list": {"elements": []}}]}}
    with pytest.raises(GeneratorError, match="non-unique"):
        generate(dup, fast_ctx())


def appset(generators: list[Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
            "metadata": {"name": "guestbook", "namespace": "argocd"},
            "spec": {"generators": generators, "template": {
                "metadata": {"name": "{{cluster}}-guestbook", "namespace": "ignored"},
                "spec": {"project": "default", "source": {"repoURL": REPO, "path": "guestbook/{{cluster}}",
                                                          "targetRevision": "HEAD"},
                         "destination": {"server": "{{url}}", "namespace": "guestbook"}}}, **spec}}


ELEMENTS = {"list": {"elements": [{"cluster": "engineering-dev", "url": "https://kubernetes.default.svc"},
                                  {"cluster": "engineering-prod", "url": "https://prod.example.com"}]}}


def test_expand_list_fasttemplate_finalizer_and_namespace() -> None:
    out = expand(appset([ELEMENTS]), TREE, lambda u: u == REPO, [], 30)  # type: ignore[arg-type]
    assert not out.error and [g.body["metadata"]["name"] for g in out.apps] == [
        "engineering-dev-guestbook", "engineering-prod-guestbook"]
    first = out.apps[0]
    assert first.body["metadata"]["namespace"] == "argocd"
    assert first.body["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert first.body["spec"]["source"]["path"] == "guestbook/engineering-dev"
    assert first.generator == "ApplicationSet guestbook, generator 0 (list), element 0"


def test_expand_template_patch_and_preserve() -> None:
    patch = "spec:\n  project: other\n  source:\n    helm:\n      valueFiles: [values-{{cluster}}.yaml]\n"
    out = expand(appset([ELEMENTS], templatePatch=patch, syncPolicy={"preserveResourcesOnDeletion": True}),
                 TREE, lambda u: u == REPO, [], 30)  # type: ignore[arg-type]
    body = out.apps[1].body
    assert body["spec"]["project"] == "default"  # templatePatch cannot change the project
    assert body["spec"]["source"]["helm"]["valueFiles"] == ["values-engineering-prod.yaml"]
    assert body["spec"]["source"]["path"] == "guestbook/engineering-prod"
    assert "finalizers" not in body["metadata"]


def test_expand_duplicate_names_refused_unknown_generator_errors() -> None:
    dup = {"list": {"elements": [{"cluster": "a", "url": "x"}, {"cluster": "a", "url": "y"}]}}
    out = expand(appset([dup]), TREE, lambda u: False, [], 30)  # type: ignore[arg-type]
    assert len(out.apps) == 1
    assert "contains applications with duplicate name: a-guestbook" in out.refused[0][1]
    out = expand(appset([{"bogus": {}}]), TREE, lambda u: False, [], 30)  # type: ignore[arg-type]
    assert out.apps == [] and "unrecognized generator: bogus" in out.error
    out = expand(appset([{"pullRequest": {"github": {}}}, ELEMENTS]), TREE, lambda u: False, [], 30)  # type: ignore[arg-type]
    assert len(out.apps) == 2 and "pullRequest" in out.skipped[0]


def test_expand_appsets_names_file_and_generator() -> None:
    docs = [(appset([ELEMENTS]), "argocd/appsets.yaml", 4),
            (appset([{"list": {}}, {"bogus": 1}]), "b.yaml", 1)]
    out = expand_appsets(docs, TREE, lambda u: u == REPO)  # type: ignore[arg-type]
    assert [(d[0]["metadata"]["name"], d[1], d[2]) for d in out.documents] == [
        ("engineering-dev-guestbook", "argocd/appsets.yaml", 4),
        ("engineering-prod-guestbook", "argocd/appsets.yaml", 4)]
    assert out.generators[("argocd/appsets.yaml", 4, "engineering-prod-guestbook")].endswith("element 1")
    assert out.errors[0].file == "b.yaml" and "ApplicationSet guestbook" in out.errors[0].message
