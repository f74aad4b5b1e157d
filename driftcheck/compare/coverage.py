"""Coverage: per namespace an app deploys to, which live objects Git manages and which it does not."""

from __future__ import annotations

from typing import Any

from driftcheck.compare.engine import CompareOptions, controller_made, owned_by
from driftcheck.compare.pointer import dig
from driftcheck.model import App, LiveState, Resource, ResourceKey, ResourceResult

# Objects Kubernetes and common meshes create in every namespace on their own, without ownerReferences.
AUTOMATIC = frozenset({
    ("", "ConfigMap", "kube-root-ca.crt"),  # root CA publisher
    ("", "ConfigMap", "istio-ca-root-cert"),  # istiod
    ("", "ServiceAccount", "default"),  # service account controller
})
AUTOMATIC_KINDS = frozenset({("", "Event"), ("events.k8s.io", "Event"), ("coordination.k8s.io", "Lease"),
                             ("discovery.k8s.io", "EndpointSlice")})


def coverage(apps: list[App], results: list[ResourceResult], live: LiveState,
             options: CompareOptions | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(`coverage[]` {namespace, managed, unmanaged}, `unmanaged[]` {group, kind, namespace, name}).

    Per namespace an app deploys to (its destination and the namespaces of its results). Managed:
    tracked by any app's label or tracking-id annotation, or the key of a result. Objects a
    controller made (ownerReferences, a Service's Endpoints, per-namespace defaults) are not
    counted either way: nobody writes them in Git.
    """
    options = options or CompareOptions()
    wanted = {r.key for r in results}
    namespaces = {a.destination.namespace for a in apps if a.destination.namespace}
    namespaces |= {r.key.namespace for r in results if r.key.namespace}
    services = {r.key for r in live.resources if r.key.group_kind == ("", "Service")}
    counts = {ns: [0, 0] for ns in namespaces}
    unmanaged: list[ResourceKey] = []
    for res in live.resources:
        ns = res.key.namespace
        if ns not in counts or _automatic(res, services):
            continue
        if res.key in wanted or any(owned_by(res.body, app, options) for app in apps):
            counts[ns][0] += 1
        else:
            counts[ns][1] += 1
            unmanaged.append(res.key)
    table = [{"namespace": ns, "managed": m, "unmanaged": u} for ns, (m, u) in sorted(counts.items())]
    listing = [{"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name}
               for k in sorted(unmanaged)]
    return table, listing


def _automatic(res: Resource, services: set[ResourceKey]) -> bool:
    key = res.key
    if (key.group, key.kind, key.name) in AUTOMATIC or key.group_kind in AUTOMATIC_KINDS:
        return True
    if dig(res.body, "metadata", "ownerReferences"):
        return True
    if key.group_kind == ("", "Secret") and res.body.get("type") == "kubernetes.io/service-account-token":
        return True
    return controller_made(res, services)
