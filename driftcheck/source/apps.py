"""Transitional: `driftcheck.apps.find_apps` under its old name, for callers not yet moved."""

from driftcheck.apps import FoundApps as DiscoveredApps
from driftcheck.apps import find_apps as discover_apps

__all__ = ["DiscoveredApps", "discover_apps"]
