#!/usr/bin/env bash
# Run the image as the CronJob runs it, without a container engine: the image's root filesystem
# (a buildah container, mounted) read-only in new mount and PID namespaces, the given volumes bound
# into it, then the image's entrypoint (tini, PID 1) as UID:GID with the fsGroup as supplementary
# group, no capabilities (bounding set emptied) and no_new_privs. Host network (the tests' servers are on
# loopback). buildah run cannot make the root read-only, hence this.
#
# Usage: image/run.sh IMAGE ROOTFS [-u UID:GID:FSGROUP] [-w] [-v SRC:DST[:ro]]... [-e NAME=VALUE]... -- ARGS...
#   IMAGE   its Env, Entrypoint and WorkingDir are used
#   ROOTFS  `buildah mount` of a container of IMAGE; the volumes' mount points are made in it (as a runtime does)
#   -w      leave the root filesystem writable (readOnlyRootFilesystem: false)
#   -x      ARGS is the command, not the entrypoint's arguments
# The process is exec'd down to tini, so this script's PID is the namespace's parent and tini its child.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
image=$1 root=$2; shift 2
user=10001:10001:10001 readonly=1 use_entrypoint=1 volumes=() envs=()
while [ $# -gt 0 ]; do
  case $1 in
    -u) user=$2; shift 2;;
    -w) readonly=0; shift;;
    -x) use_entrypoint=0; shift;;
    -v) volumes+=("$2"); shift 2;;
    -e) envs+=("$2"); shift 2;;
    --) shift; break;;
    *) echo "image/run.sh: unknown option $1" >&2; exit 2;;
  esac
done
IFS=: read -r uid gid fsgroup <<< "$user"
# The image's own environment and entrypoint, then the caller's variables over it.
config=$(buildah inspect --type image "$image" |
         python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]))')
workdir=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get("WorkingDir") or "/")' "$config")
mapfile -t image_env < <(python3 -c 'import json, sys; [print(e) for e in json.loads(sys.argv[1]).get("Env") or []]' "$config")
entrypoint=()
[ "$use_entrypoint" = 0 ] || mapfile -t entrypoint < <(python3 -c 'import json, sys; [print(e) for e in json.loads(sys.argv[1]).get("Entrypoint") or []]' "$config")
for volume in "${volumes[@]}"; do
  IFS=: read -r source target _ <<< "$volume"
  [ -e "$root$target" ] && continue   # else a mount point, as the runtime creates it
  if [ -d "$source" ]; then mkdir -p "$root$target"; else mkdir -p "$(dirname "$root$target")"; touch "$root$target"; fi
done

exec unshare --mount --pid --fork --kill-child=SIGKILL -- /bin/bash -c '
set -euo pipefail
root=$1 readonly=$2 uid=$3 gid=$4 fsgroup=$5 workdir=$6 n_volumes=$7; shift 7
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=0755,nosuid dev "$root/dev"
for node in null zero full random urandom tty; do touch "$root/dev/$node"; mount --bind "/dev/$node" "$root/dev/$node"; done
ln -s /proc/self/fd "$root/dev/fd"
for ((i = 0; i < n_volumes; i++)); do
  IFS=: read -r source target mode <<< "$1"; shift
  mount --bind "$source" "$root$target"
  [ "$mode" != ro ] || mount -o remount,bind,ro "$root$target"
done
[ "$readonly" = 0 ] || mount -o remount,bind,ro "$root"
exec unshare --root="$root" --wd="$workdir" -- /usr/bin/setpriv --reuid="$uid" --regid="$gid" --groups="$fsgroup" \
    --no-new-privs --inh-caps=-all --bounding-set=-all -- /usr/bin/env -i "$@"
' image-run "$root" "$readonly" "$uid" "$gid" "$fsgroup" "$workdir" "${#volumes[@]}" "${volumes[@]}" \
    "${image_env[@]}" "${envs[@]}" "${entrypoint[@]}" "$@"
