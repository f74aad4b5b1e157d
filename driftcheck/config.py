"""Transitional: `driftcheck.apps.config` (and `apps.argocd.apps_from_argocd`) under the old module name,
for callers not yet moved; removed once none imports it."""

from driftcheck.apps.argocd import apps_from_argocd
from driftcheck.apps.config import Config, load_config, parse_config

__all__ = ["Config", "apps_from_argocd", "load_config", "parse_config"]
