#!/bin/sh
# Entry point of the lab image. It starts as root only to look at /results, then runs the command
# as the owner of that folder (setpriv, from util-linux), so the files belong to whoever mounted it:
#   - /results mounted from a folder of uid U, gid G  -> the command runs as U:G (root only when
#     the folder belongs to root);
#   - nothing mounted                                  -> as the image's user `lab`, and the last
#     lines say where the results are and how to keep them;
#   - started as a non-root user (docker run --user)   -> as that user, with a warning when
#     /results is not writable.
RESULTS=/results
LAB_USER=lab

mounted() {
    # Field 5 of mountinfo is the mount point.
    awk -v dir="$RESULTS" '$5 == dir { found = 1 } END { exit !found }' /proc/self/mountinfo
}

has_results() {
    [ -n "$(find "$RESULTS" -mindepth 1 -maxdepth 1 2>/dev/null | head -n 1)" ]
}

# Become the command, as uid:gid with a writable HOME (pip, matplotlib and the lab's venvs use it).
run_as() {
    uid=$1 gid=$2
    shift 2
    [ "$uid" != 0 ] || exec "$@"
    home=$(getent passwd "$uid" | cut -d: -f6)
    if [ -z "$home" ] || [ ! -d "$home" ]; then
        home=/tmp/home-$uid
        mkdir -p "$home" && chown "$uid:$gid" "$home"
    fi
    HOME=$home exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
}

# Run in the background and wait, passing docker stop and Ctrl-C on, so that the hint can follow
# the command's own output; the command's exit status is kept. A background command's stdin would
# be /dev/null: it gets the container's stdin through fd 3 (docker run -i, -it).
run_then_tell() {
    exec 3<&0
    "$@" <&3 3<&- &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null' TERM
    # On a terminal Ctrl-C reaches the whole process group already; only pass it on otherwise.
    trap '[ -t 1 ] || kill -INT "$child" 2>/dev/null' INT
    status=0
    while :; do
        wait "$child"
        status=$?
        kill -0 "$child" 2>/dev/null || break
    done
    if has_results; then
        echo "tfopt: the results are in $RESULTS inside this container, which has no folder" \
             "mounted there: they go with the container. Keep them with" \
             "docker run -v \"\$PWD/results:$RESULTS\" ..., or (for a container run without --rm)" \
             "docker cp <container>:$RESULTS ./results" >&2
    fi
    return "$status"
}

if [ "$(id -u)" != 0 ]; then
    if [ -d "$RESULTS" ] && [ ! -w "$RESULTS" ]; then
        echo "tfopt: $RESULTS is not writable by uid $(id -u). Make the host folder writable for it," \
             "or run the container without --user: it then runs as the folder's owner" >&2
    fi
    exec "$@"
fi

if mounted; then
    owner=$(stat -c '%u %g' "$RESULTS")
    # shellcheck disable=SC2086  # two words: uid and gid
    set -- $owner "$@"
    exec_as=run_as
else
    set -- "$(id -u "$LAB_USER")" "$(id -g "$LAB_USER")" "$@"
    exec_as="run_then_tell run_as"
fi
# shellcheck disable=SC2086  # the function and its helper are separate words
$exec_as "$@"
