"""load_manifests: every object with the line its document starts at (typing: test_yaml_dialect.py);
dump_yaml writes objects that read back identically."""

from __future__ import annotations

import json

import pytest
import yaml

from driftcheck.render.yaml import dump_yaml, load_manifests

MULTI = b"""# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one}
---
---
# a document holding only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: two}
- apiVersion: v1
  kind: Service
  metadata: {name: three}
...
---
just: settings
"""


def test_documents_and_list_items_with_their_start_lines() -> None:
    manifests, errors = load_manifests(MULTI, "multi.yaml")
    assert errors == []
    assert [(b.get("metadata", {}).get("name"), line) for b, line in manifests] == [
        ("one", 3), ("two", 13), ("three", 16), (None, 21)]
    # The oracle: PyYAML's composer puts each document (and List item) at the same lines.
    nodes = [n for n in yaml.compose_all(MULTI.decode()) if n is not None and n.tag.endswith(":map")]
    assert nodes[0].start_mark.line + 1 == 3
    items = next(v for k, v in nodes[1].value if k.value == "items").value
    assert [i.start_mark.line + 1 for i in items] == [13, 16]


def test_malformed_document_is_reported_at_its_line_and_the_rest_still_loads() -> None:
    data = (b"apiVersion: v1\nkind: A\n---\nkind: B\nmetadata:\n  name: [unclosed\n---\n"
            b"apiVersion: v1\nkind: C\n")
    manifests, errors = load_manifests(data, "apps/web/bad.yaml")
    assert [b["kind"] for b, _ in manifests] == ["A", "C"]
    assert [line for _, line in manifests] == [1, 8]
    assert len(errors) == 1
    assert errors[0].file == "apps/web/bad.yaml" and errors[0].line in (6, 7)
    assert str(errors[0]).startswith(f"apps/web/bad.yaml:{errors[0].line}: malformed YAML")


def test_duplicate_keys_are_an_error_as_kubectl_makes_them() -> None:
    data = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: '1'}\n  labels: {b: '2'}\n"
    manifests, errors = load_manifests(data, "dup.yaml")
    assert manifests == []
    assert errors[0].line == 6 and 'duplicate mapping key "labels"' in errors[0].message


def test_json_files_load_with_a_line() -> None:
    data = b'\n\n{"apiVersion": "v1", "kind": "List", "items": [{"kind": "A"}, {"kind": "B"}]}'
    assert load_manifests(data, "x.json") == ([({"kind": "A"}, 3), ({"kind": "B"}, 3)], [])
    manifests, errors = load_manifests(b'{"kind":\n  }', "broken.json")
    assert manifests == [] and errors[0].file == "broken.json" and errors[0].line == 2


def test_aliases_are_expanded_into_independent_plain_objects() -> None:
    data = b"kind: X\nbase: &b {a: 1}\ncopy: *b\nmerged:\n  <<: *b\n  c: 2\n"
    (body, _), = load_manifests(data, "a.yaml")[0]
    assert body == {"kind": "X", "base": {"a": 1}, "copy": {"a": 1}, "merged": {"a": 1, "c": 2}}
    body["copy"]["a"] = 5
    assert body["base"]["a"] == 1, "no shared references survive loading"
    json.dumps(body)


BODY = {
    "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"b": "2", "a": "1"}},
    "data": {"yes": "yes", "n": "n", "octal": "0755", "exp": "1e3", "time": "12:30", "date": "2026-01-20",
             "null": "null", "empty": "", "nginx.conf": "server {\n  listen 80;\n}\n", "trailing": "a \nb",
             "quote": "'\"", "unicode": "한국어", "num": 3, "float": 1.5, "bool": False, "none": None},
}


def test_dump_yaml_reads_back_identically_by_us_and_by_pyyaml() -> None:
    text = dump_yaml(BODY)
    (loaded, line), = load_manifests(text.encode(), "x.yaml")[0]
    assert loaded == BODY and line == 1
    assert list(loaded["metadata"]["labels"]) == ["b", "a"], "key order kept"
    assert yaml.safe_load(text) == BODY  # YAML 1.1 readers agree too
    assert "nginx.conf: |" in text, "multi-line strings stay readable"


def test_a_repeated_key_read_as_argocd_reads_manifests_keeps_the_later_value_with_a_warning() -> None:
    data = (b"apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels:\n    a: one\n"
            b"  labels:\n    b: two\n"
            b"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    docs, problems = load_manifests(data, "svc.yaml", duplicate_keys="last")
    assert [body["metadata"].get("labels") for body, _ in docs] == [{"b": "two"}, None]
    [warning] = problems
    assert (warning.severity, warning.file, warning.line) == ("warning", "svc.yaml", 7)
    assert 'mapping key "labels" repeated (first at line 5)' in warning.message
    _, refused = load_manifests(data, "svc.yaml")  # kustomize (kyaml) refuses the same file
    assert refused[0].severity == "error" and 'duplicate mapping key "labels"' in refused[0].message


@pytest.mark.parametrize("text", [
    "apiVersion: v1\nkind: ConfigMapList\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
    "- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n",
    '{"apiVersion": "v1", "kind": "ConfigMapList", "items": [{"apiVersion": "v1", "kind": "ConfigMap", '
    '"metadata": {"name": "a"}}, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}]}',
])
def test_any_object_with_an_items_list_is_flattened_as_argocd_does(text: str) -> None:
    docs, errors = load_manifests(text.encode(), "list.yaml")
    assert errors == [] and [d["metadata"]["name"] for d, _ in docs] == ["a", "b"]


def test_a_list_kind_with_null_items_renders_to_nothing() -> None:
    docs, errors = load_manifests(b"apiVersion: v1\nkind: SecretList\nitems: null\n---\n"
                                  b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n", "l.yaml")
    assert errors == [] and [d["metadata"]["name"] for d, _ in docs] == ["kept"]
