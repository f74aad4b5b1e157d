"""Comparison: normalization, ignore rules, the diff, attribution, secret redaction; pure, no I/O."""
