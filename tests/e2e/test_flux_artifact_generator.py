"""`render --flux` and `apps --flux` over an ExternalArtifact that an ArtifactGenerator in Git makes from two
GitRepositories of this repository (different paths, a glob with an exclude, a YAML Merge): the
Kustomization builds from the generated tree; bad input (a HelmChart input, a GitRepository no one
declares, an ExternalArtifact no generator makes, a rule that matches nothing) is an app error naming
the generator and the alias while the rest is built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from driftcheck.cli import main
from testing import flux_repo
from tests.e2e.test_flux_sources import cm, git_repository, kustomization, render


def generator(name: str, sources: str, copy: str) -> str:
    return (f"apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n"
            f"  name: {name}\n  namespace: flux-system\nspec:\n  sources:\n{sources}  artifacts:\n"
            f"    - name: {name}\n      copy:\n{copy}")


def source(alias: str, kind: str, name: str) -> str:
    return f"    - alias: {alias}\n      kind: {kind}\n      name: {name}\n"


def rule(src: str, to: str, extra: str = "") -> str:
    return f"        - from: \"{src}\"\n          to: \"{to}\"\n{extra}"


# a glob that is not `dir/**` keeps each match's whole path under `to`, as source-watcher's builder does
BASE_KUSTOMIZATION = """\
resources:
- app.yaml
- overlay/apps/gen/overlay/extra.yaml
configMapGenerator:
- name: merged-values
  files:
  - values.yaml
generatorOptions:
  disableNameSuffixHash: true
"""

COMBINED = generator(
    "combined",
    source("base", "GitRepository", "gen-base") + source("overlay", "GitRepository", "gen-overlay"),
    rule("@base/apps/gen/base/**", "@artifact/")
    + rule("@overlay/apps/gen/overlay/*.yaml", "@artifact/overlay/", "          exclude: [\"values.yaml\"]\n")
    + rule("@overlay/apps/gen/overlay/values.yaml", "@artifact/values.yaml", "          strategy: Merge\n"))

FILES = {
    **flux_repo.FILES,
    "clusters/production/gen-sources.yaml": git_repository("gen-base", flux_repo.URL, "branch: main")
    + "---\n" + git_repository("gen-overlay", flux_repo.URL, "branch: main"),
    "clusters/production/generator.yaml": COMBINED,
    "clusters/production/combined.yaml": kustomization("combined", "./", "combined", "ExternalArtifact"),
    "apps/gen/base/kustomization.yaml": BASE_KUSTOMIZATION,
    "apps/gen/base/app.yaml": cm("from-base"),
    "apps/gen/base/values.yaml": "replicas: 1\nimage:\n  tag: \"1.0\"\n  pull: Always\n",
    "apps/gen/overlay/extra.yaml": cm("from-overlay"),
    "apps/gen/overlay/values.yaml": "image:\n  tag: \"2.0\"\nlabels: [a]\n",
    "apps/gen/overlay/README.md": "not copied: the glob is *.yaml\n",
}


def test_a_generated_artifact_combines_two_repositories_paths(git_repo: Any, tmp_path: Path) -> None:
    git_repo.commit(FILES, "an ArtifactGenerator")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 0, output
    assert objects[("ConfigMap", "from-base")]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] \
        == "combined"
    assert ("ConfigMap", "from-overlay") in objects  # copied to overlay/apps/gen/overlay/ by the glob
    values = yaml.safe_load(objects[("ConfigMap", "merged-values")]["data"]["values.yaml"])
    # the overlay's values merged over the base's as Helm merges values: maps merged, the rest replaced
    assert values == {"replicas": 1, "image": {"tag": "2.0", "pull": "Always"}, "labels": ["a"]}
    assert ("Deployment", "podinfo") in objects  # the rest of the graph as before

    result = CliRunner().invoke(main, ["apps", "--repo", str(git_repo.path), "--flux", "clusters/production",
                                       "--repo-url", flux_repo.URL, "-o", "json"])
    assert result.exit_code == 0, result.output
    apps = {a["name"]: a for a in json.loads(result.output[result.output.index("{"):])["apps"]}
    assert apps["flux-system/combined"]["declared"].startswith("clusters/production/combined.yaml:1")


def test_inputs_that_cannot_be_built_are_app_errors_naming_generator_and_alias(git_repo: Any,
                                                                                  tmp_path: Path) -> None:
    broken = {
        "clusters/production/chart-gen.yaml": generator(
            "from-chart",
            source("base", "GitRepository", "gen-base") + source("chart", "HelmChart", "podinfo"),
            rule("@base/apps/gen/base/**", "@artifact/")),
        "clusters/production/missing-gen.yaml": generator(
            "from-nowhere", source("gone", "GitRepository", "no-such-repo"), rule("@gone/**", "@artifact/")),
        "clusters/production/empty-gen.yaml": generator(
            "matches-nothing", source("base", "GitRepository", "gen-base"), rule("@base/nothing/*.yaml",
                                                                                  "@artifact/")),
        "clusters/production/broken.yaml": "---\n".join(
            kustomization(n, "./", n, "ExternalArtifact")
            for n in ("from-chart", "from-nowhere", "matches-nothing", "never-generated")),
    }
    git_repo.commit({**FILES, **broken}, "generators that cannot be built")
    code, output, objects = render(git_repo, tmp_path)
    assert code == 2
    flat = " ".join(output.split())
    assert ("ArtifactGenerator flux-system/from-chart source @chart (HelmChart flux-system/podinfo): "
            "a HelmChart's artifact") in flat
    assert ("ExternalArtifact flux-system/from-nowhere is made by ArtifactGenerator flux-system/from-nowhere"
            in flat and "whose source @gone GitRepository flux-system/no-such-repo does not exist" in flat)
    assert "no files match pattern 'nothing/*.yaml' in source 'base'" in flat
    assert "ExternalArtifact flux-system/never-generated does not exist" in flat
    assert ("ConfigMap", "from-base") in objects  # the generator whose inputs are built still builds
