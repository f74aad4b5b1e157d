#!/usr/bin/env bash
# The Dockerfile's base image made from Debian packages, for machines that cannot pull python:3.11-slim:
# mmdebstrap (bookworm, Python 3.11 with venv, nothing else) -> a tarball -> one layer in buildah's
# storage, tagged $BASE_IMAGE. Rebuilt only when this recipe changes (the recipe's hash is a label), so
# the layers built on it stay cached.
set -euo pipefail
cd "$(dirname "$0")/.."
# The mirror apt already uses on this machine (deb.debian.org unless its sources say otherwise).
MIRROR=${DEBIAN_MIRROR:-$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  sed -n 's/^URIs: *\(.*\/debian\)$/\1/p; s/^deb \(http[^ ]*\/debian\) bookworm .*/\1/p' | head -1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3.11,python3.11-venv,python-is-python3,ca-certificates,passwd
# python:3.11-slim leaves out documentation and translations; so does this base.
DPKG_OPTS=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
           --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*')
recipe=$(printf '%s\n' "$PACKAGES" "${DPKG_OPTS[@]}" | sha256sum | cut -c1-16)
source image/lib.sh

if [ "$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "driftcheck.base.recipe"}}' \
        "$BASE_IMAGE" 2>/dev/null)" = "$recipe" ]; then
  echo "base: $BASE_IMAGE (recipe $recipe) already built" >&2
  exit 0
fi
mkdir -p build/image
tarball=build/image/base.tar
echo "base: mmdebstrap bookworm from $MIRROR" >&2
mmdebstrap --quiet --variant=apt --include="$PACKAGES" "${DPKG_OPTS[@]}" bookworm "$tarball" "$MIRROR"
container=$(buildah from scratch)
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$container" "$tarball" /
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd python3 --label driftcheck.base.recipe="$recipe" "$container"
buildah commit --quiet --rm "$container" "$BASE_IMAGE" >/dev/null
trap - EXIT
rm -f "$tarball"
echo "base: $BASE_IMAGE (recipe $recipe) built" >&2
