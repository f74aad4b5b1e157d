"""Fuzzing the ignore-rule parser and rule application: any rule document yields rules and errors that
name the rule's index, never an exception; a parsed rule applied to any object raises only RuleError."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftcheck.compare.rules import RuleError, parse_rules
from driftcheck.model import ResourceKey

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
JQ_BITS = [".", ".spec", ".spec.template", "[]", "[0]", "[-1]", "[", "]", "|", "select(.name == \"x\")", "..",
           "$x", "path(.a)", "input", "error(\"boom\")", "limit(2; .[])", "recurse", "{", "}", "\"", "?", " ",
           "@base64"]
jq_expressions = st.lists(st.sampled_from(JQ_BITS), min_size=1, max_size=6).map("".join) | st.text(
    max_size=15)
pointers = st.lists(st.sampled_from(["/spec", "/replicas", "/0", "/-", "/a~1b", "/~2", "~", "", "/x/y"]),
                    max_size=3).map("".join) | st.text(max_size=10)
kinds = st.sampled_from(["Deployment", "*", ""]) | st.text(max_size=5)
rule_like = st.fixed_dictionaries({"kind": kinds}, optional={
    "group": st.sampled_from(["", "apps", "*"]) | values,
    "name": st.text(max_size=5) | values,
    "namespace": st.text(max_size=5),
    "jsonPointers": st.lists(pointers, max_size=3) | values,
    "jqPathExpressions": st.lists(jq_expressions, max_size=3) | values,
    "managedFieldsManagers": st.lists(st.text(max_size=8), max_size=2),
    "derivedFrom": st.sampled_from(["hpa-scale-target", "rollout-virtualservice", "nope"]),
    "bogus": values,
})
documents = st.lists(rule_like | values, max_size=5) | st.fixed_dictionaries(
    {"ignoreDifferences": st.lists(rule_like, max_size=4)}) | values
bodies = st.fixed_dictionaries({"apiVersion": st.just("apps/v1"), "kind": st.just("Deployment"),
                                "spec": values, "metadata": st.fixed_dictionaries({"name": st.just("web")})})


@FUZZ
@given(documents)
def test_any_rule_document_parses_into_rules_and_indexed_errors(doc: Any) -> None:
    rules, errors = parse_rules(doc, "file:fuzz.yaml", file="rules/fuzz.yaml")
    items = doc.get("ignoreDifferences") if isinstance(doc, dict) else doc
    for error in errors:
        assert error.file == "rules/fuzz.yaml" and error.stage == "rules"
        assert re.match(r"rule #\d+ is invalid: ", error.message) or error.message.startswith("not a list")
    if isinstance(items, list) and not (isinstance(doc, dict) and set(doc) != {"ignoreDifferences"}):
        bad = {int(m.group(1)) for e in errors if (m := re.match(r"rule #(\d+) ", e.message))}
        good = {int(r.id.rpartition("#")[2]) for r in rules}
        assert good | bad == set(range(len(items))), "each entry is a rule or an error"
        assert not good & bad
    for rule in rules:
        assert rule.id.startswith("file:fuzz.yaml#") and rule.kind


@FUZZ
@given(st.lists(rule_like, min_size=1, max_size=3), bodies)
def test_parsed_rules_apply_to_any_object_or_raise_rule_error(doc: list[dict[str, Any]],
                                                              body: dict[str, Any]) -> None:
    rules, _ = parse_rules(doc, "file:fuzz.yaml")
    key = ResourceKey("apps", "Deployment", "web", "web")
    for rule in rules:
        rule.selects(key)
        try:
            paths = rule.paths(body, {"routes": []})
        except RuleError as exc:
            assert str(exc)
            continue
        for path in paths:
            assert isinstance(path, tuple)
