"""Reports as evidence: signed in-toto statements in Sigstore bundles, and the hash chain of runs."""
