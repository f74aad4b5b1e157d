"""goTemplate: ApplicationSets rendered by Go's text/template and Sprig (the Helm SDK in a child),
cases from ArgoCD's TestRenderTemplateParamsGoTemplate and the generators' GoTemplate tests."""

from __future__ import annotations

from typing import Any

import pytest

from driftcheck.apps.appset.expand import expand
from driftcheck.apps.appset.gotemplate import GoTemplates, rewrite_functions
from driftcheck.apps.appset.template import TemplateError

pytest.importorskip("helm_python")


def appset(template: dict[str, Any], generators: list[Any], **spec: Any) -> dict[str, Any]:
    return {"kind": "ApplicationSet", "metadata": {"name": "set", "namespace": "argocd"},
            "spec": {"goTemplate": True, "generators": generators, "template": template, **spec}}


def test_go_strings_params_sprig_normalize_and_missingkey() -> None:
    jobs = [("{{ .path.basename }}-{{ index .path.segments 1 }}", {"path": {"basename": "web",
                                                                      "segments": ["apps", "web"]}}),
            ("{{ .name | normalize }}", {"name": "Production_01/West"}),
            ("{{ upper .a }}{{ if eq .n 3.0 }}-three{{ end }}{{ .n }}", {"a": "x", "n": 3}),
            ("{{ .nope }}|", {"a": "x"}),
            ("{{ .a.b.c }}", {"a": "x"}),
            ("{{ if }}", {})]
    with GoTemplates([], 60) as engine:
        lenient = engine.render(jobs).results
        strict = engine.render(jobs[3:4], True).results
    assert lenient[:4] == ["web-web", "production-01-west", "X-three3", "|"]  # Helm: <no value> -> ""
    assert isinstance(lenient[4], TemplateError) and "can't evaluate field b" in str(lenient[4])
    assert isinstance(lenient[5], TemplateError) and "missing value for if" in str(lenient[5])
    assert isinstance(strict[0], TemplateError) and 'map has no entry for key "nope"' in str(strict[0])


def test_rewrite_leaves_strings_and_fields_alone() -> None:
    assert rewrite_functions('{{ normalize .x }}{{ "normalize" }}{{ .normalize }}') == \
        '{{ include "argocd.normalize" .x }}{{ "normalize" }}{{ .normalize }}'
    with pytest.raises(TemplateError, match="slugify"):
        rewrite_functions("{{ slugify .x }}")


def test_unknown_option_is_an_error() -> None:
    with pytest.raises(TemplateError, match="unrecognized option"):
        GoTemplates(["missingkey=nope"], 1)


TEMPLATE = {"metadata": {"name": "{{ .cluster }}-{{ .path.basenameNormalized }}",
                         "labels": {"{{ .cluster }}": "{{ index . \"team\" | default \"none\" }}"}},
            "spec": {"project": "default", "source": {"repoURL": "r", "path": "{{ .path.path }}"},
                     "destination": {"server": "{{ .server }}", "namespace": "{{ .path.basename }}"}}}


def test_expand_go_template_list_with_nested_elements_and_patch() -> None:
    gen = {"list": {"elements": [{"cluster": "dev", "server": "https://dev", "path": {"path": "apps/Web_1",
                                  "basename": "Web_1", "basenameNormalized": "web-1"}}]}}
    patch = "{{ if eq .cluster \"dev\" }}spec:\n  source:\n    targetRevision: main\n{{ end }}"
    out = expand(appset(TEMPLATE, [gen], templatePatch=patch, goTemplateOptions=["missingkey=error"]),
                 None, lambda u: False, [], 60)
    assert not out.error, out.error
    body = out.apps[0].body
    assert body["metadata"]["name"] == "dev-web-1" and body["metadata"]["labels"] == {"dev": "none"}
    assert body["spec"]["source"] == {"repoURL": "r", "path": "apps/Web_1", "targetRevision": "main"}


def test_expand_go_template_missing_key_fails_the_applicationset() -> None:
    gen = {"list": {"elements": [{"cluster": "dev"}]}}
    spec = appset(TEMPLATE, [gen], goTemplateOptions=["missingkey=error"])
    out = expand(spec, None, lambda u: False, [], 60)
    assert out.apps == [] and out.error.startswith("ApplicationSet set:") and "no entry for key" in out.error
