# Sourced by the image/ scripts: every buildah call uses vfs storage (no overlay mounts or fuse needed)
# and chroot isolation (no runc, no user namespaces), in root's default storage so the layer cache
# outlives a fresh clone.
export BUILDAH_ISOLATION=chroot
buildah() { command buildah --storage-driver vfs "$@"; }
IMAGE=${IMAGE:-localhost/driftcheck:dev}
BASE_IMAGE=${BASE_IMAGE:-localhost/driftcheck-base:bookworm}
