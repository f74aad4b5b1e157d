"""Conformance: realistic desired/live pairs (live as `kubectl get -o yaml` shows it), with verdicts and why.

Each file in cases/ holds the desired objects (mostly the corpus's own), the live objects, and one or
more runs (packs, app rules, options) with the expected status, difference paths, ignored fields,
notes and attribution per object. The runner checks them all, that live sides look like real API
output, that corpus-derived desired objects are the corpus's, and that no secret value leaks.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftcheck.apps import path_app
from driftcheck.compare import CompareOptions, compare_app, explain, load_rules
from driftcheck.model import LiveState, Origin, Resource, ResourceKey, split_api_version

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
RBAC, ADMISSION = "rbac.authorization.k8s.io", "admissionregistration.k8s.io"
CLUSTER_SCOPED = {(RBAC, "ClusterRole"), (RBAC, "ClusterRoleBinding"),
                  (ADMISSION, "ValidatingWebhookConfiguration"), (ADMISSION, "MutatingWebhookConfiguration")}
APP = path_app("blog-system", "services/blog-system", "blog-system")


@cache
def load(path: Path) -> dict[str, Any]:
    """A case file, parsed once (the comparison never mutates its inputs)."""
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def resource(body: dict[str, Any], origin: str) -> Resource:
    key = ResourceKey.of(body, APP.namespace)
    if key.group_kind in CLUSTER_SCOPED:  # as audit.py re-keys with live.cluster_scoped
        key = ResourceKey(key.group, key.kind, "", key.name)
    return Resource(key, body["apiVersion"], body, Origin("git" if origin == "git" else "cluster"))


def label(key: ResourceKey) -> str:
    return f"{key.kind}/{key.name}"


RUNS = [pytest.param(path, i, id=f"{path.stem}[{i}]")
        for path in CASES for i in range(len(load(path)["runs"]))]


def test_there_are_at_least_forty_pairs() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(("path", "index"), RUNS)
def test_verdict(path: Path, index: int) -> None:
    case = load(path)
    spec = case["runs"][index]
    rules, errors = load_rules(spec.get("packs") or [], [], [("app:" + APP.name, spec["appRules"])]
                               if spec.get("appRules") else [])
    desired = [resource(b, "git") for b in case["desired"]]
    live = LiveState([resource(b, "cluster") for b in case["live"]], cluster_scoped=CLUSTER_SCOPED)
    results = compare_app(APP, desired, live, rules, CompareOptions(**(spec.get("options") or {})))
    assert errors + rules.errors() == []
    got = {label(r.key): r for r in results}
    assert sorted(got) == sorted(spec["expect"]), "every object's verdict is stated in the case"
    for name, want in spec["expect"].items():
        result = got[name]
        actual = {
            "status": result.status,
            "diffs": sorted(d.path for d in result.diffs),
            "ignored": sorted(f"{i.path} {i.rule}" for i in result.ignored),
        }
        assert actual == {"status": want["status"], "diffs": sorted(want["diffs"]),
                          "ignored": sorted(want.get("ignored") or [])}, name
        by_path = {d.path: d for d in result.diffs}
        for pointer, text in (want.get("notes") or {}).items():
            assert text in by_path[pointer].note, (name, pointer)
        for pointer, who in (want.get("changedBy") or {}).items():
            cb = by_path[pointer].changed_by
            assert cb is not None and f"{cb.manager}/{cb.operation}/{cb.subresource}" == who, (name, pointer)
    _assert_no_secret_leaks(case, results, desired, live)


def _assert_no_secret_leaks(case: dict[str, Any], results: list, desired: list[Resource],
                            live: LiveState) -> None:
    """No secret value (plain, base64, ciphertext) in results or explain text, unless it is public anyway."""
    values: list[str] = []
    public = []
    for body in case["desired"] + case["live"]:
        group, _ = split_api_version(body["apiVersion"])
        if body["kind"] == "Secret":
            values += [str(v) for v in (body.get("stringData") or {}).values()]
            for v in (body.get("data") or {}).values():
                values += [str(v), base64.b64decode(v).decode(errors="replace")]
        elif (group, body["kind"]) == ("bitnami.com", "SealedSecret"):
            values += [str(v)[:40] for v in body["spec"]["encryptedData"].values()]
        else:
            public.append(body)
        public.append(body["metadata"].get("name"))
        public.append(body["metadata"].get("namespace"))
    public_text = json.dumps(public)
    by_key = {r.key: r for r in live.resources}
    wanted = {r.key: r for r in desired}
    text = json.dumps([asdict(r) for r in results], default=str)
    text += "".join(explain(r, wanted.get(r.key), by_key.get(r.key)) for r in results)
    for value in values:
        assert value in public_text or value not in text


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_live_side_looks_like_the_api_server_wrote_it(path: Path) -> None:
    case = load(path)
    assert len(case["why"]) > 60, "each pair says why its verdict is what a real API server and ArgoCD give"
    for body in case["live"]:
        meta = body["metadata"]
        assert {"uid", "resourceVersion", "creationTimestamp", "managedFields"} <= meta.keys(), body["kind"]
        for entry in meta["managedFields"]:
            assert {"manager", "operation", "fieldsType", "fieldsV1", "time"} <= entry.keys()


@pytest.fixture(scope="module")
def corpus_objects(corpus_repo: Path) -> dict[str, dict[str, Any]]:
    """The corpus's blog-system app as kustomize renders it, plus two plain manifests the cases use."""
    rendered = subprocess.run(["kubectl", "kustomize", str(corpus_repo / "services/blog-system")],
                              check=True, capture_output=True, text=True).stdout
    docs = list(yaml.safe_load_all(rendered))
    for extra in ("configs/monitoring/alloy-daemonset.yaml",
                  "services/blog-system/backup/mysql-backup-cronjob.yaml"):
        docs += list(yaml.safe_load_all((corpus_repo / extra).read_text()))
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in docs if d}


@pytest.mark.parametrize("path", [p for p in CASES if load(p).get("fromCorpus")],
                         ids=[p.stem for p in CASES if load(p).get("fromCorpus")])
def test_desired_side_is_the_corpus_object(path: Path, corpus_objects: dict[str, dict[str, Any]]) -> None:
    case = load(path)
    desired = {f"{d['kind']}/{d['metadata']['name']}": d for d in case["desired"]}
    for name in case["fromCorpus"]:
        assert desired[name] == corpus_objects[name], name


def test_app_rules_said_to_come_from_an_application_are_its_ignore_differences(corpus_repo: Path) -> None:
    sourced = [run for p in CASES for run in load(p)["runs"] if run.get("appRulesFrom")]
    assert sourced, "the seed scenario compares with the corpus Application's own rules"
    for run in sourced:
        application = yaml.safe_load((corpus_repo / run["appRulesFrom"]).read_text())
        assert run["appRules"] == application["spec"]["ignoreDifferences"]
