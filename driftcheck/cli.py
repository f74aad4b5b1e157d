"""The `driftcheck` command line: flag parsing, exit codes and progress output; no logic beyond wiring."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

import click

from driftcheck import __version__, scrub
from driftcheck.model import DriftcheckError
from driftcheck.textsafe import for_terminal

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


class DriftcheckGroup(click.Group):
    """Turns every expected failure into one clear line and exit 2; a traceback only with DRIFTCHECK_DEBUG."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DriftcheckError as exc:
            say(f"driftcheck: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # the last line of defence: never a traceback for a user
            if os.environ.get("DRIFTCHECK_DEBUG"):
                raise
            # the text may come from the connection layer (a header value with the token in it)
            say(f"driftcheck: internal error: {type(exc).__name__}: {exc} "
                "(set DRIFTCHECK_DEBUG=1 for a traceback)", err=True)
            ctx.exit(EXIT_ERROR)


def say(message: str, err: bool = False) -> None:
    """One line for the terminal: without any credential the run knows of, and with every control
    character from Git or the cluster (escape sequences, newlines that fake rows) shown, not obeyed."""
    click.echo(for_terminal(scrub.scrub(message)), err=err)


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays machine-readable."""
    say(message, err=True)


class _TerminalLog(logging.Handler):
    """Warnings logged by driftcheck or a library (a fetch that fell back to the cache) are printed as
    progress is: scrubbed and escaped. Installed once, in place of logging's bare last-resort output."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        progress(self.format(record))


def _register_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """An HTTP(S) URL's user and password are credentials from the moment they are parsed (for SSH the
    user is an account name such as `git`, not a secret)."""
    if value and value.startswith(("http://", "https://")):
        scrub.register_url(value)
    return value


def _register_token_file(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """The token in --git-token-file is known to the scrubber before any Git call can echo it."""
    if value is not None:
        with contextlib.suppress(OSError, UnicodeDecodeError):  # open_repo reads it and says why it cannot
            scrub.register(value.read_text(encoding="utf-8"))
    return value


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (a CronJob's deadline, `kubectl delete pod`) unwinds like an error: temporary renders,
    staging directories and the archive lock are released by their own cleanup, nothing is published."""
    raise SystemExit(128 + signum)


@click.group(cls=DriftcheckGroup)
@click.version_option(__version__, prog_name="driftcheck")
def main() -> None:
    """Does the cluster run what Git says, and since when has it not?"""
    signal.signal(signal.SIGTERM, _terminate)
    scrub.register(os.environ.get("DRIFTCHECK_GIT_TOKEN"))
    root = logging.getLogger()
    if not any(isinstance(h, _TerminalLog) for h in root.handlers):
        root.addHandler(_TerminalLog())


def source_options(func):  # type: ignore[no-untyped-def]
    """The flags that choose the desired state: repository, moment, apps."""
    options = [
        click.option("--repo", default=None, callback=_register_url,
                     help="Git repository: a local path or a URL (default: --config's repo, else '.')."),
        click.option("--revision", default=None, help="Branch, tag or commit (default: HEAD)."),
        click.option("--at", "at", default=None,
                     help="A moment (ISO-8601; a bare date means the end of that day, UTC): "
                          "the last commit on --revision at or before it."),
        click.option("--path", "paths", multiple=True, help="An app path in the repo (repeatable)."),
        click.option("-n", "--namespace", default="", help="Destination namespace for --path apps."),
        click.option("--recurse", is_flag=True, help="Read --path directories recursively."),
        click.option("--app", "app_names", multiple=True,
                     help="Only these apps (from config or Applications)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, help="driftcheck.yaml (default: the repo's own, at the commit)."),
        click.option("--argocd-apps", default=None,
                     help="Glob of ArgoCD Application manifests in the repo, e.g. 'argocd/*.yaml'."),
        click.option("--repo-url", "repo_urls", multiple=True,
                     help="URL(s) the Applications use for this repository (repeatable)."),
        click.option("--git-token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     callback=_register_token_file,
                     help="File holding an HTTPS token for the remote (or set DRIFTCHECK_GIT_TOKEN)."),
        click.option("--require-fresh", is_flag=True,
                     help="Fail when the remote cannot be fetched instead of using the cached clone."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@source_options
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Extra ignore-rule file or directory (repeatable).")
@click.option("--rule-pack", "rule_packs", multiple=True,
              help="Shipped rule pack to activate (repeatable; default: the config's, else all shipped).")
@click.option("--live-snapshot", type=click.Path(exists=True, path_type=Path), default=None,
              help="Read live objects from a snapshot file or directory instead of the cluster.")
@click.option("--request-timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds each API request may take, whole answer, before it is retried; each LIST "
                   "may take 4x, the whole live read 10x.")
@click.option("--render-timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Seconds a Kustomize or Helm render may take before it is an app error.")
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None)
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Read live objects in all namespaces.")
@click.option("-l", "--selector", default=None, help="Label selector for live objects.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Report archive directory.")
@click.option("--format", "formats", default="html,json", show_default=True,
              help="Comma-separated: html, json, md, junit (report.json is always kept in the archive).")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Keep only the newest N runs of this cluster in the archive.")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write Prometheus metrics here (node-exporter textfile collector), atomically.")
@click.option("--pushgateway", default=None, callback=_register_url,
              help="Push the metrics to this Prometheus Pushgateway URL.")
@click.option("--history-since", default=None,
              help="How far back the report's deploy history goes (e.g. 90d, or a date; default: "
                   "--config's historySince, else 90d).")
@click.option("--explain", "explain_target", default=None, help="Print the full comparison of KIND/NAME.")
@click.option("--compare-status", is_flag=True, help="Also compare the status of custom resources.")
@click.option("--compare-aggregated-rules", is_flag=True,
              help="Compare the rules of aggregated ClusterRoles (normally their controller's).")
@click.option("-o", "--output", type=click.Choice(["table", "json", "none"]), default="table",
              help="What to print on stdout.")
def check(**kwargs: object) -> None:
    """Render desired state, read live state, compare, and write the reports.

    Exit 0 when in sync, 1 when anything drifted, is missing or extra, 2 on errors.
    """
    from driftcheck.audit import AuditOptions, run_audit
    from driftcheck.report import parse_formats, write_reports
    from driftcheck.report.terminal import summary_table

    parse_formats(str(kwargs["formats"]))  # a typo fails now, not after the whole audit
    options = AuditOptions.from_cli(kwargs)
    started = time.monotonic()
    report, explained = run_audit(options, progress=progress)
    report.duration_seconds = time.monotonic() - started
    written = write_reports(report, options.out, options.formats, keep=kwargs["keep"],  # type: ignore[arg-type]
                            metrics_file=kwargs["metrics_file"],  # type: ignore[arg-type]
                            pushgateway=kwargs["pushgateway"], on_wait=progress)  # type: ignore[arg-type]
    if kwargs["output"] == "table":
        click.echo(summary_table(report))
    if explained is not None:
        click.echo(explained)
    for path in written.paths:
        progress(f"wrote {path}")
    sys.exit(exit_code(report))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Report archive directory.")
def demo(out: Path) -> None:
    """Run the main job on the bundled example repository and live snapshot (exit 1: it has drift)."""
    from driftcheck.demo.run import run_demo
    from driftcheck.report.terminal import summary_table

    result = run_demo(out, progress=progress)
    click.echo(summary_table(result.report))
    for path in result.written.paths:
        click.echo(f"report: {path}")
    click.echo(f"demo repository and snapshot: {result.workdir}")
    sys.exit(exit_code(result.report))


@main.command()
@click.argument("report_file", metavar="REPORT.json", type=click.Path(dir_okay=False, path_type=Path))
def verify(report_file: Path) -> None:
    """Check a JSON report's digest; say which part changed if it does not match (exit 1)."""
    from driftcheck.report.verify import verify as verify_report

    result = verify_report(report_file)
    click.echo(result.message())
    sys.exit(0 if result.ok else 1)


@main.command()
@source_options
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write (empty, new, or an earlier render: it is replaced).")
@click.option("--include-secret-values", is_flag=True,
              help="Write Secret values as Git has them (default: redacted, keys kept).")
def render(**kwargs: object) -> None:
    """Write the desired state at --revision/--at as files: <namespace>/<Kind>.<name>.yaml + MANIFEST.json.

    Exit 0 when every app rendered, 2 when some could not (the rest is still written).
    """
    from driftcheck.audit import AuditOptions
    from driftcheck.reconstruct import reconstruct

    options = AuditOptions.from_cli(kwargs)
    out = Path(str(kwargs["out"]))
    written = reconstruct(options, out, bool(kwargs["include_secret_values"]), progress=progress)
    for error in written.errors:
        progress(f"error: {error}")
    click.echo(f"wrote {written.objects} objects and MANIFEST.json to {out}")
    sys.exit(EXIT_ERROR if written.errors else EXIT_IN_SYNC)


@main.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Snapshot file to write (YAML; `check --live-snapshot` reads it).")
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None,
              help="Kubeconfig (default: KUBECONFIG, else the Pod's service account, else ~/.kube/config).")
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option("-n", "--namespace", "namespaces", multiple=True,
              help="Namespace to capture (repeatable; default: the apps' namespaces, else all).")
@click.option("-A", "--all-namespaces", is_flag=True, help="Capture all namespaces.")
@click.option("-l", "--selector", default=None, help="Label selector for live objects.")
@click.option("--kinds", default=None,
              help="Comma-separated kinds as kubectl names them (Deployment, deploy, Rollout.argoproj.io); "
                   "default: the kinds the apps use, else common kinds and every CRD's.")
@click.option("--include-secret-values", is_flag=True,
              help="Keep Secret values (default: redacted, keys kept).")
@click.option("--repo", default=None, callback=_register_url,
              help="Capture what `check` reads for this repository's apps.")
@click.option("--revision", default=None, help="Branch, tag or commit (default: HEAD).")
@click.option("--at", "at", default=None, help="A moment: the last commit on --revision at or before it.")
@click.option("--path", "paths", multiple=True,
              help="An app path in the repo (repeatable; -n is its namespace).")
@click.option("--recurse", is_flag=True, help="Read --path directories recursively.")
@click.option("--app", "app_names", multiple=True, help="Only these apps (from config or Applications).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="driftcheck.yaml (default: driftcheck.yaml in the repo at the commit).")
@click.option("--argocd-apps", default=None, help="Glob of ArgoCD Application manifests in the repo.")
@click.option("--repo-url", "repo_urls", multiple=True,
              help="URL(s) the Applications use for this repository (repeatable).")
@click.option("--git-token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=_register_token_file,
              help="File holding an HTTPS token for the remote (or set DRIFTCHECK_GIT_TOKEN).")
def snapshot(**kwargs: object) -> None:
    """Capture live objects to a file, for the archive or an offline `check --live-snapshot`.

    With --repo/--path/--app/--config it captures exactly what `check` with the same flags reads.
    """
    from driftcheck.audit import AuditOptions, snapshot_scope
    from driftcheck.live.cluster import ClusterReader
    from driftcheck.live.discovery import gitops_kinds, kinds_named
    from driftcheck.live.snapshot import write_snapshot

    namespaces = set(kwargs["namespaces"])  # type: ignore[arg-type]
    reader = ClusterReader(str(kwargs["kubeconfig"]) if kwargs["kubeconfig"] else None,
                           kwargs["context"])  # type: ignore[arg-type]
    progress(f"live state: {reader.info['server']} (context {reader.info['context']})")
    served = reader.served_types()
    named = [k.strip() for k in str(kwargs["kinds"] or "").split(",") if k.strip()]
    kinds = kinds_named(served, named) if named else set()
    if any(kwargs[k] for k in ("repo", "paths", "app_names", "config_file", "argocd_apps")):
        if kwargs["paths"] and len(namespaces) > 1:
            raise DriftcheckError("with --path, give one -n: the apps' destination namespace")
        options = AuditOptions.from_cli({**kwargs, "namespace": next(iter(namespaces), "")})
        git_kinds, git_namespaces = snapshot_scope(options, progress)
        kinds |= git_kinds
        namespaces |= git_namespaces or set()
    elif not kinds:
        kinds = gitops_kinds(served)
    state = reader.read(kinds, None if kwargs["all_namespaces"] or not namespaces else namespaces,
                        kwargs["selector"])  # type: ignore[arg-type]
    state.info["served"] = {t.group_kind for t in served}  # offline, tells "never captured" from "not served"
    write_snapshot(state, Path(str(kwargs["out"])), bool(kwargs["include_secret_values"]))
    for reason in sorted(state.unreadable.values()):
        progress(f"warning: not captured: {reason}")
    for group, kind in sorted(state.not_served):
        progress(f"warning: not served by the cluster: {kind}{'.' + group if group else ''}")
    scope = state.info["scope"]["namespaces"]
    where = "all namespaces" if scope is None else f"{len(scope)} namespace(s)"
    click.echo(f"wrote {kwargs['out']}: {len(state.resources)} objects of {len(kinds)} kinds in {where}, "
               f"{state.requests} API requests")


@main.command()
@source_options
@click.option("--since", default=None, help="Only deploys from this date, moment or age (e.g. 90d) on.")
@click.option("--until", default=None, help="Only deploys up to this date (its end) or moment.")
@click.option("--author", default=None, help="Only deploys whose author (name <email>) contains this text.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "md"]), default="table",
              help="What to print on stdout.")
def history(**kwargs: object) -> None:
    """The dated deploy history of apps: who changed what they render, when, and what was rolled back."""
    from driftcheck.audit import AuditOptions
    from driftcheck.history import format_histories, histories

    options = AuditOptions.from_cli(kwargs)
    found = histories(options, *(str(kwargs[k]) if kwargs[k] else None for k in ("since", "until", "author")))
    click.echo(format_histories(found, str(kwargs["output"])))


def exit_code(report: object) -> int:
    """2 when something could not be checked, 1 when anything differs, 0 when all is in sync."""
    from driftcheck.model import AuditReport

    assert isinstance(report, AuditReport)
    if report.errors or any(r.status == "unknown" for r in report.resources):
        return EXIT_ERROR
    if any(r.status != "in-sync" for r in report.resources):
        return EXIT_DRIFT
    return EXIT_IN_SYNC


if __name__ == "__main__":
    main()
