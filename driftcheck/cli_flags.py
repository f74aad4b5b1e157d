"""The command-line flags several commands share: the source flags (as one `SourceOptions`), the cluster
and timeout options, and the callbacks that hand credentials in flag values to the scrubber first."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from driftcheck import scrub
from driftcheck.commands.options import FetchOptions, SourceOptions

Command = TypeVar("Command", bound=Callable[..., Any])


def register_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An HTTP(S) URL's user and password are credentials from the moment they are parsed (for SSH the
    user is an account name such as `git`, not a secret)."""
    if value and value.startswith(("http://", "https://")):
        scrub.register_url(value)
    return value


def register_token_file(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """The token in --git-token-file is known to the scrubber before any Git call can echo it."""
    if value is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):  # open_repo reads it and says why it cannot
            scrub.register(value.read_text(encoding="utf-8"))
    return value


def source_flags(namespace: Callable[[Command], Command]) -> Callable[[Command], Command]:
    """The flags that choose the desired state (repository, moment, apps) and how sources outside it are
    fetched, handed to the command as one `source: SourceOptions`; -n is the command's own."""
    options: list[Callable[[Command], Command]] = [
        click.option("--repo", default="", callback=register_url,
                     help="Git repository: a local path or a URL (default: --config's repo, else '.')."),
        click.option("--revision", default=None, help="Branch, tag or commit (default: HEAD)."),
        click.option("--at", "at", default=None,
                     help="A moment (ISO-8601; a bare date means the end of that day, UTC): "
                          "the last commit on --revision (and on each source's revision) at or before it."),
        click.option("--path", "paths", multiple=True, help="An app path in the repo (repeatable)."),
        namespace,
        click.option("--recurse", is_flag=True, help="Read --path directories recursively."),
        click.option("--app", "app_names", multiple=True,
                     help="Only these apps (from config or Applications)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="driftcheck.yaml (default: the repo's own, at the commit)."),
        click.option("--argocd-apps", default=None,
                     help="Glob of ArgoCD Application manifests in the repo, e.g. 'argocd/*.yaml'."),
        click.option("--flux", "flux", default=None, metavar="PATH",
                     help="A Flux cluster directory in the repo, e.g. 'clusters/production': its root "
                          "Kustomization (PATH/flux-system/gotk-sync.yaml, else one of PATH) and every "
                          "Kustomization it renders, built as kustomize-controller builds them."),
        click.option("--flux-strict-substitution/--no-flux-strict-substitution", default=True,
                     help="postBuild substitution as with kustomize-controller's feature gate "
                          "StrictPostBuildSubstitutions: a variable without a value and no default fails "
                          "the Kustomization (default: on, as in kustomize-controller since v1.9 / Flux "
                          "2.9; --no-… gives an empty string, as with the gate off)."),
        click.option("--repo-url", "repo_urls", multiple=True,
                     help="URL(s) the Applications use for this repository (repeatable)."),
        click.option("--git-token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     callback=register_token_file,
                     help="File holding an HTTPS token for the remote (or set DRIFTCHECK_GIT_TOKEN)."),
        click.option("--require-fresh", is_flag=True,
                     help="Fail when the remote cannot be fetched instead of using the cached clone."),
        click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Cache of charts and other repositories (default: ~/.cache/driftcheck)."),
        click.option("--offline", is_flag=True,
                     help="Fetch nothing: charts and other repositories come from the cache only."),
        click.option("--repo-creds", "repo_credentials", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="ArgoCD repository/repo-creds Secrets (YAML) for charts and repos."),
        click.option("--repo-mirror", "repo_mirrors", multiple=True, callback=_mirrors, metavar="FROM=TO",
                     help="Fetch URLs starting with FROM from TO instead (repeatable; air-gapped mirrors)."),
        click.option("--argocd-settings", default=None, metavar="FILE",
                     help="ArgoCD's argocd-cm ConfigMap (YAML; argocd-cmd-params-cm may follow): its ignore "
                          "rules, exclusions, compare options and tracking. A local file, else a path in "
                          "the repository."),
        click.option("--argocd-namespace", default=None, metavar="NS",
                     help="Check the Applications the cluster holds in NS (made by the UI, the CLI or an "
                          "ApplicationSet), each rendered from its sources; also read argocd-cm and, "
                          "where RBAC allows, the cluster and repository Secrets there (all read-only)."),
    ]
    fields = ("repo", "revision", "at", "paths", "recurse", "app_names", "config_file", "argocd_apps",
              "repo_urls", "git_token_file", "require_fresh", "argocd_settings", "argocd_namespace", "flux",
              "flux_strict_substitution")

    def add(func: Command) -> Command:
        @functools.wraps(func)
        def with_source(**kwargs: Any) -> Any:
            given: dict[str, Any] = {name: (list(v) if isinstance(v := kwargs.pop(name), tuple) else v)
                                     for name in fields}
            fetch = FetchOptions(kwargs.pop("cache_dir"), kwargs.pop("offline"),
                                 kwargs.pop("repo_credentials"), kwargs.pop("repo_mirrors"))
            source = SourceOptions(**given, fetch=fetch)
            return func(source=source, **kwargs)
        wrapped: Command = with_source  # type: ignore[assignment]
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped
    return add


def _mirrors(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """FROM=TO pairs, each URL registered with the scrubber (a mirror URL may carry a token)."""
    mirrors: dict[str, str] = {}
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source or not target:
            raise click.BadParameter(f"{value!r}: expected FROM=TO (two URL prefixes)")
        scrub.register_url(source)
        scrub.register_url(target)
        mirrors[source] = target
    return mirrors


APP_NAMESPACE = click.option("-n", "--namespace", default="", help="Destination namespace for --path apps.")
KUBECONFIG = click.option("--kubeconfig", type=click.Path(path_type=Path), default=None)
CONTEXT = click.option("--context", default=None, help="Kubeconfig context.")
SELECTOR = click.option("-l", "--selector", default=None, help="Label selector for live objects.")
TRUSTED_SIGNERS = click.option(
    "--trusted-signers", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Whom deploy commits may be signed by (armored GPG keys, allowed_signers lines, X.509 roots), "
         "kept outside the audited repository: check each signature; unsigned or pushed directly = finding.")
RENDER_TIMEOUT = click.option(
    "--render-timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
    help="Seconds a Kustomize or Helm render may take before it is an app error.")


SHARD = click.option(
    "--shard", default=None, metavar="INDEX/COUNT",
    help="Audit only the destination clusters of shard INDEX of COUNT (sha256 of the cluster name mod "
         "COUNT), e.g. an indexed Job's $(JOB_COMPLETION_INDEX)/COUNT; the fleet summary covers all.")
