#!/bin/sh
# Verify a driftcheck report.sigstore.json with OpenSSL and jq alone (no driftcheck, no cosign):
#   docs/verify-with-openssl.sh driftcheck.pub RUN_DIR/report.sigstore.json RUN_DIR/report.json [RUN_DIR/report.html]
# 1. the DSSE signature over PAE(payloadType, payload) verifies with the public key (ECDSA P-256, DER);
# 2. each file's sha256 is the digest its subject names in the signed in-toto Statement.
# Exit 0 only when both hold for every file given.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 PUBLIC_KEY.pem BUNDLE FILE..." >&2; exit 2; }
pub=$1 bundle=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
type=$(jq -r '.dsseEnvelope.payloadType' "$bundle")
[ "$type" = "application/vnd.in-toto+json" ] || { echo "FAIL: payloadType is $type" >&2; exit 1; }
[ "$(jq '.dsseEnvelope.signatures | length' "$bundle")" = 1 ] || { echo "FAIL: not one signature" >&2; exit 1; }
jq -r '.dsseEnvelope.payload' "$bundle" | base64 -d > "$tmp/statement"
jq -r '.dsseEnvelope.signatures[0].sig' "$bundle" | base64 -d > "$tmp/sig"
# PAE: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (lengths in bytes; the type is ASCII)
printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(wc -c < "$tmp/statement" | tr -d ' ')" > "$tmp/pae"
cat "$tmp/statement" >> "$tmp/pae"
openssl dgst -sha256 -verify "$pub" -signature "$tmp/sig" "$tmp/pae" || { echo "FAIL: signature" >&2; exit 1; }
for file in "$@"; do
  name=$(basename "$file")
  want=$(jq -r --arg n "$name" '.subject[] | select(.name == $n) | .digest.sha256' "$tmp/statement")
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "FAIL: $file: sha256 $got, the statement says ${want:-nothing}" >&2
    exit 1
  fi
  echo "subject OK: $name sha256:$got"
done
jq -r '"statement: " + .predicateType + ", cluster " + (.predicate.cluster.context // "?") +
       ", run " + .predicate.run.name + ", seq " + (.predicate.chain.seq | tostring)' "$tmp/statement"
