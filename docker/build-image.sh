#!/usr/bin/env bash
# Build the lab image, with or without a container registry and a package index:
#
#   docker/build-image.sh [docker build options...]       (make image)
#
# Where the default base image can be pulled, this is a plain `docker build` that installs from the
# package index. Otherwise (or with TFOPT_OFFLINE=1) the base image is built from Debian packages
# (docker/base-image.sh) and every wheel comes from the host's wheelhouse (docker/wheelhouse.sh),
# so the build itself needs no network. IMAGE names the result (default tfopt); BASE_IMAGE
# overrides the base in both modes. Extra arguments go to `docker build`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEFAULT_BASE=python:3.11-slim
IMAGE=${IMAGE:-tfopt}
CONTEXT_WHEELHOUSE="$ROOT/wheelhouse"

log() { echo "build-image: $*" >&2; }

# The registry build needs both the base image (cached or pullable) and pip's package index.
registry_reachable() {
    { docker image inspect "$DEFAULT_BASE" >/dev/null 2>&1 \
        || timeout 120 docker pull --quiet "$DEFAULT_BASE" >/dev/null 2>&1; } \
        && timeout 60 python3 -m pip index versions pip >/dev/null 2>&1
}

offline_mode() {
    case "${TFOPT_OFFLINE:-auto}" in
        1) return 0 ;;
        0) return 1 ;;
        *) ! registry_reachable ;;
    esac
}

# Hard-link (or copy, across file systems) the host wheelhouse into the git-ignored context folder.
stage_wheelhouse() {
    local source=$1
    rm -rf "$CONTEXT_WHEELHOUSE"
    mkdir -p "$CONTEXT_WHEELHOUSE"
    local files
    shopt -s nullglob
    files=("$source"/*.whl "$source"/*.tar.gz "$source"/*.zip)
    shopt -u nullglob
    [ ${#files[@]} -gt 0 ] || { log "the wheelhouse $source is empty"; exit 1; }
    ln "${files[@]}" "$CONTEXT_WHEELHOUSE/" 2>/dev/null || cp "${files[@]}" "$CONTEXT_WHEELHOUSE/"
}

if offline_mode; then
    log "no registry: local Debian base image and the host wheelhouse, offline build"
    base=${BASE_IMAGE:-$("$ROOT/docker/base-image.sh")}
    stage_wheelhouse "$("$ROOT/docker/wheelhouse.sh")"
else
    log "registry reachable: $DEFAULT_BASE and the package index"
    base=${BASE_IMAGE:-$DEFAULT_BASE}
    rm -rf "$CONTEXT_WHEELHOUSE"
fi

log "docker build -t $IMAGE (base $base)"
docker build --build-arg BASE_IMAGE="$base" -t "$IMAGE" "$@" "$ROOT" >&2
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "$IMAGE: $((size / 1000000)) MB"
echo "$IMAGE"
