"""A synthetic GitOps repository of N objects over 15 kinds: one ArgoCD Application per team namespace.

Each "unit" is the 15 objects a small service ships (an api Deployment with Service, HPA, PDB, ConfigMap,
Secret, ServiceAccount, RoleBinding, NetworkPolicy and Ingress; a canary web Rollout with Istio
DestinationRule and VirtualService; a cache StatefulSet; a report CronJob), one file per object in plain
YAML directories (ArgoCD `directory.recurse`), about 250 objects per app.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from bench.fastimport import Commit, fast_import

REPO_URL = "https://git.example.com/platform/bench-gitops.git"
OBJECTS_PER_APP = 250
COMMIT_DATE = datetime.fromisoformat("2026-01-20T09:00:00+09:00")

Body = dict[str, Any]


def _meta(name: str, app: str, component: str) -> Body:
    return {
        "name": name,
        "labels": {"app": component, "tier": "backend"},
        "annotations": {"team.example.com/owner": app},
    }


def _pod(component: str, unit: int, image: str, port: int, restart: str = "") -> Body:
    pod = {
        "metadata": {"labels": {"app": component}},
        "spec": {
            "serviceAccountName": component,
            "containers": [
                {
                    "name": component.split("-")[0],
                    "image": f"{image}:1.{unit % 40}.{unit % 7}",
                    "ports": [{"name": "http", "containerPort": port}],
                    "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "UNIT", "value": str(unit)}],
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                }
            ],
        },
    }
    if restart:
        pod["spec"]["restartPolicy"] = restart
    return pod


def unit_objects(app: str, unit: int) -> list[Body]:
    """The 15 objects of one unit, in a fixed order."""
    api, web, cache, report = f"api-{unit}", f"web-{unit}", f"cache-{unit}", f"report-{unit}"
    selector = {"matchLabels": {"app": api}}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(api, app, api),
            "spec": {"selector": selector, "template": _pod(api, unit, "ghcr.io/example/api", 8080)},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(api, app, api),
            "spec": {"selector": {"app": api}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": _meta(api, app, api),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": api},
                "minReplicas": 2,
                "maxReplicas": 8,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(api, app, api),
            "spec": {"minAvailable": 1, "selector": selector},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(f"{api}-config", app, api),
            "data": {"log_level": "info", "upstream": f"http://{cache}:6379", "features": "a,b,c"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta(f"{api}-credentials", app, api),
            "type": "Opaque",
            "stringData": {"password": f"bench-secret-{unit}"},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(api, app, api)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(api, app, api),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": api, "namespace": app}],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": _meta(api, app, api),
            "spec": {
                "podSelector": selector,
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app": web}}}],
                        "ports": [{"port": 8080, "protocol": "TCP"}],
                    }
                ],
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": _meta(api, app, api),
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": f"{api}.{app}.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": api, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": _meta(web, app, web),
            "spec": {
                "replicas": 2,
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": {"app": web}},
                "strategy": {
                    "canary": {
                        "trafficRouting": {
                            "istio": {
                                "virtualService": {"name": web, "routes": ["primary"]},
                                "destinationRule": {
                                    "name": web,
                                    "canarySubsetName": "canary",
                                    "stableSubsetName": "stable",
                                },
                            }
                        },
                        "steps": [{"setWeight": 20}, {"pause": {"duration": "30s"}}, {"setWeight": 100}],
                    }
                },
                "template": _pod(web, unit, "ghcr.io/example/web", 80),
            },
        },
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "DestinationRule",
            "metadata": _meta(web, app, web),
            "spec": {
                "host": web,
                "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
                "subsets": [{"name": "stable", "labels": {}}, {"name": "canary", "labels": {}}],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": _meta(web, app, web),
            "spec": {
                "hosts": [web],
                "http": [
                    {
                        "name": "primary",
                        "timeout": "10s",
                        "route": [
                            {"destination": {"host": web, "subset": "stable"}, "weight": 100},
                            {"destination": {"host": web, "subset": "canary"}, "weight": 0},
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _meta(cache, app, cache),
            "spec": {
                "replicas": 1,
                "serviceName": cache,
                "selector": {"matchLabels": {"app": cache}},
                "template": _pod(cache, unit, "redis", 6379),
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _meta(report, app, report),
            "spec": {
                "schedule": f"{unit % 60} 3 * * *",
                "jobTemplate": {
                    "spec": {"template": _pod(report, unit, "ghcr.io/example/report", 9000, "OnFailure")}
                },
            },
        },
    ]


def desired_by_app(n: int) -> dict[str, list[Body]]:
    """N objects, grouped into apps (= namespaces) of about OBJECTS_PER_APP objects."""
    out: dict[str, list[Body]] = {}
    unit = 0
    while sum(len(v) for v in out.values()) < n:
        app = f"team-{unit * 15 // OBJECTS_PER_APP:03d}"
        room = n - sum(len(v) for v in out.values())
        out.setdefault(app, []).extend(unit_objects(app, unit)[:room])
        unit += 1
    return out


def application(app: str) -> Body:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {
                "repoURL": REPO_URL,
                "targetRevision": "main",
                "path": f"apps/{app}",
                "directory": {"recurse": True},
            },
            "destination": {"server": "https://kubernetes.default.svc", "namespace": app},
            "ignoreDifferences": [
                {
                    "group": "networking.istio.io",
                    "kind": "DestinationRule",
                    "jsonPointers": ["/spec/subsets/0/labels", "/spec/subsets/1/labels"],
                }
            ],
        },
    }


def _dump(body: Body) -> str:
    return yaml.dump(body, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)


def repo_files(apps: dict[str, list[Body]]) -> dict[str, str]:
    """Repository path -> file text: the Applications and one file per object."""
    files = {f"argocd/{app}.yaml": _dump(application(app)) for app in apps}
    for app, bodies in apps.items():
        for body in bodies:
            meta = body["metadata"]
            files[f"apps/{app}/{meta['labels']['app']}/{body['kind'].lower()}-{meta['name']}.yaml"] = _dump(
                body
            )
    return files


def write_repo(
    dest: Path, apps: dict[str, list[Body]], author: str = "Platform Bot <bot@example.com>"
) -> Path:
    """The repository as one commit (the history benchmark has its own repository)."""
    fast_import(dest, [Commit(author, COMMIT_DATE, "feat: bench apps", repo_files(apps))])
    return dest
