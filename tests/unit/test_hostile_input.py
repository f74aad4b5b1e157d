"""Hostile and broken repositories: each input is committed to a real Git repository and rendered the way
a run renders it. Nothing may crash, hang, read outside the repository, or silently lose objects; every
refusal is a RunError that names the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from driftcheck.apps import path_app
from driftcheck.apps.argocd import apps_from_argocd
from driftcheck.fetch.git import open_repo, resolve_commit
from driftcheck.fetch.tree import CommitTree
from driftcheck.model import RunError
from driftcheck.render import Rendered, render_app
from driftcheck.render.yaml import load_manifests

if TYPE_CHECKING:
    from conftest import GitRepoBuilder

GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\ndata:\n  a: '1'\n"
BILLION_LAUGHS = """apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def render(repo: GitRepoBuilder, path: str = "app", namespace: str = "web") -> Rendered:
    """Render path at the repository's HEAD as a run would, in a bounded time (it must not hang)."""
    grepo = open_repo(str(repo.path))
    tree = CommitTree(grepo, resolve_commit(grepo))
    started = time.monotonic()
    out = render_app(tree, path_app("web", path, namespace), timeout=60)
    assert time.monotonic() - started < 90, "render took too long"
    return out


def names(out: Rendered) -> list[str]:
    return sorted(r.key.name for r in out.resources)


def error_for(out: Rendered, file: str) -> RunError:
    found = [e for e in out.errors if e.file == file]
    assert found, f"no error names {file}: {[str(e) for e in out.errors]}"
    assert all(e.app == "web" for e in found)
    return found[0]


def test_billion_laughs_is_refused_and_the_rest_still_loads(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/bomb.yaml": BILLION_LAUGHS, "app/good.yaml": GOOD}, "hostile")
    out = render(git_repo)
    assert names(out) == ["good"]
    assert "alias" in error_for(out, "app/bomb.yaml").message


def test_50_megabyte_manifest_loads_whole_within_bounds(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    """A big but legitimate file (10,000 ConfigMaps, 50 MB): every object, bounded time and memory
    (measured in a child process so the figure is the loader's own)."""
    blob = "x" * 5000
    docs = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  blob: {blob}\n"
                   for i in range(10_000))
    assert len(docs) > 50_000_000
    git_repo.commit({"app/big.yaml": docs}, "big")
    out = render(git_repo)
    assert len(out.resources) == 10_000 and not out.errors
    assert out.resources[-1].origin.line == docs.count("\n") - 5
    probe = ("import resource, sys\nfrom driftcheck.render.yaml import load_manifests\n"
             "m, e = load_manifests(open(sys.argv[1], 'rb').read(), 'big.yaml')\n"
             "assert len(m) == 10000 and not e\n"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    started = time.monotonic()
    peak_kib = int(subprocess.run([sys.executable, "-c", probe, str(git_repo.path / "app/big.yaml")],
                                  check=True, capture_output=True, text=True, timeout=120).stdout)
    assert time.monotonic() - started < 60
    assert peak_kib < 1_500_000, f"peak memory {peak_kib} KiB for a 50 MB file"


def test_manifest_over_the_size_limit_is_refused_by_name() -> None:
    data = b"# padding\n" * 7_000_000  # 70 MB
    manifests, errors = load_manifests(data, "apps/huge.yaml")
    assert manifests == []
    [error] = errors
    assert error.file == "apps/huge.yaml" and "larger than" in error.message


@pytest.mark.parametrize("style", ["flow", "block", "json"])
def test_documents_nested_10000_deep_are_refused_without_crashing(git_repo: GitRepoBuilder,
                                                                  style: str) -> None:
    depth = 10_000
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:"
    if style == "flow":
        text = f"{head} " + "[" * depth + "]" * depth + "\n"
    elif style == "block":
        text = f"{head}\n" + "".join(
            " " * (i + 1) + "k:\n" for i in range(depth))
    else:
        text = '{"apiVersion": "v1", "kind": "ConfigMap", "data": ' + "[" * depth + "]" * depth + "}"
    file = f"app/deep.{'json' if style == 'json' else 'yaml'}"
    git_repo.commit({file: text, "app/good.yaml": GOOD}, "deep")
    out = render(git_repo)
    assert names(out) == ["good"]
    assert "nested" in error_for(out, file).message


def test_non_utf8_bytes_are_reported_by_file(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/good.yaml": GOOD}, "good")
    (git_repo.path / "app/latin1.yaml").write_bytes(
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n")
    (git_repo.path / "app/binary.json").write_bytes(b'{"kind": "\xff\xfe"}')
    git_repo.commit({}, "bytes")
    out = render(git_repo)
    assert names(out) == ["good"]
    assert "UTF-8" in error_for(out, "app/latin1.yaml").message
    assert "UTF-8" in error_for(out, "app/binary.json").message


def commit_symlinks(repo: GitRepoBuilder, links: dict[str, str], files: dict[str, str]) -> None:
    repo.commit(files, "files")
    for link, target in links.items():
        (repo.path / link).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, repo.path / link)
    repo.commit({}, "symlinks")


@pytest.fixture
def outside_secret(tmp_path: Path) -> Path:
    """A file outside the repository that a hostile symlink wants to read."""
    secret = tmp_path / "outside" / "stolen.yaml"
    secret.parent.mkdir()
    secret.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\n"
                      "data: {k: OUTSIDE-SECRET}\n")
    return secret


def assert_never_read(out: Rendered) -> None:
    assert "stolen" not in names(out)
    assert not any("OUTSIDE-SECRET" in str(r.body) for r in out.resources)


def test_directory_app_symlinks_outside_the_repository_are_reported_not_followed(
        git_repo: GitRepoBuilder, outside_secret: Path) -> None:
    links = {"app/abs.yaml": str(outside_secret), "app/rel.yaml": "../../outside/stolen.yaml"}
    commit_symlinks(git_repo, links, {"app/good.yaml": GOOD})
    out = render(git_repo)
    assert_never_read(out)
    assert names(out) == ["good"]
    for file in ("app/abs.yaml", "app/rel.yaml"):
        assert "symlink" in error_for(out, file).message


def test_directory_app_symlink_to_a_file_inside_the_repository_is_read(git_repo: GitRepoBuilder) -> None:
    """As ArgoCD does: a link that stays inside the repository is followed, to a regular file only."""
    commit_symlinks(git_repo, {"app/shared.yaml": "../common/shared.yaml", "app/loop.yaml": "loop.yaml",
                               "app/dir.yaml": "../common"},
                    {"common/shared.yaml": GOOD.replace("good", "shared")})
    out = render(git_repo)
    assert names(out) == ["shared"]
    assert out.resources[0].origin.file == "common/shared.yaml"
    assert "symlink" in error_for(out, "app/loop.yaml").message
    assert "symlink" in error_for(out, "app/dir.yaml").message


def test_kustomize_app_symlinks_outside_the_repository_are_reported_not_followed(
        git_repo: GitRepoBuilder, outside_secret: Path) -> None:
    commit_symlinks(git_repo, {"app/stolen.yaml": str(outside_secret)}, {
        "app/kustomization.yaml": "resources: [good.yaml, stolen.yaml]\n", "app/good.yaml": GOOD})
    out = render(git_repo)
    assert_never_read(out)
    assert "symlink" in error_for(out, "app/stolen.yaml").message


@pytest.mark.parametrize("reference", ["resources: [../../outside]", "resources: [/etc]",
                                       "configMapGenerator: [{name: x, files: [/etc/hostname]}]",
                                       "configMapGenerator: [{name: x, files: [../../outside/stolen.yaml]}]"])
def test_kustomization_reaching_outside_the_repository_is_refused(
        git_repo: GitRepoBuilder, outside_secret: Path, reference: str) -> None:
    git_repo.commit({"app/kustomization.yaml": f"{reference}\n", "app/good.yaml": GOOD}, "escape")
    out = render(git_repo)
    assert_never_read(out)
    assert out.resources == []
    assert "outside" in error_for(out, "app/kustomization.yaml").message


def test_kustomize_load_restrictor_holds_inside_the_repository(git_repo: GitRepoBuilder) -> None:
    """A patch file from a sibling directory (not a base) is refused by kustomize's own load restrictor."""
    patch = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\ndata: {a: patched}\n"
    kustomization = "resources: [good.yaml]\npatches: [{path: ../common/patch.yaml}]\n"
    git_repo.commit({"common/patch.yaml": patch, "app/good.yaml": GOOD,
                     "app/kustomization.yaml": kustomization}, "restrictor")
    out = render(git_repo)
    assert out.resources == [], "no half-built app: the app is an error, not a guess"
    assert "is not in or below" in error_for(out, "app/kustomization.yaml").message


CHART = {"chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
         "chart/values.yaml": "replicas: 1\n",
         "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: chart-cm}\n"
                                    "data:\n  parent: {{ .Files.Get \"../values-prod.yaml\" | quote }}\n"
                                    "  abs: {{ .Files.Get \"/etc/hostname\" | quote }}\n"
                                    "  glob: {{ .Files.Glob \"../**\" | len | quote }}\n",
         "values-prod.yaml": "token: OUTSIDE-SECRET\n"}


def test_helm_chart_cannot_read_files_outside_the_chart(git_repo: GitRepoBuilder,
                                                        outside_secret: Path) -> None:
    pytest.importorskip("helm_python", reason="needs the [helm] extra (helm-python-sdk)")
    commit_symlinks(git_repo, {"chart/templates/stolen.yaml": str(outside_secret)}, CHART)
    out = render(git_repo, path="chart")
    assert_never_read(out)
    assert "chart-cm" in names(out), [str(e) for e in out.errors]
    cm = next(r for r in out.resources if r.key.name == "chart-cm")
    assert cm.body["data"] == {"parent": "", "abs": "", "glob": "0"}
    assert "symlink" in error_for(out, "chart/templates/stolen.yaml").message


def test_duplicate_objects_are_reported_not_merged_and_the_last_is_used(git_repo: GitRepoBuilder) -> None:
    twin = GOOD.replace("a: '1'", "a: '2'")
    git_repo.commit({"app/one.yaml": GOOD, "app/two.yaml": twin}, "twins")
    out = render(git_repo)
    [cm] = out.resources  # ArgoCD applies the last one
    assert cm.body["data"] == {"a": "2"} and cm.origin.file == "app/two.yaml"
    error = error_for(out, "app/two.yaml")
    assert "twice" in error.message and "app/one.yaml" in error.message and error.severity == "warning"
    assert error.resource == "ConfigMap/web/good"


def test_duplicate_objects_from_kustomize_are_reported(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/kustomization.yaml": "resources: [one.yaml, sub]\n", "app/one.yaml": GOOD,
                     "app/sub/kustomization.yaml": "resources: [two.yaml]\n",
                     "app/sub/two.yaml": GOOD.replace("a: '1'", "a: '2'")}, "twins")
    out = render(git_repo)
    assert out.resources == []
    assert "already registered id" in error_for(out, "app/kustomization.yaml").message


APPLICATION = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: %s}\n"
SHAPES = {
    "no-spec": {},
    "spec-is-a-list": {"spec": [1, 2]},
    "spec-is-a-string": {"spec": "oops"},
    "source-is-a-list": {"spec": {"source": ["a"]}},
    "path-missing": {"spec": {"source": {"repoURL": "https://git.example.com/r.git"},
                              "destination": {"namespace": "web"}}},
    "path-not-a-string": {"spec": {"source": {"repoURL": "https://git.example.com/r.git", "path": ["x"]}}},
    "destination-a-string": {"spec": {"source": {"repoURL": "https://git.example.com/r.git", "path": "app"},
                                      "destination": "web"}},
    "ignore-not-a-list": {"spec": {"source": {"repoURL": "https://git.example.com/r.git", "path": "app"},
                                   "ignoreDifferences": "all"}},
    "metadata-a-list": {"metadata": ["x"], "spec": {}},
    "valuefiles-mixed": {"spec": {"source": {"repoURL": "https://git.example.com/r.git", "path": "app",
                                             "helm": {"valueFiles": ["a.yaml", 3, None]}}}},
}


def test_applications_with_unexpected_shapes_are_skipped_with_a_reason_or_read_safely() -> None:
    documents = [({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name},
                   **extra}, "argocd/apps.yaml", 1 + 10 * i) for i, (name, extra) in enumerate(SHAPES.items())
                 ]
    documents.append(({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": ["x"]},
                      "argocd/odd.yaml", 3))
    apps, skipped = apps_from_argocd(documents, {"https://git.example.com/r.git"})
    assert len(apps) + len(skipped) == len(documents), "every Application is either an app or skipped"
    reasons = {s.name: s.reason for s in skipped}
    assert reasons["no-spec"] == reasons["spec-is-a-list"] == reasons["spec-is-a-string"] == \
        "Application without spec"
    assert reasons["source-is-a-list"] == "Application without spec.source"
    assert reasons[""] == "Application without metadata.name"
    assert {s.origin for s in skipped} >= {"argocd/apps.yaml:1", "argocd/odd.yaml:3"}
    by_name = {a.name: a for a in apps}
    assert by_name["path-missing"].path == "" and by_name["path-missing"].namespace == "web"  # repo root
    assert by_name["destination-a-string"].namespace == ""
    assert by_name["ignore-not-a-list"].ignore == ()
    assert by_name["valuefiles-mixed"].values_files == ["a.yaml"]


def test_application_with_a_nonsense_path_is_an_app_error(git_repo: GitRepoBuilder) -> None:
    git_repo.commit({"app/good.yaml": GOOD}, "good")
    apps, _ = apps_from_argocd([({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                                  "metadata": {"name": "web"}, **SHAPES["path-not-a-string"]}, "a.yaml", 1)],
                               {"https://git.example.com/r.git"})
    out = render(git_repo, path=apps[0].path)
    assert out.resources == [] and "does not exist" in out.errors[0].message and out.errors[0].app == "web"


# --- through the command line ------------------------------------------------------------------------------

def check(repo: GitRepoBuilder, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    live = tmp_path / "live.json"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good", "namespace": "web"},
         "data": {"a": "2"}}]}))
    command = [sys.executable, "-m", "driftcheck.cli", "check", "--repo", str(repo.path), "--path", "app",
               "-n", "web", "--live-snapshot", str(live), "--out", str(tmp_path / "out"), "-o", "none",
               *extra]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr
    reports = list((tmp_path / "out").rglob("report.json"))
    return proc, json.loads(reports[0].read_text()) if reports else {}


def test_invalid_rules_name_file_and_index_and_the_valid_ones_still_apply(git_repo: GitRepoBuilder,
                                                                          tmp_path: Path) -> None:
    git_repo.commit({"app/good.yaml": GOOD}, "good")
    rules = tmp_path / "team-rules.yaml"
    rules.write_text("- {kind: ConfigMap, jsonPointers: [/data/a]}\n"
                     "- {kind: ConfigMap, jqPathExpressions: ['.data[']}\n"
                     "- {jsonPointers: [/data]}\n"
                     "- {kind: ConfigMap, jsonPointers: [data/b]}\n")
    proc, report = check(git_repo, tmp_path, "--rules", str(rules))
    assert proc.returncode == 2, proc.stderr
    messages = [f"{e['file']}: {e['message']}" for e in report["errors"]]
    expected = ((1, "does not compile"), (2, "'kind' is a required property"), (3, "does not match"))
    for index, what in expected:
        assert any(str(rules) in m and f"rule #{index} is invalid" in m and what in m for m in messages), \
            messages
    [resource] = report["resources"]
    assert resource["status"] == "in-sync", "rule #0 still suppresses the difference"
    assert resource["ignored"] == [{"path": "/data/a", "rule": "file:team-rules.yaml#0"}]


def test_a_rules_file_that_is_not_yaml_is_reported_with_its_line(git_repo: GitRepoBuilder,
                                                                 tmp_path: Path) -> None:
    git_repo.commit({"app/good.yaml": GOOD}, "good")
    rules = tmp_path / "broken.yaml"
    rules.write_text("- kind: ConfigMap\n  jsonPointers: [/data/a\n- kind: Secret\n")
    proc, report = check(git_repo, tmp_path, "--rules", str(rules))
    assert proc.returncode == 2
    [error] = [e for e in report["errors"] if e["file"] == str(rules)]
    assert error["line"] >= 2 and "YAML" in error["message"]


def test_a_hostile_repository_is_audited_with_every_refusal_in_the_report(
        git_repo: GitRepoBuilder, tmp_path: Path, outside_secret: Path) -> None:
    commit_symlinks(git_repo, {"app/stolen.yaml": str(outside_secret)}, {
        "app/good.yaml": GOOD, "app/bomb.yaml": BILLION_LAUGHS,
        "app/deep.yaml": "a: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "app/twin.yaml": GOOD.replace("a: '1'", "a: '3'")})
    (git_repo.path / "app/latin1.yaml").write_bytes(b"kind: ConfigMap\nmetadata: {name: \xe9}\n")
    git_repo.commit({}, "latin-1")
    started = time.monotonic()
    proc, report = check(git_repo, tmp_path)
    assert time.monotonic() - started < 60
    assert proc.returncode == 2, proc.stderr
    files = {e["file"] for e in report["errors"]}
    assert files >= {"app/bomb.yaml", "app/deep.yaml", "app/latin1.yaml", "app/stolen.yaml"}
    assert [w["file"] for w in report["warnings"]] == ["app/twin.yaml"]  # defined twice: the last is used
    [good] = report["resources"]
    assert (good["name"], good["status"]) == ("good", "drifted"), "the good object is still compared"
    assert [d["path"] for d in good["differences"]] == ["/data/a"]
    assert "OUTSIDE-SECRET" not in json.dumps(report)
