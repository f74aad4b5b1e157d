"""ClusterReader against the loopback API emulator through the real kubernetes client: reads, faults."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import yaml

from driftcheck.live import kubeconfig as kubeconfig_module
from driftcheck.live.cluster import ClusterReader
from driftcheck.live.connection import RetryPolicy
from driftcheck.model import DriftcheckError, Origin
from testing.k8s_emulator import BLOG_SYSTEM_LIVE, DEFAULT_RESOURCES, KubernetesEmulator, generate_objects

# production retries with short waits, so fault tests stay fast; Retry-After is still honoured
FAST_RETRY = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2, connect_deadline=5.0)
BLOG_KINDS = {("apps", "Deployment"), ("argoproj.io", "Rollout"), ("networking.istio.io", "DestinationRule"),
              ("", "Secret"), ("", "Service"), ("", "ConfigMap")}


def reader(kubeconfig: Path, timeout: float = 30.0) -> ClusterReader:
    return ClusterReader(str(kubeconfig), timeout=timeout, retry=FAST_RETRY)


def lists(api: KubernetesEmulator, plural: str) -> list:
    return [r for r in api.requests if r.path.endswith(f"/{plural}")]


def test_objects_look_like_kubectl_get_output(blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    state = reader(kubeconfig).read(BLOG_KINDS, {"blog-system"})
    fixture = yaml.safe_load_all(BLOG_SYSTEM_LIVE.read_text())
    expected = {d["metadata"]["name"] + "/" + d["kind"]: d for d in fixture}
    got = {r.key.name + "/" + r.key.kind: r for r in state.resources}
    assert sorted(got) == sorted(k for k in expected if not k.endswith("/Namespace"))
    for name, resource in got.items():
        assert resource.body == expected[name], f"{name} must be exactly what kubectl get -o yaml shows"
        assert resource.origin == Origin("cluster")
    deployment = got["mysql/Deployment"]
    assert deployment.api_version == "apps/v1" and deployment.body["metadata"]["managedFields"]
    assert state.info["context"] == "emulator" and state.info["kubernetes_version"] == "v1.30.2"
    assert state.info["server"] == blog_api.url
    assert not state.unreadable and not state.not_served


def test_preferred_version_is_listed_whatever_version_git_uses(blog_api: KubernetesEmulator,
                                                                kubeconfig: Path) -> None:
    state = reader(kubeconfig).read({("networking.istio.io", "DestinationRule")}, {"blog-system"})
    [rule] = state.resources
    assert rule.api_version == "networking.istio.io/v1"
    subsets = rule.body["spec"]["subsets"]
    assert [s["labels"]["rollouts-pod-template-hash"] for s in subsets] == ["6b8d7f9c4"] * 2
    assert lists(blog_api, "destinationrules")[0].path.startswith("/apis/networking.istio.io/v1/")


def test_pagination_follows_continue_across_three_pages(k8s_api: KubernetesEmulator,
                                                        kubeconfig: Path) -> None:
    configmap = next(r for r in DEFAULT_RESOURCES if r.kind == "ConfigMap")
    k8s_api.add(*generate_objects([configmap], 1234, ["blog-system"]))
    state = reader(kubeconfig).read({("", "ConfigMap")}, {"blog-system"})
    names = [r.key.name for r in state.resources]
    assert len(names) == 1234 and len(set(names)) == 1234
    pages = lists(k8s_api, "configmaps")
    assert [r.query.get("limit") for r in pages] == ["500"] * 3
    assert "continue" not in pages[0].query and all(r.query.get("continue") for r in pages[1:])


def test_forbidden_type_is_unreadable_and_the_others_are_read(blog_api: KubernetesEmulator,
                                                              kubeconfig: Path) -> None:
    blog_api.forbid("secrets", namespace="blog-system")
    state = reader(kubeconfig).read(BLOG_KINDS, {"blog-system"})
    assert state.unreadable == {("", "Secret", "blog-system"): "forbidden: list secrets in blog-system"}
    assert {r.key.kind for r in state.resources} == {"Deployment", "Rollout", "DestinationRule", "Service",
                                                     "ConfigMap"}


def test_forbidden_cluster_wide_list_names_all_namespaces(blog_api: KubernetesEmulator,
                                                          kubeconfig: Path) -> None:
    blog_api.forbid("rollouts")
    state = reader(kubeconfig).read({("argoproj.io", "Rollout"), ("", "Namespace")}, None)
    assert state.unreadable == {("argoproj.io", "Rollout", ""): "forbidden: list rollouts in all namespaces"}
    assert [str(r.key) for r in state.resources] == ["Namespace/blog-system"]
    assert ("", "Namespace") in state.cluster_scoped


def test_server_errors_are_retried_until_success(blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    blog_api.fail("deployments", times=2, status=500)
    state = reader(kubeconfig).read({("apps", "Deployment")}, {"blog-system"})
    assert [r.key.name for r in state.resources] == ["mysql"]
    assert [r.status for r in lists(blog_api, "deployments")] == [500, 500, 200]
    assert not state.unreadable


def test_persistent_server_errors_make_the_type_unreadable_not_missing(blog_api: KubernetesEmulator,
                                                                      kubeconfig: Path) -> None:
    blog_api.fail("deployments", times=None, status=503)
    state = reader(kubeconfig).read({("apps", "Deployment"), ("", "Service")}, {"blog-system"})
    assert len(lists(blog_api, "deployments")) == FAST_RETRY.attempts
    reason = state.unreadable[("apps", "Deployment", "blog-system")]
    assert reason.startswith("cannot list deployments in blog-system: 503") and "after 4 attempts" in reason
    assert [r.key.kind for r in state.resources] == ["Service"]


def test_too_many_requests_waits_for_retry_after(blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    blog_api.throttle("services", retry_after=1)
    state = reader(kubeconfig).read({("", "Service")}, {"blog-system"})
    assert [r.key.name for r in state.resources] == ["web-service"]
    first, second = lists(blog_api, "services")
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 1.0, "the retry came before Retry-After allowed it"


def test_expired_continue_token_restarts_the_list_once(k8s_api: KubernetesEmulator, kubeconfig: Path) -> None:
    deployment = next(r for r in DEFAULT_RESOURCES if r.kind == "Deployment")
    k8s_api.add(*generate_objects([deployment], 1100, ["blog-system"]))
    k8s_api.expire_continue("deployments", times=1)
    state = reader(kubeconfig).read({("apps", "Deployment")}, {"blog-system"})
    assert len({r.key for r in state.resources}) == len(state.resources) == 1100
    statuses = [(r.status, "continue" in r.query) for r in lists(k8s_api, "deployments")]
    assert statuses == [(200, False), (410, True), (200, False), (200, True), (200, True)]


def test_continue_token_expiring_twice_makes_the_type_unreadable(k8s_api: KubernetesEmulator,
                                                                 kubeconfig: Path) -> None:
    deployment = next(r for r in DEFAULT_RESOURCES if r.kind == "Deployment")
    k8s_api.add(*generate_objects([deployment], 600, ["blog-system"]))
    k8s_api.expire_continue("deployments", times=2)
    state = reader(kubeconfig).read({("apps", "Deployment")}, {"blog-system"})
    assert state.resources == []
    assert "410 Expired" in state.unreadable[("apps", "Deployment", "blog-system")]


def test_a_list_stalling_mid_pagination_times_out_and_is_retried(k8s_api: KubernetesEmulator,
                                                                 kubeconfig: Path) -> None:
    deployment = next(r for r in DEFAULT_RESOURCES if r.kind == "Deployment")
    k8s_api.add(*generate_objects([deployment], 700, ["blog-system"]))
    k8s_api.stall("deployments", seconds=10, times=1)
    state = reader(kubeconfig, timeout=1.0).read({("apps", "Deployment")}, {"blog-system"})
    assert len(state.resources) == 700 and not state.unreadable
    second_pages = [r for r in lists(k8s_api, "deployments") if "continue" in r.query]
    assert len(second_pages) == 2, "the stalled second page is asked again, not the whole list"


def test_kind_not_served_is_reported_not_read(blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    blog_api.unserve("bitnami.com", "SealedSecret")
    state = reader(kubeconfig).read({("bitnami.com", "SealedSecret"), ("argoproj.io", "Ghost"),
                                     ("apps", "Deployment")}, {"blog-system"})
    assert state.not_served == {("bitnami.com", "SealedSecret"), ("argoproj.io", "Ghost")}
    assert [r.key.kind for r in state.resources] == ["Deployment"]
    assert not any("sealedsecrets" in r.path for r in blog_api.requests)


def test_label_selector_is_passed_to_the_server(blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    state = reader(kubeconfig).read(BLOG_KINDS, {"blog-system"}, selector="app in (web,mysql),tier!=backend")
    assert sorted(r.key.name for r in state.resources) == ["mysql", "web", "web-dest-rule", "web-service"]
    assert {r.query.get("labelSelector") for r in blog_api.requests if "limit" in r.query} == {
        "app in (web,mysql),tier!=backend"}


def test_namespaces_are_listed_one_by_one_or_cluster_wide(k8s_api: KubernetesEmulator,
                                                          kubeconfig: Path) -> None:
    service = next(r for r in DEFAULT_RESOURCES if r.kind == "Service")
    k8s_api.add(*generate_objects([service], 30, ["a", "b", "c"]))
    state = reader(kubeconfig).read({("", "Service")}, {"a", "c"})
    assert {r.key.namespace for r in state.resources} == {"a", "c"} and len(state.resources) == 20
    assert sorted(r.path for r in lists(k8s_api, "services")) == ["/api/v1/namespaces/a/services",
                                                                  "/api/v1/namespaces/c/services"]
    k8s_api.reset_log()
    state = reader(kubeconfig).read({("", "Service")}, None)
    assert len(state.resources) == 30 and [r.path for r in lists(k8s_api, "services")] == ["/api/v1/services"]


def test_only_get_requests_are_ever_sent(blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    blog_api.fail("rollouts", times=1)
    blog_api.forbid("secrets")
    reader(kubeconfig).read(BLOG_KINDS | {("bitnami.com", "SealedSecret")}, None)
    reader(kubeconfig).read(BLOG_KINDS, {"blog-system", "kube-system"}, selector="app")
    assert len(blog_api.requests) > 20
    assert {r.method for r in blog_api.requests} == {"GET"}


def test_wrong_bearer_token_is_one_clear_error(blog_api: KubernetesEmulator, tmp_path: Path) -> None:
    bad = blog_api.write_kubeconfig(tmp_path / "bad", context="prod", token="stolen-or-stale")
    with pytest.raises(DriftcheckError) as err:
        reader(bad).read(BLOG_KINDS, {"blog-system"})
    message = str(err.value)
    assert "rejected the credentials of context prod (401 Unauthorized)" in message and "\n" not in message
    assert "stolen-or-stale" not in message


def test_credentials_rejected_in_the_middle_of_a_run_end_it(blog_api: KubernetesEmulator,
                                                           kubeconfig: Path) -> None:
    blog_api.fail("rollouts", times=None, status=401)  # e.g. a token revoked mid-run
    with pytest.raises(DriftcheckError, match=r"rejected the credentials of context emulator \(401"):
        reader(kubeconfig).read(BLOG_KINDS, {"blog-system"})
    assert len(lists(blog_api, "rollouts")) == 1, "a 401 is not retried"


def test_kubeconfig_context_and_kubeconfig_variable(blog_api: KubernetesEmulator, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    good = yaml.safe_load(blog_api.write_kubeconfig(tmp_path / "good", context="staging").read_text())
    bad = yaml.safe_load(
        blog_api.write_kubeconfig(tmp_path / "bad", context="prod", token="wrong-prod-token").read_text())
    for key in ("clusters", "users", "contexts"):
        bad[key] += good[key]
    (tmp_path / "both").write_text(yaml.safe_dump(bad))  # current-context: prod (wrong token)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "both"))
    chosen = ClusterReader(context="staging", retry=FAST_RETRY)
    assert chosen.info["context"] == "staging"
    assert [r.key.name for r in chosen.read({("apps", "Deployment")}, {"blog-system"}).resources] == ["mysql"]
    with pytest.raises(DriftcheckError, match="401"):
        ClusterReader(retry=FAST_RETRY).read({("apps", "Deployment")}, {"blog-system"})
    with pytest.raises(DriftcheckError,
                       match=r"context 'dev' not found in kubeconfig .*\(contexts: prod, staging\)"):
        ClusterReader(context="dev")


def test_missing_kubeconfig_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(DriftcheckError, match=r"no kubeconfig at .*nope.*pass --kubeconfig or"):
        ClusterReader(str(tmp_path / "nope"))


def test_in_cluster_service_account_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a Pod (service host/port variables, token and CA files), no kubeconfig: the Pod's identity."""
    with KubernetesEmulator(token="pod-service-account-token", tls=True) as api:
        api.load_yaml(BLOG_SYSTEM_LIVE)
        account = tmp_path / "serviceaccount"
        account.mkdir()
        (account / "token").write_text("pod-service-account-token")
        (account / "ca.crt").write_bytes(api.ca_certificate)
        monkeypatch.setattr(kubeconfig_module, "SERVICE_ACCOUNT_DIR", account)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        in_pod = ClusterReader(retry=FAST_RETRY)
        assert in_pod.info == {"context": "in-cluster", "server": f"https://127.0.0.1:{api.port}",
                               "kubernetes_version": "v1.30.2"}
        state = in_pod.read({("apps", "Deployment")}, {"blog-system"})
        assert [r.key.name for r in state.resources] == ["mysql"]


def test_untrusted_server_certificate_is_one_clear_error(tmp_path: Path) -> None:
    with KubernetesEmulator(tls=True) as api:
        url = api.url
        config = yaml.safe_load(api.write_kubeconfig(tmp_path / "kubeconfig").read_text())
        del config["clusters"][0]["cluster"]["certificate-authority-data"]
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
        with pytest.raises(DriftcheckError) as err:
            ClusterReader(str(tmp_path / "kubeconfig"), retry=FAST_RETRY).read({("apps", "Deployment")}, None)
    assert str(err.value) == (f"cannot talk to the Kubernetes API server {url}: SSLError [SSL: "
                              "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate")
    assert not api.requests, "no request may reach a server whose certificate is not trusted"


@pytest.mark.slow  # about 8 s: the production retry policy really waits between connection attempts
def test_unreachable_server_fails_fast_with_one_line(tmp_path: Path) -> None:
    with KubernetesEmulator() as gone:
        kubeconfig = gone.write_kubeconfig(tmp_path / "kubeconfig")
    started = time.monotonic()
    with pytest.raises(DriftcheckError) as err:
        ClusterReader(str(kubeconfig)).read({("apps", "Deployment")}, None)  # the production retry policy
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"took {elapsed:.1f}s"
    assert "cannot reach the Kubernetes API server http://127.0.0.1:" in str(err.value)
    assert "Connection refused" in str(err.value) and "\n" not in str(err.value)


def test_a_server_that_accepts_and_hangs_is_reported_within_the_first_contact_budget(
        blog_api: KubernetesEmulator, kubeconfig: Path) -> None:
    """Production budget is 25 s (then exit 2 within 30 s); 1.5 s here keeps the test fast."""
    blog_api.stall(None, seconds=60, times=None, path="/version")
    hung = ClusterReader(str(kubeconfig), retry=RetryPolicy(first_contact=1.5))
    started = time.monotonic()
    with pytest.raises(DriftcheckError) as err:
        hung.read({("apps", "Deployment")}, None)
    assert time.monotonic() - started < 10
    assert str(err.value).startswith(f"the Kubernetes API server {blog_api.url} (context emulator) fails: "
                                     "GET /version: Timeout: no answer within ")
    assert RetryPolicy().first_contact + 1 < 30


def test_request_count_is_discovery_plus_pages(k8s_api: KubernetesEmulator, kubeconfig: Path) -> None:
    """2,000 objects across 10 types: requests = discovery documents + the pages of each type, no more."""
    kinds = ["ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "CronJob", "Ingress",
             "Rollout", "DestinationRule", "VirtualService"]
    counts = [520, 430, 300, 250, 150, 100, 90, 70, 50, 40]
    assert sum(counts) == 2000
    by_kind = {r.kind: r for r in DEFAULT_RESOURCES}
    for kind, count in zip(kinds, counts, strict=True):
        k8s_api.add(*generate_objects([by_kind[kind]], count, ["blog-system"]))
    state = ClusterReader(str(kubeconfig), retry=RetryPolicy()).read(
        {(by_kind[k].group, k) for k in kinds}, {"blog-system"})
    assert len(state.resources) == 2000
    groups = {by_kind[k].group for k in kinds}
    discovery = 1 + 1 + len(groups)  # /version, /apis, one document per group (core: /api/v1)
    pages = sum(math.ceil(c / 500) for c in counts)
    print(f"\n2,000 objects / 10 types: {state.requests} requests = {discovery} discovery + {pages} pages")
    assert state.requests == discovery + pages == len(k8s_api.requests) == 8 + 11
    assert sum(1 for r in k8s_api.requests if r.is_discovery) == discovery


@pytest.mark.parametrize("selector, expected", [
    ("tier=web", 10), ("tier==db", 10), ("tier!=web", 11), ("app in (app-0,app-1)", 6),
    ("app notin (app-0,app-1),tier=db", 7), ("tier", 20), ("!tier", 1), ("app=app-0,tier=web", 2),
])
def test_label_selectors_select_on_the_server(k8s_api: KubernetesEmulator, kubeconfig: Path, selector: str,
                                              expected: int) -> None:
    configmap = next(r for r in DEFAULT_RESOURCES if r.kind == "ConfigMap")
    unlabelled = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "bare", "namespace": "blog-system"}}
    k8s_api.add(*generate_objects([configmap], 20, ["blog-system"]), unlabelled)
    state = reader(kubeconfig).read({("", "ConfigMap")}, {"blog-system"}, selector=selector)
    assert len(state.resources) == expected
