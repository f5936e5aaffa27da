#!/bin/sh
# Install the hash-pinned lock into the active environment, in two steps so that the heavy
# TensorFlow layer can be swapped for a custom wheel without reinstalling everything else:
#
#   install-locked.sh deps       LOCK_DIR           everything in LOCK_DIR/requirements.lock but TF
#   install-locked.sh tensorflow LOCK_DIR WHEEL_DIR the locked tensorflow-cpu, or the one *.whl
#                                                   found in WHEEL_DIR (a custom build) instead
#
# When LOCK_DIR also holds wheels (the wheelhouse), pip never touches the network.
set -eu

TF_DIST=tensorflow-cpu
step=$1
lock_dir=$2

# Print the lock's entries whose name is (mode=only) or is not (mode=except) TF_DIST.
lock_entries() {
    awk -v name="$TF_DIST" -v mode="$1" '
        /^[A-Za-z0-9]/ { split($1, spec, "=="); keep = ((tolower(spec[1]) == name) == (mode == "only")) }
        keep' "$lock_dir/requirements.lock"
}

index_options() {
    if ls "$lock_dir"/*.whl >/dev/null 2>&1; then
        echo "--no-index --find-links $lock_dir"
    fi
}

install_deps() {
    lock_entries except > /tmp/deps.lock
    # shellcheck disable=SC2046  # the options are separate words by design
    pip install $(index_options) --require-hashes -r /tmp/deps.lock
}

install_tensorflow() {
    wheel_dir=$1
    custom=$(find "$wheel_dir" -maxdepth 1 -name '*.whl' | head -n 1)
    if [ -n "$custom" ]; then
        echo "install-locked: custom TensorFlow wheel $(basename "$custom") instead of the locked $TF_DIST"
        pip install --no-deps "$custom"
    else
        lock_entries only > /tmp/tf.lock
        # shellcheck disable=SC2046
        pip install $(index_options) --no-deps --require-hashes -r /tmp/tf.lock
    fi
    pip check || {
        echo "install-locked: the TensorFlow wheel needs other versions than requirements.lock pins;" \
             "re-lock (make lock) for that TensorFlow version" >&2
        exit 1
    }
}

case "$step" in
    deps) install_deps ;;
    tensorflow) install_tensorflow "$3" ;;
    *) echo "install-locked: unknown step '$step' (deps | tensorflow)" >&2; exit 2 ;;
esac
