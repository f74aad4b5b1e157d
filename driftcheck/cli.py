"""The `driftcheck` command line: click flags, progress output and the last-resort error line; each command
body is one call into `driftcheck.commands`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

import click

from driftcheck import __version__, collector, scrub
from driftcheck.cli_flags import (
    APP_NAMESPACE,
    CONTEXT,
    KUBECONFIG,
    RENDER_TIMEOUT,
    SELECTOR,
    SHARD,
    TRUSTED_SIGNERS,
    register_url,
    source_flags,
)
from driftcheck.cli_s3 import S3_ENDPOINT, s3_output_flags
from driftcheck.commands import EXIT_ERROR
from driftcheck.commands.options import ClusterOptions, S3Options, SourceOptions
from driftcheck.model import DriftcheckError
from driftcheck.progress import ProgressDisplay, is_terminal
from driftcheck.textsafe import for_terminal


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
    text = for_terminal(scrub.scrub(message))
    if err:
        _stderr_display().show(text)
    else:
        click.echo(text)


_displays: list[ProgressDisplay] = []


def _stderr_display() -> ProgressDisplay:
    """The display of the current sys.stderr (a test runner swaps it per invocation)."""
    if not _displays or _displays[-1].stream is not sys.stderr:
        _displays[:] = [ProgressDisplay(sys.stderr, live=is_terminal(sys.stderr))]
    return _displays[-1]


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


def _terminate(signum: int, _frame: object) -> None:
    """SIGTERM (a CronJob's deadline, `kubectl delete pod`) unwinds like an error: temporary renders,
    staging directories and the archive lock are released by their own cleanup, nothing is published."""
    raise SystemExit(128 + signum)


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """A SIGTERM that lands inside a finalizer (GitPython's Repo.__del__ waiting for its cat-file child)
    is swallowed there, and Python would print its traceback and run on: deliver it again, so the run
    unwinds from ordinary code, quietly. (Raising it here would be swallowed too: the hook is a finalizer's
    caller, so the signal is sent again from a thread, once the finalizer is over.)"""
    if isinstance(unraisable.exc_value, SystemExit):
        again = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM))
        again.daemon = True
        again.start()
        return
    sys.__unraisablehook__(unraisable)


@click.group(cls=DriftcheckGroup)
@click.version_option(__version__, prog_name="driftcheck")
def main() -> None:
    """Does the cluster run what Git says, and since when has it not?"""
    collector.tune()
    signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = _unraisable
    scrub.register(os.environ.get("DRIFTCHECK_GIT_TOKEN"))
    root = logging.getLogger()
    if not any(isinstance(h, _TerminalLog) for h in root.handlers):
        root.addHandler(_TerminalLog())
    click.get_current_context().call_on_close(lambda: _stderr_display().close())


@main.command()
@source_flags(APP_NAMESPACE)
@click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Extra ignore-rule file or directory (repeatable).")
@click.option("--rule-pack", "rule_packs", multiple=True,
              help="Shipped rule pack to activate (repeatable; default: the config's, else all shipped).")
@click.option("--live-snapshot", type=click.Path(exists=True, path_type=Path), default=None,
              help="Read live objects from a snapshot file or directory instead of the cluster.")
@click.option("--request-timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds each API request may take, whole answer, before it is retried; each LIST "
                   "may take 4x, the whole live read 10x.")
@RENDER_TIMEOUT
@KUBECONFIG
@CONTEXT
@click.option("-A", "--all-namespaces", is_flag=True, help="Read live objects in all namespaces.")
@SELECTOR
@click.option("--cluster", "cluster_contexts", multiple=True, metavar="DEST=CONTEXT",
              help="Read apps destined for DEST (a cluster name or server URL) through this kubeconfig "
                   "context; the current context serves in-cluster and its own URL. Repeatable.")
@click.option("--cluster-snapshot", "cluster_snapshots", multiple=True, metavar="DEST=FILE",
              help="Read apps destined for DEST from this snapshot. Repeatable.")
@click.option("--out", type=click.Path(file_okay=False), default="reports", show_default=True,
              help="Report archive directory, or s3://bucket/prefix (an Object Lock bucket).")
@s3_output_flags
@click.option("--format", "formats", default="html,json", show_default=True,
              help="Comma-separated: html, json, md, junit (report.json is always kept in the archive).")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="Keep only the newest N runs of this cluster in the archive.")
@click.option("--metrics-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write Prometheus metrics here (node-exporter textfile collector), atomically.")
@click.option("--pushgateway", default=None, callback=register_url,
              help="Push the metrics to this Prometheus Pushgateway URL.")
@click.option("--history-since", default="",
              help="How far back the report's deploy history goes (e.g. 90d, or a date; default: "
                   "--config's historySince, else 90d).")
@click.option("--explain", "explain_target", default=None, help="Print the full comparison of KIND/NAME.")
@click.option("--compare-status", is_flag=True, help="Also compare the status of custom resources.")
@click.option("--compare-aggregated-rules", is_flag=True,
              help="Compare the rules of aggregated ClusterRoles (normally their controller's).")
@click.option("-o", "--output", type=click.Choice(["table", "json", "none"]), default="table",
              help="What to print on stdout.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ECDSA P-256 PKCS#8 PEM: sign each run (report.sigstore.json) and chain it.")
@click.option("--sign-key-passphrase-env", default=None, metavar="VAR",
              help="Environment variable holding the signing key's passphrase.")
@click.option("--sign-key-passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the signing key's passphrase.")
@click.option("--audit-log", "audit_logs", multiple=True, metavar="PATH",
              help="kube-apiserver audit log (JSON lines, rotated, .gz; EKS/GKE/AKS exports; a directory or "
                   "glob): name who made each drifted field's change. Repeatable.")
@click.option("--gitops-identity", "gitops_identities", multiple=True, metavar="USER",
              help="The GitOps tool's service account (default: Argo CD's and Flux's); a change under its "
                   "manager by anyone else is a finding. Repeatable.")
@click.option("--audit-skew", type=float, default=2.0, show_default=True,
              help="Seconds of clock skew allowed between managedFields and audit times.")
@TRUSTED_SIGNERS
@SHARD
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes auditing clusters at once when the run reads several (default: the CPUs "
                   "this process may use, at most 8; 1: all in this process).")
def check(source: SourceOptions, namespace: str, rule_files: tuple[Path, ...], rule_packs: tuple[str, ...],
          live_snapshot: Path | None, request_timeout: float, render_timeout: float, kubeconfig: Path | None,
          context: str | None, all_namespaces: bool, selector: str | None,
          cluster_contexts: tuple[str, ...], cluster_snapshots: tuple[str, ...],
          out: Path, s3: S3Options | None,
          formats: str,
          keep: int | None, metrics_file: Path | None, pushgateway: str | None, history_since: str,
          explain_target: str | None, compare_status: bool, compare_aggregated_rules: bool,
          output: str, sign_key: Path | None, sign_key_passphrase_env: str | None,
          sign_key_passphrase_file: Path | None, audit_logs: tuple[str, ...],
          gitops_identities: tuple[str, ...], audit_skew: float, trusted_signers: Path | None,
          shard: str | None, workers: int | None) -> None:
    """Render desired state, read live state, compare, and write the reports.

    Exit 0 when in sync, 1 when anything drifted, is missing or extra, 2 on errors.
    """
    from driftcheck.clusters.shard import parse_shard
    from driftcheck.commands import check as command
    from driftcheck.commands.options import CheckOptions, OutputOptions, cluster_mappings

    sys.exit(command.run(CheckOptions(
        source=replace(source, namespace=namespace,
                       fetch=replace(source.fetch, timeout=request_timeout)),
        cluster=ClusterOptions(live_snapshot, kubeconfig, context, all_namespaces, selector, request_timeout,
                               *cluster_mappings(cluster_contexts, cluster_snapshots)),
        output=OutputOptions(out, formats, keep, metrics_file, pushgateway, output, sign_key,
                             sign_key_passphrase_env, sign_key_passphrase_file, s3),
        rule_files=list(rule_files), rule_packs=list(rule_packs), render_timeout=render_timeout,
        history_since=history_since, explain_target=explain_target, compare_status=compare_status,
        compare_aggregated_rules=compare_aggregated_rules, audit_logs=list(audit_logs),
        gitops_identities=list(gitops_identities), audit_skew=audit_skew,
        trusted_signers=trusted_signers, shard=parse_shard(shard) if shard is not None else None,
        workers=workers), progress))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="Report archive directory.")
def demo(out: Path) -> None:
    """Run the main job on the bundled example repository and live snapshot (exit 1: it has drift)."""
    from driftcheck.commands import demo as command

    sys.exit(command.run(out, progress))


@main.command()
@click.argument("report_file", metavar="[REPORT.json]", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--archive", "archive_dir", type=click.Path(file_okay=False), default=None,
              help="Check a report archive's (a directory or s3://bucket/prefix) signed chain: edits, "
                   "deletions, gaps, forks, missed runs.")
@S3_ENDPOINT
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The public key (PEM) the archive's statements must verify with.")
@click.option("--schedule", default=None, help="The CronJob schedule, e.g. '17 2 * * *' (UTC): missed runs.")
@click.option("--git-repo", "git_repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A clone of the audited repository: was the branch force-pushed between runs?")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def verify(report_file: Path | None, archive_dir: str | None, s3_endpoint: str | None, key: Path | None,
           schedule: str | None, git_repo: Path | None, output: str) -> None:
    """Check a JSON report's digest; say which part changed if it does not match (exit 1).

    With --archive DIR: per cluster, the signed chain of runs and every report it attests (exit 1 on any
    finding)."""
    from driftcheck.commands import verify as command

    if archive_dir is not None:
        sys.exit(command.run_archive(archive_dir, key, schedule, git_repo, output, s3_endpoint))
    if report_file is None:
        raise click.UsageError("give REPORT.json, or --archive DIR")
    sys.exit(command.run(report_file))


@main.command()
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for driftcheck.key (0600) and driftcheck.pub.")
@click.option("--passphrase-env", default=None, metavar="VAR",
              help="Encrypt the private key with the passphrase in this environment variable.")
@click.option("--passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Encrypt the private key with the passphrase in this file.")
def keygen(out: Path, passphrase_env: str | None, passphrase_file: Path | None) -> None:
    """Write an ECDSA P-256 key pair for `check --sign-key` and print its key id."""
    from driftcheck.commands import keygen as command

    sys.exit(command.run(out, passphrase_env, passphrase_file))


@main.command()
@click.option("--archive", "archive_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The report archive `check --out` writes.")
@click.option("--from", "start", required=True, metavar="YYYY-MM-DD", help="First day of the period (UTC).")
@click.option("--to", "end", required=True, metavar="YYYY-MM-DD",
              help="Last day of the period (UTC), included.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the pack (new or empty).")
@click.option("--cluster", "clusters", multiple=True, help="A cluster the period must cover (default: the "
              "archive's). Repeatable.")
@click.option("--schedule", default=None, help="The CronJob schedule (UTC), e.g. '17 2 * * *': every slot.")
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The public key the runs' statements must verify with.")
@click.option("--repo", "git_repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A clone of the audited repository: the commit that introduced each ignore rule.")
@click.option("--exceptions", default=None, metavar="PATH",
              help="exceptions.yaml (a file, or a path inside --exceptions-repo).")
@click.option("--exceptions-repo", default=None, metavar="URL", callback=register_url,
              help="Git repository holding --exceptions (cloned; the pack names the commit).")
@click.option("--exceptions-ref", default=None, help="Branch or tag of --exceptions-repo.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ECDSA P-256 PKCS#8 PEM: sign the pack (pack.sigstore.json).")
@click.option("--sign-key-passphrase-env", default=None, metavar="VAR",
              help="Environment variable holding the signing key's passphrase.")
@click.option("--sign-key-passphrase-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the signing key's passphrase.")
def evidence(archive_dir: Path, start: str, end: str, out: Path, clusters: tuple[str, ...],
             schedule: str | None, key: Path | None, git_repo: Path | None, exceptions: str | None,
             exceptions_repo: str | None, exceptions_ref: str | None, sign_key: Path | None,
             sign_key_passphrase_env: str | None, sign_key_passphrase_file: Path | None) -> None:
    """Write the auditor's pack for a period: runs and their verification, every change and drift,
    exceptions, ignore rules, coverage, completeness, signed (exit 1 when the period is not complete)."""
    from driftcheck.commands import evidence as command
    from driftcheck.evidence.pack_model import PackOptions

    if exceptions_repo and not exceptions:
        raise click.UsageError("--exceptions-repo needs --exceptions PATH inside it")
    sys.exit(command.run(PackOptions(archive_dir, start, end, out, list(clusters), schedule, key, git_repo,
                                     exceptions, exceptions_repo, exceptions_ref),
                         sign_key, sign_key_passphrase_env, sign_key_passphrase_file, progress))


@main.command()
@source_flags(APP_NAMESPACE)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory to write (empty, new, or an earlier render: it is replaced).")
@click.option("--include-secret-values", is_flag=True,
              help="Write Secret values as Git has them (default: redacted, keys kept).")
@RENDER_TIMEOUT
@click.option("-l", "--selector", default=None, help="Only the objects this label selector chooses.")
def render(source: SourceOptions, namespace: str, out: Path,
           include_secret_values: bool, render_timeout: float, selector: str | None) -> None:
    """Write the desired state at --revision/--at as files: <namespace>/<Kind>.<name>.yaml + MANIFEST.json.

    Exit 0 when every app rendered, 2 when some could not (the rest is still written).
    """
    from driftcheck.commands import render as command

    sys.exit(command.run(command.RenderOptions(
        out, replace(source, namespace=namespace),
        include_secret_values, render_timeout, selector), progress))


@main.command("apps")
@source_flags(APP_NAMESPACE)
@click.option("-o", "--output", type=click.Choice(["table", "json", "yaml"]), default="table",
              show_default=True, help="How to print the apps.")
def apps_command(source: SourceOptions, namespace: str, output: str) -> None:
    """Every app found, ApplicationSets expanded, nothing rendered (offline `argocd appset generate`)."""
    from driftcheck.commands import apps as command
    sys.exit(command.run(replace(source, namespace=namespace), output, progress))


@main.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Snapshot file to write (YAML; `check --live-snapshot` reads it).")
@click.option("--kubeconfig", type=click.Path(path_type=Path), default=None,
              help="Kubeconfig (default: KUBECONFIG, else the Pod's service account, else ~/.kube/config).")
@CONTEXT
@click.option("-A", "--all-namespaces", is_flag=True, help="Capture all namespaces.")
@SELECTOR
@click.option("--kinds", default=None,
              help="Comma-separated kinds as kubectl names them (Deployment, deploy, Rollout.argoproj.io); "
                   "default: the kinds the apps use, else common kinds and every CRD's.")
@click.option("--include-secret-values", is_flag=True,
              help="Keep Secret values (default: redacted, keys kept).")
@source_flags(click.option(
    "-n", "--namespace", "namespaces", multiple=True,
    help="Namespace to capture (repeatable; default: the apps' namespaces, else all)."))
def snapshot(out: Path, kubeconfig: Path | None, context: str | None, all_namespaces: bool,
             selector: str | None, kinds: str | None, include_secret_values: bool, source: SourceOptions,
             namespaces: tuple[str, ...]) -> None:
    """Capture live objects to a file, for the archive or an offline `check --live-snapshot`.

    With --repo/--path/--app/--config it captures exactly what `check` with the same flags reads.
    """
    from driftcheck.commands import snapshot as command

    sys.exit(command.run(command.SnapshotOptions(
        out, ClusterOptions(None, kubeconfig, context, all_namespaces, selector),
        source,
        list(namespaces), kinds, include_secret_values), progress))


@main.command()
@source_flags(APP_NAMESPACE)
@click.option("--since", default=None, help="Only deploys from this date, moment or age (e.g. 90d) on.")
@click.option("--until", default=None, help="Only deploys up to this date (its end) or moment.")
@click.option("--author", default=None, help="Only deploys whose author (name <email>) contains this text.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "md"]), default="table",
              help="What to print on stdout.")
@TRUSTED_SIGNERS
def history(source: SourceOptions, namespace: str, since: str | None, until: str | None, author: str | None,
            output: str, trusted_signers: Path | None) -> None:
    """The dated deploy history of apps: who changed what they render, when, and what was rolled back."""
    from driftcheck.commands.history import histories
    from driftcheck.commands.options import with_config_defaults
    from driftcheck.report.history_text import format_histories

    source, _ = with_config_defaults(replace(source, namespace=namespace))
    found = histories(source, since or None, until or None, author or None, trusted_signers)
    click.echo(format_histories(found, output, verified=trusted_signers is not None))


if __name__ == "__main__":
    main()
