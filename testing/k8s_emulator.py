"""A Kubernetes API server emulator on loopback: discovery, paginated LISTs, auth, faults and a request log.

It speaks the real wire protocol closely enough for the official `kubernetes` client: discovery documents
(`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`), LIST per namespace and cluster-wide with
`limit`/`continue` (opaque tokens, `kind: <Kind>List`, items without apiVersion/kind), `labelSelector`,
GET of one object, bearer-token auth and `Status` error bodies. Anything but GET is refused (405) and logged,
so tests can prove a client is read-only — unless `writable=True` (or `audit_log=`): then PUT and PATCH are
served with managedFields (`testing/k8s_writes.py`), each token in `users` authenticates as its user,
`Impersonate-User`/`Impersonate-Group` headers are honoured, and every mutating request is written to
`audit_log` as an audit.k8s.io/v1 Event (`audit_level` Metadata or RequestResponse; `clock` scripts the time;
`python testing/k8s_emulator.py --audit-log PATH`, or K8S_EMULATOR_AUDIT_LOG).

Usage::

    with KubernetesEmulator(token="s3cret") as api:
        api.add(*objects)                       # dicts with apiVersion/kind/metadata
        api.forbid("secrets", namespace="blog-system")
        api.fail("deployments", times=2)         # two 500s, then success
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ...
        assert {r.method for r in api.requests} == {"GET"}

Resource types come from `DEFAULT_RESOURCES` (core kinds plus the Argo Rollouts, Istio, Sealed Secrets,
VPA and Cilium CRDs); pass `resources=` to serve others, or `unserve()` one to emulate a CRD that is not
installed.
`tls=True` serves HTTPS with a fresh self-signed certificate (`ca_certificate`; `write_kubeconfig` trusts
it); `page_delay` adds server time to every LIST page (for benchmarks); `requests` is the log, each entry
with method, path, query, arrival time and status (0 while a stalled answer is pending); `generate_objects`
makes many small objects; `BLOG_SYSTEM_LIVE` is a file of realistic `kubectl get -o yaml` objects.
As a process of its own: `python tests/integration/k8s_emulator.py --kubeconfig kc.yaml --generate 100`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

from testing import k8s_writes

# Live objects of blog-system exactly as `kubectl get -o yaml` shows them (Deployment with server defaults,
# status and managedFields; Argo Rollout; DestinationRule with injected subset hashes; Secret; ...).
BLOG_SYSTEM_LIVE = Path(__file__).resolve().parent / "fixtures" / "blog-system-live.yaml"

Answer = tuple[int, dict[str, Any], dict[str, str]]  # status code, JSON body, extra headers
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ApiResource:
    """One served resource type. `versions` lists the group versions serving it, preferred first."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()


def _r(group: str, versions: str, kind: str, plural: str, namespaced: bool = True,
       *short: str) -> ApiResource:
    return ApiResource(group, tuple(versions.split(",")), kind, plural, namespaced, short)


DEFAULT_RESOURCES: tuple[ApiResource, ...] = (
    _r("", "v1", "Namespace", "namespaces", False, "ns"),
    _r("", "v1", "Node", "nodes", False, "no"),
    _r("", "v1", "PersistentVolume", "persistentvolumes", False, "pv"),
    _r("", "v1", "ConfigMap", "configmaps", True, "cm"),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "Service", "services", True, "svc"),
    _r("", "v1", "ServiceAccount", "serviceaccounts", True, "sa"),
    _r("", "v1", "Pod", "pods", True, "po"),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, "pvc"),
    _r("", "v1", "Endpoints", "endpoints", True, "ep"),
    _r("", "v1", "LimitRange", "limitranges", True, "limits"),
    _r("", "v1", "ResourceQuota", "resourcequotas", True, "quota"),
    _r("apps", "v1", "Deployment", "deployments", True, "deploy"),
    _r("apps", "v1", "StatefulSet", "statefulsets", True, "sts"),
    _r("apps", "v1", "DaemonSet", "daemonsets", True, "ds"),
    _r("apps", "v1", "ReplicaSet", "replicasets", True, "rs"),
    _r("batch", "v1", "Job", "jobs"),
    _r("batch", "v1", "CronJob", "cronjobs", True, "cj"),
    _r("autoscaling", "v2,v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, "hpa"),
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, "pdb"),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", True, "ing"),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, "netpol"),
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False, "crd"),
    _r("argoproj.io", "v1alpha1", "Rollout", "rollouts", True, "ro"),
    _r("argoproj.io", "v1alpha1", "AnalysisTemplate", "analysistemplates"),
    _r("networking.istio.io", "v1,v1beta1", "DestinationRule", "destinationrules", True, "dr"),
    _r("networking.istio.io", "v1,v1beta1", "VirtualService", "virtualservices", True, "vs"),
    _r("networking.istio.io", "v1,v1beta1", "Gateway", "gateways", True, "gw"),
    _r("security.istio.io", "v1,v1beta1", "AuthorizationPolicy", "authorizationpolicies"),
    _r("security.istio.io", "v1,v1beta1", "PeerAuthentication", "peerauthentications", True, "pa"),
    _r("bitnami.com", "v1alpha1", "SealedSecret", "sealedsecrets"),
    _r("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler", "verticalpodautoscalers", True, "vpa"),
    _r("cilium.io", "v2", "CiliumNetworkPolicy", "ciliumnetworkpolicies", True, "cnp"),
)


@dataclass(frozen=True)
class Request:
    """One request as the emulator saw it; `query` keeps the last value of each parameter.

    `time` is when it arrived; `status` is 0 while it is still being answered (e.g. stalled)."""

    method: str
    path: str
    query: dict[str, str]
    time: float
    status: int = 0

    @property
    def is_discovery(self) -> bool:
        return self.path in ("/version", "/api", "/api/v1", "/apis") or bool(
            re.fullmatch(r"/apis/[^/]+(/[^/]+)?", self.path))


@dataclass
class Fault:
    """An injected failure for requests on `resource` (plural; None = any), optionally one namespace.

    status 0 means a stall of `stall` seconds before answering normally. `on_continue` limits the fault to
    requests carrying a continue token (the middle of a paginated list). `times` None = forever.
    """

    status: int
    resource: str | None = None  # with `path` set, the fault is for that exact path (e.g. /version) instead
    group: str | None = None
    namespace: str | None = None
    times: int | None = 1
    retry_after: int | None = None
    stall: float = 0.0
    on_continue: bool = False
    path: str | None = None
    hits: int = 0

    def matches(self, res: ApiResource, namespace: str | None, has_continue: bool) -> bool:
        return (self.path is None and (self.resource is None or self.resource == res.plural)
                and (self.group is None or self.group == res.group)
                and (self.namespace is None or self.namespace == namespace)
                and (not self.on_continue or has_continue)
                and (self.times is None or self.hits < self.times))


class KubernetesEmulator:
    """A threaded HTTP server on 127.0.0.1 that serves a Kubernetes API subset; see the module docstring."""

    def __init__(self, token: str = "emulator-token", resources: Iterable[ApiResource] = DEFAULT_RESOURCES,
                 git_version: str = "v1.30.2", page_delay: float = 0.0, tls: bool = False,
                 port: int = 0, writable: bool = False, audit_log: Path | None = None,
                 audit_level: str = "Metadata", users: dict[str, dict[str, Any]] | None = None,
                 clock: Any = None, poll_interval: float = 0.02) -> None:
        """`tls`: serve HTTPS with a fresh self-signed certificate for 127.0.0.1 (see `ca_certificate`).
        `users`: bearer token -> audit UserInfo (`username`, `groups`); `clock`: () -> epoch seconds.
        `poll_interval`: how long stop() may wait for the server loop (which wakes that often when idle)."""
        self.poll_interval = poll_interval
        self.token = token
        self.writable = writable or audit_log is not None
        self.audit = k8s_writes.AuditWriter(audit_log, audit_level) if audit_log is not None else None
        self.users = {token: {"username": "system:serviceaccount:driftcheck:driftcheck",
                              "groups": ["system:serviceaccounts", "system:authenticated"]}, **(users or {})}
        self.clock = clock or time.time
        self.tls = tls
        self._port = port
        self.ca_certificate: bytes = b""  # PEM; with tls, the certificate clients must trust
        self.git_version = git_version
        self.page_delay = page_delay
        self.resources: list[ApiResource] = list(resources)
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._order: dict[tuple[str, str], list[tuple[str, str]]] = {}  # sorted keys, so pages stay cheap
        self._resource_version = 1000
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> KubernetesEmulator:
        self._server = _QuietServer(("127.0.0.1", self._port), _handler_for(self))
        if self.tls:
            self._server.socket = self._tls_context().wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False)  # handshake in handler
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a stalled handler must not hold up stop()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": self.poll_interval},
                                        name="k8s-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubernetesEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the emulator first"
        return int(self._server.server_address[1])

    def _tls_context(self) -> ssl.SSLContext:
        """A self-signed P-256 certificate for 127.0.0.1 made by the openssl command line."""
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", str(key), "-out", str(cert), "-days", "1",
                            "-subj", "/CN=k8s-emulator", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.ca_certificate = cert.read_bytes()
        return context

    # -- content -----------------------------------------------------------------------------------
    def add(self, *objects: dict[str, Any]) -> None:
        """Store objects (as kubectl shows them); a missing resourceVersion/uid is filled in."""
        with self._lock:
            for obj in objects:
                res = self.resource_for(obj["apiVersion"], obj["kind"])
                if res is None:
                    raise ValueError(f"emulator does not serve {obj['apiVersion']} {obj['kind']}")
                body = copy.deepcopy(obj)
                meta = body.setdefault("metadata", {})
                self._resource_version += 1
                meta.setdefault("resourceVersion", str(self._resource_version))
                meta.setdefault("uid", f"00000000-0000-4000-8000-{self._resource_version:012d}")
                namespace = meta.get("namespace", "") if res.namespaced else ""
                if res.namespaced and not namespace:
                    raise ValueError(f"{obj['kind']} {meta.get('name')} needs metadata.namespace")
                self._objects.setdefault((res.group, res.plural), {})[(namespace, meta["name"])] = body
                self._order.pop((res.group, res.plural), None)

    def load_yaml(self, path: str | Path) -> list[dict[str, Any]]:
        """Add every object of a (multi-document) YAML file; returns them."""
        objects = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        self.add(*objects)
        return objects

    def unserve(self, group: str, kind: str) -> None:
        """Stop serving a type (and its objects), as if its CRD were not installed."""
        self.resources = [r for r in self.resources if (r.group, r.kind) != (group, kind)]

    def resource_for(self, api_version: str, kind: str) -> ApiResource | None:
        group = api_version.rpartition("/")[0]
        return next((r for r in self.resources if r.group == group and r.kind == kind), None)

    def count(self, group: str, kind: str, namespace: str | None = None) -> int:
        res = next(r for r in self.resources if (r.group, r.kind) == (group, kind))
        store = self._objects.get((res.group, res.plural), {})
        return sum(1 for ns, _ in store if namespace is None or ns == namespace)

    # -- faults ------------------------------------------------------------------------------------
    def forbid(self, resource: str, namespace: str | None = None, group: str | None = None) -> Fault:
        """403 for every LIST/GET of `resource` (in `namespace`, or everywhere)."""
        return self._fault(Fault(403, resource, group, namespace, times=None))

    def fail(self, resource: str | None, times: int | None = 1, status: int = 500, **kw: Any) -> Fault:
        """`times` answers with `status` (500, 503, 401, ...; None = forever), then normal service."""
        return self._fault(Fault(status, resource, times=times, **kw))

    def throttle(self, resource: str | None, retry_after: int = 1, times: int = 1) -> Fault:
        """429 Too Many Requests with a Retry-After header."""
        return self._fault(Fault(429, resource, times=times, retry_after=retry_after))

    def expire_continue(self, resource: str, times: int = 1) -> Fault:
        """410 Gone (reason Expired) for the next `times` requests that carry a continue token."""
        return self._fault(Fault(410, resource, times=times, on_continue=True))

    def stall(self, resource: str | None, seconds: float, times: int | None = 1, on_continue: bool = True,
              path: str | None = None) -> Fault:
        """Hold the answer for `seconds` (by default in the middle of a paginated list), then answer.

        With `path` (e.g. "/version"), that request is held instead: a server that accepts and hangs."""
        return self._fault(Fault(0, resource, times=times, stall=seconds, on_continue=on_continue, path=path))

    def _fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def write_kubeconfig(self, path: str | Path, context: str = "emulator", token: str | None = None,
                         namespace: str = "default") -> Path:
        """A kubeconfig whose user authenticates with a bearer token (the emulator's unless given)."""
        cluster: dict[str, str] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_certificate).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context, "preferences": {},
            "clusters": [{"name": f"{context}-cluster", "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": f"{context}-cluster",
                                                        "user": f"{context}-user", "namespace": namespace}}],
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- serving (called from handler threads) -----------------------------------------------------
    def _serve(self, method: str, raw_path: str, headers: Any, body: bytes = b"",
               client: str = "127.0.0.1") -> Answer:
        """Answer one request; it is logged on arrival (status 0) and its status filled in when answered."""
        split = urlsplit(raw_path)
        path, query = split.path.rstrip("/") or "/", dict(parse_qsl(split.query, keep_blank_values=True))
        arrived = Request(method, path, query, time.monotonic())
        with self._lock:
            self.requests.append(arrived)
        user = next((u for t, u in self.users.items() if _bearer_is(headers.get("Authorization") or "", t)),
                    None)
        if method != "GET" and not self.writable:
            answer = _status(405, "MethodNotAllowed", f"the emulator is read-only: {method} refused")
        elif user is None:
            answer = _status(401, "Unauthorized", "Unauthorized")
        elif method != "GET":
            answer = self._write_audited(method, raw_path, path, query, headers, body, user, client)
        else:
            self._hold(path)
            answer = self._route(path, query)
        with self._lock:
            for i in range(len(self.requests) - 1, -1, -1):
                if self.requests[i] is arrived:
                    self.requests[i] = replace(arrived, status=answer[0])
                    break
        return answer

    def _write_audited(self, method: str, raw_path: str, path: str, query: dict[str, str], headers: Any,
                       body: bytes, user: dict[str, Any], client: str) -> Answer:
        """A write: served as the (impersonated) user, then logged as an audit Event when a log is kept."""
        received = self.clock()
        impersonated = None
        if headers.get("Impersonate-User"):
            impersonated = {"username": headers["Impersonate-User"],
                            "groups": headers.get_all("Impersonate-Group") or []}
        try:
            ref, answer, request = self._write(method, path, query, headers, body)
        except k8s_writes.Refused as exc:
            ref, answer, request = {}, _status(exc.code, exc.reason, str(exc)), None
        if self.audit is not None and ref:
            verb = {"PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}.get(method, "")
            self.audit.write(verb=verb, uri=raw_path, user=user, impersonated=impersonated, source_ip=client,
                             user_agent=headers.get("User-Agent") or "", object_ref=ref, code=answer[0],
                             received=received, completed=self.clock(), request=request,
                             response=answer[1] if answer[0] < 300 else None)
        return answer

    def _write(self, method: str, path: str, query: dict[str, str], headers: Any,
               body: bytes) -> tuple[dict[str, str], Answer, Any]:
        """PUT or PATCH of a stored object or its status/scale; returns (objectRef, answer, request body)."""
        parts = path.strip("/").split("/")
        core = parts[0] == "api"
        group, version, rest = ("", parts[1], parts[2:]) if core else (parts[1], parts[2], parts[3:])
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        res = next((r for r in self.resources if r.group == group and version in r.versions
                    and r.plural == (rest or [""])[0]), None)
        if res is None or len(rest) not in (2, 3) or (len(rest) == 3 and rest[2] not in ("status", "scale")):
            raise k8s_writes.Refused(404, "NotFound", "the server could not find the requested resource")
        name, sub = rest[1], rest[2] if len(rest) == 3 else ""
        ref = {"resource": res.plural, "namespace": namespace, "name": name, "apiGroup": group,
               "apiVersion": version, **({"subresource": sub} if sub else {})}
        if method not in ("PUT", "PATCH"):
            return ref, _status(405, "MethodNotAllowed", f"the emulator serves no {method}"), None
        content_type = headers.get("Content-Type") or "application/json"
        try:
            request = yaml.safe_load(body) if "yaml" in content_type else json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise k8s_writes.Refused(400, "BadRequest", f"cannot parse the body: {exc}") from None
        with self._lock:
            current = self._objects.get((res.group, res.plural), {}).get((namespace, name))
            if current is None:
                return ref, _status(404, "NotFound", f"{res.plural} \"{name}\" not found"), request
            api_version = f"{group}/{version}" if group else version
            old = {**copy.deepcopy(current), "apiVersion": api_version, "kind": res.kind}
            view = _scale_of(old) if sub == "scale" else old
            if method == "PUT":
                given_rv = ((request or {}).get("metadata") or {}).get("resourceVersion")
                if given_rv and given_rv != current["metadata"].get("resourceVersion"):
                    return ref, _status(409, "Conflict", "the object has been modified"), request
                changed, operation = request, "Update"
            else:
                changed, operation = k8s_writes.patched(view, content_type, body)
            new = self._updated(old, changed, sub)
            manager = query.get("fieldManager") or k8s_writes.manager_of(headers.get("User-Agent") or "")
            k8s_writes.record_managers(old, new, manager, operation, sub,
                                       k8s_writes.rfc3339(self.clock(), micro=False),
                                       applied=changed if operation == "Apply" else None)
            if "dryRun" not in query:
                self._resource_version += 1
                new["metadata"]["resourceVersion"] = str(self._resource_version)
                self._objects[(res.group, res.plural)][(namespace, name)] = {
                    k: v for k, v in new.items() if k not in ("apiVersion", "kind")}
        return ref, (200, _scale_of(new) if sub == "scale" else new, {}), request

    @staticmethod
    def _updated(old: dict[str, Any], changed: Any, sub: str) -> dict[str, Any]:
        """The stored object after a write of the object, its status or its scale."""
        new = copy.deepcopy(old)
        changed = changed if isinstance(changed, dict) else {}
        if sub == "scale":
            new.setdefault("spec", {})["replicas"] = (changed.get("spec") or {}).get("replicas")
        elif sub == "status":
            new["status"] = changed.get("status")
        else:
            keep = {k: old["metadata"][k] for k in ("uid", "creationTimestamp", "name", "namespace")
                    if k in old["metadata"]}
            new = {**copy.deepcopy(changed), "apiVersion": old["apiVersion"], "kind": old["kind"]}
            new["metadata"] = {**(new.get("metadata") or {}), **keep}
            new.pop("status", None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
        return new

    def _route(self, path: str, query: dict[str, str]) -> Answer:
        if path == "/version":
            major, minor = self.git_version.lstrip("v").split(".")[:2]
            return 200, {"major": major, "minor": minor, "gitVersion": self.git_version,
                         "platform": "linux/amd64"}, {}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}, {}
        if path == "/apis":
            return 200, self._group_list(), {}
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        served = [r for r in self.resources if r.group == group and version in r.versions]
        if not served:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return 200, self._resource_list(group, version, served), {}
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = next((r for r in served if r.plural == rest[0]), None)
        if res is None or len(rest) > 2 or (namespace is not None and not res.namespaced):
            return _status(404, "NotFound", "the server could not find the requested resource")
        fault = self._take_fault(res, namespace, "continue" in query)
        if fault is not None:
            return fault
        api_version = f"{group}/{version}" if group else version
        if len(rest) == 2:
            return self._get(res, api_version, namespace or "", rest[1])
        return self._list(res, api_version, namespace, query)

    def _hold(self, path: str) -> None:
        with self._lock:
            fault = next((f for f in self.faults if f.path == path and (f.times is None or f.hits < f.times)),
                         None)
            if fault is not None:
                fault.hits += 1
        if fault is not None:
            self._stopping.wait(fault.stall)

    def _take_fault(self, res: ApiResource, namespace: str | None,
                    has_continue: bool) -> Answer | None:
        with self._lock:
            fault = next((f for f in self.faults if f.matches(res, namespace, has_continue)), None)
            if fault is None:
                return None
            fault.hits += 1
        if fault.status == 0:
            self._stopping.wait(fault.stall)
            return None
        where = f" in the namespace \"{namespace}\"" if namespace else " at the cluster scope"
        group = f"\"{res.group}\"" if res.group else "\"\""
        if fault.status == 403:
            user = "system:serviceaccount:driftcheck:driftcheck"
            return _status(403, "Forbidden", f"{res.plural} is forbidden: User \"{user}\" cannot list "
                           f"resource \"{res.plural}\" in API group {group}{where}",
                           details={"kind": res.plural, "group": res.group})
        if fault.status == 410:
            return _status(410, "Expired", "The provided continue parameter is too old to display a "
                           "consistent list result. You can start a new list without the continue parameter.")
        if fault.status == 429:
            return _status(429, "TooManyRequests", "Too many requests, please try again later.",
                           headers={"Retry-After": str(fault.retry_after or 1)},
                           details={"retryAfterSeconds": fault.retry_after or 1})
        reasons = {401: "Unauthorized", 500: "InternalError", 504: "Timeout"}
        reason = reasons.get(fault.status, "ServiceUnavailable")
        return _status(fault.status, reason, f"injected failure {fault.hits}")

    def _get(self, res: ApiResource, api_version: str, namespace: str,
             name: str) -> Answer:
        body = self._objects.get((res.group, res.plural), {}).get((namespace, name))
        if body is None:
            return _status(404, "NotFound", f"{res.plural}.{res.group or 'core'} \"{name}\" not found")
        return 200, {**body, "apiVersion": api_version, "kind": res.kind}, {}

    def _list(self, res: ApiResource, api_version: str, namespace: str | None,
              query: dict[str, str]) -> Answer:
        try:
            selector = parse_selector(query.get("labelSelector", ""))
        except ValueError as exc:
            return _status(400, "BadRequest", f"unable to parse requirement: {exc}")
        with self._lock:
            store = self._objects.get((res.group, res.plural), {})
            order = self._order.get((res.group, res.plural))
            if order is None:
                order = self._order[(res.group, res.plural)] = sorted(store)
            matching = [store[key] for key in order if (namespace is None or key[0] == namespace)
                        and selector_matches(selector, (store[key]["metadata"].get("labels") or {}))]
            list_version = str(self._resource_version)
        start, rv = 0, list_version
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                start, rv = int(token["start"]), str(token["rv"])
            except (ValueError, KeyError, TypeError):
                return _status(400, "BadRequest", "continue key is not valid")
        limit = int(query.get("limit") or 0)
        end = start + limit if limit > 0 else len(matching)
        page = matching[start:end]
        meta: dict[str, Any] = {"resourceVersion": rv}
        if end < len(matching):
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": rv, "start": end}).encode()).decode()
            meta["remainingItemCount"] = len(matching) - end
        if self.page_delay:
            self._stopping.wait(self.page_delay)
        items = [{k: v for k, v in body.items() if k not in ("apiVersion", "kind")} for body in page]
        return 200, {"kind": f"{res.kind}List", "apiVersion": api_version, "metadata": meta,
                     "items": items}, {}

    def _group_list(self) -> dict[str, Any]:
        groups: dict[str, list[str]] = {}
        for res in self.resources:
            if res.group:
                versions = groups.setdefault(res.group, [])
                versions.extend(v for v in res.versions if v not in versions)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
            for g, vs in groups.items()]}

    @staticmethod
    def _resource_list(group: str, version: str, served: list[ApiResource]) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for r in served:
            resources.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": ALL_VERBS, **({"shortNames": list(r.short_names)}
                                                                    if r.short_names else {})})
            resources.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def _scale_of(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    replicas = (body.get("spec") or {}).get("replicas")
    return {"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {k: meta[k] for k in ("name", "namespace", "resourceVersion", "uid") if k in meta},
            "spec": {"replicas": replicas},
            "status": {"replicas": (body.get("status") or {}).get("replicas", 0)}}


def _status(code: int, reason: str, message: str, headers: dict[str, str] | None = None,
            details: dict[str, Any] | None = None) -> Answer:
    """A real `Status` error body, as the API server sends it."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return code, body, headers or {}


def _bearer_is(header: str, token: str) -> bool:
    """Scheme in any case, as the API server does (client-go sends `Bearer`, in-cluster config `bearer`)."""
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and value.strip() == token


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that drops the connection or refuses our certificate is a test scenario, not news."""


def _handler_for(emulator: KubernetesEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like a real API server

        def setup(self) -> None:
            super().setup()
            # Go servers disable Nagle; without this every answer waits ~40 ms for a delayed ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request_body = self.rfile.read(length) if length else b""
            code, body, headers = emulator._serve(self.command, self.path, self.headers, request_body,
                                                  self.client_address[0])
            payload = json.dumps(body).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a stalled answer): nothing to do

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `emulator.requests`, not stderr."""

    return Handler


# -- label selectors -------------------------------------------------------------------------------
_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$")


def parse_selector(text: str) -> list[tuple[str, str, frozenset[str]]]:
    """`a=b,c!=d,e in (f,g),h notin (i),j,!k` -> [(key, op, values)] with op in = != in notin exists !."""
    requirements = []
    for part in _split_requirements(text):
        m = _REQUIREMENT.match(part)
        if m is None or (m["neg"] and (m["op"] or m["setop"])):
            raise ValueError(repr(part))
        if m["neg"]:
            requirements.append((m["key"], "!", frozenset()))
        elif m["op"]:
            requirements.append((m["key"], "!=" if m["op"] == "!=" else "=", frozenset([m["value"]])))
        elif m["setop"]:
            values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
            requirements.append((m["key"], m["setop"], values))
        else:
            requirements.append((m["key"], "exists", frozenset()))
    return requirements


def _split_requirements(text: str) -> Iterator[str]:
    depth, current = 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            yield current
            current = ""
        else:
            current += char
    if current.strip():
        yield current


def selector_matches(requirements: list[tuple[str, str, frozenset[str]]], labels: dict[str, str]) -> bool:
    for key, op, values in requirements:
        value = labels.get(key)
        ok = {"=": value in values, "!=": value not in values, "in": value in values,
              "notin": value not in values, "exists": key in labels, "!": key not in labels}[op]
        if not ok:
            return False
    return True


# -- synthetic objects -----------------------------------------------------------------------------
def generate_objects(resources: Iterable[ApiResource], per_type: int,
                     namespaces: Iterable[str] = ("default",)) -> list[dict[str, Any]]:
    """`per_type` small objects of each type, spread over `namespaces` (cluster-scoped ones have none)."""
    spaces = list(namespaces)
    objects = []
    for res in resources:
        api_version = f"{res.group}/{res.versions[0]}" if res.group else res.versions[0]
        for i in range(per_type):
            meta: dict[str, Any] = {"name": f"{res.singular}-{i:05d}",
                                    "labels": {"app": f"app-{i % 7}", "tier": ("web", "db")[i % 2]}}
            if res.namespaced:
                meta["namespace"] = spaces[i % len(spaces)]
            objects.append({"apiVersion": api_version, "kind": res.kind, "metadata": meta,
                            "spec": {"index": i}})
    return objects


def _interrupted(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted, in a process of its own: for benchmarks, or to try `driftcheck snapshot`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig to write")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--load", action="append", default=[], type=Path, help="YAML objects to serve")
    parser.add_argument("--generate", type=int, default=0, help="objects per namespaced default type")
    parser.add_argument("--namespaces", default="default", help="comma-separated, for --generate")
    parser.add_argument("--audit-log", type=Path, default=os.environ.get("K8S_EMULATOR_AUDIT_LOG") or None,
                        help="serve writes and log each as an audit.k8s.io/v1 Event")
    parser.add_argument("--request-log", type=Path, default=None,
                        help="on SIGTERM, write every request served (JSON lines: method, path, query) here")
    args = parser.parse_args(argv)
    # Idle, a server loop that wakes every 20 ms costs 0.6% of a CPU: twenty of them (bench.fleet) would
    # take from the run they serve what a remote API server never does; stopping one waits 0.5 s at most.
    with KubernetesEmulator(tls=args.tls, port=args.port, audit_log=args.audit_log, poll_interval=0.5) as api:
        for path in args.load or [BLOG_SYSTEM_LIVE]:
            api.load_yaml(path)
        api.add(*generate_objects([r for r in api.resources if r.namespaced], args.generate,
                                  args.namespaces.split(",")))
        api.write_kubeconfig(args.kubeconfig)
        print(f"serving {api.url}, kubeconfig {args.kubeconfig}; Ctrl-C stops", flush=True)
        if args.request_log is not None:  # the test or bench that started it counts what it was asked
            signal.signal(signal.SIGTERM, _interrupted)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        if args.request_log is not None:
            args.request_log.write_text("".join(
                json.dumps({"method": r.method, "path": r.path, "query": r.query}) + "\n"
                for r in list(api.requests)))


if __name__ == "__main__":
    main()
