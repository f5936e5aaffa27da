#!/bin/sh
# Entry point of the lab image: say early, and how to fix it, when the mounted results folder
# cannot be written by the (non-root) user the container runs as; then run the command.
if [ -d /results ] && [ ! -w /results ]; then
    echo "tfopt: /results is not writable by uid $(id -u). Make the host folder writable for it," \
         "or run the container as yourself: docker run --user \"\$(id -u):\$(id -g)\" ..." >&2
fi
exec "$@"
