"""ArgoCD's `spec.source.kustomize` options: checked as ArgoCD checks them, then written into the
kustomization as `kustomize edit` would (the renderer builds the edited file)."""

from __future__ import annotations

from typing import Any


class OptionError(Exception):
    """An Application's spec.source.kustomize that ArgoCD itself would refuse."""


def checked_kustomize_options(options: dict[str, Any]) -> dict[str, Any]:
    """spec.source.kustomize with the types ArgoCD's API requires, else OptionError naming the field."""
    checked: dict[str, Any] = {}
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if options.get(key) is not None:
            checked[key] = _typed(options[key], str, key)
    for key in ("commonLabels", "commonAnnotations"):
        if options.get(key) is not None:
            checked[key] = {_typed(k, str, f"{key} key"): _typed(v, str, f"{key}.{k}")
                            for k, v in _typed(options[key], dict, key).items()}
    for key in ("images", "components"):
        if options.get(key) is not None:
            items = _typed(options[key], list, key)
            checked[key] = [_typed(v, str, f"{key}[{i}]") for i, v in enumerate(items)]
    if options.get("patches") is not None:
        checked["patches"] = [_typed(v, dict, f"patches[{i}]")
                              for i, v in enumerate(_typed(options["patches"], list, "patches"))]
    replicas = []
    for i, entry in enumerate(_typed(options.get("replicas") or [], list, "replicas")):
        name = _typed(_typed(entry, dict, f"replicas[{i}]").get("name"), str, f"replicas[{i}].name")
        count = entry.get("count")
        if isinstance(count, str) and count.strip().isdigit():  # IntOrString, as ArgoCD reads it
            count = int(count)
        if not isinstance(count, int) or isinstance(count, bool):
            raise OptionError(f"replicas[{i}].count: {count!r:.60} is not an integer")
        replicas.append({"name": name, "count": count})
    if replicas:
        checked["replicas"] = replicas
    return checked


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise OptionError(f"{where}: {value!r:.60} is not a {'string' if kind is str else kind.__name__}")
    return value


def kustomize_edits(spec: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The kustomization as ArgoCD edits it for spec.source.kustomize (`kustomize edit set
    nameprefix/image/namespace/replicas`, `add label/annotation`, plus patches and components);
    options as `checked_kustomize_options` returns them."""
    spec = dict(spec)
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if options.get(key):
            spec[key] = options[key]
    for key in ("commonLabels", "commonAnnotations"):
        if key in options:
            spec[key] = {**(spec[key] if isinstance(spec.get(key), dict) else {}), **options[key]}
    for key, entries in (("images", [parse_image_override(i) for i in options.get("images", [])]),
                         ("replicas", options.get("replicas", []))):
        for entry in entries:
            kept = [e for e in _list(spec.get(key))
                    if not (isinstance(e, dict) and e.get("name") == entry["name"])]
            spec[key] = [*kept, entry]
    for key in ("patches", "components"):
        spec[key] = _list(spec.get(key)) + options.get(key, [])
        if not spec[key]:
            del spec[key]
    return spec


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_image_override(text: str) -> dict[str, str]:
    """An ArgoCD/`kustomize edit set image` override as a kustomization images: entry.

    `nginx:1.25`, `nginx@sha256:...`, `nginx=registry.example.com/nginx:1.25`.
    """
    name, _, replacement = text.partition("=")
    entry = {"name": name}
    target = replacement or name
    if "@" in target:
        target, entry["digest"] = target.split("@", 1)
    elif ":" in target.rsplit("/", 1)[-1]:
        target, entry["newTag"] = target.rsplit(":", 1)
    if replacement:
        entry["newName"] = target
    else:
        entry["name"] = target
    return entry
