"""A HelmRelease's user values as helm-controller merges them: cases from fluxcd/pkg chartutil's
TestChartValuesFromReferences (merges, targetPath, targetPath precedence, a string array item, missing
objects and keys, optional, literal), the top-level targetPath that inline values win over (Go's shared
maps), and read_layers's errors naming the HelmRelease."""

from __future__ import annotations

from typing import Any

import pytest

from driftcheck.flux.helm_values import Found, ValuesError, read_layers, user_values
from driftcheck.flux.helmrelease import helm_release
from driftcheck.model import ValuesLayer


def merged(layers: list[tuple[str, str, bool]], inline: dict[str, Any] | None = None) -> dict[str, Any]:
    """(text, targetPath, literal) layers merged with inline values."""
    return user_values(tuple(ValuesLayer(f"layer {i}", text, path, literal)
                             for i, (text, path, literal) in enumerate(layers)), inline or {}, 60)


def test_merges_later_references_over_earlier_and_inline_on_top() -> None:
    config_map = "flat: value\nnested:\n  configuration: value\n"
    secret = "flat:\n  nested: value\nnested: value\n"
    assert merged([(config_map, "", False), (secret, "", False)], {"other": "values"}) == {
        "flat": {"nested": "value"}, "nested": "value", "other": "values"}


def test_a_target_path_writes_one_value() -> None:
    assert merged([("value", "merge.at.specific.path", False)]) == {
        "merge": {"at": {"specific": {"path": "value"}}}}


def test_a_nested_target_path_wins_over_inline_values_and_later_references() -> None:
    config_map = "flat: value\nnested:\n  configuration:\n  - one\n  - two\n  - three\n"
    inline = {"nested": {"configuration": ["list", "item", "option"]}}
    assert merged([("value", "nested.configuration[0]", False), (config_map, "", False)], inline) == {
        "flat": "value", "nested": {"configuration": ["value", "item", "option"]}}


def test_a_target_path_sets_a_string_array_item() -> None:
    config_map = "flat: value\nnested:\n  configuration:\n  - list\n  - item\n  - option\n"
    assert merged([(config_map, "", False), ("foo", "nested.configuration[1]", False)],
                  {"other": "values"}) == {
        "flat": "value", "nested": {"configuration": ["list", "foo", "option"]}, "other": "values"}


def test_a_top_level_target_path_loses_to_the_same_inline_key() -> None:
    # ChartValuesFromReferences: MergeMaps(result, values) copies the top level, so a top-level key set
    # by targetPath is overwritten by inline values at the end (a nested one is written into shared maps)
    assert merged([("from-secret", "color", False)], {"color": "inline"}) == {"color": "inline"}
    assert merged([("from-secret", "color", False)], {"size": "inline"}) == {
        "color": "from-secret", "size": "inline"}


def test_target_path_typing_quotes_and_literal() -> None:
    assert merged([("true", "a.enabled", False), ("3", "a.count", False)]) == {
        "a": {"enabled": True, "count": 3}}
    assert merged([('"3"', "a.count", False)]) == {"a": {"count": "3"}}  # quoted: set as a string
    brokers = "kafka01.net:9092,kafka02.net:9092,kafka03.net:9092"
    assert merged([(brokers, "kafka.brokers", True)]) == {"kafka": {"brokers": brokers}}
    hocon = 'kafka {\n  bootstrap = "b-1:9098,b-2:9098"\n}\n'
    assert merged([(hocon, r"externalConfig.application\.conf.content", True)]) == {
        "externalConfig": {"application.conf": {"content": hocon}}}
    assert merged([("flat: value\n", "", True)]) == {"flat": "value"}  # literal without targetPath: YAML


@pytest.mark.parametrize("text, path", [(
    "kafka01.net:9092,kafka02.net:9092,kafka03.net:9092", "kafka.brokers"),
    ("endpoints: [a,b,c]", r"externalConfig.application\.yml.content")])
def test_a_non_literal_target_path_fails_on_set_syntax(text: str, path: str) -> None:
    with pytest.raises(ValuesError):
        merged([(text, path, False)])


def test_invalid_values_are_an_error_naming_the_layer() -> None:
    with pytest.raises(ValuesError, match="layer 0"):
        merged([("\ninvalid", "", False)])


RELEASE = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
           "metadata": {"name": "web", "namespace": "apps"},
           "spec": {"chart": {"spec": {"chart": "web",
                                       "sourceRef": {"kind": "HelmRepository", "name": "r"}}}}}


def layers(refs: list[dict[str, Any]], objects: dict[tuple[str, str], Found],
           cluster: str = "context prod") -> tuple[ValuesLayer, ...]:
    body = {**RELEASE, "spec": {**RELEASE["spec"], "valuesFrom": refs}}
    return read_layers(helm_release(body, "apps"), lambda kind, ns, name: objects.get((kind, name)), cluster)


@pytest.mark.parametrize("ref, objects, message", [
    ({"kind": "Secret", "name": "missing"}, {},
     "Secret apps/missing does not exist in Git or in context prod"),
    ({"kind": "ConfigMap", "name": "missing"}, {},
     "ConfigMap apps/missing does not exist in Git or in context prod"),
    ({"kind": "Secret", "name": "values", "valuesKey": "nonexisting"},
     {("Secret", "values"): Found({}, "context prod")}, "has no key 'nonexisting'"),
    ({"kind": "ConfigMap", "name": "values", "valuesKey": "nonexisting"},
     {("ConfigMap", "values"): Found({"values.yaml": ""}, "context prod")}, "has no key 'nonexisting'"),
    ({"kind": "Unsupported", "name": "x"}, {}, "needs kind ConfigMap or Secret"),
])
def test_a_missing_object_or_key_is_an_error_naming_the_release(ref: dict[str, Any],
                                                               objects: dict[tuple[str, str], Found],
                                                               message: str) -> None:
    with pytest.raises(ValuesError, match=r"HelmRelease apps/web: spec\.valuesFrom") as e:
        layers([ref], objects)
    assert message in str(e.value)


def test_optional_skips_a_missing_object_or_key_but_not_an_unreadable_one() -> None:
    objects = {("ConfigMap", "values"): Found({"other": "x"}, "context prod"),
               ("Secret", "hidden"): Found({}, "context prod", unreadable="forbidden")}
    assert layers([{"kind": "Secret", "name": "missing", "optional": True},
                   {"kind": "ConfigMap", "name": "values", "optional": True}], objects) == ()
    with pytest.raises(ValuesError, match="Secret apps/hidden is not in Git and could not be read from "
                                          "context prod: forbidden"):
        layers([{"kind": "Secret", "name": "hidden", "optional": True}], objects)


def test_without_a_cluster_a_missing_object_says_none_was_read() -> None:
    with pytest.raises(ValuesError, match=r"does not exist in Git \(no cluster is read\)"):
        layers([{"kind": "ConfigMap", "name": "missing"}], {}, cluster="")
