"""A SOPS-encrypted Secret in Git (issue 15: "compared by key only, with the reason"): driftcheck never
decrypts, so its keys are compared and its values are not, and the build and the verdict say why."""

from __future__ import annotations

from typing import Any

from driftcheck.compare import CompareOptions, compare_app, load_rules
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.sources import SourceTrees
from driftcheck.fetch.tree import CommitTree
from driftcheck.flux.graph import build_graph
from driftcheck.model import LiveState
from testing.compare_helpers import res

KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  decryption:
    provider: sops
  path: ./apps
  sourceRef:
    kind: GitRepository
    name: flux-system
"""

ENCRYPTED = """\
apiVersion: v1
kind: Secret
metadata:
  name: cluster-secrets
  namespace: flux-system
stringData:
  SECRET_DOMAIN: ENC[AES256_GCM,data:cGxhbnRlZA==,iv:aXY=,tag:dGFn,type:str]
data:
  token: ENC[AES256_GCM,data:dG9rZW4=,iv:aXY=,tag:dGFn,type:str]
sops:
  age:
    - recipient: age1example
      enc: ENCRYPTED-DATA-KEY
  lastmodified: "2024-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  version: 3.8.1
"""


def test_a_sops_secret_is_compared_by_its_keys_with_the_reason(git_repo: Any) -> None:
    git_repo.commit({"clusters/dev/apps.yaml": KS, "apps/secret.sops.yaml": ENCRYPTED}, "flux")
    repo = open_repo(str(git_repo.path))
    tree = CommitTree(repo, resolve_commit(repo, None, None))
    graph = build_graph(SourceTrees(tree), "clusters/dev", set())
    rendered = graph.rendered["flux-system/apps"]
    [warning] = rendered.errors
    assert warning.severity == "warning"
    assert "SOPS-encrypted in Git, not decrypted by driftcheck: Secret/cluster-secrets " \
           "(apps/secret.sops.yaml:1)" in warning.message
    [secret] = rendered.resources
    assert "sops" not in secret.body and "ENC[" not in str(secret.body)
    assert sorted(secret.body["stringData"]) == ["SECRET_DOMAIN", "token"]

    app = next(a for a in graph.apps if a.name == "flux-system/apps")
    rules, _ = load_rules([], [], [])

    def verdict(data: dict[str, str]) -> Any:
        live = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "cluster-secrets", "namespace": "flux-system",
                             "labels": secret.body["metadata"]["labels"]}, "data": data}
        [result] = compare_app(app, [secret], LiveState([res(live, "cluster")]), rules, CompareOptions())
        return result

    same_keys = verdict({"SECRET_DOMAIN": "ZXhhbXBsZS5jb20=", "token": "czNjcjN0"})
    assert (same_keys.status, same_keys.diffs) == ("in-sync", [])
    assert "SOPS-encrypted in Git (driftcheck does not decrypt): keys compared, values not" in \
        same_keys.reason
    one_missing = verdict({"SECRET_DOMAIN": "ZXhhbXBsZS5jb20="})
    assert one_missing.status == "drifted" and [d.path for d in one_missing.diffs] == ["/data/token"]
