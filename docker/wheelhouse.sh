#!/usr/bin/env bash
# Fill a wheelhouse on the host with every distribution pinned by a lock (requirements.lock, or the
# one given, e.g. variants/intel-tensorflow-2.14.0.lock), hashes checked, for the image's platform
# (CPython 3.11, manylinux x86_64). Prints the wheelhouse path on stdout.
#
#   docker/wheelhouse.sh [LOCK]
#
# The folder lives outside the repo and is named by the lock's hash, so fresh clones reuse it and a
# complete wheelhouse is never downloaded again. Packages that publish no wheel (pure-Python sdists)
# are kept as their hash-pinned sdist; the image build turns them into wheels offline with the
# setuptools that the lock pins.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK=$(realpath "${1:-$ROOT/requirements.lock}")
LOCK_HASH=$(sha256sum "$LOCK" | cut -c1-16)
WHEELHOUSE="${TFOPT_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/tfopt/wheelhouse/$LOCK_HASH}"
PYTHON=${PYTHON:-$( [[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python3 )}

# pip does not widen a manylinux tag to the older ones it includes: list them all, newest first.
PLATFORMS=()
for minor in $(seq 28 -1 5); do PLATFORMS+=(--platform "manylinux_2_${minor}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)

log() { echo "wheelhouse: $*" >&2; }

if [[ -f "$WHEELHOUSE/.complete" ]]; then
    log "reusing $WHEELHOUSE"
    echo "$WHEELHOUSE"
    exit 0
fi

mkdir -p "$WHEELHOUSE"
log "downloading the locked distributions into $WHEELHOUSE"
# --no-deps: the lock is already the complete, resolved set; pip still checks every hash.
"$PYTHON" -m pip download --quiet --disable-pip-version-check \
    --require-hashes --no-deps --prefer-binary \
    --implementation cp --python-version 3.11 --abi cp311 \
    "${PLATFORMS[@]}" \
    -r "$LOCK" -d "$WHEELHOUSE" >&2

expected=$(grep -c -E '^[A-Za-z0-9]' "$LOCK")
found=$(find "$WHEELHOUSE" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' -o -name '*.zip' \) | wc -l)
if [[ "$found" -ne "$expected" ]]; then
    log "expected $expected distributions, found $found in $WHEELHOUSE"
    exit 1
fi
touch "$WHEELHOUSE/.complete"
echo "$WHEELHOUSE"
