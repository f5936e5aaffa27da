#!/usr/bin/env bash
# Build the lab image, with or without a container registry and a package index:
#
#   docker/build-image.sh [docker build options...]       (make image)
#   VARIANT=intel-tensorflow-2.14.0 docker/build-image.sh  (tfopt:intel-tensorflow-2.14.0)
#
# Where the default base image can be pulled, this is a plain `docker build` that installs from the
# package index. Otherwise (or with TFOPT_OFFLINE=1) the base image is built from Debian packages
# (docker/base-image.sh) and every wheel comes from the host's wheelhouse (docker/wheelhouse.sh),
# so the build itself needs no network. VARIANT installs variants/<VARIANT>.lock (its own TensorFlow
# build and pins) instead of requirements.lock and names the image tfopt:<VARIANT>; the label
# tfopt.build records the lock, its hash, the base and the commit. IMAGE names the result (default
# tfopt); BASE_IMAGE overrides the base in both modes. Extra arguments go to `docker build`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEFAULT_BASE=python:3.11-slim
VARIANT=${VARIANT:-}
LOCK=${VARIANT:+variants/$VARIANT.lock}
LOCK=${LOCK:-requirements.lock}
IMAGE=${IMAGE:-tfopt${VARIANT:+:$VARIANT}}
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

if [[ ! -f "$ROOT/$LOCK" ]]; then
    log "variant '$VARIANT' has no lock $LOCK; locked variants: $(cd "$ROOT/variants" && ls -- *.lock | sed 's/\.lock$//' | tr '\n' ' ')"
    exit 2
fi

# What the image label tfopt.build records: enough to rebuild the same image.
build_record() {
    local tensorflow commit
    tensorflow=$(grep -o -i -E '^(tensorflow|tensorflow-cpu|intel-tensorflow)==[^ ]+' "$ROOT/$LOCK" | head -n 1)
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
    printf '{"variant": "%s", "tensorflow": "%s", "lock": "%s", "lock_sha256": "%s", "base": "%s", "offline": %s, "commit": "%s"}' \
        "${VARIANT:-main}" "$tensorflow" "$LOCK" "$(sha256sum "$ROOT/$LOCK" | cut -d' ' -f1)" \
        "$1" "$2" "$commit"
}

if offline_mode; then
    log "no registry: local Debian base image and the host wheelhouse, offline build"
    base=${BASE_IMAGE:-$("$ROOT/docker/base-image.sh")}
    stage_wheelhouse "$("$ROOT/docker/wheelhouse.sh" "$ROOT/$LOCK")"
    offline=true
else
    log "registry reachable: $DEFAULT_BASE and the package index"
    base=${BASE_IMAGE:-$DEFAULT_BASE}
    rm -rf "$CONTEXT_WHEELHOUSE"
    offline=false
fi

log "docker build -t $IMAGE (base $base, $LOCK)"
docker build --build-arg BASE_IMAGE="$base" --build-arg LOCK="$LOCK" \
    --build-arg VARIANT="$VARIANT" --build-arg BUILD_RECORD="$(build_record "$base" "$offline")" \
    -t "$IMAGE" "$@" "$ROOT" >&2
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "$IMAGE: $((size / 1000000)) MB"
echo "$IMAGE"
