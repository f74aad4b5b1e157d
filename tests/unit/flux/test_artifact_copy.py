"""ArtifactGenerator copy rules, the cases of source-watcher's internal/builder tests (builder_test.go,
merge_test.go, extract_test.go): each vector is the sources' files, the rules and the files the
artifact holds afterwards (or the builder's error)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from driftcheck.flux.artifact_copy import CopyError, CopyRule, build_artifact
from driftcheck.flux.goglob import doublestar_match, go_match
from driftcheck.render.yaml import load_single


def _tree(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(tmp_path: Path, sources: dict[str, dict[str, str | bytes]], *rules: CopyRule) -> Path:
    roots = {alias: _tree(tmp_path / "sources" / alias, files) for alias, files in sources.items()}
    staging = tmp_path / "artifact"
    build_artifact(rules, roots, staging)
    return staging


CONFIG = {"config/app.yaml": "app: config", "config/db.yaml": "db: config"}
INFRA = {
    "infrastructure/controllers/descheduler/release.yaml": "descheduler release",
    "infrastructure/controllers/descheduler/kustomization.yaml": "descheduler kustomization",
    "infrastructure/controllers/sealed-secrets/release.yaml": "sealed-secrets release",
    "infrastructure/configs/cluster-issuer.yaml": "cluster issuer",
}
KEPT_GLOB = {
    "controllers/sealed-secrets/release.yaml": "sealed-secrets release",
    "configs/cluster-issuer.yaml": "cluster issuer",
}
KEPT_DIR = {f"infrastructure/{k}": v for k, v in KEPT_GLOB.items()}

BUILD = {  # TestBuild and TestBuildWithExcludes: name -> (sources, rules, the artifact's files)
    "single file copy": (
        {"source": {"config.yaml": "kind: ConfigMap"}},
        [CopyRule("@source/config.yaml", "@artifact/")],
        {"config.yaml": "kind: ConfigMap"},
    ),
    "multiple copy operations": (
        {"git": {"app.yaml": "apiVersion: apps/v1"}, "oci": {"config.json": '{"version": "1.0"}'}},
        [
            CopyRule("@git/app.yaml", "@artifact/manifests/"),
            CopyRule("@oci/config.json", "@artifact/config/"),
        ],
        {"manifests/app.yaml": "apiVersion: apps/v1", "config/config.json": '{"version": "1.0"}'},
    ),
    "glob patterns": (
        {"source": {"deployment.yaml": "a", "service.yaml": "b", "configmap.yaml": "c"}},
        [CopyRule("@source/*.yaml", "@artifact/manifests/")],
        {"manifests/deployment.yaml": "a", "manifests/service.yaml": "b", "manifests/configmap.yaml": "c"},
    ),
    "root directory copy": (
        {"source": {"root.yaml": "root", "subdir/nested.yaml": "nested"}},
        [CopyRule("@source/", "@artifact/")],
        {"root.yaml": "root", "subdir/nested.yaml": "nested"},
    ),
    "recursive directory copy": (
        {"source": {"root.yaml": "root", "subdir/nested.yaml": "nested"}},
        [CopyRule("@source/**", "@artifact/")],
        {"root.yaml": "root", "subdir/nested.yaml": "nested"},
    ),
    "copy operations overwrite entire subdirectories": (
        {
            "source1": {"config/app.yaml": "source1: app", "config/database.yaml": "source1: db"},
            "source2": {"config/app.yaml": "source2: app", "config/network.yaml": "source2: net"},
        },
        [CopyRule("@source1/**", "@artifact/"), CopyRule("@source2/**", "@artifact/")],
        {
            "config/app.yaml": "source2: app",
            "config/database.yaml": "source1: db",
            "config/network.yaml": "source2: net",
        },
    ),
    "directory copy without trailing slash creates subdirectory": (
        {"source": CONFIG},
        [CopyRule("@source/config", "@artifact/dest")],
        {"dest/config/app.yaml": "app: config", "dest/config/db.yaml": "db: config"},
    ),
    "directory copy with trailing slash creates subdirectory": (
        {"source": CONFIG},
        [CopyRule("@source/config/", "@artifact/dest/")],
        {"dest/config/app.yaml": "app: config", "dest/config/db.yaml": "db: config"},
    ),
    "file copy with trailing slash uses source filename": (
        {"source": {"config.yaml": "a: test"}},
        [CopyRule("@source/config.yaml", "@artifact/dest/")],
        {"dest/config.yaml": "a: test"},
    ),
    "recursive glob pattern strips directory prefix like cp": (
        {"source": {"config/app.yaml": "app: config", "config/subdir/db.yaml": "db: config"}},
        [CopyRule("@source/config/**", "@artifact/dest/")],
        {"dest/app.yaml": "app: config", "dest/subdir/db.yaml": "db: config"},
    ),
    "file-to-file copy should not treat destination as directory": (
        {
            "repo": {"charts/podinfo/values-prod.yaml": "env: production"},
            "chart": {"Chart.yaml": "name: podinfo", "values.yaml": "name: podinfo"},
        },
        [
            CopyRule("@chart/**", "@artifact/"),
            CopyRule("@repo/charts/podinfo/values-prod.yaml", "@artifact/podinfo/values.yaml"),
        ],
        {
            "Chart.yaml": "name: podinfo",
            "values.yaml": "name: podinfo",
            "podinfo/values.yaml": "env: production",
        },
    ),
    "file copy should detect when destination is a directory": (
        {"source": {"file1.txt": "content1", "subdir/file2.txt": "content2"}},
        [CopyRule("@source/subdir/", "@artifact/"), CopyRule("@source/file1.txt", "@artifact/subdir")],
        {"subdir/file1.txt": "content1", "subdir/file2.txt": "content2"},
    ),
    "exclude single file extension": (
        {"source": {"app.yaml": "y", "config.json": "j", "README.md": "m", "notes.md": "m"}},
        [CopyRule("@source/**", "@artifact/", ("*.md",))],
        {"app.yaml": "y", "config.json": "j"},
    ),
    "exclude directory recursively": (
        {
            "source": {
                "app.yaml": "main",
                "testdata/test.yaml": "t",
                "testdata/fixture.json": "f",
                "configs/prod.yaml": "prod",
            }
        },
        [CopyRule("@source/**", "@artifact/", ("**/testdata/**",))],
        {"app.yaml": "main", "configs/prod.yaml": "prod"},
    ),
    "multiple exclude patterns": (
        {
            "source": {
                "app.yaml": "app",
                "README.md": "d",
                "temp.tmp": "t",
                ".hidden": "h",
                "docs/guide.md": "g",
                "tests/test.go": "t",
            }
        },
        [CopyRule("@source/**", "@artifact/", ("*.md", "*.tmp", "**/.*", "**/tests/**"))],
        {"app.yaml": "app"},
    ),
    "exclude with glob patterns": (
        {"source": {"app.yaml": "a", "config.yaml": "c", "secret.yaml": "s", "other.json": "o"}},
        [CopyRule("@source/*.yaml", "@artifact/configs/", ("secret.yaml",))],
        {"configs/app.yaml": "a", "configs/config.yaml": "c"},
    ),
    "exclude single file copy": (
        {"source": {"secret.yaml": "secret"}},
        [CopyRule("@source/secret.yaml", "@artifact/config.yaml", ("secret.yaml",))],
        {},
    ),
    "exclude nested directory by full path from source root": (
        {"source": INFRA},
        [CopyRule("@source/infrastructure/**", "@artifact/", ("infrastructure/controllers/descheduler/**",))],
        KEPT_GLOB,
    ),
    "exclude nested directory from non-glob directory copy by source root path": (
        {"source": INFRA},
        [CopyRule("@source/infrastructure", "@artifact/", ("infrastructure/controllers/descheduler/**",))],
        KEPT_DIR,
    ),
    "exclude nested directory from glob directory copy by selected root path": (
        {"source": INFRA},
        [CopyRule("@source/infrastructure/**", "@artifact/", ("controllers/descheduler/**",))],
        KEPT_GLOB,
    ),
    "exclude does not use recursive walk root as anchor": (
        {
            "source": {
                "infrastructure/descheduler/release.yaml": "top",
                "infrastructure/controllers/descheduler/release.yaml": "nested",
                "infrastructure/controllers/sealed-secrets/release.yaml": "sealed",
            }
        },
        [CopyRule("@source/infrastructure/**", "@artifact/", ("descheduler/**",))],
        {
            "controllers/descheduler/release.yaml": "nested",
            "controllers/sealed-secrets/release.yaml": "sealed",
        },
    ),
    "exclude nested directory from non-glob directory copy by subtree path": (
        {"source": INFRA},
        [CopyRule("@source/infrastructure", "@artifact/", ("controllers/descheduler/**",))],
        KEPT_DIR,
    ),
    "exclude single nested file by full path from source root": (
        {
            "source": {
                "infrastructure/configs/app.yaml": "app",
                "infrastructure/configs/secret.yaml": "secret",
            }
        },
        [CopyRule("@source/infrastructure/**", "@artifact/", ("infrastructure/configs/secret.yaml",))],
        {"configs/app.yaml": "app"},
    ),
}


@pytest.mark.parametrize("name", list(BUILD))
def test_builder_vectors(tmp_path: Path, name: str) -> None:
    sources, rules, expected = BUILD[name]
    assert _files(_build(tmp_path, sources, *rules)) == expected


def test_excluded_directories_are_not_made_but_an_emptied_one_is(tmp_path: Path) -> None:
    staging = _build(tmp_path, BUILD["multiple exclude patterns"][0], *BUILD["multiple exclude patterns"][1])
    assert (staging / "docs").is_dir() and not (staging / "tests").exists()


ERRORS = {  # TestBuildErrors and the error cases of TestBuildWithExcludes: (sources, rule, message part)
    "source file does not exist": ({}, CopyRule("@source/test.yaml", "@artifact/"), "does not exist"),
    "glob pattern matches no files": ({}, CopyRule("@source/*.yaml", "@artifact/"), "no files match pattern"),
    "invalid glob pattern": ({}, CopyRule("@source/[", "@artifact/"), "syntax error in pattern"),
    "source alias not found": (
        {},
        CopyRule("@missing/file.yaml", "@artifact/"),
        "source alias 'missing' not found",
    ),
    "all files excluded": (
        {"test.md": "t", "other.md": "o"},
        CopyRule("@source/*.md", "@artifact/", ("*.md",)),
        "all files matching pattern",
    ),
    "invalid exclude": ({}, CopyRule("@source/*.md", "@artifact/", ("[*.md",)), "invalid exclude pattern"),
    "source without @": ({}, CopyRule("source/x", "@artifact/"), "source must start with '@'"),
    "destination outside @artifact": (
        {"x": "x"},
        CopyRule("@source/x", "/tmp/x"),
        "destination must start with '@artifact/'",
    ),
    "a source path out of the source": (
        {},
        CopyRule("@source/../../etc/passwd", "@artifact/"),
        "path escapes from parent",
    ),
    "a destination out of the artifact": (
        {"x": "x"},
        CopyRule("@source/x", "@artifact/../../x"),
        "path escapes from parent",
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_builder_errors(tmp_path: Path, name: str) -> None:
    files, rule, message = ERRORS[name]
    with pytest.raises(CopyError, match="failed to apply copy operation from") as e:
        _build(tmp_path, {"source": files}, rule)
    assert message in str(e.value)
    assert not (tmp_path.parent / "x").exists()


def _yaml(path: Path) -> object:
    return load_single(path.read_text())


def test_merge_yaml_files(tmp_path: Path) -> None:
    base = "name: app\nports: [80, 443]\nlabels:\n  env: dev\n  keep: me\nversion: 1.0.0\nreplicas: 3\n"
    overlay = "replicas: 5\nports: [8080]\nlabels:\n  env: prod\nenv: production\n"
    staging = _build(
        tmp_path,
        {"source1": {"config.yaml": base}, "source2": {"config.yaml": overlay}},
        CopyRule("@source1/config.yaml", "@artifact/config.yaml", (), "Overwrite"),
        CopyRule("@source2/config.yaml", "@artifact/config.yaml", (), "Merge"),
    )
    assert _yaml(staging / "config.yaml") == {
        "name": "app",
        "ports": [8080],
        "labels": {"env": "prod", "keep": "me"},
        "version": "1.0.0",
        "replicas": 5,
        "env": "production",
    }


def test_merge_json_into_yaml(tmp_path: Path) -> None:
    staging = _build(
        tmp_path,
        {
            "source1": {"config.yaml": "a: b"},
            "source2": {"config.json": '{"c": {"d": "e"}, "a": "override"}'},
        },
        CopyRule("@source1/config.yaml", "@artifact/config.yaml"),
        CopyRule("@source2/config.json", "@artifact/config.yaml", (), "Merge"),
    )
    assert _yaml(staging / "config.yaml") == {"a": "override", "c": {"d": "e"}}


def test_merge_in_directories_with_exclude(tmp_path: Path) -> None:
    staging = _build(
        tmp_path,
        {
            "source1": {
                "config1.yaml": "env: dev\nregion: us-west-1\n",
                "config2.yaml": "version: 1.0.0\n",
                "secret.yaml": "token: base",
            },
            "source2": {
                "config1.yaml": "env: prod",
                "config2.yaml": "replicas: 5",
                "secret.yaml": "token: leak",
            },
        },
        CopyRule("@source1/**", "@artifact/"),
        CopyRule("@source2/**", "@artifact/", ("secret.yaml",), "Merge"),
    )
    assert _yaml(staging / "config1.yaml") == {"env": "prod", "region": "us-west-1"}
    assert _yaml(staging / "config2.yaml") == {"version": "1.0.0", "replicas": 5}
    assert _yaml(staging / "secret.yaml") == {"token": "base"}


def test_merge_without_destination_copies(tmp_path: Path) -> None:
    staging = _build(
        tmp_path,
        {"source": {"config.yaml": "a: b"}},
        CopyRule("@source/config.yaml", "@artifact/config.yaml", (), "Merge"),
    )
    assert _yaml(staging / "config.yaml") == {"a": "b"}


@pytest.mark.parametrize(("base", "overlay"), [("config.env", "config.yaml"), ("config.yaml", "config.env")])
def test_merge_of_non_yaml_fails(tmp_path: Path, base: str, overlay: str) -> None:
    with pytest.raises(CopyError, match="cannot unmarshal YAML document"):
        _build(
            tmp_path,
            {
                "source1": {base: "A=B" if base.endswith("env") else "a: b"},
                "source2": {overlay: "A=B" if overlay.endswith("env") else "a: b"},
            },
            CopyRule(f"@source1/{base}", f"@artifact/{base}"),
            CopyRule(f"@source2/{overlay}", f"@artifact/{base}", (), "Merge"),
        )


def _tarball(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.size, info.mode = len(content.encode()), 0o644
            tar.addfile(info, io.BytesIO(content.encode()))
    return out.getvalue()


MANIFESTS = _tarball({"config.yaml": "name: app", "prod/": "", "prod/config.yaml": "name: prod"})
INT = _tarball({"int/": "", "int/config.yaml": "name: int"})
EXTRACTED = {"config.yaml": "name: app", "prod/config.yaml": "name: prod"}

EXTRACT = {  # TestBuild_ExtractStrategy: (source files, rules, the artifact's files)
    "single referenced archive": (
        {"manifests.tgz": MANIFESTS},
        [("@source/manifests.tgz", "@artifact/manifests")],
        {f"manifests/{k}": v for k, v in EXTRACTED.items()},
    ),
    "multiple archives by one pattern": (
        {"manifests1.tgz": MANIFESTS, "manifests2.tgz": INT},
        [("@source/*.tg*", "@artifact/")],
        {**EXTRACTED, "int/config.yaml": "name: int"},
    ),
    "recursive glob": (
        {"prod/manifests.tgz": MANIFESTS, "int/manifests.tgz": INT},
        [("@source/**", "@artifact/")],
        {**EXTRACTED, "int/config.yaml": "name: int"},
    ),
    "to a subdirectory": (
        {"manifests.tgz": MANIFESTS},
        [("@source/manifests.tgz", "@artifact/extracted/configs/")],
        {f"extracted/configs/{k}": v for k, v in EXTRACTED.items()},
    ),
    ".tar.gz": ({"manifests.tar.gz": MANIFESTS}, [("@source/manifests.tar.gz", "@artifact/")], EXTRACTED),
    "later archive overwrites": (
        {
            "first.tgz": _tarball({"config.yaml": "name: first-app"}),
            "second.tgz": _tarball({"config.yaml": "name: second-app"}),
        },
        [("@source/first.tgz", "@artifact/"), ("@source/second.tgz", "@artifact/")],
        {"config.yaml": "name: second-app"},
    ),
    "non-tarballs skipped in a glob": (
        {"manifests.tgz": MANIFESTS, "readme.txt": "readme"},
        [("@source/*", "@artifact/")],
        EXTRACTED,
    ),
}


@pytest.mark.parametrize("name", list(EXTRACT))
def test_extract_vectors(tmp_path: Path, name: str) -> None:
    files, rules, expected = EXTRACT[name]
    staging = _build(tmp_path, {"source": files}, *(CopyRule(f, t, (), "Extract") for f, t in rules))
    assert _files(staging) == expected


def test_extract_with_exclude(tmp_path: Path) -> None:
    staging = _build(
        tmp_path,
        {"source": {"manifests.tgz": MANIFESTS, "int.tgz": INT}},
        CopyRule("@source/*.tgz", "@artifact/", ("int.tgz",), "Extract"),
    )
    assert _files(staging) == EXTRACTED


@pytest.mark.parametrize(
    ("files", "source", "message"),
    [
        ({"invalid.tgz": "this is not a tarball"}, "@source/invalid.tgz", "failed to extract tarball"),
        ({"config.yaml": "key: value"}, "@source/*.tgz", "no files match pattern"),
        (
            {"manifests/config.yaml": "key: value"},
            "@source/manifests",
            "extract strategy is not supported for directories",
        ),
        ({"config.yaml": "key: value"}, "@source/config.yaml", "extract strategy requires tarball file"),
        ({"evil.tgz": _tarball({"../escaped.yaml": "x"})}, "@source/evil.tgz", "failed to extract tarball"),
    ],
)
def test_extract_errors(tmp_path: Path, files: dict[str, str | bytes], source: str, message: str) -> None:
    with pytest.raises(CopyError) as e:
        _build(tmp_path, {"source": files}, CopyRule(source, "@artifact/", (), "Extract"))
    assert message in str(e.value)
    assert not (tmp_path / "escaped.yaml").exists()


@pytest.mark.parametrize(
    ("pattern", "name", "go", "doublestar"),
    [
        ("*.yaml", "a.yaml", True, True),
        ("*", "a/b", False, False),
        ("**", "a/b", False, True),  # Go: two stars, still one element
        ("a/**", "a", False, True),  # doublestar: a trailing /** is the directory too
        ("**/.*", ".hidden", False, True),
        ("**/testdata/**", "x/testdata/y/z", False, True),
        ("[!a]b", "cb", False, True),  # Go's negation is ^ only
        ("[^a]b", "cb", True, True),
        ("{a,b}.md", "b.md", False, True),
        ("\\*", "*", True, True),
    ],
)
def test_glob_dialects(pattern: str, name: str, go: bool, doublestar: bool) -> None:
    assert (go_match(pattern, name), doublestar_match(pattern, name)) == (go, doublestar)


def test_hostile_patterns_finish(tmp_path: Path) -> None:
    assert not doublestar_match("*a" * 50 + "b", "a" * 2000)
    assert not go_match("*a" * 50 + "b", "a" * 2000)
