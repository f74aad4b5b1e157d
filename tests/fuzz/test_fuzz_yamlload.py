"""Fuzzing the YAML loader: whatever bytes a repository holds, load_manifests returns objects and errors,
never raises, and what it does load is what the YAML says."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftcheck.model import RunError
from driftcheck.render.yaml import dump_yaml, load_manifests
from driftcheck.render.yaml import load as full

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fragments that drive the parser into its corners: anchors, aliases, tags, flow, document markers,
# directives, odd indentation and encodings.
FRAGMENTS = [b"---\n", b"...\n", b"%YAML 1.1\n", b"%TAG ! tag:x,2000:\n", b"a: &x [1, 2]\n", b"b: *x\n",
             b"c: *missing\n", b"- ", b"  ", b"\t", b"{", b"}", b"[", b"]", b": ", b"? ", b"!!binary ",
             b"!!python/object:os.system ", b"!custom ", b"|\n  text\n", b">-\n", b"'q''", b'"\\x', b"#c\n",
             b"apiVersion: v1\n", b"kind: List\nitems:\n- kind: A\n", b"kind: ConfigMap\n", b"\xef\xbb\xbf",
             b"\xff\xfe", b"\x00", b"<<: *x\n", b"1: 2\n", b"? [a]\n: b\n", b"2026-01-20T10:00:00Z", b"\r\n"]


def check_result(result: tuple[list[Any], list[RunError]], file: str) -> None:
    manifests, errors = result
    for body, line in manifests:
        assert isinstance(body, dict) and isinstance(line, int) and line >= 1
        json.dumps(body)  # plain JSON data: keys are strings, no Python objects, no cycles
    for error in errors:
        assert isinstance(error, RunError) and error.file == file and error.message


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    check_result(load_manifests(data, "fuzz.yaml"), "fuzz.yaml")


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=40))
def test_yaml_shaped_noise_never_raises(parts: list[bytes]) -> None:
    data = b"".join(parts)
    check_result(load_manifests(data, "noise.yaml"), "noise.yaml")
    check_result(load_manifests(data, "noise.json"), "noise.json")


keys = st.text(min_size=1, max_size=8)
json_scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@FUZZ
@given(st.lists(st.dictionaries(keys, json_values, max_size=5), min_size=1, max_size=4))
def test_written_documents_load_back_equal_at_their_lines(docs: list[dict[str, Any]]) -> None:
    """What driftcheck writes (dump_yaml, e.g. `driftcheck render`) loads back to the same objects, in
    order, each at the line after its `---`: the Kubernetes dialect round-trips, ambiguous strings too."""
    bodies = [{"apiVersion": "v1", "kind": "ConfigMap", **d} for d in docs]
    texts = [dump_yaml(body) for body in bodies]
    data = "".join(f"---\n{t}" for t in texts).encode()
    manifests, errors = load_manifests(data, "docs.yaml")
    assert errors == []
    assert [m[0] for m in manifests] == bodies
    starts, line = [], 1
    for text in texts:
        starts.append(line + 1)
        line += 1 + text.count("\n")
    assert [m[1] for m in manifests] == starts


# Scalars whose typing differs between YAML dialects, and explicit tags.
SCALARS = [b"a: ", b"yes", b"0755", b"1e3", b"-.inf", b"1:30", b"~", b"!!int ", b"!!str ", b"! ", b"on: ",
           b", ", b"'", b'"', b"\n", b"- "]


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS + SCALARS) | st.binary(max_size=4), max_size=40))
def test_fast_path_loads_what_the_full_path_loads(parts: list[bytes]) -> None:
    """Whatever the PyYAML fast path accepts, it types and places exactly as the ruamel path does."""
    data = b"".join(parts)
    fast = full.load_fast(data)
    if fast is None:
        return
    full._PARSED.clear()
    with patch.object(full, "load_fast", lambda _: None):
        manifests, errors = load_manifests(data, "noise.yaml")
    assert errors == []
    assert json.dumps(manifests) == json.dumps(fast)
