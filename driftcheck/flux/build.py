"""A Flux Kustomization built as kustomize-controller builds it: the renderer of tool `flux`.

On a private export of the source: the kustomization found or generated and the spec written into it
(`generator.py`), `kustomize build` with load restrictions off and plugins off (kustomize's default; Helm
inflation stays off, as in Flux), in the same sandbox and with the same pre-build checks as every
kustomize app (`render.kustomize.build_export`: remote bases are refused, driftcheck renders offline),
then each object through `postbuild.post_build`. A substitution error fails the whole build, as in Flux.
"""

from __future__ import annotations

from driftcheck.fetch.tree import Tree
from driftcheck.flux.generator import Generated, GenerateError, write_kustomization
from driftcheck.flux.postbuild import PostBuildError, post_build
from driftcheck.flux.sops import is_core_secret, is_encrypted, keys_only
from driftcheck.flux.unresolved import unresolved_reason
from driftcheck.model import Render, RunError
from driftcheck.render.kustomize import Tracer, build_export, builder, inputs
from driftcheck.render.renderer import Document, Output, Target
from driftcheck.render.yaml import load_manifests

LOAD_RESTRICTOR = ("--load-restrictor", "LoadRestrictionsNone")


def render(tree: Tree, path: str, options: Render, target: Target, timeout: float) -> Output:
    """The objects Flux applies for the Kustomization in options.flux, with their origins."""
    out = Output()
    flux = options.flux
    if flux is None:
        out.errors.append(RunError("tool flux without a Kustomization's options", app=target.app, file=path))
        return out
    command = builder()
    if command is None:
        out.errors.append(RunError("Flux Kustomization, but neither kustomize nor kubectl is on PATH",
                                   app=target.app, file=path))
        return out
    with tree.exported(private=True) as (root, export_errors):
        out.errors.extend(e for e in export_errors if not path or e.file.startswith(f"{path}/"))
        try:
            generated = write_kustomization(root, path, flux)
        except GenerateError as e:
            out.errors.append(RunError(f"Kustomization {flux.namespace}/{flux.name}: {e}", app=target.app,
                                       file=e.file or path))
            return out
        built = build_export(command, root, path, generated.file, target, timeout, out, LOAD_RESTRICTOR)
    if built is None:
        return out
    manifests = _read_set(tree, path, generated, out)
    docs, errors = load_manifests(built, f"{' '.join(command)} {path}")
    out.errors.extend(errors)
    trace = Tracer(tree, manifests, generated.file)
    try:
        stamped = [(post_build(body, flux), trace.origin(body)) for body, _ in docs]
    except PostBuildError as e:
        out.errors.append(RunError(f"Kustomization {flux.namespace}/{flux.name}: {e}",
                                   app=target.app, file=target.declared_at or path))
        return out
    unresolved: dict[str, list[str]] = {}
    encrypted: list[str] = []
    for result, origin in stamped:
        if is_encrypted(result.body):
            encrypted.append(f"{_shown(result.body)} ({origin.file}:{origin.line})")
            result.body = keys_only(result.body) if is_core_secret(result.body) else result.body
        out.documents.append(Document(result.body, origin))
        for name in result.unresolved:
            unresolved.setdefault(name, []).append(_shown(result.body))
    if flux.substituted_from is not None and flux.substituted_from.failed:
        out.errors.append(RunError(f"Kustomization {flux.namespace}/{flux.name}: "
                                   f"{flux.substituted_from.failed}", app=target.app,
                                   file=target.declared_at or path))
    if encrypted:
        out.errors.append(RunError(
            f"Kustomization {flux.namespace}/{flux.name}: SOPS-encrypted in Git, not decrypted by "
            f"driftcheck: {', '.join(encrypted)}; a Secret's keys are compared, its values are not "
            "(another kind is compared as written)", app=target.app, file=target.declared_at or path,
            severity="warning"))
    if unresolved:
        names = "; ".join(f"${{{n}}} in {', '.join(objs[:3])}" + (" …" if len(objs) > 3 else "")
                          for n, objs in sorted(unresolved.items()))
        out.errors.append(RunError(
            f"Kustomization {flux.namespace}/{flux.name}: "
            f"{unresolved_reason(flux, sorted(unresolved))}; kept as written, those objects are not "
            f"compared where they use them: {names}", app=target.app, file=target.declared_at or path,
            severity="warning"))
    return out


def _read_set(tree: Tree, path: str, generated: Generated, out: Output) -> list[str]:
    """The repository files the build read (for history), and the manifests among them (for origins)."""
    if not generated.generated:
        graph = inputs(tree, path)
        out.files_read.extend(graph.files)
        return graph.manifests
    manifests = list(generated.manifests)
    out.files_read.extend(generated.manifests)
    for directory in generated.directories:
        graph = inputs(tree, directory)
        out.files_read.extend(f for f in graph.files if f not in out.files_read)
        manifests.extend(graph.manifests)
    return manifests


def _shown(body: dict[str, object]) -> str:
    meta = body.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else ""
    return f"{body.get('kind')}/{name}"

