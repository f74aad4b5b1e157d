"""A HelmRelease rendered as helm-controller renders it: the renderer of tool `flux-helm`.

The user values (`helm_values.user_values`: valuesFrom, then spec.values) are the one values layer, over
the chart's defaults (its values.yaml, or the HelmChart's valuesFiles in its place: `helm_values_files`);
the chart renders through the same Helm path ArgoCD's charts take (`render.helm`: missing dependencies built,
`helm template` or the SDK worker, the destination's capabilities) with the release name and namespace
helm-controller uses, CRDs from `crds/` left out when the CRD policy is Skip; then the post-renderers
(`helm_postrender`). Hooks and tests are rendered and, as for every app, listed rather than compared.
"""

from __future__ import annotations

from driftcheck.fetch.tree import Tree
from driftcheck.flux.helm_postrender import PostRenderError, post_render
from driftcheck.flux.helm_values import ValuesError, user_values
from driftcheck.flux.helm_values_files import DefaultsTree, ValuesFilesError, chart_defaults
from driftcheck.model import HelmOptions, Render, RunError
from driftcheck.render import helm
from driftcheck.render.renderer import Output, Target


def render(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """The objects helm-controller applies for the HelmRelease in options.helm_release."""
    release = options.helm_release
    if release is None:
        return Output(errors=[RunError("tool flux-helm without a HelmRelease's options", app=target.app)])
    shown = f"HelmRelease {release.namespace}/{release.name}"
    try:
        values = user_values(release.values_from, release.values, timeout)
    except ValuesError as e:
        return Output(errors=[RunError(f"{shown}: {e}", app=target.app, file=target.declared_at)])
    try:
        defaults = chart_defaults(tree, path, release.values_files, release.ignore_missing_values_files,
                                  release.values_files_from_artifact)
    except ValuesFilesError as e:
        return Output(errors=[RunError(f"{shown}: chart valuesFiles: {e}; source-controller fails the "
                                       "HelmChart, nothing is installed", app=target.app,
                                       file=target.declared_at)])
    chart = HelmOptions(release_name=release.release_name, values=(values,), skip_crds=release.crds == "Skip",
                        namespace=target.namespace)
    chart_tree = tree if defaults is None else DefaultsTree(tree, path, defaults[0])
    out = helm.render(chart_tree, path, Render(tool="helm", helm=chart), target, timeout)
    if defaults is not None and release.values_files_from_artifact:
        out.files_read.extend(f for f in defaults[1] if f not in out.files_read)
    for error in out.errors:
        error.message = f"{shown}: {error.message}"
    if any(e.severity == "error" for e in out.errors):
        out.documents = []  # helm-controller installs nothing from a chart that did not render
        return out
    try:
        out.documents = post_render(out.documents, release, timeout)
    except PostRenderError as e:
        out.documents = []
        out.errors.append(RunError(f"{shown}: {e}", app=target.app, file=target.declared_at))
    return out
