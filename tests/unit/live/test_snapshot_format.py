"""read_snapshot/write_snapshot on files: kubectl output in its forms, our format, redaction, scope gaps."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from driftcheck.kube import REDACTED
from driftcheck.live.snapshot import read_snapshot, write_snapshot
from driftcheck.model import DriftcheckError, LiveState, Origin, Resource, ResourceKey

FIXTURE = Path(__file__).resolve().parents[3] / "testing" / "fixtures" / "blog-system-live.yaml"
SECRET_VALUES = ("Ym9hcmQtcGFzcy0yMDI2", "czNjcjN0LXJvb3QtcHc=")


def fixture_objects() -> list[dict]:
    return [d for d in yaml.safe_load_all(FIXTURE.read_text()) if d]


def keys(state: LiveState) -> list[str]:
    return sorted(str(r.key) for r in state.resources)


def test_multi_document_kubectl_yaml_is_read_with_scope_inferred_from_namespaces() -> None:
    state = read_snapshot(FIXTURE)
    assert keys(state) == ["ConfigMap/blog-system/was-config", "Deployment.apps/blog-system/mysql",
                           "DestinationRule.networking.istio.io/blog-system/web-dest-rule",
                           "Namespace/blog-system",
                           "Rollout.argoproj.io/blog-system/web", "Secret/blog-system/mysql-secret",
                           "Service/blog-system/web-service"]
    assert ("", "Namespace") in state.cluster_scoped
    assert ("apps", "Deployment") not in state.cluster_scoped
    assert all(r.origin == Origin("snapshot", file=str(FIXTURE)) for r in state.resources)


def test_kubectl_json_list_and_raw_api_list_are_unwrapped(tmp_path: Path) -> None:
    objects = fixture_objects()
    (tmp_path / "a.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects[:3]}))
    raw_items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")} for o in objects[5:6]]
    (tmp_path / "sub").mkdir()
    raw_list = {"apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "9"},
                "items": raw_items}
    (tmp_path / "sub" / "b.yaml").write_text(yaml.safe_dump(raw_list))
    (tmp_path / "notes.txt").write_text("not a snapshot")
    state = read_snapshot(tmp_path)
    assert keys(state) == ["Deployment.apps/blog-system/mysql", "Namespace/blog-system",
                           "Rollout.argoproj.io/blog-system/web", "Service/blog-system/web-service"]
    service = next(r for r in state.resources if r.key.kind == "Service")
    assert (service.body["apiVersion"], service.body["kind"]) == ("v1", "Service")


def test_round_trip_keeps_objects_header_and_scope(tmp_path: Path) -> None:
    objects = fixture_objects()
    state = LiveState(
        resources=[Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("cluster")) for o in objects],
        unreadable={("", "Secret", "kube-system"): "forbidden: list secrets in kube-system"},
        not_served={("bitnami.com", "SealedSecret")},
        cluster_scoped={("", "Namespace")},
        info={"server": "https://10.0.0.1:6443", "context": "prod", "kubernetes_version": "v1.30.2",
              "time": "2026-01-21T03:00:00Z",
              "scope": {"kinds": {("apps", "Deployment"), ("", "Secret"), ("", "Namespace")},
                        "namespaces": {"blog-system", "kube-system"}, "selector": None}})
    out = tmp_path / "snap.yaml"
    write_snapshot(state, out, include_secret_values=True)
    assert out.read_text().startswith("# driftcheck snapshot of https://10.0.0.1:6443 (context prod")
    back = read_snapshot(out)
    assert keys(back) == keys(state)
    assert {r.key: r.body for r in back.resources} == {r.key: r.body for r in state.resources}
    assert back.unreadable == state.unreadable and back.not_served == state.not_served
    assert back.info["server"] == "https://10.0.0.1:6443" and back.info["kubernetes_version"] == "v1.30.2"
    assert back.info["time"] == "2026-01-21T03:00:00Z" and not back.info.get("secrets_redacted")
    assert not list(tmp_path.glob(".*tmp")), "the temporary file must be renamed away"


def test_types_and_namespaces_never_read_become_unreadable_not_empty(tmp_path: Path) -> None:
    objects = [o for o in fixture_objects() if o["kind"] == "Deployment"]
    resources = [Resource(ResourceKey.of(o), "apps/v1", o, Origin("cluster")) for o in objects]
    state = LiveState(resources=resources,
                      info={"scope": {"kinds": {("apps", "Deployment")}, "namespaces": {"blog-system"}}})
    write_snapshot(state, tmp_path / "s.yaml")
    wanted = {("apps", "Deployment"), ("", "ConfigMap")}
    back = read_snapshot(tmp_path / "s.yaml", kinds=wanted, namespaces={"blog-system", "monitoring"})
    assert keys(back) == ["Deployment.apps/blog-system/mysql"]
    assert set(back.unreadable) == {("", "ConfigMap", ""), ("apps", "Deployment", "monitoring")}
    assert "not captured in snapshot" in back.unreadable[("", "ConfigMap", "")]


def test_secret_values_are_redacted_everywhere_unless_opted_in(tmp_path: Path) -> None:
    objects = fixture_objects()
    state = LiveState(resources=[Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("cluster"))
                                 for o in objects])
    write_snapshot(state, tmp_path / "redacted.yaml")
    text = (tmp_path / "redacted.yaml").read_text()
    for value in SECRET_VALUES:
        assert value not in text
        assert base64.b64decode(value).decode() not in text
    back = read_snapshot(tmp_path / "redacted.yaml")
    secret = next(r.body for r in back.resources if r.key.kind == "Secret")
    assert secret["data"] == {"mysql-password": REDACTED, "mysql-root-password": REDACTED}
    assert back.info["secrets_redacted"] is True
    assert secret is not next(o for o in objects if o["kind"] == "Secret"), "the caller's object is untouched"
    assert next(o for o in objects if o["kind"] == "Secret")["data"]["mysql-password"] == SECRET_VALUES[0]

    write_snapshot(state, tmp_path / "full.yaml", include_secret_values=True)
    assert all(v in (tmp_path / "full.yaml").read_text() for v in SECRET_VALUES)


def test_kubectl_style_snapshot_is_valid_yaml_for_other_tools(tmp_path: Path) -> None:
    objects = fixture_objects()
    state = LiveState(resources=[Resource(ResourceKey.of(o), o["apiVersion"], o, Origin("cluster"))
                                 for o in objects])
    write_snapshot(state, tmp_path / "s.yaml")
    docs = list(yaml.safe_load_all((tmp_path / "s.yaml").read_text()))
    assert docs[0]["kind"] == "DriftcheckSnapshot" and len(docs) == 1 + len(objects)


@pytest.mark.parametrize("content, message", [
    ("a: [unclosed", "not valid YAML or JSON"),
    ("plain words\n", "not a Kubernetes object"),
    ("{\"kind\": ", "not valid YAML or JSON"),
])
def test_broken_files_give_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(DriftcheckError, match=message) as err:
        read_snapshot(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_path_and_empty_directory_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DriftcheckError, match="does not exist"):
        read_snapshot(tmp_path / "nope.yaml")
    with pytest.raises(DriftcheckError, match=r"no \.yaml"):
        read_snapshot(tmp_path)



def test_unquoted_timestamps_in_hand_written_yaml_stay_strings(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
                                      "  namespace: n\n  creationTimestamp: 2026-01-12T03:10:41Z\n"
                                      "data:\n  day: 2026-01-19\n")
    [config] = read_snapshot(tmp_path / "cm.yaml").resources
    assert config.body["metadata"]["creationTimestamp"] == "2026-01-12T03:10:41Z"
    assert config.body["data"] == {"day": "2026-01-19"}
    write_snapshot(LiveState(resources=[config]), tmp_path / "out.yaml")
    assert read_snapshot(tmp_path / "out.yaml").resources[0].body == config.body


def test_a_directory_may_mix_our_snapshot_and_kubectl_output(tmp_path: Path) -> None:
    by_kind = {o["kind"]: o for o in fixture_objects()}
    deployment = Resource(ResourceKey.of(by_kind["Deployment"]), "apps/v1", by_kind["Deployment"],
                          Origin("cluster"))
    state = LiveState(resources=[deployment],
                      info={"scope": {"kinds": {("apps", "Deployment")}, "namespaces": None}})
    write_snapshot(state, tmp_path / "a-snapshot.yaml")
    (tmp_path / "b-kubectl.yaml").write_text(yaml.safe_dump(by_kind["ConfigMap"]))
    wanted = {("apps", "Deployment"), ("", "ConfigMap"), ("", "Service")}
    back = read_snapshot(tmp_path, wanted, {"blog-system"})
    assert keys(back) == ["ConfigMap/blog-system/was-config", "Deployment.apps/blog-system/mysql"]
    assert set(back.unreadable) == {("", "Service", "")}


def test_an_unwritable_destination_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(DriftcheckError, match=r"cannot write snapshot .*file/s\.yaml: "):
        write_snapshot(LiveState(), tmp_path / "file" / "s.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
