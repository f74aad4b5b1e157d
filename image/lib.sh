# Sourced by the image/ scripts: every buildah call uses one storage driver and chroot isolation (no runc,
# no user namespaces), in root's default storage so the layer cache outlives a fresh clone. overlay when
# the kernel has it and we are root (a code rebuild: ~30 s); vfs otherwise, which copies the whole root
# filesystem per layer (~5 GB and 10+ minutes per code rebuild on these machines). buildah ignores
# STORAGE_DRIVER from the environment, so the flag goes on every call. testing/image.py decides the same.
export BUILDAH_ISOLATION=chroot
if [ -z "${BUILDAH_STORAGE:-}" ]; then
  if [ "$(id -u)" = 0 ] && grep -qw overlay /proc/filesystems; then BUILDAH_STORAGE=overlay; else BUILDAH_STORAGE=vfs; fi
fi
export BUILDAH_STORAGE
buildah() { command buildah --storage-driver "$BUILDAH_STORAGE" "$@"; }
IMAGE=${IMAGE:-localhost/driftcheck:dev}
BASE_IMAGE=${BASE_IMAGE:-localhost/driftcheck-base:bookworm}
