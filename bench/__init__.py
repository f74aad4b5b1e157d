"""Benchmarks of driftcheck at cluster scale (`make bench`); see bench/README.md."""
