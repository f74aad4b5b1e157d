"""The figures `make image` prints: build time, image size, each layer's size and what made it, and how
much of the image the biggest Python distributions are (the Helm SDK most of all).

Usage: python3 image/report.py INSPECT_JSON ROOTFS SECONDS > image.json (the table goes to stderr)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

MB = 1_000_000


def tree_size(path: Path) -> int:
    """Bytes under path, each inode once (the image's files, not the blocks they take)."""
    seen: set[int] = set()
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            stat = os.lstat(os.path.join(directory, name))
            if stat.st_ino not in seen:
                seen.add(stat.st_ino)
                total += stat.st_size
    return total


def main(inspect_file: str, rootfs: str, seconds: str) -> None:
    inspect = json.loads(Path(inspect_file).read_text())
    manifest = json.loads(inspect["Manifest"])
    steps = [h.get("created_by", "") for h in inspect["OCIv1"]["history"] if not h.get("empty_layer")]
    layers = [{"digest": layer["digest"], "bytes": layer["size"], "created_by": step[:90]}
              for layer, step in zip(manifest["layers"], steps, strict=True)]
    total = sum(layer["bytes"] for layer in layers)
    site = Path(rootfs) / "opt/driftcheck/lib/python3.11/site-packages"
    packages = sorted(((p.name, tree_size(p)) for p in site.iterdir() if p.is_dir()), key=lambda p: -p[1])
    figures = {"image": inspect["FromImage"] if inspect.get("Type") != "image" else None,
               "id": manifest["config"]["digest"], "build_seconds": int(seconds), "bytes": total,
               "layers": layers, "largest_python_packages": dict(packages[:5])}
    print(json.dumps(figures, indent=2))
    out = sys.stderr
    print(f"image {manifest['config']['digest'][:19]}: {total / MB:.0f} MB in {len(layers)} layers, "
          f"built in {seconds} s", file=out)
    for layer in layers:
        print(f"  {layer['bytes'] / MB:7.1f} MB  {layer['created_by']}", file=out)
    for name, size in packages[:3]:
        print(f"  {name}: {size / MB:.0f} MB ({100 * size / total:.0f}% of the image)", file=out)


if __name__ == "__main__":
    main(*sys.argv[1:])
