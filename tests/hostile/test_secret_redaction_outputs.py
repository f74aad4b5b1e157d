"""No Secret value from Git or a cluster reaches what `render`, `snapshot` or `check` write: data,
stringData and every copy an annotation records (last-applied-configuration) are redacted by the one
function `redact_secret_values`, and the real CLI's files and output are searched for the planted values."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from driftcheck.compare.secrets import redact_secret_values
from driftcheck.kube import LAST_APPLIED, REDACTED
from testing import planted
from testing.k8s_emulator import KubernetesEmulator

if TYPE_CHECKING:
    from conftest import GitRepoBuilder


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret_with_values(namespace: str = "demo") -> tuple[dict[str, Any], list[str]]:
    """A Secret as `kubectl get -o yaml` exports it, a planted value in every place one can ride."""
    labels = ("data", "stringData", "applied-data", "applied-string", "recorded")
    data, string, applied_data, applied_string, recorded = (planted.secret(label) for label in labels)
    applied = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": namespace},
               "data": {"password": _b64(applied_data)}, "stringData": {"token": applied_string}}
    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "db", "namespace": namespace, "annotations": {
                LAST_APPLIED: json.dumps(applied) + "\n",
                "example.com/original": json.dumps({"data": {"password": _b64(recorded)}}),
                "team": "payments"}},
            "data": {"password": _b64(data)}, "stringData": {"token": string}}
    return body, [data, string, applied_data, applied_string, recorded]


def _assert_no_value_in(root: Path, values: list[str]) -> None:
    for path in (p for p in root.rglob("*") if p.is_file()):
        text = path.read_bytes()
        for value in values:
            assert value.encode() not in text and _b64(value).encode() not in text, f"{value} in {path}"


def test_redacted_secret_keeps_its_keys_and_loses_every_value() -> None:
    body, values = _secret_with_values()
    before = json.dumps(body, sort_keys=True)
    out = redact_secret_values(body, "UkVEQUNURUQ=", "REDACTED")
    assert json.dumps(body, sort_keys=True) == before  # the caller's body is not touched
    assert not any(v in json.dumps(out) or _b64(v) in json.dumps(out) for v in values)
    assert out["data"] == {"password": "UkVEQUNURUQ="} and out["stringData"] == {"token": "REDACTED"}
    annotations = out["metadata"]["annotations"]
    applied = json.loads(annotations[LAST_APPLIED])
    assert applied["data"] == {"password": "UkVEQUNURUQ="} and applied["stringData"] == {"token": "REDACTED"}
    assert applied["metadata"] == {"name": "db", "namespace": "demo"}
    assert json.loads(annotations["example.com/original"]) == {"data": {"password": "UkVEQUNURUQ="}}
    assert annotations["team"] == "payments" and out["type"] == "Opaque"


def test_a_last_applied_that_is_not_json_is_replaced_whole() -> None:
    value = planted.secret("yaml-last-applied")
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        LAST_APPLIED: f"data:\n  password: {value}\n"}}, "data": {}}
    assert redact_secret_values(body)["metadata"]["annotations"][LAST_APPLIED] == REDACTED


def test_secrets_inside_a_secret_list_and_fields_no_secret_has_are_redacted() -> None:
    value, extra = planted.secret("list-item"), planted.secret("unknown-field")
    listed = {"apiVersion": "v1", "kind": "SecretList", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}, "data": {"k": _b64(value)},
         "password": extra}]}
    text = json.dumps(redact_secret_values(listed))
    assert value not in text and _b64(value) not in text and extra not in text


def test_objects_other_than_core_secrets_are_left_as_they_are() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}
    sealed = {"apiVersion": "bitnami.com/v1alpha1", "kind": "Secret", "data": {"k": "ciphertext"}}
    assert redact_secret_values(config) is config and redact_secret_values(sealed) is sealed


def test_render_writes_no_secret_value_anywhere(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    body, values = _secret_with_values()
    git_repo.commit({"app/secret.yaml": yaml.safe_dump(body)}, "secret exported with kubectl")
    out = tmp_path / "rendered"
    run = planted.run_cli(["render", "--repo", str(git_repo.path), "--path", "app", "-n", "demo",
                           "--out", str(out)], tmp_path / "logs")
    assert run.returncode == 0, run.stderr
    _assert_no_value_in(out, values)
    _assert_no_value_in(tmp_path / "logs", values)
    written = yaml.safe_load((out / "demo" / "Secret.db.yaml").read_text())
    assert written["data"] == {"password": _b64("REDACTED")}
    assert set(json.loads(written["metadata"]["annotations"][LAST_APPLIED])["stringData"]) == {"token"}
    assert json.loads((out / "MANIFEST.json").read_text())["secret_values"] == "redacted"


def test_snapshot_and_check_write_no_secret_value_anywhere(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    body, values = _secret_with_values()
    git_body, git_values = _secret_with_values()
    git_repo.commit({"app/secret.yaml": yaml.safe_dump(git_body)}, "the Secret as Git has it")
    with KubernetesEmulator(token=planted.secret("api-token")) as api:
        api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}, body)
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        planted.mark_input(kubeconfig)
        snap = tmp_path / "snap" / "live.yaml"
        run = planted.run_cli(["snapshot", "--kubeconfig", str(kubeconfig), "-n", "demo", "--out", str(snap)],
                              tmp_path / "logs")
        assert run.returncode == 0, run.stderr
        check = planted.run_cli(["check", "--repo", str(git_repo.path), "--path", "app", "-n", "demo",
                                 "--kubeconfig", str(kubeconfig), "--out", str(tmp_path / "reports"),
                                 "--format", "json,html,md,junit", "--explain", "Secret/db"],
                                tmp_path / "logs")
    assert check.returncode == 1, check.stderr  # the values differ: drift, shown without them
    assert "password" in check.stdout
    for root in (snap.parent, tmp_path / "reports", tmp_path / "logs"):
        _assert_no_value_in(root, values + git_values)
    snapshot_text = snap.read_text()
    assert REDACTED in json.loads(snapshot_text.split("---\n")[-1])["metadata"]["annotations"][
        LAST_APPLIED]
