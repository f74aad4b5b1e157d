"""Rule files: schema errors name the file and the rule index; ids, digest, packs, unused and apply errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from driftcheck.compare import available_packs, load_rules
from driftcheck.compare.rules import packs_dir
from driftcheck.model import DefinedBy, DriftcheckError, IgnoreRule
from testing.compare_helpers import APP, run

ISTIO = {"group": "networking.istio.io", "kind": "DestinationRule"}
DR = {"apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule",
      "metadata": {"name": "web-dest-rule", "namespace": "blog-system"},
      "spec": {"host": "web-service", "subsets": [{"name": "stable"}]}}


def test_shipped_packs_load_cleanly() -> None:
    assert {"argo-rollouts", "istio", "hpa", "webhooks"} <= set(available_packs())
    rules, errors = load_rules(available_packs(), [], [])
    assert errors == []
    assert rules.packs == available_packs()
    assert "argo-rollouts#0" in [r.id for r in rules.rules]


def test_bad_rule_is_reported_with_file_and_index_and_others_still_apply(tmp_path: Path) -> None:
    f = tmp_path / "my-rules.yaml"
    f.write_text("- kind: Deployment\n  jsonPointers: [/spec/replicas]\n"
                 "- kind: Service\n  jsonPointer: [/spec/clusterIP]\n"  # typo: jsonPointer
                 "- kind: ConfigMap\n  jqPathExpressions: ['.data[']\n")  # does not compile
    rules, errors = load_rules([], [f], [])
    assert [r.id for r in rules.rules] == ["file:my-rules.yaml#0"]
    assert [(e.file, e.message.split(":")[0]) for e in errors] == [
        (str(f), "rule #1 is invalid"), (str(f), "rule #2 is invalid")]
    assert "jsonPointer" in errors[0].message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "broken.yaml"
    f.write_text("- kind: Deployment\n  jsonPointers: [/spec/replicas\n")
    _, errors = load_rules([], [f], [])
    assert len(errors) == 1 and errors[0].file == str(f) and errors[0].line > 0


def test_unknown_pack_or_missing_file_ends_the_command(tmp_path: Path) -> None:
    with pytest.raises(DriftcheckError, match="unknown rule pack 'argo-rollout'"):
        load_rules(["argo-rollout"], [], [])
    with pytest.raises(DriftcheckError, match="not found"):
        load_rules([], [tmp_path / "nope.yaml"], [])


def test_application_form_and_directory_of_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("ignoreDifferences:\n- kind: Service\n  jsonPointers: [/spec/x]\n")
    (tmp_path / "b.yml").write_text("- kind: Pod\n  managedFieldsManagers: [kube-controller-manager]\n")
    rules, errors = load_rules([], [tmp_path], [("config", [{"kind": "Secret", "jsonPointers": ["/data"]}])])
    assert errors == []
    assert [r.id for r in rules.rules] == ["file:a.yaml#0", "file:b.yml#0", "config#0"]


def test_digest_changes_with_rule_content_and_not_otherwise() -> None:
    a, _ = load_rules(["hpa"], [], [("config", [{"kind": "Service", "jsonPointers": ["/spec/a"]}])])
    b, _ = load_rules(["hpa"], [], [("config", [{"kind": "Service", "jsonPointers": ["/spec/a"]}])])
    c, _ = load_rules(["hpa"], [], [("config", [{"kind": "Service", "jsonPointers": ["/spec/b"]}])])
    assert a.digest == b.digest != c.digest


def test_app_rules_apply_to_that_app_only() -> None:
    rule = [{"group": "networking.istio.io", "kind": "DestinationRule", "jsonPointers": ["/spec/host"]}]
    live = {**DR, "spec": {**DR["spec"], "host": "other"}}
    [mine], _, _ = run([DR], [live], app_rules=rule)
    assert mine.status == "in-sync" and [i.rule for i in mine.ignored] == ["app:blog-system#0"]
    rules, _ = load_rules([], [], [("app:other-app", rule)])
    assert rules.for_app(APP).applicable() == []


def test_unused_rules_are_listed() -> None:
    _, errors, unused = run([DR], [DR], app_rules=[
        {**ISTIO, "jsonPointers": ["/spec/host"]},
        {**ISTIO, "name": "gone", "jsonPointers": ["/spec"]},
        {"kind": "ConfigMap", "jsonPointers": ["/data"]},
    ])
    assert errors == []
    assert unused == ["app:blog-system#1", "app:blog-system#2"]


def test_pointer_into_a_missing_list_item_is_an_error_not_a_skip() -> None:
    [result], errors, _ = run([DR], [DR], app_rules=[
        {**ISTIO, "jsonPointers": ["/spec/subsets/1/labels"]}])
    assert result.status == "in-sync"
    [err] = errors
    assert err.stage == "rules"
    assert err.resource == "DestinationRule.networking.istio.io/blog-system/web-dest-rule"
    assert "app:blog-system#0" in err.message and "/spec/subsets" in err.message


def test_jq_runtime_error_is_an_error_not_a_skip() -> None:
    _, errors, _ = run([DR], [DR], app_rules=[{**ISTIO, "jqPathExpressions": [".spec.host[]"]}])
    [err] = errors
    assert "jqPathExpression" in err.message and "app:blog-system#0" in err.message


def test_managed_fields_managers_rule_ignores_what_that_manager_owns() -> None:
    desired = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "blog-system"},
               "data": {"a": "1", "b": "2"}}
    live = {**desired, "data": {"a": "9", "b": "8"}, "metadata": {**desired["metadata"], "managedFields": [
        {"manager": "config-reloader", "operation": "Update", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:a": {}}}}]}}
    [result], errors, _ = run([desired], [live], app_rules=[
        {"kind": "ConfigMap", "managedFieldsManagers": ["config-reloader"]}])
    assert errors == []
    assert [d.path for d in result.diffs] == ["/data/b"]
    assert [(i.path, i.rule) for i in result.ignored] == [("/data/a", "app:blog-system#0")]


def test_an_apps_invalid_rules_are_reported_once_however_often_it_is_compared() -> None:
    app = replace(APP, ignore=(IgnoreRule({"kind": "Service", "jsonPointer": ["/x"]}),),
                  defined_by=DefinedBy("argocd-application", "argocd/app.yaml"))
    rules, _ = load_rules([], [], [])
    rules.for_app(app).for_app(app)
    rules.for_app(app)
    [err] = rules.errors()
    assert err.file == "argocd/app.yaml" and err.message.startswith("rule #0 is invalid")


def test_a_runaway_jq_expression_is_an_error_not_a_hang() -> None:
    _, errors, _ = run([DR], [DR], app_rules=[{**ISTIO, "jqPathExpressions": ["repeat(.)"]}])
    [err] = errors
    assert "more than 10000 paths" in err.message


def test_the_shipped_schema_is_valid_and_every_pack_conforms_to_it() -> None:
    schema = json.loads((Path(__file__).parents[3] / "driftcheck/compare/rules.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for pack in available_packs():
        jsonschema.validate(YAML(typ="safe").load(packs_dir() / f"{pack}.yaml"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"kind": "Service"}], schema)  # a rule that ignores nothing
