"""Turns desired objects into what `kubectl get -o yaml` shows after a GitOps tool applied them.

Server defaults per kind, metadata bookkeeping, `status`, `managedFields` with real `fieldsV1`,
ArgoCD tracking, the ReplicaSets that Deployments and Rollouts own, the subset labels Argo Rollouts
writes into DestinationRules and the replicas an HPA sets. The demo and the benchmarks share it so
that both meet the realism a real cluster has; it is deterministic (uids, IPs and hashes derive from
the object identity), so two runs give the same snapshot.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from driftcheck.kube import BUILTIN_GROUPS, LAST_APPLIED, TRACKING_ID, TRACKING_LABEL
from driftcheck.model import ResourceKey, split_api_version

GITOPS_MANAGER = "argocd-controller"
KUBECTL_APPLY_MANAGER = "kubectl-client-side-apply"

# Built-in kinds (kube.BUILTIN_GROUPS) have schemas with associative lists; CRDs (Rollout, Istio, ...)
# keep lists atomic.
_LIST_KEYS = {"containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",),
              "env": ("name",), "volumes": ("name",), "volumeMounts": ("name",),
              "imagePullSecrets": ("name",), "volumeDevices": ("devicePath",),
              "hostAliases": ("ip",), "tolerations": None, "topologySpreadConstraints":
              ("topologyKey", "whenUnsatisfiable")}
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_POD_OWNERS = {("apps", "Deployment"): "pod-template-hash",
               ("argoproj.io", "Rollout"): "rollouts-pod-template-hash"}


def _ts(moment: datetime) -> str:
    """RFC 3339 in UTC, as the API server writes times; `moment` must carry an offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def pod_template_hash(template: dict[str, Any]) -> str:
    """A stable stand-in for the controller's hash of a pod template (10 lowercase alphanumerics)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the safe-encode alphabet Kubernetes uses
    value = int(_digest(json.dumps(template, sort_keys=True)), 16)
    out = []
    for _ in range(10):
        value, rem = divmod(value, len(alphabet))
        out.append(alphabet[rem])
    return "".join(out)


# ---------------------------------------------------------------------------------------- fieldsV1


def list_item_key(list_name: str, item: Any, typed: bool, service: bool = False) -> str | None:
    """The `k:{...}` key of a list item in fieldsV1, or None when the list is atomic."""
    if not typed or not isinstance(item, dict):
        return None
    if list_name == "ports":
        key_field = "port" if service else "containerPort"
        return "k:" + json.dumps({key_field: item.get(key_field), "protocol": item.get("protocol", "TCP")},
                                 separators=(",", ":"), sort_keys=True)
    keys = _LIST_KEYS.get(list_name)
    if not keys or any(k not in item for k in keys):
        return None
    return "k:" + json.dumps({k: item[k] for k in keys}, separators=(",", ":"), sort_keys=True)


def fields_v1(value: Any, typed: bool, service: bool = False, dot: bool = False) -> dict[str, Any]:
    """The fieldsV1 set a manager owns when it applied `value` (a mapping)."""
    out: dict[str, Any] = {".": {}} if dot else {}
    for name, sub in value.items():
        if isinstance(sub, dict) and sub:
            out[f"f:{name}"] = fields_v1(sub, typed, service, dot=name in ("labels", "annotations"))
        elif isinstance(sub, list) and sub and all(list_item_key(name, i, typed, service) for i in sub):
            out[f"f:{name}"] = {list_item_key(name, i, typed, service): fields_v1(i, typed, service, dot=True)
                                for i in sub}
        else:
            out[f"f:{name}"] = {}
    return out


def managed_entry(manager: str, operation: str, moment: datetime, api_version: str,
                  owned: dict[str, Any], subresource: str = "") -> dict[str, Any]:
    entry = {"apiVersion": api_version, "fieldsType": "FieldsV1", "fieldsV1": owned, "manager": manager,
             "operation": operation}
    if subresource:
        entry["subresource"] = subresource
    entry["time"] = _ts(moment)
    return entry


# ---------------------------------------------------------------------------------------- defaults


def _default_probe(probe: dict[str, Any]) -> None:
    for name, value in (("failureThreshold", 3), ("periodSeconds", 10), ("successThreshold", 1),
                        ("timeoutSeconds", 1)):
        probe.setdefault(name, value)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
    container.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
    container.setdefault("resources", {})
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref:
            field_ref.setdefault("apiVersion", "v1")
    for probe in _PROBES:
        if probe in container:
            _default_probe(container[probe])


def _default_pod_template(template: dict[str, Any], restart: str = "Always") -> None:
    template.setdefault("metadata", {})["creationTimestamp"] = None
    spec = template.setdefault("spec", {})
    for name, value in (("dnsPolicy", "ClusterFirst"), ("restartPolicy", restart),
                        ("schedulerName", "default-scheduler"), ("securityContext", {}),
                        ("terminationGracePeriodSeconds", 30)):
        spec.setdefault(name, value)
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        _default_container(container)
    for volume in spec.get("volumes") or []:
        for source in ("configMap", "secret"):
            if source in volume:
                volume[source].setdefault("defaultMode", 420)


def _cluster_ip(key: ResourceKey) -> str:
    h = int(_digest(str(key)), 16)
    return f"10.96.{(h >> 8) % 254 + 1}.{h % 254 + 1}"


def apply_defaults(body: dict[str, Any]) -> None:
    """Fill the fields the API server defaults for built-in kinds, in place."""
    kind, spec = body.get("kind"), body.get("spec")
    group, _ = split_api_version(body.get("apiVersion", ""))
    if kind == "Secret":
        data = body.setdefault("data", {})
        for name, text in (body.pop("stringData", None) or {}).items():
            data[name] = base64.b64encode(str(text).encode()).decode()
        body.setdefault("type", "Opaque")
    if not isinstance(spec, dict) or group not in BUILTIN_GROUPS:
        return
    if kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("strategy", {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                                     "type": "RollingUpdate"})
        _default_pod_template(spec.setdefault("template", {}))
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})
        spec.setdefault("updateStrategy", {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"})
        for claim in spec.get("volumeClaimTemplates") or []:
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
            claim["status"] = {"phase": "Pending"}
        _default_pod_template(spec.setdefault("template", {}))
    elif kind == "DaemonSet":
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
                                           "type": "RollingUpdate"})
        _default_pod_template(spec.setdefault("template", {}))
    elif kind == "CronJob":
        for name, value in (("concurrencyPolicy", "Allow"), ("failedJobsHistoryLimit", 1),
                            ("successfulJobsHistoryLimit", 3), ("suspend", False)):
            spec.setdefault(name, value)
        job = spec.setdefault("jobTemplate", {})
        job.setdefault("metadata", {})["creationTimestamp"] = None
        job_spec = job.setdefault("spec", {})
        job_spec.setdefault("backoffLimit", 6)
        template = job_spec.setdefault("template", {})
        _default_pod_template(template, template.get("spec", {}).get("restartPolicy", "OnFailure"))
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName":
            ip = spec.setdefault("clusterIP", _cluster_ip(ResourceKey.of(body)))
            spec.setdefault("clusterIPs", [ip])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif kind == "NetworkPolicy":
        spec.setdefault("policyTypes", ["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    elif kind == "PersistentVolumeClaim":
        spec.setdefault("storageClassName", "standard")
        spec.setdefault("volumeMode", "Filesystem")


# ---------------------------------------------------------------------------------------- status


def _condition(kind: str, reason: str, message: str, moment: datetime) -> dict[str, Any]:
    return {"lastTransitionTime": _ts(moment), "lastUpdateTime": _ts(moment), "message": message,
            "reason": reason, "status": "True", "type": kind}


def make_status(body: dict[str, Any], moment: datetime, generation: int) -> dict[str, Any] | None:
    """The status a healthy controller reports for this object, or None for kinds without one."""
    kind, spec = body["kind"], body.get("spec") or {}
    name = body["metadata"]["name"]
    replicas = spec.get("replicas", 1)
    if kind in ("Deployment", "StatefulSet"):
        status = {"availableReplicas": replicas, "observedGeneration": generation, "readyReplicas": replicas,
                  "replicas": replicas, "updatedReplicas": replicas}
        if kind == "Deployment":
            status["conditions"] = [
                _condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability.",
                           moment),
                _condition("Progressing", "NewReplicaSetAvailable",
                           f'ReplicaSet "{name}-{pod_template_hash(spec.get("template", {}))}" has '
                           "successfully progressed.", moment)]
        return status
    if kind == "DaemonSet":
        return {"currentNumberScheduled": 3, "desiredNumberScheduled": 3, "numberAvailable": 3,
                "numberMisscheduled": 0, "numberReady": 3, "observedGeneration": generation,
                "updatedNumberScheduled": 3}
    if kind == "Rollout":
        pod_hash = pod_template_hash(spec.get("template", {}))
        return {"HPAReplicas": replicas, "availableReplicas": replicas, "blueGreen": {},
                "canary": {"weights": {"canary": {"podTemplateHash": pod_hash, "weight": 0},
                                       "stable": {"podTemplateHash": pod_hash, "weight": 100}}},
                "conditions": [_condition("Available", "AvailableReason", "Rollout has minimum availability",
                                          moment),
                               _condition("Healthy", "RolloutHealthy", "Rollout is healthy", moment)],
                "currentPodHash": pod_hash, "currentStepIndex": len((spec.get("strategy", {}).get("canary")
                                                                     or {}).get("steps") or []),
                "observedGeneration": str(generation), "phase": "Healthy", "readyReplicas": replicas,
                "replicas": replicas, "selector": ",".join(
                    f"{k}={v}" for k, v in (spec.get("selector", {}).get("matchLabels") or {}).items()),
                "stableRS": pod_hash, "updatedReplicas": replicas}
    if kind == "HorizontalPodAutoscaler":
        current = spec.get("minReplicas", 1)
        return {"conditions": [_condition("AbleToScale", "ReadyForNewScale",
                                          "recommended size matches current size", moment)],
                "currentMetrics": [{"resource": {"current": {"averageUtilization": 41,
                                                             "averageValue": "103m"}, "name": "cpu"},
                                    "type": "Resource"}],
                "currentReplicas": current, "desiredReplicas": current, "lastScaleTime": _ts(moment)}
    if kind == "PodDisruptionBudget":
        return {"conditions": [{"lastTransitionTime": _ts(moment), "message": "", "observedGeneration":
                                generation, "reason": "SufficientPods", "status": "True",
                                "type": "DisruptionAllowed"}],
                "currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2,
                "observedGeneration": generation}
    if kind in ("Service", "Ingress"):
        return {"loadBalancer": {}}
    if kind == "PersistentVolumeClaim":
        requests = spec.get("resources", {}).get("requests") or {}
        return {"accessModes": spec.get("accessModes", ["ReadWriteOnce"]),
                "capacity": {"storage": requests.get("storage", "1Gi")},
                "phase": "Bound"}
    if kind == "CronJob":
        return {"lastScheduleTime": _ts(moment), "lastSuccessfulTime": _ts(moment + timedelta(seconds=42))}
    return None


# ---------------------------------------------------------------------------------------- livify


@dataclass
class Cluster:
    """Live objects being built, with the resourceVersion counter a real API server keeps."""

    seed: str = "driftcheck-demo"
    objects: list[dict[str, Any]] = field(default_factory=list)
    resource_version: int = 482_113

    def next_version(self) -> str:
        self.resource_version += 7
        return str(self.resource_version)

    def uid(self, key: ResourceKey) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.seed}/{key}"))


def livify_object(cluster: Cluster, desired: dict[str, Any], *, app: str | None, namespace: str,
                  applied_at: datetime, created_at: datetime | None = None,
                  kubectl_applied: bool = False) -> dict[str, Any]:
    """One object as the API server stores it once applied and reconciled.

    With an `app`, ArgoCD server-side applied it (tracking label and annotation, manager
    argocd-controller, operation Apply); with `kubectl_applied`, `kubectl apply` did so first (the
    last-applied-configuration annotation). Without an app, someone ran `kubectl create`.
    """
    live = copy.deepcopy(desired)
    meta = live.setdefault("metadata", {})
    if namespace:
        meta.setdefault("namespace", namespace)
    key = ResourceKey.of(live)
    if app:
        meta.setdefault("labels", {})[TRACKING_LABEL] = app
        meta.setdefault("annotations", {})[TRACKING_ID] = tracking_id(app, key)
    created_at = created_at or applied_at
    managed = []
    if app:
        managed.append(managed_entry(GITOPS_MANAGER, "Apply", applied_at, live["apiVersion"],
                                     applier_fields(live)))
    if kubectl_applied:
        desired_meta = desired.get("metadata", {})
        last = {**desired, "metadata": {**desired_meta, "namespace": key.namespace}}
        text = json.dumps(last, sort_keys=True, separators=(",", ":")) + "\n"
        meta.setdefault("annotations", {})[LAST_APPLIED] = text
        annotations = {**desired_meta.get("annotations", {}), LAST_APPLIED: text}
        sent = {**last, "metadata": {**last["metadata"], "annotations": annotations}}
        managed.append(managed_entry(KUBECTL_APPLY_MANAGER, "Update", created_at, live["apiVersion"],
                                     applier_fields(sent)))
    elif not app:
        managed.append(managed_entry("kubectl-create", "Update", created_at, live["apiVersion"],
                                     applier_fields(live)))
    apply_defaults(live)
    meta.update({"creationTimestamp": _ts(created_at), "resourceVersion": cluster.next_version(),
                 "uid": cluster.uid(key)})
    if "spec" in live and live["kind"] not in ("Service", "PersistentVolumeClaim"):
        meta["generation"] = 1
    reconciled = applied_at + timedelta(seconds=38)
    status = make_status(live, reconciled, 1)
    if status is not None:
        live["status"] = status
    if status and status != {"loadBalancer": {}}:
        owned: dict[str, Any] = {"f:status": fields_v1(status, False)}
        if live["kind"] == "Deployment":
            meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
            owned = {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                     **owned}
        managed.append(managed_entry(_status_manager(live), "Update", reconciled, live["apiVersion"], owned,
                                     "status"))
    meta["managedFields"] = managed
    return live


def applier_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fieldsV1 an applier owns for the manifest it sent (Secret stringData is stored as data)."""
    group, _ = split_api_version(body.get("apiVersion", ""))
    owned = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "status")}
    meta = body.get("metadata") or {}
    owned["metadata"] = {k: v for k, v in meta.items() if k in ("labels", "annotations")}
    fields = fields_v1(owned, group in BUILTIN_GROUPS, body.get("kind") == "Service")
    if body.get("kind") == "Secret" and "f:stringData" in fields:
        fields.setdefault("f:data", {}).update(fields.pop("f:stringData"))
    return fields


def _status_manager(live: dict[str, Any]) -> str:
    return "rollouts-controller" if live["kind"] == "Rollout" else "kube-controller-manager"


def kubectl_order(value: Any) -> Any:
    """Keys sorted at every level, the order `kubectl get -o yaml` prints them in."""
    if isinstance(value, dict):
        return {k: kubectl_order(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [kubectl_order(v) for v in value]
    return value


def tracking_id(app: str, key: ResourceKey) -> str:
    """ArgoCD's annotation tracking value: `<app>:<group>/<kind>:<namespace>/<name>`."""
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def owned_replicaset(cluster: Cluster, owner: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """The current ReplicaSet a Deployment or Rollout controller keeps for its pod template."""
    label = _POD_OWNERS[(split_api_version(owner["apiVersion"])[0], owner["kind"])]
    spec = owner["spec"]
    pod_hash = pod_template_hash(spec.get("template", {}))
    template = copy.deepcopy(spec.get("template", {}))
    _default_pod_template(template)
    prefix = "deployment.kubernetes.io" if owner["kind"] == "Deployment" else "rollout.argoproj.io"
    template.setdefault("metadata", {}).setdefault("labels", {})[label] = pod_hash
    selector = copy.deepcopy(spec.get("selector", {}))
    selector.setdefault("matchLabels", {})[label] = pod_hash
    replicas = spec.get("replicas", 1)
    meta = owner["metadata"]
    rs_meta = {"annotations": {f"{prefix}/desired-replicas": str(replicas), f"{prefix}/revision": "1"},
               "creationTimestamp": _ts(moment),
               "generation": 1,
               "labels": {**(template["metadata"].get("labels") or {})},
               "name": f"{meta['name']}-{pod_hash}", "namespace": meta.get("namespace", ""),
               "ownerReferences": [{"apiVersion": owner["apiVersion"], "blockOwnerDeletion": True,
                                    "controller": True, "kind": owner["kind"], "name": meta["name"],
                                    "uid": meta["uid"]}],
               "resourceVersion": cluster.next_version()}
    key = ResourceKey("apps", "ReplicaSet", rs_meta["namespace"], rs_meta["name"])
    rs_meta["uid"] = cluster.uid(key)
    rs_spec = {"replicas": replicas, "selector": selector, "template": template}
    rs_meta["managedFields"] = [
        managed_entry(_status_manager(owner), "Update", moment, "apps/v1",
                      {"f:metadata": fields_v1({k: rs_meta[k] for k in ("annotations", "labels")}, True),
                       "f:spec": fields_v1(rs_spec, True)}),
        managed_entry("kube-controller-manager", "Update", moment + timedelta(seconds=31), "apps/v1",
                      {"f:status": {"f:availableReplicas": {}, "f:fullyLabeledReplicas": {},
                                    "f:observedGeneration": {}, "f:readyReplicas": {}, "f:replicas": {}}},
                      "status")]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": rs_meta, "spec": rs_spec,
            "status": {"availableReplicas": replicas, "fullyLabeledReplicas": replicas,
                       "observedGeneration": 1, "readyReplicas": replicas, "replicas": replicas}}


def inject_subset_hashes(rollout: dict[str, Any], rules: dict[str, dict[str, Any]], moment: datetime) -> None:
    """Argo Rollouts labels the DestinationRule's stable and canary subsets with the pod-template hash."""
    istio = (((rollout["spec"].get("strategy") or {}).get("canary") or {}).get("trafficRouting") or {}).get(
        "istio") or {}
    ref = istio.get("destinationRule") or {}
    rule = rules.get(ref.get("name", ""))
    if rule is None:
        return
    pod_hash = pod_template_hash(rollout["spec"].get("template", {}))
    wanted = {ref.get("stableSubsetName"), ref.get("canarySubsetName")}
    for subset in rule["spec"].get("subsets") or []:
        if subset.get("name") in wanted:
            subset["labels"] = {**(subset.get("labels") or {}), "rollouts-pod-template-hash": pod_hash}
    rule["metadata"]["managedFields"].append(managed_entry(
        "rollouts-controller", "Update", moment, rule["apiVersion"], {"f:spec": {"f:subsets": {}}}))
    rule["metadata"]["generation"] += 1
    rule["metadata"]["resourceVersion"] = str(int(rule["metadata"]["resourceVersion"]) + 1)


def scale_by_hpa(hpa: dict[str, Any], targets: dict[tuple[str, str], dict[str, Any]],
                 moment: datetime) -> None:
    """The HPA controller writes the target's spec.replicas through the scale subresource."""
    ref = hpa["spec"].get("scaleTargetRef") or {}
    target = targets.get((ref.get("kind", ""), ref.get("name", "")))
    if target is None:
        return
    replicas = hpa["status"]["desiredReplicas"] = hpa["status"]["currentReplicas"] = \
        max(hpa["spec"].get("minReplicas", 1), 3)
    target["spec"]["replicas"] = replicas
    for name in ("availableReplicas", "readyReplicas", "replicas", "updatedReplicas"):
        if name in target.get("status", {}):
            target["status"][name] = replicas
    target["metadata"]["managedFields"].append(managed_entry(
        "kube-controller-manager", "Update", moment, target["apiVersion"], {"f:spec": {"f:replicas": {}}},
        "scale"))


def livify(desired: list[dict[str, Any]], *, app: str, namespace: str, applied_at: datetime,
           created_at: datetime | None = None,
           kubectl_applied: set[ResourceKey] | frozenset[ResourceKey] = frozenset(),
           cluster: Cluster | None = None) -> list[dict[str, Any]]:
    """The live objects a cluster holds once ArgoCD synced `desired` and the controllers reconciled."""
    cluster = cluster or Cluster()
    live = []
    for body in desired:
        key = ResourceKey.of(body, namespace)
        live.append(livify_object(cluster, body, app=app, namespace=namespace, applied_at=applied_at,
                                  created_at=created_at, kubectl_applied=key in kubectl_applied))
    settled = applied_at + timedelta(minutes=1, seconds=12)
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in live:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    targets = {(k, n): o for k in ("Deployment", "StatefulSet", "Rollout")
               for n, o in by_kind.get(k, {}).items()}
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        scale_by_hpa(hpa, targets, settled)
    for rollout in by_kind.get("Rollout", {}).values():
        inject_subset_hashes(rollout, by_kind.get("DestinationRule", {}), settled)
    owned = [owned_replicaset(cluster, obj, applied_at + timedelta(seconds=2)) for obj in live
             if (split_api_version(obj["apiVersion"])[0], obj["kind"]) in _POD_OWNERS]
    return [kubectl_order(obj) for obj in live + owned]
