#!/usr/bin/env bash
# `make image`: the real image from the Dockerfile, with buildah (no daemon: vfs storage, chroot
# isolation), on the local Debian base (image/base.sh) and a local kubectl whose sha256 the build checks.
# Prints the cold or warm build time, the image's size and its layers; writes build/image/image.json
# (name, digest, sizes) and the SBOM of the image's Python environment (build/image/sbom.cdx.json).
set -euo pipefail
cd "$(dirname "$0")/.."
source image/lib.sh
OUT=build/image
mkdir -p "$OUT"
start=$(date +%s)
bash image/base.sh

# kubectl: $KUBECTL, or the one on PATH. Google Cloud SDK's kubectl is a dispatcher that runs a
# versioned binary beside it, so the versioned one is what goes into the image.
kubectl=${KUBECTL:-$(readlink -f "$(command -v kubectl)")}
version=$("$kubectl" version --client 2>&1)
if [[ $version == *-dispatcher* ]]; then kubectl=$(dirname "$kubectl")/kubectl.1.32; version=$("$kubectl" version --client); fi
[[ $version == *"Kustomize Version: v5"* ]] || { echo "$kubectl has no kustomize v5: $version" >&2; exit 1; }
sha=$(sha256sum "$kubectl" | cut -d' ' -f1)
# Copied only when it changed, so its layer stays cached (ADD compares content, this keeps the mtime too).
cmp -s "$kubectl" "$OUT/kubectl" || cp -p "$kubectl" "$OUT/kubectl"
echo "kubectl: $kubectl sha256 $sha" >&2

# pip behind a TLS-inspecting proxy needs this machine's CA bundle; mounted for RUN steps, never stored.
ca=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
ca_args=()
[ -f "$ca" ] && ca_args=(-v "$ca:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)

command buildah --storage-driver "$BUILDAH_STORAGE" bud --isolation chroot --layers --force-rm --pull=never \
    -f Dockerfile -t "$IMAGE" \
    --build-arg PYTHON_IMAGE="$BASE_IMAGE" \
    --build-arg KUBECTL_SOURCE="$OUT/kubectl" --build-arg KUBECTL_SHA256="$sha" \
    "${ca_args[@]}" . > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))
# Drop the unnamed images this build did not produce or reuse, so the storage holds one build's cache, not
# all (with vfs, a full copy of the root filesystem per layer: ~5 GB per rebuild of the code layers).
keep=$(grep -oE '^--> (Using cache )?[0-9a-f]{11,}' "$OUT/build.log" | awk '{print substr($NF, 1, 11)}')
buildah images -a --noheading --format '{{.ID}} {{.Name}}' | while read -r id name; do
  [ "$name" = "<none>" ] && ! grep -qx "${id:0:11}" <<< "$keep" && buildah rmi "$id" >/dev/null 2>&1 || true
done
container=$(buildah from --pull=never "$IMAGE")
trap 'buildah rm "$container" >/dev/null' EXIT
root=$(buildah mount "$container")
buildah inspect --type image "$IMAGE" > "$OUT/inspect.json"
python3 image/report.py "$OUT/inspect.json" "$root" "$seconds" > "$OUT/image.json"
bash image/sbom.sh "$root" "$OUT/sbom.cdx.json"
