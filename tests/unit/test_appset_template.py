"""ApplicationSet templating, cases from ArgoCD's applicationset/utils/utils_test.go and
template_functions (SanitizeName), turned into data."""

from __future__ import annotations

import pytest

from driftcheck.apps.appset.template import (
    TemplateError,
    fast_replace,
    go_string,
    replace_deep,
    sanitize_name,
)

PARAMS = {"one": "two", "path.basename": "guestbook", "path[0]": "apps", "values.env": "prod", "n": 3}


@pytest.mark.parametrize(("template", "expected"), [
    ("{{one}}", "two"),
    ("{{ one }}", "two"),                      # whitespace inside the tag is trimmed
    ("a-{{path.basename}}-{{ path[0] }}", "a-guestbook-apps"),
    ("{{values.env}}", "prod"),
    ("{{ does-not-exist }}", "{{ does-not-exist }}"),  # unknown: left as written, spacing included
    ("{{}}", "{{}}"),                          # empty tag kept
    ("{{n}}", "{{n}}"),                        # only string params replace
    ("no tags", "no tags"),
    ("{{one\n}}", "{{one\n}}"),                # `{{.*}}` does not span lines: not templated at all
    ("{{ {{one}} }}", "{{ {{one}} }}"),        # the tag is ` {{one`: unknown
])
def test_fasttemplate_replaces_as_argocd(template: str, expected: str) -> None:
    assert fast_replace(template, PARAMS) == expected


def test_fasttemplate_without_closing_brace_is_an_error_not_a_panic() -> None:
    # Test_Render_Replace_no_panic_on_missing_closing_brace
    with pytest.raises(TemplateError, match="end tag"):
        fast_replace("{{ one }} {{ two }}}} {{ three }", PARAMS)


@pytest.mark.parametrize(("name", "expected"), [
    ("production_01/west", "production-01-west"),
    ("Cluster-Name.Example", "cluster-name.example"),
    ("-.leading.and.trailing.-", "leading.and.trailing"),
    ("a" * 300, "a" * 253),
    ("ünïcode", "n-code"),
])
def test_sanitize_name(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_keys_and_values_are_templated_and_nulls_dropped() -> None:
    # TestRenderTemplateKeys: map keys are rendered too; nil map values are skipped by the walk
    template = {"metadata": {"annotations": {"annotation-{{one}}": "{{path.basename}}"}, "labels": None},
                "spec": {"syncPolicy": {"automated": {"prune": True}}, "sources": ["{{one}}", 5]}}
    out = replace_deep(template, lambda s: fast_replace(s, PARAMS))
    assert out == {"metadata": {"annotations": {"annotation-two": "guestbook"}},
                   "spec": {"syncPolicy": {"automated": {"prune": True}}, "sources": ["two", 5]}}


@pytest.mark.parametrize(("value", "expected"), [
    (123, "123"), (1.5, "1.5"), (1000000, "1e+06"), (123456, "123456"), (True, "true"), (None, "<nil>"),
    ([1, "a"], "[1 a]"), ({"b": 1, "a": "x"}, "map[a:x b:1]"),
])
def test_file_values_stringify_as_go_formats_them(value: object, expected: str) -> None:
    assert go_string(value) == expected
