"""`driftcheck apps` over a real Git repository: ApplicationSets (clusters from cluster Secrets in Git,
git directories of this repository, goTemplate through the Helm SDK) expanded into the apps a run
checks, with where each came from; a broken ApplicationSet named with its file, the others still listed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from driftcheck.cli import main

URL = "https://github.com/org/gitops.git"
CLUSTERS = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: guestbook, namespace: argocd}
spec:
  generators:
    - clusters:
        selector: {matchLabels: {env: prod}}
  template:
    metadata: {name: '{{nameNormalized}}-guestbook'}
    spec:
      project: default
      source: {repoURL: REPO_URL, path: apps/guestbook, targetRevision: HEAD}
      destination: {server: '{{server}}', namespace: '{{metadata.labels.env}}'}
---
apiVersion: v1
kind: Secret
metadata:
  name: prod-eu
  labels: {argocd.argoproj.io/secret-type: cluster, env: prod}
stringData: {name: Prod_EU, server: https://prod-eu.example.com:6443}
""".replace("REPO_URL", URL)
DIRS = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: addons, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
    - git:
        repoURL: REPO_URL
        revision: HEAD
        directories: [{path: 'addons/*'}, {path: addons/skip, exclude: true}]
  template:
    metadata: {name: '{{ .path.basename | upper | lower }}-addon'}
    spec:
      project: default
      source: {repoURL: REPO_URL, path: '{{ .path.path }}', targetRevision: HEAD}
      destination: {server: https://kubernetes.default.svc, namespace: '{{ index .path.segments 1 }}'}
""".replace("REPO_URL", URL)
BROKEN = """\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: broken, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators: [{list: {elements: [{a: b}]}}]
  template:
    metadata: {name: '{{ .nope }}'}
    spec: {project: default, source: {repoURL: REPO_URL, path: x}, destination: {namespace: x}}
""".replace("REPO_URL", URL)
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"


def test_apps_lists_generated_applications(git_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    git_repo.commit({"argocd/clusters.yaml": CLUSTERS, "argocd/dirs.yaml": DIRS, "argocd/broken.yaml": BROKEN,
                     "apps/guestbook/cm.yaml": CM, "addons/metrics/cm.yaml": CM, "addons/dns/cm.yaml": CM,
                     "addons/skip/cm.yaml": CM}, "appsets")
    result = CliRunner().invoke(main, ["apps", "--repo", str(git_repo.path), "--repo-url", URL,
                                       "--argocd-apps", "argocd/*.yaml", "-o", "json"])
    out = json.loads(result.stdout[result.stdout.index("{"):])
    by_name = {a["name"]: a for a in out["apps"]}
    # the selector picks prod-eu only (no implicit in-cluster); addons/skip is excluded
    assert set(by_name) == {"prod-eu-guestbook", "dns-addon", "metrics-addon"}
    guestbook = by_name["prod-eu-guestbook"]
    assert guestbook["declared"] == "argocd/clusters.yaml:1"
    assert guestbook["generator"] == "ApplicationSet guestbook, generator 0 (clusters), element 0"
    assert guestbook["destination"]["namespace"] == "prod"
    assert by_name["metrics-addon"]["sources"] == [{"repo": "(this repository)", "path": "addons/metrics",
                                                    "revision": "(the run's commit)"}]
    assert by_name["dns-addon"]["destination"]["namespace"] == "dns"
    assert "argocd/broken.yaml:1" in result.stderr and "ApplicationSet broken" in result.stderr
    assert 'no entry for key "nope"' in result.stderr
    assert result.exit_code == 2  # the broken ApplicationSet is an error; the others are still listed

    table = CliRunner().invoke(main, ["apps", "--repo", str(git_repo.path), "--repo-url", URL,
                                      "--argocd-apps", "argocd/*.yaml"])
    assert "prod-eu-guestbook  argocd/clusters.yaml:1 (ApplicationSet guestbook" in table.stdout
