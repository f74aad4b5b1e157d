"""The sealed-secrets chart as bitnami-labs packages it, at the corpus's pin (2.16.2) or another version:
a controller Deployment, Service, ServiceAccount, ClusterRole and the SealedSecret CRD, honouring the
overrides the corpus's values set (fullnameOverride, namespaceOverride, clusterRoleName, commandArgs)."""

from __future__ import annotations

from pathlib import Path

import yaml

SEALED_SECRETS_VERSION = "2.16.2"

_SEALED_HELPERS = """{{- define "sealed-secrets.fullname" -}}
{{- .Values.fullnameOverride | default (printf "%s-%s" .Release.Name .Chart.Name) | trunc 63 -}}
{{- end }}
{{- define "sealed-secrets.namespace" -}}
{{- .Values.namespaceOverride | default .Release.Namespace -}}
{{- end }}
{{- define "sealed-secrets.labels" -}}
app.kubernetes.io/name: sealed-secrets
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
"""

_SEALED_TEMPLATES = {
    "_helpers.tpl": _SEALED_HELPERS,
    "deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "sealed-secrets.fullname" . }}
  namespace: {{ include "sealed-secrets.namespace" . }}
  labels:
    {{- include "sealed-secrets.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: sealed-secrets
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: sealed-secrets
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      serviceAccountName: {{ .Values.serviceAccount.name | default (include "sealed-secrets.fullname" .) }}
      containers:
        - name: controller
          image: docker.io/bitnami/sealed-secrets-controller:{{ .Chart.AppVersion }}
          command: [controller]
          args:
            {{- toYaml .Values.commandArgs | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
""",
    "service.yaml": """apiVersion: v1
kind: Service
metadata:
  name: {{ include "sealed-secrets.fullname" . }}
  namespace: {{ include "sealed-secrets.namespace" . }}
  labels:
    {{- include "sealed-secrets.labels" . | nindent 4 }}
spec:
  ports:
    - name: http
      port: 8080
  selector:
    app.kubernetes.io/name: sealed-secrets
""",
    "serviceaccount.yaml": """{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Values.serviceAccount.name | default (include "sealed-secrets.fullname" .) }}
  namespace: {{ include "sealed-secrets.namespace" . }}
  labels:
    {{- include "sealed-secrets.labels" . | nindent 4 }}
{{- end }}
""",
    "cluster-role.yaml": """{{- if and .Values.rbac.create .Values.rbac.clusterRole }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Values.rbac.clusterRoleName }}
  labels:
    {{- include "sealed-secrets.labels" . | nindent 4 }}
rules:
  - apiGroups: [bitnami.com]
    resources: [sealedsecrets]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get, list, create, update, delete, watch]
{{- end }}
""",
    "servicemonitor.yaml": """{{- if .Values.metrics.serviceMonitor.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "sealed-secrets.fullname" . }}
  namespace: {{ include "sealed-secrets.namespace" . }}
spec:
  endpoints:
    - port: http
  selector:
    matchLabels:
      app.kubernetes.io/name: sealed-secrets
{{- end }}
""",
}

_SEALED_VALUES = """fullnameOverride: ""
namespaceOverride: ""
commandArgs: []
resources: {}
rbac:
  create: true
  clusterRole: true
  clusterRoleName: secrets-unsealer
serviceAccount:
  create: true
  name: ""
metrics:
  serviceMonitor:
    enabled: false
"""

_SEALED_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sealedsecrets.bitnami.com
spec:
  group: bitnami.com
  names:
    kind: SealedSecret
    listKind: SealedSecretList
    plural: sealedsecrets
    singular: sealedsecret
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def sealed_secrets_source(workdir: Path, version: str = SEALED_SECRETS_VERSION) -> Path:
    """The source directory of a sealed-secrets chart as bitnami-labs packages it."""
    src = workdir / f"sealed-secrets-{version}" / "sealed-secrets"
    chart = {"apiVersion": "v2", "name": "sealed-secrets", "version": version, "appVersion": "0.27.2",
             "kubeVersion": ">=1.16.0-0", "type": "application",
             "description": "Helm chart for the sealed-secrets controller."}
    write_files(src, {"Chart.yaml": yaml.safe_dump(chart, sort_keys=False), "values.yaml": _SEALED_VALUES,
                 "crds/bitnami.com_sealedsecrets.yaml": _SEALED_CRD,
                 **{f"templates/{k}": v for k, v in _SEALED_TEMPLATES.items()}})
    return src


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
