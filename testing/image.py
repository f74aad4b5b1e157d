"""The built image run as deploy/base/cronjob.yaml runs it: the pod's securityContext and the container's,
read from the manifest, applied by image/run.sh to a buildah container of the image (read-only root)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CRONJOB = ROOT / "deploy" / "base" / "cronjob.yaml"
RUN = ROOT / "image" / "run.sh"


def _storage() -> str:
    """The storage driver image/lib.sh picks: overlay for root with a kernel that has it, else vfs."""
    chosen = os.environ.get("BUILDAH_STORAGE")
    if chosen:
        return chosen
    with open("/proc/filesystems", encoding="ascii") as f:
        has_overlay = any(line.split()[-1] == "overlay" for line in f if line.strip())
    return "overlay" if os.geteuid() == 0 and has_overlay else "vfs"


BUILDAH = ("buildah", "--storage-driver", _storage())


@dataclass(frozen=True)
class PodSecurity:
    """What the CronJob's pod spec says about who runs and what it may write."""

    run_as_user: int
    run_as_group: int
    fs_group: int
    run_as_non_root: bool
    read_only_root: bool
    allow_privilege_escalation: bool
    dropped_capabilities: tuple[str, ...]
    added_capabilities: tuple[str, ...]
    mounts: dict[str, bool]  # mountPath -> readOnly
    env: dict[str, str]


def cronjob_security(path: Path = CRONJOB) -> PodSecurity:
    pod = yaml.safe_load(path.read_text())["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pod_sc, sc = pod.get("securityContext", {}), container.get("securityContext", {})
    caps = sc.get("capabilities", {})
    return PodSecurity(
        run_as_user=sc.get("runAsUser", pod_sc["runAsUser"]),
        run_as_group=sc.get("runAsGroup", pod_sc["runAsGroup"]),
        fs_group=pod_sc["fsGroup"], run_as_non_root=sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False)),
        read_only_root=sc.get("readOnlyRootFilesystem", False),
        allow_privilege_escalation=sc.get("allowPrivilegeEscalation", True),
        dropped_capabilities=tuple(caps.get("drop", [])), added_capabilities=tuple(caps.get("add", [])),
        mounts={m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]},
        env={e["name"]: e["value"] for e in container.get("env", []) if "value" in e})


def image_exists(image: str) -> bool:
    inspect = subprocess.run([*BUILDAH, "inspect", "--type", "image", image], capture_output=True)
    return inspect.returncode == 0


@contextlib.contextmanager
def image_root(image: str) -> Iterator[Path]:
    """A container of the image, mounted: the root filesystem run.sh serves read-only."""
    container = subprocess.run([*BUILDAH, "from", "--pull=never", image], check=True, capture_output=True,
                               text=True).stdout.strip()
    try:
        yield Path(subprocess.run([*BUILDAH, "mount", container], check=True, capture_output=True,
                                  text=True).stdout.strip())
    finally:
        subprocess.run([*BUILDAH, "rm", container], capture_output=True)


@dataclass(frozen=True)
class PodRunner:
    """Starts commands in the image with the pod's identity; volumes map host paths to mount paths."""

    image: str
    root: Path
    security: PodSecurity

    def command(self, args: Sequence[str], volumes: dict[Path, str], env: dict[str, str] | None = None,
                entrypoint: bool = True) -> list[str]:
        s = self.security
        assert s.run_as_non_root and s.run_as_user != 0, "the CronJob runs as non-root"
        # run.sh drops every capability and sets no_new_privs: the manifest must ask for exactly that.
        assert s.dropped_capabilities == ("ALL",) and not s.added_capabilities
        assert not s.allow_privilege_escalation
        cmd = [str(RUN), self.image, str(self.root), "-u", f"{s.run_as_user}:{s.run_as_group}:{s.fs_group}"]
        if not s.read_only_root:
            cmd.append("-w")
        if not entrypoint:
            cmd.append("-x")
        for source, target in volumes.items():
            read_only = s.mounts.get(target, True)  # a mount the CronJob does not have: read-only
            cmd += ["-v", f"{source}:{target}" + (":ro" if read_only else "")]
        for name, value in {**s.env, **(env or {})}.items():
            cmd += ["-e", f"{name}={value}"]
        return [*cmd, "--", *args]

    def volume_dirs(self, base: Path) -> dict[Path, str]:
        """A host directory for each of the CronJob's mounts, owned as fsGroup leaves a volume."""
        volumes = {}
        for target in self.security.mounts:
            source = base / target.strip("/").replace("/", "_")
            source.mkdir(parents=True, exist_ok=True)
            os.chown(source, self.security.run_as_user, self.security.fs_group)
            source.chmod(0o2775)
            volumes[source] = target
        return volumes

    def run(self, args: Sequence[str], volumes: dict[Path, str], env: dict[str, str] | None = None,
            entrypoint: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(args, volumes, env, entrypoint), capture_output=True, text=True,
                              timeout=timeout)

    def start(self, args: Sequence[str], volumes: dict[Path, str],
              env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(args, volumes, env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def pid1(proc: subprocess.Popen[str]) -> int:
    """The container's PID 1 (tini): run.sh execs into `unshare --fork`, whose one child it is."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    # run.sh's process substitutions may still be exiting beside it: the one that is tini is PID 1
    [child] = [c for c in children if _comm(c) == "tini"] if len(children) > 1 else children
    return int(child)


def _comm(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
