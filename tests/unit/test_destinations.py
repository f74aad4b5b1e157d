"""Destinations resolve as ArgoCD's GetDestinationServer does, and each app goes to the reader serving it."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftcheck.apps.appset.context import Cluster
from driftcheck.apps.argocd import destination_of
from driftcheck.apps.config import parse_config
from driftcheck.clusters import ClusterDirectory, DestinationError, normalize_server
from driftcheck.clusters.plan import Mapping, plan_destinations
from driftcheck.commands.options import ClusterOptions, cluster_mappings
from driftcheck.model import App, AppSource, ClusterRef, DefinedBy, Destination, DriftcheckError, GitSource

EU = Cluster("prod-eu", "https://prod-eu.example.com:6443")
US = Cluster("prod-us", "https://prod-us.example.com")
LOCAL = "http://127.0.0.1:8443"


def app(name: str, *, server: str = "", cluster: str = "") -> App:
    return App(name, (AppSource(GitSource(path=name)),), Destination(ClusterRef(cluster, server), "default"),
               defined_by=DefinedBy("argocd-application", f"argocd/{name}.yaml", 3))


def plan(apps: list[App], clusters: list[Cluster] = (EU, US), **flags: object):  # type: ignore[assignment]
    servers = {"ctx-eu": "https://eu-proxy.internal", "ctx-new": "https://new.example.com"}
    return plan_destinations(ClusterOptions(context="current", **flags), apps, clusters,  # type: ignore[arg-type]
                             server_of=lambda o: servers.get(o.context or "", "") if o.context != "current"
                             else LOCAL)


@pytest.mark.parametrize(("ref", "server", "name"), [
    (ClusterRef(server="https://prod-eu.example.com:6443/"), "https://prod-eu.example.com:6443", "prod-eu"),
    (ClusterRef(name="prod-us"), "https://prod-us.example.com", "prod-us"),
    (ClusterRef(name="in-cluster"), "https://kubernetes.default.svc", "in-cluster"),
    (ClusterRef(server="https://kubernetes.default.svc"), "https://kubernetes.default.svc", "in-cluster"),
    (ClusterRef(server="https://unknown.example.com"), "https://unknown.example.com", "https://unknown.example.com"),
])
def test_resolves_as_argocd(ref: ClusterRef, server: str, name: str) -> None:
    resolved = ClusterDirectory([EU, US]).resolve(ref)
    assert resolved is not None and (resolved.server, resolved.name) == (server, name)


@pytest.mark.parametrize(("ref", "clusters", "message"), [
    (ClusterRef("prod-eu", "https://prod-eu.example.com:6443"), [EU],
     "application destination can't have both name and server defined: prod-eu https://prod-eu.example.com:6443"),
    (ClusterRef(name="staging"), [EU], "there are no clusters with this name: staging"),
    (ClusterRef(name="prod-eu"), [EU, Cluster("prod-eu", "https://other.example.com")],
     "there are 2 clusters with the same name: [https://prod-eu.example.com:6443 https://other.example.com]"),
    # a Secret without data.name is indexed by no name (its generator name is its server)
    (ClusterRef(name="https://prod-us.example.com"), [Cluster(US.server, US.server)],
     "there are no clusters with this name: https://prod-us.example.com"),
])
def test_refuses_as_argocd(ref: ClusterRef, clusters: list[Cluster], message: str) -> None:
    with pytest.raises(DestinationError) as caught:
        ClusterDirectory(clusters).resolve(ref)
    assert str(caught.value) == message


def test_a_secret_for_the_in_cluster_address_names_it() -> None:
    directory = ClusterDirectory([Cluster("local", "https://kubernetes.default.svc")])
    assert directory.resolve(ClusterRef(name="local")).server == "https://kubernetes.default.svc"  # type: ignore[union-attr]
    assert directory.resolve(ClusterRef(name="in-cluster")).server == "https://kubernetes.default.svc"  # type: ignore[union-attr]


def test_server_urls_compare_normalized() -> None:
    assert normalize_server("HTTPS://Prod-EU.example.com:443/") == "https://prod-eu.example.com"
    assert normalize_server("https://prod-eu.example.com:6443/") == "https://prod-eu.example.com:6443"
    assert normalize_server("http://127.0.0.1:80") == "http://127.0.0.1"


def test_the_current_context_serves_in_cluster_its_own_url_and_no_other() -> None:
    result = plan([app("a", server="https://kubernetes.default.svc"), app("b", cluster="in-cluster"),
                   app("c", server=LOCAL + "/"), app("d", cluster="prod-eu"), app("e")])
    assert [(r.name, [a.name for a in r.apps]) for r in result.runs] == [
        ("in-cluster", ["a", "b", "c", "e"])]
    assert [(s.name, s.reason, s.origin) for s in result.skipped] == [
        ("d", "destination prod-eu is not mapped to a cluster: pass --cluster prod-eu=CONTEXT",
         "argocd/d.yaml:3")]


def test_mappings_by_name_and_url_get_their_own_reader() -> None:
    contexts, snapshots = cluster_mappings(["prod-eu=ctx-eu"], ["https://prod-us.example.com/=us.yaml"])
    result = plan([app("eu", cluster="prod-eu"), app("eu2", server="https://prod-eu.example.com:6443"),
                   app("us", cluster="prod-us"), app("local", cluster="in-cluster")],
                  destinations=contexts, destination_snapshots=snapshots)
    runs = {r.name: r for r in result.runs}
    assert {n: [a.name for a in r.apps] for n, r in runs.items()} == {
        "in-cluster": ["local"], "prod-eu": ["eu", "eu2"], "https://prod-us.example.com/": ["us"]}
    assert (runs["prod-eu"].cluster.context, runs["prod-eu"].cluster.live_snapshot) == ("ctx-eu", None)
    assert runs["https://prod-us.example.com/"].cluster.live_snapshot == Path("us.yaml")
    assert runs["prod-eu"].cluster.destinations == []  # a reader reads one cluster


def test_a_name_no_secret_knows_is_named_by_its_mapping() -> None:
    result = plan([app("n", cluster="new"), app("n2", server="https://new.example.com")], clusters=[],
                  destinations=[("new", "ctx-new")])
    assert [(r.name, r.server, [a.name for a in r.apps]) for r in result.runs] == [
        ("new", "https://new.example.com", ["n", "n2"])]


def test_a_mapping_of_the_current_contexts_cluster_reads_it_once() -> None:
    result = plan_destinations(ClusterOptions(context="current", destinations=[("prod-eu", "ctx-eu")]),
                               [app("eu", cluster="prod-eu"), app("local", cluster="in-cluster")], [EU],
                               server_of=lambda o: EU.server)
    assert [(r.name, [a.name for a in r.apps]) for r in result.runs] == [("prod-eu", ["eu", "local"])]


def test_resolution_errors_name_the_app_and_file() -> None:
    result = plan([app("both", cluster="prod-eu", server=EU.server), app("ok", cluster="in-cluster")],
                  clusters=[EU, Cluster("prod-eu", "https://again.example.com")])
    [error] = result.errors
    assert (error.app, error.file, error.line) == ("both", "argocd/both.yaml", 3)
    assert "can't have both name and server" in error.message


def test_bad_mappings_fail_before_the_run() -> None:
    with pytest.raises(DriftcheckError, match="already maps"):
        plan([], destinations=[("prod-eu", "ctx-eu"), (EU.server, "ctx-new")])
    with pytest.raises(DriftcheckError, match="there are 2 clusters with the same name"):
        plan([], clusters=[EU, Cluster("prod-eu", "https://x.example.com")], destinations=[("prod-eu", "c")])
    with pytest.raises(DriftcheckError, match="expected DEST=VALUE"):
        cluster_mappings(["prod-eu"], [])


def test_a_flag_replaces_the_configs_mapping_for_the_same_destination() -> None:
    result = plan([app("eu", cluster="prod-eu")], destinations=[("prod-eu", "ctx-eu")])
    configured = [Mapping("prod-eu", context="from-config", origin="driftcheck.yaml:4")]
    again = plan_destinations(ClusterOptions(context="current", destinations=[("prod-eu", "ctx-eu")]),
                              [app("eu", cluster="prod-eu")], [EU], configured, server_of=lambda o: LOCAL)
    assert result.runs[0].cluster.context == again.runs[0].cluster.context == "ctx-eu"


def test_application_destination_is_kept_as_written() -> None:
    spec = {"destination": {"name": "prod-eu", "namespace": "shop"}}
    assert destination_of(spec) == Destination(ClusterRef("prod-eu", ""), "shop")


def test_config_clusters() -> None:
    config = parse_config("clusters:\n  - name: prod-eu\n    server: https://eu.example.com/\n"
                          "    context: eu\n    labels: {env: prod}\n  - name: lab\n    snapshot: lab.yaml\n",
                          "conf/driftcheck.yaml")
    eu, lab = config.clusters
    assert (eu.name, eu.server, eu.context, eu.labels, eu.where) == (
        "prod-eu", "https://eu.example.com", "eu", {"env": "prod"}, "conf/driftcheck.yaml:2")
    assert lab.snapshot == Path("conf/lab.yaml")
    with pytest.raises(DriftcheckError, match=r"driftcheck.yaml:3: unknown key 'token'"):
        parse_config("clusters:\n  - name: x\n    token: abc\n", "driftcheck.yaml")
