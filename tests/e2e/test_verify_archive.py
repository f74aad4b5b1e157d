"""A signed demo report, checked by tools that are not driftcheck: the openssl-only script in docs/ and
@sigstore/verify; one flipped byte of report.json, of the statement or of the signature fails them; and
`driftcheck verify --archive` on the same archive, before and after an edit."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testing import planted

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "verify-with-openssl.sh"
SIGSTORE_JS = Path(os.environ.get("DRIFTCHECK_SIGSTORE_JS", "/opt/driftcheck-sigstore-js"))
DEMO_APPS = ("--argocd-apps", "argocd/demo-app.yaml", "--repo-url",
             "https://git.example.com/platform/shop-gitops.git")


@pytest.fixture(scope="module")
def signed_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """-> (the archive, the run directory, the public key): keygen, the demo, then two signed checks."""
    base = tmp_path_factory.mktemp("signed-demo")
    secret = planted.secret("sign-passphrase")
    env = {"H7_SIGN_PASS": secret}
    made = planted.run_cli(["keygen", "--out", str(base / "keys"), "--passphrase-env", "H7_SIGN_PASS"],
                           base / "logs", env=env)
    assert made.returncode == 0, made.stderr
    planted.mark_input(base / "keys" / "driftcheck.key")
    demo = planted.run_cli(["demo", "--out", str(base / "demo-out")], base / "logs")
    workdir = Path(demo.stdout.rsplit("demo repository and snapshot: ", 1)[1].strip())
    out = base / "reports"
    for _ in range(2):
        run = planted.run_cli(["check", "--repo", str(workdir / "shop-gitops"), *DEMO_APPS,
                               "--live-snapshot", str(workdir / "live-snapshot.yaml"), "--out", str(out),
                               "--sign-key", str(base / "keys" / "driftcheck.key"),
                               "--sign-key-passphrase-env", "H7_SIGN_PASS", "-o", "none"],
                              base / "logs", env=env)
        assert run.returncode == 1, run.stderr  # the demo has drift, on purpose
        assert "signed " in run.stderr
    run_dir = sorted(p for p in (out / "demo").iterdir() if p.name != "chain")[-1]
    return out, run_dir, base / "keys" / "driftcheck.pub"


def openssl_check(public: Path, run_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPT), str(public), str(run_dir / "report.sigstore.json"),
                           str(run_dir / "report.json"), str(run_dir / "report.html")],
                          capture_output=True, text=True, timeout=60, env={"PATH": os.environ["PATH"]})


def flipped(src: Path, dest: Path, mutate: str) -> Path:
    """A copy of a run directory with one byte flipped in report.json, the statement or the signature."""
    shutil.copytree(src, dest)
    bundle = json.loads((dest / "report.sigstore.json").read_text())
    envelope = bundle["dsseEnvelope"]
    if mutate == "report":
        data = bytearray((dest / "report.json").read_bytes())
        data[data.index(b'"generated_at"') + 20] ^= 1
        (dest / "report.json").write_bytes(bytes(data))
    elif mutate == "statement":
        body = bytearray(base64.b64decode(envelope["payload"]))
        body[body.index(b'"summary"') + 12] ^= 1
        envelope["payload"] = base64.b64encode(bytes(body)).decode()
    else:
        sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
        sig[-3] ^= 1
        envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    (dest / "report.sigstore.json").write_text(json.dumps(bundle))
    return dest


@pytest.mark.skipif(not (shutil.which("openssl") and shutil.which("jq")), reason="needs openssl and jq")
def test_openssl_only_script_verifies_and_each_flip_fails(signed_demo: tuple[Path, Path, Path],
                                                          tmp_path: Path) -> None:
    _, run_dir, public = signed_demo
    assert "driftcheck" not in SCRIPT.read_text().replace("driftcheck.pub", "").split("\nset -eu", 1)[1]
    good = openssl_check(public, run_dir)
    assert good.returncode == 0, good.stderr
    assert "Verified OK" in good.stdout and good.stdout.count("subject OK") == 2
    assert "seq 2" in good.stdout
    for mutate in ("report", "statement", "signature"):
        bad = openssl_check(public, flipped(run_dir, tmp_path / mutate, mutate))
        assert bad.returncode == 1, (mutate, bad.stdout)
        assert "FAIL" in bad.stderr


HAVE_SIGSTORE_JS = (SIGSTORE_JS / "node_modules" / "@sigstore" / "verify").is_dir() and shutil.which("node")


@pytest.mark.skipif(not HAVE_SIGSTORE_JS,
                    reason=f"@sigstore/verify is not in {SIGSTORE_JS} (testing/prereqs.sh installs it)")
def test_sigstore_js_accepts_the_bundle_and_refuses_a_flipped_signature(
        signed_demo: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, run_dir, public = signed_demo
    script = ROOT / "testing" / "js" / "verify_bundle.js"

    def node(bundle: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["node", str(script), str(SIGSTORE_JS), str(public), str(bundle)],
                              capture_output=True, text=True, timeout=60)

    good = node(run_dir / "report.sigstore.json")
    assert good.returncode == 0 and good.stdout.strip() == "Verified OK", good.stdout + good.stderr
    for mutate in ("signature", "statement"):
        bad = node(flipped(run_dir, tmp_path / mutate, mutate) / "report.sigstore.json")
        assert bad.returncode == 1 and "signature verification failed" in bad.stdout, bad.stdout


def test_verify_archive_cli_is_ok_then_names_the_edit(signed_demo: tuple[Path, Path, Path],
                                                      tmp_path: Path) -> None:
    out, run_dir, public = signed_demo
    copy = tmp_path / "reports"
    shutil.copytree(out, copy)
    ok = planted.run_cli(["verify", "--archive", str(copy), "--key", str(public)], tmp_path / "logs")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("demo: OK: 2 link(s), seq 1-2")
    edited = copy / "demo" / run_dir.name / "report.html"
    edited.write_bytes(edited.read_bytes().replace(b"</html>", b"<!-- -->\n</html>"))
    bad = planted.run_cli(["verify", "--archive", str(copy), "--key", str(public), "-o", "json"],
                          tmp_path / "logs")
    assert bad.returncode == 1
    [verdict] = json.loads(bad.stdout)
    assert [(f["kind"], f["seq"], f["run"]) for f in verdict["findings"]] == [("modified", 2, run_dir.name)]
    usage = subprocess.run([sys.executable, "-m", "driftcheck.cli", "verify"], capture_output=True, text=True)
    assert usage.returncode == 2 and "--archive" in usage.stderr


@pytest.mark.skipif(not shutil.which("kubectl"), reason="needs kubectl (kustomize)")
def test_deploy_signing_component_mounts_the_key_from_a_secret_as_a_file(tmp_path: Path) -> None:
    import yaml

    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../deploy/base]\ncomponents: [../deploy/components/signing]\n")
    rendered = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True,
                              check=True).stdout
    [job] = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "CronJob"]
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert "--sign-key=/etc/driftcheck/signing/driftcheck.key" in container["args"]
    [mount] = [m for m in container["volumeMounts"] if m["name"] == "signing-key"]
    assert mount == {"name": "signing-key", "mountPath": "/etc/driftcheck/signing", "readOnly": True}
    [volume] = [v for v in pod["volumes"] if v["name"] == "signing-key"]
    assert volume["secret"] == {"secretName": "driftcheck-signing-key", "defaultMode": 0o400}
    assert "signing" not in json.dumps(container.get("env", []))  # a file, never an env var
