"""`--flux` over OCIRepositories on the loopback registry, pushed as `flux push artifact` pushes: a
Kustomization from an artifact at a semver tag renders and is checked against the emulator, with the
registry's account from `--repo-creds`; a second run `--offline` with the registry gone reads the cache;
bad input (a registry that never answers, a tag that does not exist, a blob whose bytes were changed, a
layer with `../`) is an error naming the URL while the rest of the run is checked."""

from __future__ import annotations

import copy
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo, planted
from testing.oci_registry import Registry, blob_file, oci_registry, push_artifact


def oci_app(name: str, url: str, ref: str, path: str = "./app") -> str:
    return (f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: {name}\n"
            f"  namespace: flux-system\nspec:\n  interval: 5m\n  url: {url}\n  ref:\n    {ref}\n"
            f"  secretRef:\n    name: registry-auth\n---\n"
            f"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n"
            f"  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n"
            f"  targetNamespace: oci\n  sourceRef:\n    kind: OCIRepository\n    name: {name}\n")


def artifact(tmp_path: Path, version: str) -> Path:
    root = tmp_path / f"artifact-{version}"
    (root / "app").mkdir(parents=True)
    (root / "app" / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\n"
                                          f"data:\n  version: \"{version}\"\n")
    return root


def creds_file(tmp_path: Path, registry: Registry) -> Path:
    return planted.write_input(tmp_path / "repo-creds.yaml", yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "registry", "namespace": "argocd",
                     "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": {"url": f"oci://{registry.host}", "type": "oci", "username": registry.username,
                       "password": registry.password}}))


def render(git_repo: Any, tmp_path: Path, *extra: str) -> tuple[int, str, dict[tuple[str, str], Any]]:
    out = tmp_path / "desired"
    result = CliRunner().invoke(main, ["render", "--repo", str(git_repo.path), "--flux",
                                       "clusters/production", "--repo-url", flux_repo.URL, "--out", str(out),
                                       *extra])
    objects = {(o["kind"], o["metadata"]["name"]): o
               for p in sorted(out.rglob("*.yaml")) if (o := yaml.safe_load(p.read_text()))}
    return result.exit_code, result.output, objects


def live_copy(body: dict[str, Any]) -> dict[str, Any]:
    live = copy.deepcopy(body)
    live["metadata"]["managedFields"] = [{"manager": "kustomize-controller", "operation": "Apply",
                                          "apiVersion": body["apiVersion"], "fieldsType": "FieldsV1",
                                          "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
    return live


def test_an_oci_artifact_at_a_semver_tag_is_checked_then_read_offline(
        git_repo: Any, tmp_path: Path, require: Callable[[bool, str], None]) -> None:
    require(Path("/usr/bin/docker-registry").exists(), "docker-registry (testing/prereqs.sh)")
    password = planted.secret("flux-oci-password")
    cache = ("--cache-dir", str(tmp_path / "cache"))
    with oci_registry("flux-bot", password) as registry:
        for version in ("1.0.0", "1.2.0", "2.0.0"):
            push_artifact(artifact(tmp_path, version), "fleet/app", version, registry)
        url = f"oci://{registry.host}/fleet/app"
        git_repo.commit({**flux_repo.FILES, "clusters/production/oci.yaml":
                         oci_app("oci-app", url, 'semver: ">=1.0.0 <2.0.0"')}, "an OCI artifact")
        code, output, _ = render(git_repo, tmp_path / "anonymous", *cache)
        assert code == 2
        assert f"{url} (semver >=1.0.0 <2.0.0)" in output and "HTTP 401" in output
        assert password not in output
        creds = ("--repo-creds", str(creds_file(tmp_path, registry)))
        code, output, objects = render(git_repo, tmp_path / "online", *cache, *creds)
        assert code == 0, output
        cm = objects[("ConfigMap", "from-oci")]
        assert cm["data"] == {"version": "1.2.0"}  # the highest in range, not 2.0.0
        assert cm["metadata"]["namespace"] == "oci"
        assert cm["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "oci-app"
        listed = CliRunner().invoke(main, ["apps", "--repo", str(git_repo.path), "--flux",
                                           "clusters/production", "--repo-url", flux_repo.URL, *cache,
                                           *creds, "-o", "json"])
        apps = {a["name"]: a for a in json.loads(listed.output[listed.output.index("{"):])["apps"]}
        assert apps["flux-system/oci-app"]["sources"] == [
            {"repo": url, "path": "app", "revision": "semver >=1.0.0 <2.0.0"}]
        live = [live_copy(o) for o in objects.values()]
        next(o for o in live if o["metadata"]["name"] == "from-oci")["data"]["version"] = "1.0.0"
        (tmp_path / "check").mkdir()
        code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path / "check", live, *cache, *creds)
    by_name = {(r["kind"], r["name"]): r for r in report["resources"]}
    assert by_name[("ConfigMap", "from-oci")]["status"] == "drifted"
    assert [d["path"] for d in by_name[("ConfigMap", "from-oci")]["differences"]] == ["/data/version"]
    assert [k for k, r in by_name.items() if r["status"] != "in-sync"] == [("ConfigMap", "from-oci")]
    assert code == 1 and not report["errors"], report["errors"]
    text = json.dumps(report)  # the app's notes: the revision pulled, and the Secret not read
    assert f"{url} at 1.2.0@sha256:" in text and "spec.secretRef registry-auth is a cluster Secret" in text
    # the registry is gone: --offline resolves the range and reads the layer from the cache
    code, output, objects = render(git_repo, tmp_path / "offline", *cache, "--offline")
    assert code == 0, output
    assert objects[("ConfigMap", "from-oci")]["data"] == {"version": "1.2.0"}


def test_bad_oci_input_is_an_error_naming_the_url_and_the_rest_is_built(
        git_repo: Any, tmp_path: Path, require: Callable[[bool, str], None]) -> None:
    require(Path("/usr/bin/docker-registry").exists(), "docker-registry (testing/prereqs.sh)")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    silent_url = f"oci://127.0.0.1:{silent.getsockname()[1]}/fleet/app"
    with oci_registry() as registry:
        push_artifact(artifact(tmp_path, "1.0.0"), "fleet/app", "1.0.0", registry)
        push_artifact(artifact(tmp_path, "tampered"), "fleet/tampered", "1.0.0", registry)
        manifest = json.loads(blob_file(registry, "sha256:" + _manifest_digest(registry, "fleet/tampered"))
                              .read_bytes())
        layer = blob_file(registry, manifest["layers"][0]["digest"])
        data = layer.read_bytes()
        layer.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:]))  # same size, other bytes
        push_artifact(None, "fleet/escape", "1.0.0", registry, layer=_escaping_layer(tmp_path))
        base = f"oci://{registry.host}/fleet"
        git_repo.commit({**flux_repo.FILES, "clusters/production/oci.yaml": "---\n".join((
            oci_app("silent", silent_url, "tag: 1.0.0"), oci_app("missing", f"{base}/app", "tag: 9.9.9"),
            oci_app("tampered", f"{base}/tampered", "tag: 1.0.0"),
            oci_app("escape", f"{base}/escape", "tag: 1.0.0")))}, "bad OCI input")
        started = time.monotonic()
        code, report, _ = flux_repo.check_on_emulator(git_repo.path, tmp_path, [], "--request-timeout", "2")
        elapsed = time.monotonic() - started
    silent.close()
    assert code == 2
    errors = {e["app"]: e["message"] for e in report["errors"] if e["stage"] == "source"}
    assert sorted(errors) == ["flux-system/escape", "flux-system/missing", "flux-system/silent",
                              "flux-system/tampered"], errors
    assert f"{silent_url} (1.0.0)" in errors["flux-system/silent"]
    assert "no answer within 2 s (--request-timeout)" in errors["flux-system/silent"]
    assert elapsed < 30, elapsed
    assert "/v2/fleet/app/manifests/9.9.9: HTTP 404 (not found: MANIFEST_UNKNOWN)" in \
        errors["flux-system/missing"]
    assert "/v2/fleet/tampered/blobs/sha256:" in errors["flux-system/tampered"]
    assert "; refused" in errors["flux-system/tampered"]
    assert "entry '../evil.yaml': '..' path component; archive refused" in errors["flux-system/escape"]
    assert not (tmp_path / "evil.yaml").exists()
    missing = {r["name"] for r in report["resources"] if r["status"] == "missing"}
    assert {"podinfo", "pods"} <= missing  # the other Kustomizations are built and checked
    assert "from-oci" not in missing


def _manifest_digest(registry: Registry, repository: str) -> str:
    assert registry.root is not None
    tags = registry.root / "docker/registry/v2/repositories" / repository / "_manifests/tags"
    link = tags / "1.0.0/current/link"
    return link.read_text().removeprefix("sha256:")


def _escaping_layer(tmp_path: Path) -> bytes:
    import io
    import tarfile

    path = tmp_path / "escape.tgz"
    with tarfile.open(path, "w:gz") as tar:
        body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\n"
        info = tarfile.TarInfo("../evil.yaml")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return path.read_bytes()
