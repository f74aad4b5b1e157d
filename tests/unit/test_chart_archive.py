"""Unpacking chart archives: a normal chart unpacks; entries that could write or point outside are refused."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from driftcheck.fetch.archive import ArchiveError, extract_chart
from driftcheck.fetch.dirtree import DirTree

CHART_YAML = b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"


def make_tgz(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def chart_entries() -> list[tarfile.TarInfo | tuple[str, bytes]]:
    return [("demo/Chart.yaml", CHART_YAML), ("demo/templates/cm.yaml", b"kind: ConfigMap\n")]


def test_a_chart_unpacks_into_its_one_directory(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "demo-1.0.0.tgz",
                       [*chart_entries(), link("demo/templates/same.yaml", "cm.yaml")])
    chart = extract_chart(archive, tmp_path / "out", max_bytes=1 << 20, max_files=100)
    assert chart == tmp_path / "out" / "demo"
    assert (chart / "templates" / "cm.yaml").read_bytes() == b"kind: ConfigMap\n"
    tree = DirTree(chart, "sha256:" + "a" * 64)
    assert tree.list_files("", recurse=True) == ["Chart.yaml", "templates/cm.yaml", "templates/same.yaml"]
    assert tree.read("templates/same.yaml") == b"kind: ConfigMap\n"
    assert tree.symlink_target("templates/same.yaml") == "cm.yaml"
    assert tree.refused() == []


@pytest.mark.parametrize(("entry", "why"), [
    (("demo/../../evil.yaml", b"x"), "'..' path component"),
    (("/etc/evil", b"x"), "absolute path"),
    (("other/Chart.yaml", b"x"), "outside the chart directory 'demo'"),
    (link("demo/templates/out.yaml", "../../../etc/passwd"), "leads outside the chart"),
    (link("demo/templates/abs.yaml", "/etc/passwd"), "leads outside the chart"),
    (link("demo/hard", "etc/passwd", tarfile.LNKTYPE), "hard link"),
    (link("demo/dev", "", tarfile.CHRTYPE), "device, FIFO or other special file"),
])
def test_entries_leading_out_refuse_the_archive(tmp_path: Path, entry: tarfile.TarInfo | tuple[str, bytes],
                                                why: str) -> None:
    archive = make_tgz(tmp_path / "evil-1.0.0.tgz", [*chart_entries(), entry])
    with pytest.raises(ArchiveError, match=why) as caught:
        extract_chart(archive, tmp_path / "out", max_bytes=1 << 20, max_files=100)
    assert "evil-1.0.0.tgz" in str(caught.value)
    assert not (tmp_path / "evil.yaml").exists()


def test_a_link_through_a_link_that_leads_out_is_refused(tmp_path: Path) -> None:
    # Each looks inside on its own: d -> .. is the chart itself, a -> d/../.. is the chart lexically,
    # but the filesystem resolves d first, and then goes one level above the chart.
    archive = make_tgz(tmp_path / "c.tgz", [*chart_entries(), link("demo/x/d", ".."),
                                            link("demo/x/a", "d/../..")])
    with pytest.raises(ArchiveError, match="leads outside the chart"):
        extract_chart(archive, tmp_path / "out", max_bytes=1 << 20, max_files=100)


def test_past_the_size_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "big.tgz", [*chart_entries(), ("demo/big.bin", b"\0" * 5000)])
    with pytest.raises(ArchiveError, match="more than 4096 bytes"):
        extract_chart(archive, tmp_path / "out", max_bytes=4096, max_files=100)


def test_past_the_entry_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    archive = make_tgz(tmp_path / "many.tgz", [*chart_entries(), *[(f"demo/f{i}", b"") for i in range(10)]])
    with pytest.raises(ArchiveError, match="more than 5 entries"):
        extract_chart(archive, tmp_path / "out", max_bytes=1 << 20, max_files=5)


def test_not_a_chart_and_not_an_archive(tmp_path: Path) -> None:
    no_chart = make_tgz(tmp_path / "n.tgz", [("demo/values.yaml", b"a: 1\n")])
    with pytest.raises(ArchiveError, match=r"no demo/Chart\.yaml"):
        extract_chart(no_chart, tmp_path / "o1", max_bytes=1 << 20, max_files=100)
    garbage = tmp_path / "g.tgz"
    garbage.write_bytes(b"<html>not found</html>")
    with pytest.raises(ArchiveError, match=r"not a readable \.tgz archive"):
        extract_chart(garbage, tmp_path / "o2", max_bytes=1 << 20, max_files=100)


def test_dirtree_refuses_a_symlink_out_of_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret").write_text("s")
    (root / "a.yaml").write_text("kind: A\n")
    (root / "sub" / "out").symlink_to("../../secret")
    tree = DirTree(root, "sha256:" + "b" * 64)
    assert tree.list_files("", recurse=True) == ["a.yaml"]
    assert not tree.exists("sub/out")
    with pytest.raises(Exception, match="no such file"):
        tree.read("sub/out")
    assert [e.file for e in tree.refused()] == ["sub/out"]
    with tree.exported() as (exported, errors):
        assert exported != root and not (exported / "sub" / "out").exists()
        assert (exported / "a.yaml").read_text() == "kind: A\n"
        assert len(errors) == 1
