#!/usr/bin/env bash
# The CycloneDX SBOM of the image's Python environment: cyclonedx-py reads the distributions of the
# image's own venv, found by asking the image's interpreter (run inside the image's root) for its sys.path.
# Usage: image/sbom.sh ROOTFS OUTPUT.json
set -euo pipefail
root=$1 out=$2
cd "$(dirname "$0")/.."
python=$(mktemp --suffix=-image-python)
trap 'rm -f "$python"' EXIT
# cyclonedx-py runs "<python> [-S] -c <print sys.path>"; the paths it prints are the image's, seen from here.
cat > "$python" <<WRAPPER
#!/bin/sh
chroot "$root" /opt/driftcheck/bin/python "\$@" | python3 -c 'import json, sys; print(json.dumps(["$root" + p for p in json.load(sys.stdin)]))'
WRAPPER
chmod +x "$python"
# cyclonedx-bom has a venv of its own: its validation extra brings rfc3987-syntax, whose grammar jsonschema
# compiles at import (3 s), and the kubernetes client imports jsonschema (through kubernetes-validate).
tool=build/sbom-venv
if [ ! -x "$tool/bin/cyclonedx-py" ]; then
  python3 -m venv "$tool"
  "$tool/bin/pip" install --quiet 'cyclonedx-bom>=4'
fi
"$tool/bin/cyclonedx-py" environment --pyproject pyproject.toml --output-reproducible --of JSON -o "$out" "$python"
echo "sbom: $out ($(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["components"]))' "$out") components)" >&2
