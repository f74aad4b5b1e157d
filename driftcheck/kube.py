"""Kubernetes facts in one place; for now the object name rules the API server enforces.

This module is meant to grow into the one home of Kubernetes facts (built-in groups, cluster-scoped
kinds, well-known labels and annotations): whatever "Kubernetes says so" knowledge the stages share
belongs here, so that Git-side and cluster-side code can never disagree on it.

The name rules matter for safety, not only correctness: a namespace or name is put into API request
paths, so a value Kubernetes could never hold (`prod/secrets#`, `x/../..`) must be refused before it
gets near a URL. Each validator returns the reason a value is invalid, or None when it is valid.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(_LABEL)
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS1035_LABEL = re.compile("[a-z]([-a-z0-9]*[a-z0-9])?")

# Kinds whose names the API server checks only as a path segment (ClusterRole `system:aggregate-to-view`).
PATH_SEGMENT_NAMED_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
# Kinds whose names are DNS-1035 labels (they become DNS names that must start with a letter).
DNS1035_NAMED_KINDS = frozenset({"Service"})


def invalid_dns1123_label(text: str) -> str | None:
    """Why `text` is not a DNS-1123 label (lower-case alphanumerics and '-', at most 63), else None."""
    if not text:
        return "must not be empty"
    if len(text) > DNS1123_LABEL_MAX:
        return f"must be no more than {DNS1123_LABEL_MAX} characters (has {len(text)})"
    if not _DNS1123_LABEL.fullmatch(text):
        return ("must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending "
                "with a letter or digit")
    return None


def invalid_dns1123_subdomain(text: str) -> str | None:
    """Why `text` is not a DNS-1123 subdomain (dot-separated labels, at most 253), else None."""
    if not text:
        return "must not be empty"
    if len(text) > DNS1123_SUBDOMAIN_MAX:
        return f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters (has {len(text)})"
    if not _DNS1123_SUBDOMAIN.fullmatch(text):
        return ("must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and "
                "ending with a letter or digit")
    return None


def invalid_dns1035_label(text: str) -> str | None:
    """Why `text` is not a DNS-1035 label (a DNS-1123 label starting with a letter), else None."""
    if not text:
        return "must not be empty"
    if len(text) > DNS1123_LABEL_MAX:
        return f"must be no more than {DNS1123_LABEL_MAX} characters (has {len(text)})"
    if not _DNS1035_LABEL.fullmatch(text):
        return ("must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter "
                "and ending with a letter or digit")
    return None


def invalid_path_segment(text: str) -> str | None:
    """Why `text` cannot be an API path segment (empty, '.', '..', or holding '/' or '%'), else None."""
    if not text:
        return "must not be empty"
    if text in (".", ".."):
        return f"may not be {text!r}"
    for bad in ("/", "%"):
        if bad in text:
            return f"may not contain {bad!r}"
    return None


def invalid_namespace(text: str) -> str | None:
    """Why `text` cannot be a namespace (the API server requires a DNS-1123 label), else None."""
    return invalid_dns1123_label(text)


def invalid_name(kind: str, text: str) -> str | None:
    """Why `text` cannot be `metadata.name` of a `kind` object, else None.

    Namespace: DNS-1123 label; Service: DNS-1035 label; RBAC roles and bindings: a path segment;
    every other kind (custom resources too, as the apiextensions server validates them): a DNS-1123
    subdomain.
    """
    if kind == "Namespace":
        return invalid_dns1123_label(text)
    if kind in DNS1035_NAMED_KINDS:
        return invalid_dns1035_label(text)
    if kind in PATH_SEGMENT_NAMED_KINDS:
        return invalid_path_segment(text)
    return invalid_dns1123_subdomain(text)
