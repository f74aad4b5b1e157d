"""Flux's postBuild substitution: fluxcd/pkg's envsubst test vectors, and what it does to objects."""

from __future__ import annotations

import pytest

from driftcheck.flux.envsubst import (
    SubstitutionError,
    substitute_object,
    substitute_text,
    substitution_disabled,
)

# fluxcd/pkg envsubst/eval_test.go TestExpand (non-strict: every variable "exists")
EXPAND = [
    ({}, "abcdEFGH28ij", "abcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${#var01}", "12"),
    ({"var01": "abcdEFGH28ij"}, "${var01^}", "AbcdEFGH28ij"),
    ({"var01": "abcdEFGH28ij"}, "${var01^^}", "ABCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,}", "aBCDEFGH28IJ"),
    ({"var01": "ABCDEFGH28IJ"}, "${var01,,}", "abcdefgh28ij"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11}", "ideas/thoughts.for.today"),
    ({"path_name": "/home/bozo/ideas/thoughts.for.today"}, "${path_name:11:5}", "ideas"),
    ({"var": "abc"}, "${var=xyz}", "abc"),
    ({}, "${var=xyz}", "xyz"),
    ({"default_var": "foo"}, "something ${var=${default_var}}", "something foo"),
    ({"default_var": "foo1"}, "foo: ${var=${default_var}-suffix}", "foo: foo1-suffix"),
    ({"default_var": "foo1"}, "foo: ${var=prefix${default_var}-suffix}", "foo: prefixfoo1-suffix"),
    ({}, "${var:=xyz}", "xyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/%abc/XYZ}", "abcABC123ABCXYZ"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/#abc/XYZ}", "XYZABC123ABCabc"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ//abc/xyz}", "xyzABC123ABCxyz"),
    ({"stringZ": "abcABC123ABCabc"}, "${stringZ/abc/xyz}", "xyzABC123ABCabc"),
    ({"filename": "bash.string.txt"}, "${filename#*.}", "string.txt"),
    ({"filename": "path/to/file"}, "${filename#*/}", "to/file"),
    ({"filename": "/path/to/file"}, "${filename#*/}", "path/to/file"),
    ({"filename": "bash.string.txt"}, "${filename##*.}", "txt"),
    ({"filename": "path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "/path/to/file"}, "${filename##*/}", "file"),
    ({"filename": "bash.string.txt"}, "${filename%.*}", "bash.string"),
    ({"filename": "bash.string.txt"}, "${filename%%.*}", "bash"),
    ({"var01": "abcdEFGH28ij"}, "${var=${var01^^}}", "ABCDEFGH28IJ"),
    ({"var01": "abcdEFGH28ij"}, "$${var01}", "${var01}"),
    ({"var01": "abcdEFGH28ij"}, "some text ${var01}$${var$${var01}$var01${var01}",
     "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij"),
    ({"default_var": "foo"}, "something $${var=${default_var}}", "something ${var=foo}"),
    ({"stringZ": "foo/bar"}, r"${stringZ/\//-}", "foo-bar"),
    ({"stringZ": "foo/bar/baz"}, r"${stringZ//\//-}", "foo-bar-baz"),
    ({"default_var": "foo"}, "\\\\something ${var=${default_var}}", "\\\\something foo"),
    ({"stringZ": "foo.bar"}, "${stringZ/./}", "foobar"),
]

# fluxcd/pkg envsubst/parse/parse_test.go: every text it parses, evaluated with distinct values
PARSE_ENV = {"string": "Hello/position/World", "position": "3", "stringy": "0123456789", "stringz": "Hello",
             "var": "V"}
PARSED = [
    ("text", "text"), ("}text", "}text"), ("http://github.com", "http://github.com"),
    ("$${string}", "${string}"), ("$$string", "$string"), (r"\\.\pipe\pipename", r"\\.\pipe\pipename"),
    ("${string}", "Hello/position/World"), ("${string,}", "hello/position/World"),
    ("${string,,}", "hello/position/world"), ("${string^}", "Hello/position/World"),
    ("${string^^}", "HELLO/POSITION/WORLD"),
    ("${string:position}", "Hello/position/World"),  # a non-numeric offset keeps the value, as bash
    ("${string:position:length}", "Hello/position/World"),
    ("${string#substring}", "Hello/position/World"), ("${string##substring}", "Hello/position/World"),
    ("${string%substring}", "Hello/position/World"), ("${string%%substring}", "Hello/position/World"),
    ("${string/substring/replacement}", "Hello/position/World"),
    ("${string//substring/replacement}", "Hello/position/World"),
    ("${string/#substring/replacement}", "Hello/position/World"),
    ("${string/%substring/replacement}", "Hello/position/World"),
    ("${string=default}", "Hello/position/World"), ("${string:=default}", "Hello/position/World"),
    ("${string:-default}", "Hello/position/World"), ("${string:?default}", "Hello/position/World"),
    ("${string:+default}", "Hello/position/World"),  # :+ is the default operator in Flux, not bash's
    ("${#string}", "20"), ("${string#$%:*{}", "Hello/position/World"),
    ("hello ${#string} world", "hello 20 world"), (r"\\ hello ${#string} world \\", r"\\ hello 20 world \\"),
    (r"${string/\/position/length}", "Hellolength/World"),
    (r"${string/\/position\\/length}", "Hello/position/World"),  # pattern "/position\" is absent
    (r"${string/position/\/length}", "Hello//length/World"),
    (r"${string/position/\/length\\}", "Hello//length\\/World"),
    (r"${string/position/\/leng\\th}", "Hello//leng\\th/World"),
    ("${string:${position}}", "lo/position/World"),
    ("${string:${stringy:position:length}:${stringz,,}}", "Hello/position/World"),
    ("${string#${stringz}}", "/position/World"), ("${string=${stringz}}", "Hello/position/World"),
    ("${string=prefix-${var}}", "Hello/position/World"), ("${string//${stringy}/${stringz}}",
                                                           "Hello/position/World"),
]

# fluxcd/pkg envsubst/eval_test.go TestExpandStrict: None = error "variable not set (strict mode)"
STRICT = [
    ({}, "abcdEFGH28ij", "abcdEFGH28ij"), ({"foo": "bar"}, "${foo}", "bar"), ({"foo": ""}, "${foo}", ""),
    ({}, "${missing}", None), ({"foo": "bar"}, "${missing:=default}", "default"),
    *(({}, expr, None) for expr in (
        "${#missing}", "${missing^}", "${missing^^}", "${missing,}", "${missing,,}", "${missing:0}",
        "${missing:0:10}", "${missing/pattern/replacement}", "${missing//pattern/replacement}",
        "${missing/#pattern/replacement}", "${missing/%pattern/replacement}", "${missing#pattern}",
        "${missing##pattern}", "${missing%pattern}", "${missing%%pattern}")),
    ({}, "${missing:-fallback}", "fallback"), ({}, "${missing:=assigned}", "assigned"),
    ({}, "${missing=assigned}", "assigned"),
]

# fluxcd/pkg envsubst/funcs_test.go, through the expression that reaches each function
FUNCS = [
    ({"v": "Hello World"}, "${#v}", "11"), ({"v": "Hello World"}, "${v,,}", "hello world"),
    ({"v": "HELLO WORLD"}, "${v,}", "hELLO WORLD"), ({"v": ""}, "${v,}", ""), ({"v": ""}, "${v^}", ""),
    ({"v": "Hello World"}, "${v^^}", "HELLO WORLD"), ({"v": "hello world"}, "${v^}", "Hello world"),
    ({"v": "Hello World"}, "${v:=Hola Mundo}", "Hello World"), ({"v": ""}, "${v:=Hola Mundo}", "Hola Mundo"),
    *(({"v": "123456789123456789"}, f"${{v:{args}}}", out) for args, out in (
        ("0:8", "12345678"), ("1:8", "23456789"), ("9", "123456789"), ("9:50", "123456789"))),
    # a negative offset cannot follow the colon directly (`${v:-3}` is a default): it comes from a variable
    ({"v": "123456789123456789", "n": "-3"}, "${v:${n}:2}", "78"),
    ({"v": "123456789123456789", "n": "-300"}, "${v:${n}:3}", "123"),
    ({"v": "12345678"}, "${v:9:1}", ""),
]

# Flux-specific behaviour read in parse.go / template.go (and flux.md §A.4's vectors, corrected)
FLUX = [
    ({"A": "x"}, "$A", "$A"), ({}, "a$$b", "a$b"), ({}, "$$$", "$$"), ({"A": "x", "E": ""}, "${E=d}", "d"),
    ({"A": "x"}, "${A:+y}", "x"), ({"E": ""}, "${E:+y}", "y"), ({"A": "x"}, "${B:-${A}}", "x"),
    ({"A": "x"}, "${A:0:1}", "x"), ({"A": "x"}, "${#A}", "1"), ({"A": "é"}, "${#A}", "2"),  # bytes
    ({"A": "abc"}, "${A#*}", "bc"),  # a lone * matches the first byte already
    ({"A": "a/b"}, "${A%%*}", ""), ({"A": "abc"}, "${A/b/}", "ac"), ({"A": "x"}, "${A:-}", "x"),
    ({"A": "x"}, "a\0${A}", "a"),  # Go's scanner reads a NUL byte as the end
    ({"A": "ab"}, "${A//${E}/-}", "-a-b-"),
]
ERRORS = [
    ("${A", "missing closing brace"), ("${}", "unable to parse variable name"),
    ("${A-d}", "missing closing brace"),  # `-` and `+` without a colon are not operators in Flux
    ("${A+d}", "missing closing brace"), ("${A:-d", "unable to parse substitution within function"),
    ("${A:", "bad substitution"), ("${A/x}", "bad substitution"), ("${#}", "bad substitution"),
    ("${A:1:-1}", "Flux's controller panics"),
]


@pytest.mark.parametrize(("env", "text", "expected"), EXPAND + FUNCS + FLUX)
def test_expand(env: dict[str, str], text: str, expected: str) -> None:
    assert substitute_text(text, env, strict=False) == expected


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parsed_forms(text: str, expected: str) -> None:
    assert substitute_text(text, PARSE_ENV, strict=True) == expected


@pytest.mark.parametrize(("env", "text", "expected"), STRICT)
def test_strict(env: dict[str, str], text: str, expected: str | None) -> None:
    if expected is not None:
        assert substitute_text(text, env, strict=True) == expected
        return
    with pytest.raises(SubstitutionError, match=r'variable not set \(strict mode\): "missing"') as e:
        substitute_text(text, env, strict=True)
    assert e.value.variable == "missing"
    assert substitute_text(text, env, strict=False) in ("", "0")  # ${#missing} is "0"


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        substitute_text(text, {"A": "abc"}, strict=False)


def test_arguments_fail_first_in_strict_mode() -> None:
    """Flux evaluates a default before it looks the variable up: an unset one inside it fails."""
    with pytest.raises(SubstitutionError, match='"B"'):
        substitute_text("${A:-${B}}", {"A": "set"}, strict=True)


def _deployment(**spec: object) -> dict[str, object]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
            "spec": spec}


def test_substituted_values_change_type_as_in_flux() -> None:
    obj = _deployment(replicas="${REPLICAS}", enabled="${FLAG}", user="${PUID:=1000}", label="${REPLICAS} x",
                      quoted="'${REPLICAS}'", empty="${NOTHING}", image="nginx:${TAG}")
    out = substitute_object(obj, {"REPLICAS": "3", "FLAG": "on", "NOTHING": "", "TAG": "1.25"}, strict=True)
    assert out["spec"] == {"replicas": 3, "enabled": True, "user": 1000, "label": "3 x", "quoted": "'3'",
                           "empty": None, "image": "nginx:1.25"}


def test_strings_that_read_as_other_types_stay_strings() -> None:
    """go-yaml quotes "8080" and "true" when it writes them, so they stay strings; floats and mapping
    keys survive the round trip."""
    obj = _deployment(port="8080", flag="true", ratio=0.5, multi="a ${X}\nb\n", tab="\t${X}",
                      keys={"${X}": "v", "a: b": "${X}"})
    out = substitute_object(obj, {"X": "7"}, strict=True)
    assert out["spec"] == {"port": "8080", "flag": "true", "ratio": 0.5, "multi": "a 7\nb\n", "tab": "\t7",
                           "keys": {"7": "v", "a: b": 7}}


def test_unset_variable_in_strict_mode_names_it_and_the_object() -> None:
    obj = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "nfs"},
           "parameters": {"server": "${SPIKE_IP}"}}
    with pytest.raises(SubstitutionError) as e:
        substitute_object(obj, {"OTHER": "x"}, strict=True)
    assert str(e.value) == ("post build failed for 'StorageClass.v1.storage.k8s.io/nfs': envsubst error: "
                            'variable substitution failed: variable not set (strict mode): "SPIKE_IP"')
    assert e.value.variable == "SPIKE_IP"
    assert substitute_object(obj, {"OTHER": "x"}, strict=False)["parameters"] == {"server": None}


@pytest.mark.parametrize("field", ["labels", "annotations"])
def test_disabled_label_or_annotation_leaves_the_object(field: str) -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "script", field: {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}},
           "data": {"run.sh": "echo ${HOME} ${UNSET}"}}
    assert substitution_disabled(obj)
    assert substitute_object(obj, {"HOME": "/x"}, strict=True) is obj


def test_disabled_is_compared_exactly() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "${A}"},
           "metadata": {"name": "c", "labels": {"kustomize.toolkit.fluxcd.io/substitute": "Disabled"}}}
    assert not substitution_disabled(obj)
    assert substitute_object(obj, {"A": "1"}, strict=True)["data"] == {"a": 1}


def test_no_variables_means_no_substitution_unless_always() -> None:
    obj = _deployment(replicas="${REPLICAS:=2}")
    assert substitute_object(obj, {}, strict=True) is obj
    assert substitute_object(obj, {}, strict=True, always=True)["spec"] == {"replicas": 2}


def test_secret_string_data_is_substituted_and_newlines_removed_from_values() -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
              "stringData": {"password": "${DB_PASSWORD}", "url": "postgres://app:${DB_PASSWORD}@db"},
              "data": {"raw": "JHtEQl9QQVNTV09SRH0="}}
    out = substitute_object(secret, {"DB_PASSWORD": "s3cr\net"}, strict=True)
    assert out["stringData"] == {"password": "s3cret", "url": "postgres://app:s3cret@db"}
    assert out["data"] == {"raw": "JHtEQl9QQVNTV09SRH0="}  # base64 data is opaque to substitution


@pytest.mark.parametrize("name", ["my-var", "1A", "é", "a.b"])
def test_invalid_variable_names_are_refused(name: str) -> None:
    with pytest.raises(SubstitutionError, match=f"'{name}' var name is invalid, must match"):
        substitute_object(_deployment(replicas=1), {name: "1"}, strict=False)


def test_substitution_that_breaks_the_yaml_is_flux_yamltojson_error() -> None:
    with pytest.raises(SubstitutionError, match="envsubst error: YAMLToJSON"):
        substitute_object(_deployment(value="${V}"), {"V": "a: b: c"}, strict=True)


AMBIGUOUS = ["yes", "n", "0755", "1e3", "2001-12-14", "12:30", "- x", "# c", "a #b", "a\tb", "😀", "\x85x",
             "---", "", "null", "~", "'q'", '"dq"', "key: v", "trail ", "\n\n", " lead\nx", "a \nb", "x\n",
             "a\n\n", "<<", "? x", "[a]", "{a}", "*a", "&a", "!a", "%a", "@a", "|a", ">a", "0x1F", "+1",
             ".inf",
             "\x7f", "\ufeff", "a\r\nb", "1_000", "true", "On", "x" * 200]


def test_text_without_expressions_reads_back_unchanged() -> None:
    """The writer quotes whatever would read back as something else, as go-yaml v2 does."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
           "data": {v: v for v in AMBIGUOUS if v}, "list": AMBIGUOUS,
           "numbers": [1, -2, 0.25, 1e21, 1.5e-7, None, True, False, {}, [], [[1, [2]], {"a": [{}]}]]}
    assert substitute_object(obj, {"UNUSED": "1"}, strict=True) == obj
