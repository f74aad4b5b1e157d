"""Test helpers shared by tests and benchmarks (not shipped): the Kubernetes API emulator, loopback servers,
planted secrets, fixtures and data."""
