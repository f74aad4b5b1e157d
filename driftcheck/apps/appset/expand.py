"""One ApplicationSet → the Application documents ArgoCD's controller would generate from it, each
with the generator element it came from (`applicationset/controllers/template/template.go`).

Per generator entry: its param sets (`generators.generate`), the generator's template merged over
spec.template, every string and map key rendered per param set, templatePatch applied, the
namespace forced to the ApplicationSet's. As in ArgoCD, a generator or template error generates
nothing for the whole ApplicationSet, while a generated app without a name or with a name taken
earlier is refused alone.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from driftcheck.apps.appset.context import Cluster, Context, GeneratorError, Params, Skip
from driftcheck.apps.appset.generators import generate, kind_of
from driftcheck.apps.appset.gotemplate import GoTemplates
from driftcheck.apps.appset.template import TemplateError, fast_replace, replace_deep, strings_of
from driftcheck.fetch.tree import Tree
from driftcheck.render.yaml.stream import load_single

FINALIZER = "resources-finalizer.argocd.argoproj.io"


@dataclass(frozen=True)
class Generated:
    body: dict[str, Any]  # an Application document
    generator: str  # "ApplicationSet guestbook, generator 0 (list), element 2"


@dataclass
class Expansion:
    apps: list[Generated] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why a generator's apps are not known
    refused: list[tuple[str, str]] = field(default_factory=list)  # (app name, ArgoCD's reason)
    error: str = ""  # the ApplicationSet generates nothing
    warnings: list[str] = field(default_factory=list)


def expand(appset: dict[str, Any], tree: Tree | None, is_this_repo: Callable[[str], bool],
           clusters: Sequence[Cluster], timeout: float) -> Expansion:
    """The ApplicationSet's Applications, or the reason it generates none."""
    out = Expansion()
    meta: dict[str, Any] = appset["metadata"] if isinstance(appset.get("metadata"), dict) else {}
    name, namespace = str(meta.get("name") or ""), str(meta.get("namespace") or "")
    spec = appset.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("generators"), list):
        out.error = f"ApplicationSet {name}: spec.generators is not a list"
        return out
    go = bool(spec.get("goTemplate"))
    with ExitStack() as stack:
        try:
            if go:
                options = [str(o) for o in spec.get("goTemplateOptions") or []]
                engine = stack.enter_context(GoTemplates(options, timeout))

                def render(jobs: Sequence[tuple[str, Params]], strict: bool) -> list[str | TemplateError]:
                    rendered = engine.render(jobs, strict or None)
                    if rendered.lenient_note and not out.warnings:
                        out.warnings.append(
                            f"ApplicationSet {name}: a key a param set lacks renders as `<no value>` under "
                            f"ArgoCD and as empty here ({rendered.lenient_note}); goTemplateOptions: "
                            "[missingkey=error] makes it an error")
                    return rendered.results
            else:
                render = _fast_render
            ctx = Context(go, tree, is_this_repo, clusters, render)
            _generate_all(appset, spec, ctx, name, namespace, out)
        except (GeneratorError, TemplateError) as e:
            out.apps, out.refused, out.error = [], [], f"ApplicationSet {name}: {e}"
    return out


def _fast_render(jobs: Sequence[tuple[str, Params]], strict: bool) -> list[str | TemplateError]:
    out: list[str | TemplateError] = []
    for template, params in jobs:
        try:
            out.append(fast_replace(template, params))
        except TemplateError as e:
            out.append(e)
    return out


def _generate_all(appset: dict[str, Any], spec: dict[str, Any], ctx: Context, name: str, namespace: str,
                  out: Expansion) -> None:
    top: dict[str, Any] = spec["template"] if isinstance(spec.get("template"), dict) else {}
    preserve = bool((spec.get("syncPolicy") or {}).get("preserveResourcesOnDeletion"))
    patch = spec.get("templatePatch")
    taken: set[str] = set()
    for gi, generator in enumerate(spec["generators"]):
        if not isinstance(generator, dict):
            raise GeneratorError(f"generator {gi} is not a mapping")
        kind = kind_of(generator)
        try:
            param_sets = generate(generator, ctx)
        except Skip as e:
            out.skipped.append(f"ApplicationSet {name}, generator {gi} ({kind}): {e}")
            continue
        except (GeneratorError, TemplateError) as e:
            raise GeneratorError(f"generator {gi} ({kind}): {e}") from None
        template = merged_template(generator.get("template"), top)
        for ei, app in enumerate(render_template(template, param_sets, ctx)):
            if not app.get("metadata", {}).get("finalizers") and not preserve:
                app.setdefault("metadata", {})["finalizers"] = [FINALIZER]
            if isinstance(patch, str) and patch.strip():
                app = _patched(app, patch, param_sets[ei], ctx)
            app.setdefault("metadata", {})["namespace"] = namespace
            app_name = str(app["metadata"].get("name") or "")
            where = f"ApplicationSet {name}, generator {gi} ({kind}), element {ei}"
            if not app_name:
                out.refused.append((where, f"ApplicationSet {name} contains an application with no name"))
            elif app_name in taken:
                out.refused.append((app_name, f"ApplicationSet {name} contains applications with duplicate "
                                              f"name: {app_name} ({where})"))
            else:
                taken.add(app_name)
                body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **app}
                out.apps.append(Generated(body, where))


def merged_template(own: Any, top: dict[str, Any]) -> dict[str, Any]:
    """mergo.Merge(generator template, spec.template): the generator's fields win, empty ones are
    filled from the ApplicationSet's template."""
    if not isinstance(own, dict) or not own:
        return copy.deepcopy(top)
    out = copy.deepcopy(own)
    for key, value in top.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merged_template(out[key], value)
        elif out.get(key) in (None, "", [], {}, 0, False):
            out[key] = copy.deepcopy(value)
    return out


def render_template(template: dict[str, Any], param_sets: list[Params], ctx: Context) -> list[dict[str, Any]]:
    """RenderTemplateParams for each param set, all strings of all sets sent as one batch."""
    strings = strings_of(template)
    jobs = [(s, p) for p in param_sets if p for s in strings]
    results = iter(ctx.rendered(jobs))
    apps = []
    for params in param_sets:
        if not params:  # ArgoCD returns the template as it is for an empty param set
            apps.append(copy.deepcopy(template))
            continue
        table = {s: next(results) for s in strings}
        apps.append(replace_deep(template, table.__getitem__))
    return apps


def _patched(app: dict[str, Any], patch: str, params: Params, ctx: Context) -> dict[str, Any]:
    """templatePatch rendered as one template, read as YAML, applied as a strategic merge patch (an
    Application's fields have no merge keys: maps merge, lists are replaced, null deletes);
    spec.project stays the template's."""
    text = ctx.rendered([(patch, params)])[0]
    try:
        body = load_single(text)
    except ValueError as e:
        raise TemplateError(f"templatePatch is not YAML after rendering: {e}") from None
    if body is None:
        return app
    if not isinstance(body, dict):
        raise TemplateError("templatePatch does not render to a mapping")
    project = (app.get("spec") or {}).get("project")
    out: dict[str, Any] = _merge_patch(app, body)
    if isinstance(out.get("spec"), dict) and project is not None:
        out["spec"]["project"] = project
    return out


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out
