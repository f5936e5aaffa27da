"""All fork/spawn, pipe, timeout and reaping plumbing: run one function in one child process.

Every child runs in its own process group, so a timeout or Ctrl-C kills the trial and anything it
started, and the terminal's Ctrl-C reaches only the parent, which then stops the child itself.
Every child is reaped with ``wait4`` (no zombies), which also gives its peak RSS. A child forked
by a zygote (``preload``, `tuner.zygote`) is reaped the same way by its zygote, which reports its
exit status and peak RSS; everything else about it (result pipe, timeout, kill) is as here.

Behind this package's names: `run` (``run_in_child``: which start a trial gets), `trial` (what
every child trial shares: waiting, killing, reaping, classifying), `reaping` (process groups,
pipes and ``wait4``), one module per way a child starts (`fork`, `spawn`, `zygote_client`),
`task` (what a fresh interpreter is asked to run) and `tunnel` (a fork whose child returns into
its caller's code, as the for-loop API's does).
"""

from tuner.process.run import START_METHODS, run_in_child, start_method_given
from tuner.process.trial import stop_all_children, stop_in_flight
from tuner.process.tunnel import ChildEnd, InChild, fork_point

__all__ = [
    "START_METHODS", "ChildEnd", "InChild", "fork_point", "run_in_child", "start_method_given",
    "stop_all_children", "stop_in_flight",
]
