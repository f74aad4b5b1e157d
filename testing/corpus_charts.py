"""The charts the corpus's Helm wrapper apps depend on, built for tests at the versions the corpus pins.

`kube-prometheus-stack` 65.0.0 is shaped like upstream's package: its Chart.yaml declares its subcharts
as version ranges (crds, kube-state-metrics, prometheus-node-exporter, grafana) and the package carries
them vendored under charts/, so Helm builds nothing; templates include CRDs, the operator, Prometheus
and Alertmanager objects, a ServiceMonitor only when the cluster serves monitoring.coreos.com/v1, and
Grafana's Helm test hook. `sealed-secrets` 2.16.2 honours the overrides the corpus's values set.
Neighbouring versions are published too, so a test can tell the pinned version from the newest.

    with chart_repo(tmp) as repo:
        publish_corpus_charts(repo)            # serves both charts' index.yaml and archives
"""

from __future__ import annotations

from pathlib import Path

import yaml

from testing.chart_repo import ChartRepo, package
from testing.sealed_secrets_chart import sealed_secrets_source, write_files

PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
GRAFANA = "https://grafana.github.io/helm-charts"
BITNAMI_LABS = "https://bitnami-labs.github.io/sealed-secrets"
KPS_VERSION = "65.0.0"
# the subcharts a kps 65.0.0 package vendors: (name, range declared, version vendored, repository, condition)
KPS_SUBCHARTS = (
    ("crds", "0.0.0", "0.0.0", "", "crds.enabled"),
    ("kube-state-metrics", "5.25.*", "5.25.1", PROMETHEUS_COMMUNITY, "kubeStateMetrics.enabled"),
    ("prometheus-node-exporter", "4.39.*", "4.39.0", PROMETHEUS_COMMUNITY, "nodeExporter.enabled"),
    ("grafana", "8.5.*", "8.5.2", GRAFANA, "grafana.enabled"))

_HELPERS = """{{- define "kps.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 26 | trimSuffix "-" }}
{{- else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 26 | trimSuffix "-" }}{{ end }}
{{- end }}
{{- define "kps.labels" -}}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.Version | quote }}
app.kubernetes.io/part-of: kube-prometheus-stack
chart: {{ .Chart.Name }}-{{ .Chart.Version }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
release: {{ .Release.Name | quote }}
{{- end }}
"""

_KPS_TEMPLATES = {
    "_helpers.tpl": _HELPERS,
    "prometheus-operator/serviceaccount.yaml": """{{- if .Values.prometheusOperator.enabled }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "kps.fullname" . }}-operator
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kps.labels" . | nindent 4 }}
    app: {{ include "kps.fullname" . }}-operator
{{- end }}
""",
    "prometheus-operator/deployment.yaml": """{{- if .Values.prometheusOperator.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "kps.fullname" . }}-operator
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kps.labels" . | nindent 4 }}
    app: {{ include "kps.fullname" . }}-operator
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {{ include "kps.fullname" . }}-operator
      release: {{ .Release.Name | quote }}
  template:
    metadata:
      labels:
        {{- include "kps.labels" . | nindent 8 }}
        app: {{ include "kps.fullname" . }}-operator
    spec:
      serviceAccountName: {{ include "kps.fullname" . }}-operator
      containers:
        - name: kube-prometheus-stack
          image: "quay.io/prometheus-operator/prometheus-operator:v0.77.1"
          args:
            - --kubelet-service=kube-system/{{ include "kps.fullname" . }}-kubelet
            - --config-reloader-image=quay.io/prometheus-operator/prometheus-config-reloader:v0.77.1
          {{- if not .Values.prometheusOperator.admissionWebhooks.enabled }}
            - --web.enable-tls=false
          {{- end }}
          ports:
            - containerPort: 8080
              name: http
{{- end }}
""",
    "prometheus-operator/service.yaml": """{{- if .Values.prometheusOperator.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "kps.fullname" . }}-operator
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kps.labels" . | nindent 4 }}
    app: {{ include "kps.fullname" . }}-operator
spec:
  ports:
    - name: http
      port: 8080
      targetPort: http
  selector:
    app: {{ include "kps.fullname" . }}-operator
    release: {{ .Release.Name | quote }}
{{- end }}
""",
    "prometheus-operator/servicemonitor.yaml":
        """{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "kps.fullname" . }}-operator
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kps.labels" . | nindent 4 }}
    app: {{ include "kps.fullname" . }}-operator
spec:
  endpoints:
    - port: http
      honorLabels: true
  selector:
    matchLabels:
      app: {{ include "kps.fullname" . }}-operator
      release: {{ .Release.Name | quote }}
{{- end }}
""",
    "prometheus-operator/admission-webhooks/job-createSecret.yaml":
        """{{- if .Values.prometheusOperator.admissionWebhooks.enabled }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "kps.fullname" . }}-admission-create
  namespace: {{ .Release.Namespace }}
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
    "helm.sh/hook-delete-policy": before-hook-creation,hook-succeeded
spec:
  template:
    spec:
      restartPolicy: OnFailure
      containers:
        - name: create
          image: registry.k8s.io/ingress-nginx/kube-webhook-certgen:v20221220-controller-v1.5.1-58-g787ea74b6
{{- end }}
""",
    "prometheus/prometheus.yaml": """{{- if .Values.prometheus.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: {{ include "kps.fullname" . }}-prometheus
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kps.labels" . | nindent 4 }}
    app: {{ include "kps.fullname" . }}-prometheus
spec:
  image: "quay.io/prometheus/prometheus:v2.54.1"
  version: v2.54.1
  retention: {{ .Values.prometheus.prometheusSpec.retention | quote }}
  {{- with .Values.prometheus.prometheusSpec.serviceMonitorSelector }}
  serviceMonitorSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.prometheus.prometheusSpec.ruleSelector }}
  ruleSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.prometheus.prometheusSpec.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.prometheus.prometheusSpec.storageSpec }}
  storage:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
""",
    "alertmanager/alertmanager.yaml": """{{- if .Values.alertmanager.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata:
  name: {{ include "kps.fullname" . }}-alertmanager
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "kps.labels" . | nindent 4 }}
    app: {{ include "kps.fullname" . }}-alertmanager
spec:
  image: "quay.io/prometheus/alertmanager:v0.27.0"
  replicas: 1
  {{- with .Values.alertmanager.alertmanagerSpec.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
""",
}

_KPS_VALUES = """crds:
  enabled: true
prometheusOperator:
  enabled: true
  admissionWebhooks:
    enabled: true
prometheus:
  enabled: true
  prometheusSpec:
    retention: 10d
alertmanager:
  enabled: true
  alertmanagerSpec: {}
kubeStateMetrics:
  enabled: true
nodeExporter:
  enabled: true
grafana:
  enabled: true
"""

_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.monitoring.coreos.com
  annotations:
    controller-gen.kubebuilder.io/version: v0.16.1
    operator.prometheus.io/version: 0.77.1
spec:
  group: monitoring.coreos.com
  names:
    kind: {kind}
    listKind: {kind}List
    plural: {plural}
    singular: {singular}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def _subchart_templates(name: str) -> dict[str, str]:
    """A few objects each vendored subchart renders, named as its upstream chart names them."""
    full = f'{{{{ printf "%s-%s" .Release.Name "{name}" | trunc 63 }}}}'
    labels = (f"    app.kubernetes.io/name: {name}\n"
              "    app.kubernetes.io/instance: {{ .Release.Name }}\n"
              "    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}\n"
              "    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}\n")
    workload = "DaemonSet" if name == "prometheus-node-exporter" else "Deployment"
    templates = {
        "serviceaccount.yaml": f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {full}\n"
                               f"  namespace: {{{{ .Release.Namespace }}}}\n  labels:\n{labels}",
        "workload.yaml": f"apiVersion: apps/v1\nkind: {workload}\nmetadata:\n  name: {full}\n"
                         f"  namespace: {{{{ .Release.Namespace }}}}\n  labels:\n{labels}"
                         f"spec:\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n"
                         f"  template:\n    metadata:\n      labels:\n"
                         f"        app.kubernetes.io/name: {name}\n"
                         f"    spec:\n      serviceAccountName: {full}\n      containers:\n"
                         f"        - name: {name}\n          image: {{{{ .Values.image | quote }}}}\n",
    }
    if name == "grafana":  # Grafana's admin Secret and its Helm test Pod (a hook ArgoCD never applies)
        templates["secret.yaml"] = (
            f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {full}\n"
            "  namespace: {{ .Release.Namespace }}\n"
            f"  labels:\n{labels}type: Opaque\ndata:\n"
            "  admin-user: {{ .Values.adminUser | b64enc | quote }}\n"
            "  admin-password: {{ .Values.adminPassword | b64enc | quote }}\n")
        templates["tests/test.yaml"] = (
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {full}-test\n"
            "  namespace: {{ .Release.Namespace }}\n  annotations:\n    \"helm.sh/hook\": test\n"
            "    \"helm.sh/hook-delete-policy\": \"before-hook-creation,hook-succeeded\"\nspec:\n"
            "  restartPolicy: Never\n  containers:\n    - name: grafana-test\n"
            "      image: docker.io/bats/bats:v1.4.1\n")
    return templates


_IMAGES = {"kube-state-metrics": "registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0",
           "prometheus-node-exporter": "quay.io/prometheus/node-exporter:v1.8.2",
           "grafana": "docker.io/grafana/grafana:11.2.1"}


def kps_source(workdir: Path, version: str = KPS_VERSION) -> Path:
    """The source directory of a kube-prometheus-stack chart as its maintainers package it."""
    src = workdir / f"kps-{version}" / "kube-prometheus-stack"
    dependencies = [{"name": n, "version": want, "repository": repo, "condition": cond}
                    for n, want, _, repo, cond in KPS_SUBCHARTS]
    chart = {"apiVersion": "v2", "name": "kube-prometheus-stack", "version": version,
             "appVersion": "v0.77.1", "kubeVersion": ">=1.19.0-0", "type": "application",
             "description": "kube-prometheus-stack collects Kubernetes manifests, Grafana dashboards, and "
                            "Prometheus rules", "dependencies": dependencies}
    write_files(src, {"Chart.yaml": yaml.safe_dump(chart, sort_keys=False), "values.yaml": _KPS_VALUES,
                 **{f"templates/{k}": v for k, v in _KPS_TEMPLATES.items()}})
    for name, _, vendored, _, _ in KPS_SUBCHARTS:
        sub = src / "charts" / name
        meta = {"apiVersion": "v2", "name": name, "version": vendored,
                "appVersion": _IMAGES.get(name, "v0.77.1").rpartition(":")[2]}
        if name == "crds":  # CRDs only, under crds/ (what skipCrds leaves out)
            write_files(sub, {"Chart.yaml": yaml.safe_dump(meta), "values.yaml": "{}\n", **{
                f"crds/crd-{plural}.yaml": _CRD.format(plural=plural, kind=kind, singular=kind.lower())
                for plural, kind in (("servicemonitors", "ServiceMonitor"), ("prometheuses", "Prometheus"),
                                     ("prometheusrules", "PrometheusRule"),
                                     ("alertmanagers", "Alertmanager"))}})
            continue
        values = f"image: {_IMAGES[name]}\n" + ("adminUser: admin\nadminPassword: strongpassword\n"
                                                 if name == "grafana" else "")
        write_files(sub, {"Chart.yaml": yaml.safe_dump(meta), "values.yaml": values,
                     **{f"templates/{k}": v for k, v in _subchart_templates(name).items()}})
    return src


def publish_corpus_charts(repo: ChartRepo, *, neighbours: bool = True) -> dict[str, Path]:
    """Package both charts (and, with neighbours, a version either side of each pin) into repo, index
    it once; the archive of each pinned chart by name."""
    sources = repo.directory.parent / "corpus-chart-sources"
    archives = {"kube-prometheus-stack": package(kps_source(sources), repo.directory),
                "sealed-secrets": package(sealed_secrets_source(sources), repo.directory)}
    if neighbours:
        for version in ("64.0.0", "65.1.0"):
            package(kps_source(sources, version), repo.directory)
        for version in ("2.16.1", "2.17.0"):
            package(sealed_secrets_source(sources, version), repo.directory)
    repo.index()
    return archives
