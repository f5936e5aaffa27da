#!/usr/bin/env bash
# Build a local Debian bookworm base image (python3 + venv) from Debian packages alone:
# debootstrap into a folder, then `docker import`. No container registry is needed, so the lab
# image can be built where none is reachable. Prints the image tag on stdout.
#
# The tag carries a hash of this recipe: a rerun with an unchanged recipe reuses the image.
# The Debian mirror comes from $DEBIAN_MIRROR, else from the host's apt sources, else
# debootstrap's built-in default.
set -euo pipefail

SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
RECIPE_HASH=$(sha256sum "$0" | cut -c1-12)
TAG="tfopt-base:${SUITE}-${RECIPE_HASH}"

log() { echo "base-image: $*" >&2; }

host_apt_mirror() {
    # First plain Debian archive URI in the host's apt configuration (deb822 or one-line style).
    local sources=(/etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list)
    local existing=()
    for f in "${sources[@]}"; do [[ -f "$f" ]] && existing+=("$f"); done
    ((${#existing[@]})) || return 0
    { grep -h -E '^URIs:' "${existing[@]}" | awk '{print $2}'
      grep -h -E '^deb ' "${existing[@]}" | awk '{print $2}'; } 2>/dev/null \
        | grep -E '/debian/?$' | head -n1 || true
}

if docker image inspect "$TAG" >/dev/null 2>&1; then
    log "reusing $TAG"
    echo "$TAG"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || { log "debootstrap needs root (try: sudo $0)"; exit 1; }
if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || { log "debootstrap is needed and there is no apt-get"; exit 1; }
    log "installing debootstrap"
    { apt-get update -qq && apt-get install -y -qq debootstrap; } >&2
fi

MIRROR=${DEBIAN_MIRROR:-$(host_apt_mirror)}
ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/tfopt-rootfs.XXXXXX")
trap 'rm -rf --one-file-system "$ROOTFS"' EXIT  # never into a mount a failed run left

log "debootstrap $SUITE (${MIRROR:-debootstrap default mirror}) into $ROOTFS"
# shellcheck disable=SC2086  # MIRROR is empty or one word
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" $MIRROR >&2

log "slimming the root file system"
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/* \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/usr/share/locale/* "$ROOTFS"/tmp/*

log "importing as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "tfopt local base: Debian $SUITE + $PACKAGES" \
    - "$TAG" >&2
echo "$TAG"
