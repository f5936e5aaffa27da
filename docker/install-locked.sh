#!/bin/sh
# Install a hash-pinned lock (requirements.lock, or a variant's variants/<name>.lock) into the
# active environment, in two steps so that the heavy TensorFlow layer can be swapped for a custom
# wheel without reinstalling everything else:
#
#   install-locked.sh deps       LOCK            everything in LOCK but TensorFlow
#   install-locked.sh tensorflow LOCK WHEEL_DIR  the locked TensorFlow (tensorflow-cpu, tensorflow or
#                                                intel-tensorflow), or the one *.whl found in
#                                                WHEEL_DIR (a custom build) instead
#
# When LOCK's folder also holds wheels (the wheelhouse), pip never touches the network.
set -eu

TF_DISTS='^(tensorflow|tensorflow-cpu|intel-tensorflow)$'
step=$1
lock=$2
lock_dir=$(dirname "$lock")

# Print the lock's entries whose name is (mode=only) or is not (mode=except) a TensorFlow build.
lock_entries() {
    awk -v names="$TF_DISTS" -v mode="$1" '
        /^[A-Za-z0-9]/ { split($1, spec, "=="); keep = ((tolower(spec[1]) ~ names) == (mode == "only")) }
        keep' "$lock"
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
        echo "install-locked: custom TensorFlow wheel $(basename "$custom") instead of the locked one"
        pip install --no-deps "$custom"
    else
        lock_entries only > /tmp/tf.lock
        # shellcheck disable=SC2046
        pip install $(index_options) --no-deps --require-hashes -r /tmp/tf.lock
    fi
    pip check || {
        echo "install-locked: the TensorFlow wheel needs other versions than $(basename "$lock") pins;" \
             "lock that TensorFlow version as a variant (variants/README.md)" >&2
        exit 1
    }
}

case "$step" in
    deps) install_deps ;;
    tensorflow) install_tensorflow "$3" ;;
    *) echo "install-locked: unknown step '$step' (deps | tensorflow)" >&2; exit 2 ;;
esac
