#!/usr/bin/env bash
# The system programs the tests use, installed with apt when missing (as root), or named in one line.
#   git, kubectl (with kustomize v5), chromium (browser test), openssh-server (SSH credential tests),
#   docker-registry (the OCI registry on loopback) and htpasswd (its accounts), jsonnet, jq and openssl
#   (the openssl-only check of a signed report), buildah and mmdebstrap (make image: with vfs storage and
#   chroot isolation it needs neither fuse-overlayfs, slirp4netns nor runc), faketime (nightly check runs
#   at set times for the evidence pack) and poppler-utils (the pack's printed PDF, read as text and PNG),
#   gnupg and gpgsm (signed commits).
set -euo pipefail
declare -A package=([git]=git [chromium]=chromium [/usr/sbin/sshd]=openssh-server
                    [docker-registry]=docker-registry [htpasswd]=apache2-utils [jsonnet]=jsonnet
                    [jq]=jq [openssl]=openssl [buildah]=buildah [mmdebstrap]=mmdebstrap
                    [faketime]=faketime [pdftotext]=poppler-utils [pdftoppm]=poppler-utils
                    [gpg]=gnupg [gpgsm]=gpgsm)
missing=()
for program in "${!package[@]}"; do
  if [[ $program == /* ]]; then [ -x "$program" ] || missing+=("${package[$program]}")
  else command -v "$program" >/dev/null || missing+=("${package[$program]}"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "make test needs system packages: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]} with apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# kubectl has no current Debian package (kubernetes-client is 1.20, without kustomize v5): named, not guessed.
if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "make test needs kubectl >= 1.27 (it embeds kustomize v5) on PATH" >&2
  exit 1
fi
# sigstore-js for the interoperability test of signed reports (tests/e2e/test_verify_archive.py), from npm.
sigstore_js=${DRIFTCHECK_SIGSTORE_JS:-/opt/driftcheck-sigstore-js}
if command -v npm >/dev/null && [ ! -d "$sigstore_js/node_modules/@sigstore/verify" ]; then
  npm install --prefix "$sigstore_js" --no-audit --no-fund --loglevel=error \
    @sigstore/verify@4.1.3 @sigstore/bundle@5.0.1 @sigstore/core@4.0.1 >/dev/null 2>&1 ||
    echo "could not install @sigstore/verify into $sigstore_js: its test will skip" >&2
fi
