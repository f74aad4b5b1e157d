"""`goTemplate: true` strings rendered by Go's text/template and Sprig, as the Helm SDK embeds them.

One sandboxed child per ApplicationSet (spawned, address space capped, as Helm renders run:
`render/helm_run`), kept for all the strings that ApplicationSet renders (generator values, matrix
interpolation, the template, templatePatch): each batch is a throwaway chart whose templates call
Helm's `tpl` on one string with one param set, so the string is parsed and executed by Go itself with
the params as `.` and `$`. `missingkey=error` is Helm's strict mode.

Where this differs from ArgoCD's engine (`applicationset/utils/utils.go` funcMap), and what is done:
- `normalize` (ArgoCD's SanitizeName) is not a Helm function: calls are rewritten to
  `include "argocd.normalize" ...`, a Sprig definition with the same steps. `slugify` (gosimple/slug)
  is not emulated: a template using it is an error saying so.
- Without `missingkey=error`, ArgoCD writes `<no value>` for a missing key or a null; Helm removes
  every `<no value>` from its output, so here it renders empty. Each batch is also rendered strictly,
  and when that fails the caller is told (`Rendered.lenient_note`) so the report can say it.
- Helm adds functions ArgoCD lacks (include, tpl, required, lookup, toToml, fromJson...) and keeps
  getHostByName (it resolves nothing in the sandbox); a template using them renders here and fails
  under ArgoCD. Helm's toYaml/fromYaml swallow errors where ArgoCD's return them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import resource
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import TracebackType
from typing import Any

from driftcheck.apps.appset.template import TemplateError
from driftcheck.render import sandbox
from driftcheck.render.helm_run import RENDER_MEMORY

_NORMALIZE = ('{{- define "argocd.normalize" -}}'
              '{{ trimAll "-." (trunc 253 (regexReplaceAll "[^-a-z0-9.]" (lower .) "-")) }}{{- end -}}')
# a bare identifier inside an action, outside quotes: `normalize .x`, `.x | normalize`, `(normalize .x)`
_ACTION = re.compile(r"{{(.*?)}}", re.S)
_QUOTED = re.compile(r'("(?:[^"\\]|\\.)*"|`[^`]*`)')


@dataclass
class Rendered:
    """One batch's results, in job order: the text, or the TemplateError for that job."""

    results: list[str | TemplateError] = field(default_factory=list)
    lenient_note: str = ""  # a missing key ArgoCD would print as `<no value>`: the strict render's error


def rewrite_functions(template: str) -> str:
    """ArgoCD's `normalize` as a call of the emulating named template; `slugify` refused."""
    def action(m: re.Match[str]) -> str:
        parts = _QUOTED.split(m.group(1))
        for i in range(0, len(parts), 2):  # even parts are outside string literals
            if re.search(r"(?<![.$\w])slugify\b", parts[i]):
                raise TemplateError("the slugify function is not supported by driftcheck's Go engine")
            parts[i] = re.sub(r"(?<![.$\w])normalize\b", 'include "argocd.normalize"', parts[i])
        return "{{" + "".join(parts) + "}}"
    return _ACTION.sub(action, template)


def _strictness(options: Sequence[str]) -> bool:
    """goTemplateOptions as text/template's Option takes them; the last missingkey wins."""
    strict = False
    for option in options:
        key, _, value = option.partition("=")
        if key != "missingkey" or value not in ("error", "zero", "default", "invalid"):
            raise TemplateError(f"goTemplateOptions: unrecognized option {option!r}")
        strict = value == "error"
    return strict


class GoTemplates:
    """A context manager holding the child; render() sends one batch and waits at most timeout."""

    def __init__(self, options: Sequence[str], timeout: float) -> None:
        self.strict = _strictness(options)
        self.timeout = timeout
        self._conn: Connection | None = None
        self._child: Any = None

    def __enter__(self) -> GoTemplates:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._child is not None:
            self._child.kill()
            self._child.join()

    def render(self, jobs: Sequence[tuple[str, Mapping[str, Any]]], strict: bool | None = None) -> Rendered:
        """Each (template, params) rendered by Go; jobs whose template has no `{{` are their text.
        strict overrides the options' missingkey for this batch."""
        out = Rendered([s for s, _ in jobs])
        wanted: list[int] = []
        texts: list[str] = []
        for i, (text, _) in enumerate(jobs):
            if "{{" in text:
                try:
                    texts.append(rewrite_functions(text))
                    wanted.append(i)
                except TemplateError as e:
                    out.results[i] = e
        if not wanted:
            return out
        request = {"jobs": [{"t": t, "p": jobs[i][1]} for i, t in zip(wanted, texts, strict=True)],
                   "strict": self.strict if strict is None else strict}
        reply = self._ask(json.dumps(request))
        for i, (ok, text) in zip(wanted, reply["results"], strict=True):
            out.results[i] = text if ok else TemplateError(_worded(text))
        out.lenient_note = _worded(reply.get("lenient_note", ""))
        return out

    def _ask(self, request: str) -> dict[str, Any]:
        if self._child is None:
            ctx = multiprocessing.get_context("spawn")
            self._conn, theirs = ctx.Pipe()
            self._home = tempfile.mkdtemp(prefix="driftcheck-gotemplate-")
            self._child = ctx.Process(target=_serve, args=(theirs, self._home), daemon=True)
            self._child.start()
            theirs.close()
        assert self._conn is not None
        self._conn.send(request)
        if not wait([self._conn, self._child.sentinel], self.timeout):
            raise TemplateError(f"Go template rendering did not finish within {self.timeout:g} s")
        try:
            reply: dict[str, Any] = json.loads(self._conn.recv())
        except (EOFError, OSError):
            raise TemplateError("the Go template renderer died (out of memory, or the Helm SDK is not "
                                "installed: `pip install 'driftcheck[helm]'`)") from None
        if "error" in reply:
            raise TemplateError(str(reply["error"]))
        return reply


def _worded(message: str) -> str:
    """Helm's error without the throwaway chart's file names: Go's own words about the string."""
    message = re.sub(r"^.*?error calling tpl: ", "", message, flags=re.S)
    message = re.sub(r'error during tpl function execution for "(?:[^"\\]|\\.)*": ', "", message, flags=re.S)
    return " ".join(message.replace("gotpl:", "").split())


def _serve(conn: Connection, home: str) -> None:
    """The child: sandboxed, the SDK loaded, the address space capped; one reply per request."""
    log = os.open(os.devnull, os.O_WRONLY)
    os.dup2(log, 2)
    sandbox.isolate_current_process(Path(home))
    try:
        import helm_python
    except ImportError:
        conn.send(json.dumps({"error": "goTemplate needs the Helm SDK: `pip install 'driftcheck[helm]'`"}))
        return
    with open("/proc/self/status", encoding="ascii") as status:
        vm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap, hard = vm_kib * 1024 + RENDER_MEMORY, resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard == resource.RLIM_INFINITY or cap < hard:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    while True:
        try:
            request = json.loads(conn.recv())
        except EOFError:
            return
        conn.send(json.dumps(_batch(helm_python, Path(home), request["jobs"], request["strict"])))


def _batch(helm: Any, home: Path, jobs: list[dict[str, Any]], strict: bool) -> dict[str, Any]:
    """All jobs in one chart; when that fails, each job alone, so each error is its own job's."""
    with tempfile.TemporaryDirectory(dir=home) as tmp:
        chart = Path(tmp) / "appset"
        (chart / "templates").mkdir(parents=True)
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: appset\nversion: 0.0.0\n")
        (chart / "templates" / "_argocd.tpl").write_text(_NORMALIZE)
        for i in range(len(jobs)):
            (chart / "templates" / f"j{i}").write_text(f"{{{{ $j := index .Values.jobs {i} }}}}"
                                                        "{{ tpl $j.t $j.p }}")
        with helm.Chart.load(str(chart)) as loaded:
            def run(batch: list[dict[str, Any]], strict_: bool) -> dict[str, str]:
                out: dict[str, str] = json.loads(helm._native.call_string(
                    "helm_render", loaded._raw(), json.dumps({"jobs": batch}),
                    json.dumps({"name": "appset", "strict": strict_})))
                return out
            try:
                rendered = run(jobs, strict)
                results = [(True, rendered[f"appset/templates/j{i}"]) for i in range(len(jobs))]
            except helm.errors.HelmError:
                results = []
                blank = {"t": "", "p": {}}
                for job in jobs:  # each job alone, as j0, the other templates given nothing to do
                    try:
                        alone = [job] + [blank] * (len(jobs) - 1)
                        results.append((True, run(alone, strict)["appset/templates/j0"]))
                    except helm.errors.HelmError as e:
                        results.append((False, str(e)))
            note = ""
            if not strict and all(ok for ok, _ in results):
                try:
                    run(jobs, True)
                except helm.errors.HelmError as e:
                    note = str(e)
    return {"results": results, "lenient_note": note}
