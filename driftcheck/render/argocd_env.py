"""ArgoCD's build environment (`ARGOCD_APP_NAME`, …) and its substitution into source options.

ArgoCD substitutes these into Helm parameters, value-file and file-parameter paths (repo-server `newEnv`,
`Env.Envsubst`): Go's `os.Expand`, with `$$` for a literal `$` and every unknown variable empty.
"""

from __future__ import annotations

from collections.abc import Mapping

_SPECIAL = set("*#$@!?-0123456789")  # Go's isShellSpecialVar


def build_env(app: str, namespace: str, revision: str, path: str,
              extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables ArgoCD sets for one source render; extra adds what the caller knows beyond these
    (ARGOCD_APP_PROJECT_NAME, ARGOCD_APP_SOURCE_REPO_URL, ARGOCD_APP_SOURCE_TARGET_REVISION)."""
    return {"ARGOCD_APP_NAME": app, "ARGOCD_APP_NAMESPACE": namespace, "ARGOCD_APP_REVISION": revision,
            "ARGOCD_APP_REVISION_SHORT": revision[:7], "ARGOCD_APP_REVISION_SHORT_8": revision[:8],
            "ARGOCD_APP_SOURCE_PATH": path, **(extra or {})}


def _name(s: str) -> tuple[str, int]:
    """Go's getShellName: the variable name after a `$` and how many characters it takes."""
    if s[0] == "{":
        if len(s) > 2 and s[1] in _SPECIAL and s[2] == "}":
            return s[1], 3
        end = s.find("}", 1)
        if end == 1:
            return "", 2  # "${}": bad syntax, eaten
        return (s[1:end], end + 1) if end > 0 else ("", 1)
    if s[0] in _SPECIAL:
        return s[0], 1
    i = 0
    while i < len(s) and (s[i] == "_" or (s[i].isascii() and s[i].isalnum())):
        i += 1
    return s[:i], i


def envsubst(text: str, env: Mapping[str, str]) -> str:
    """text with $VAR and ${VAR} replaced as ArgoCD's Env.Envsubst does."""
    out: list[str] = []
    start = j = 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[start:j])
            name, width = _name(text[j + 1:])
            if name:
                out.append("$" if name == "$" else env.get(name, ""))
            elif width == 0:
                out.append("$")  # `$` followed by no name stays
            j += width
            start = j + 1
        j += 1
    return "".join(out) + text[start:]
