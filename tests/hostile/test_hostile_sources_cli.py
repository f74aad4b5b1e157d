"""Bad sources through the real CLI, all in one `check` run: each is an app error naming the URL or file,
the run completes (exit 2, report written) and the good app's verdict is there; no credential is printed.

Unreachable (a server that never answers, within --request-timeout), an unknown version, a 401, an
archive whose digest is not the index's, one with `../` entries, one past the size limit, a dependency
cycle, an out-of-sync Chart.lock, a `$ref` to no source, an unknown revision of another repository."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.fetch.archive import MAX_CHART_BYTES
from testing import planted
from testing.chart_repo import chart_repo
from testing.loopback import serve_git, silent_http_remote

pytestmark = pytest.mark.slow
MAIN_URL = "https://git.example.test/platform/main.git"
TIMEOUT = 3


def application(name: str, source: dict[str, Any] | None = None,
                sources: list[dict[str, Any]] | None = None) -> str:
    spec: dict[str, Any] = {"project": "default", "destination": {"server": "https://kubernetes.default.svc",
                                                                  "namespace": name}}
    spec.update({"source": source} if source else {"sources": sources})
    return yaml.safe_dump({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                           "metadata": {"name": name, "namespace": "argocd"}, "spec": spec})


def archive(path: Path, name: str, files: dict[str, bytes], level: int = 6) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=level) as tar:
        chart_yaml = f"apiVersion: v2\nname: {name}\nversion: 1.0.0\n".encode()
        for member, content in {f"{name}/Chart.yaml": chart_yaml, **files}.items():
            info = tarfile.TarInfo(member)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def chart(name: str, dependencies: list[dict[str, str]], lock: str = "") -> dict[str, str]:
    meta = {"apiVersion": "v2", "name": name, "version": "1.0.0", "dependencies": dependencies}
    files = {f"charts/{name}/Chart.yaml": yaml.safe_dump(meta),
             f"charts/{name}/templates/cm.yaml":
                 f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n"}
    if lock:
        files[f"charts/{name}/Chart.lock"] = lock
    return files


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if importlib.util.find_spec("helm_python") is None:
        (pytest.fail if os.environ.get("CI") else pytest.skip)("needs the [helm] extra (helm-python-sdk)")
    from tests.conftest import GitRepoBuilder

    tmp = tmp_path_factory.mktemp("bad-sources")
    password, wrong = planted.secret("chart-password"), planted.secret("wrong-password")
    with chart_repo(tmp / "open") as charts, chart_repo(tmp / "locked", "bot", password) as private, \
            silent_http_remote() as silent:
        charts.add("web", "1.0.0")
        private.add("web", "1.0.0")
        charts.add_archive(archive(tmp / "climb-1.0.0.tgz", "climb", {"climb/../../../escaped.txt": b"x"}),
                           "climb", "1.0.0")
        zeros = {"bomb/zeros": b"\0" * (MAX_CHART_BYTES + 1)}
        charts.add_archive(archive(tmp / "bomb-1.0.0.tgz", "bomb", zeros, level=1), "bomb", "1.0.0")
        charts.add_archive(archive(tmp / "forged-1.0.0.tgz", "forged", {}), "forged", "1.0.0")
        index = charts.directory / "index.yaml"
        entries = yaml.safe_load(index.read_text())
        entries["entries"]["forged"][0]["digest"] = "0" * 64
        index.write_text(yaml.safe_dump(entries))
        creds = planted.write_input(tmp / "creds.yaml", yaml.safe_dump({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "p", "namespace": "argocd",
                         "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {"url": private.url, "type": "helm", "username": "bot", "password": wrong}}))
        other = GitRepoBuilder(tmp / "other")
        other.commit({"m/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: o}\n"}, "one")
        other_url, daemon = serve_git(other.path, tmp / "served", "other.git")
        silent_root = silent.rsplit("/", 1)[0]
        main = GitRepoBuilder(tmp / "main")
        main.commit({
            **chart("cycle-a", [{"name": "cycle-b", "version": "1.0.0", "repository": "file://../cycle-b"}]),
            **chart("cycle-b", [{"name": "cycle-a", "version": "1.0.0", "repository": "file://../cycle-a"}]),
            **chart("pinned", [{"name": "web", "version": "1.0.0", "repository": charts.url}],
                    lock=f"dependencies:\n- name: web\n  repository: {charts.url}\n  version: 1.0.0\n"
                         f"digest: sha256:{'1' * 64}\ngenerated: '2026-01-01T00:00:00Z'\n"),
            "argocd/good.yaml": application("good", {"repoURL": charts.url, "chart": "web",
                                                     "targetRevision": "1.0.0"}),
            "argocd/silent.yaml": application("silent", {"repoURL": silent_root, "chart": "web",
                                                         "targetRevision": "1.0.0"}),
            "argocd/unknown.yaml": application("unknown", {"repoURL": charts.url, "chart": "web",
                                                           "targetRevision": "9.9.9"}),
            "argocd/denied.yaml": application("denied", {"repoURL": private.url, "chart": "web",
                                                         "targetRevision": "1.0.0"}),
            "argocd/forged.yaml": application("forged", {"repoURL": charts.url, "chart": "forged",
                                                         "targetRevision": "1.0.0"}),
            "argocd/climb.yaml": application("climb", {"repoURL": charts.url, "chart": "climb",
                                                       "targetRevision": "1.0.0"}),
            "argocd/bomb.yaml": application("bomb", {"repoURL": charts.url, "chart": "bomb",
                                                     "targetRevision": "1.0.0"}),
            "argocd/cycle.yaml": application("cycle", {"repoURL": MAIN_URL, "path": "charts/cycle-a"}),
            "argocd/pinned.yaml": application("pinned", {"repoURL": MAIN_URL, "path": "charts/pinned"}),
            "argocd/noref.yaml": application("noref", sources=[
                {"repoURL": charts.url, "chart": "web", "targetRevision": "1.0.0",
                 "helm": {"valueFiles": ["$nope/values.yaml"]}},
                {"repoURL": MAIN_URL, "targetRevision": "HEAD", "ref": "values"}]),
            "argocd/norev.yaml": application("norev", {"repoURL": other_url, "path": "m",
                                                       "targetRevision": "no-such-branch"}),
        }, "apps")
        live = tmp / "live.json"
        live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "namespace": "good"},
             "data": {"version": "1.0.0", "greeting": "hello"}}]}))
        started = time.monotonic()
        try:
            proc = planted.run_cli(["check", "--repo", str(main.path), "--argocd-apps", "argocd/*.yaml",
                                    "--repo-url", MAIN_URL, "--repo-creds", str(creds),
                                    "--cache-dir", str(tmp / "cache"), "--request-timeout", str(TIMEOUT),
                                    "--live-snapshot", str(live), "--out", str(tmp / "out"),
                                    "--format", "json", "-o", "none"], tmp / "logs", timeout=300)
            elapsed = time.monotonic() - started
        finally:
            daemon.terminate()
            daemon.wait()
        reports = list((tmp / "out").rglob("report.json"))
        yield {"proc": proc, "elapsed": elapsed,
               "report": json.loads(reports[0].read_text()) if reports else None,
               "urls": {"open": charts.url, "private": private.url, "silent": silent_root,
                        "other": other_url},
               "secrets": (password, wrong), "tmp": tmp}


def test_the_run_completes_with_the_good_app_checked(outcome: dict[str, Any]) -> None:
    report = outcome["report"]
    assert report is not None, outcome["proc"].stderr
    assert outcome["proc"].returncode == 2
    good = [(r["kind"], r["name"], r["status"]) for r in report["resources"] if r["app"] == "good"]
    assert good == [("ConfigMap", "web", "in-sync")]
    assert {a["name"]: a["status"] for a in report["apps"]}["good"] == "in-sync"


@pytest.mark.parametrize(("app", "says"), [
    ("silent", ["{silent}", "web"]),
    ("unknown", ["{open}", "9.9.9"]),
    ("denied", ["{private}", "401"]),
    ("forged", ["{open}", "digest"]),
    ("climb", ["{open}", "'..' path component"]),
    ("bomb", ["{open}", f"more than {MAX_CHART_BYTES} bytes"]),
    ("cycle", ["dependency cycle charts/cycle-a → charts/cycle-b → charts/cycle-a"]),
    ("pinned", ["Chart.lock", "out of sync"]),
    ("noref", ["argocd/noref.yaml", "$nope"]),
    ("norev", ["{other}", "no-such-branch"]),
])
def test_each_bad_source_is_an_error_of_its_app_naming_the_url_or_file(outcome: dict[str, Any], app: str,
                                                                       says: list[str]) -> None:
    report = outcome["report"]
    assert report is not None, outcome["proc"].stderr
    messages = [f"{e.get('file')}: {e['message']}" for e in report["errors"] if e.get("app") == app]
    assert messages, f"no error for {app}: {report['errors']}"
    for fragment in says:
        wanted = fragment.format(**outcome["urls"])
        assert any(wanted in m for m in messages), (wanted, messages)
    assert {a["name"]: a["status"] for a in report["apps"]}[app] == "error"
    assert any(app in line for line in outcome["proc"].stderr.splitlines())


def test_a_silent_repository_costs_the_request_timeout_not_more(outcome: dict[str, Any]) -> None:
    # everything else on loopback is quick: the silent server is what bounds the run
    assert outcome["elapsed"] < 60, outcome["elapsed"]


def test_no_credential_reaches_any_output(outcome: dict[str, Any]) -> None:
    written = [p.read_bytes() for p in (outcome["tmp"] / "out").rglob("*") if p.is_file()]
    for value in outcome["secrets"]:
        assert value not in outcome["proc"].stdout + outcome["proc"].stderr
        assert not any(value.encode() in data for data in written)
