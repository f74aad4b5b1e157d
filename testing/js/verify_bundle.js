// Verify a driftcheck report.sigstore.json with @sigstore/verify (sigstore-js), offline, with a public key:
//   node verify_bundle.js MODULES_DIR PUBLIC_KEY.pem BUNDLE
// An empty trusted root and a key finder for the bundle's publicKey.hint; no tlog, CT log or timestamps
// required. sigstore-js checks the signature only: the subjects are compared by the caller.
const path = require("path");
const fs = require("fs");
const crypto = require("crypto");
const [modules, keyFile, bundleFile] = process.argv.slice(2);
const need = (name) => require(path.join(modules, "node_modules", name));
const { bundleFromJSON } = need("@sigstore/bundle");
const { toSignedEntity, toTrustMaterial, Verifier } = need("@sigstore/verify");
const key = crypto.createPublicKey(fs.readFileSync(keyFile));
const json = JSON.parse(fs.readFileSync(bundleFile, "utf8"));
const root = { mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1", tlogs: [],
  certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
const trust = toTrustMaterial(root, (hint) => ({ publicKey: key, validFor: () => true, hint }));
const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
try {
  verifier.verify(toSignedEntity(bundleFromJSON(json)));
  console.log("Verified OK");
} catch (error) {
  console.log(`FAILED: ${error.name}: ${error.message}`);
  process.exit(1);
}
