"""A HelmRelease's valuesFrom objects that Git does not hold are read from the run's cluster, as
helm-controller GETs them: a ConfigMap and a Secret (a targetPath) on the emulator give the values, an
optional one that is absent is skipped; with Secrets forbidden the release is an app error naming it, the
Secret and the RBAC component, and the rest is checked."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from testing import flux_repo
from tests.e2e.test_flux_helmrelease import (  # noqa: F401  (servers: the fixture)
    RELEASES,
    cli,
    live_copy,
    rendered,
    servers,
    write_repo,
)

IN_GIT = """\
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-values
  namespace: flux-system
data:
  values.yaml: |
    greeting: from-configmap
    replicas: 2
  size: large
"""
SECRET_REFS = """  valuesFrom:
    - kind: Secret
      name: web-secret
      valuesKey: color
      targetPath: color
    - kind: Secret
      name: not-there
      optional: true
"""
LIVE_RELEASES = RELEASES.replace(IN_GIT, "\n").replace("  valuesFrom:\n", SECRET_REFS, 1)


def live_values() -> list[dict[str, Any]]:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "web-values", "namespace": "flux-system"},
                  "data": {"values.yaml": "greeting: from-configmap\nreplicas: 2\n", "size": "large"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
              "metadata": {"name": "web-secret", "namespace": "flux-system"},
              "data": {"color": base64.b64encode(b"red").decode()}}
    return [config_map, secret]


def test_values_objects_not_in_git_are_read_from_the_cluster(git_repo: Any, servers: Any,  # noqa: F811
                                                             tmp_path: Path) -> None:
    assert IN_GIT in RELEASES and LIVE_RELEASES.count("valuesFrom") == 1
    write_repo(git_repo, servers)  # what Flux applied: rendered while Git still held the ConfigMap
    helm = {"helm.toolkit.fluxcd.io/name"}
    live = [live_copy(o, "helm-controller" if helm & set(o["metadata"].get("labels") or {})
                      else "kustomize-controller") for o in rendered(git_repo, tmp_path).values()
            if o["metadata"]["name"] != "web-values"]
    settings = next(o for o in live if o["metadata"]["name"] == "podinfo-web-settings")
    settings["data"]["color"] = "red"  # the Secret's value at targetPath color
    release = next(o for o in live if o["kind"] == "HelmRelease" and o["metadata"]["name"] == "web")
    release["spec"]["valuesFrom"] = yaml.safe_load(SECRET_REFS)["valuesFrom"] + \
        release["spec"]["valuesFrom"]  # Flux applied the HelmRelease as Git has it now
    write_repo(git_repo, servers, LIVE_RELEASES)

    code, report, output = flux_repo.check_on_emulator(git_repo.path, tmp_path, [*live, *live_values()])

    assert not report["errors"], report["errors"]
    results = {(r["kind"], r["name"]): r["status"] for r in report["resources"]}
    assert results[("ConfigMap", "podinfo-web-settings")] == "in-sync"  # greeting, size and color
    assert results[("Deployment", "podinfo-web")] == "in-sync"  # replicas 3: inline over the ConfigMap's 2
    assert set(results.values()) == {"in-sync"}, results
    assert "cmVk" not in output and "cmVk" not in json.dumps(report)  # the Secret's data is not shown
    assert code == 0


def test_a_forbidden_secret_is_an_error_naming_the_release_and_the_rbac_component(
        git_repo: Any, servers: Any, tmp_path: Path) -> None:  # noqa: F811
    write_repo(git_repo, servers, LIVE_RELEASES)
    code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, live_values(),
                                                    forbid_secrets=True)
    errors = [e for e in report["errors"] if e["app"] == "helmrelease/flux-system/web"]
    assert len(errors) == 1, report["errors"]
    message = errors[0]["message"]
    assert "HelmRelease flux-system/web" in message and "Secret flux-system/web-secret" in message
    assert "deploy/components/read-secrets" in message
    assert "ocidemo" in {r["name"] for r in report["resources"]}  # the other release was checked
    assert code == 2
