"""A trial forked from this process: cheap, as the heavy imports are already done, and refused
once TensorFlow's runtime has started here."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from tuner import worker
from tuner.child import as_trial_child, flush_std_streams, setup_failure, write_and_exit
from tuner.limits.base import Confinement
from tuner.process.reaping import set_group
from tuner.process.trial import ChildTrial, parse_record


class ForkedTrial(ChildTrial):
    def __init__(
        self,
        target: Callable[..., Any] | None,
        args: tuple,
        kwargs: dict,
        env: dict[str, str],
        confinement: Confinement,
    ) -> None:
        self.target, self.args, self.kwargs = target, args, kwargs
        self.env, self.confinement = env, confinement

    def start(self) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            os.close(read_fd)
            self._child(write_fd)
        os.close(write_fd)
        set_group(pid)
        return pid, read_fd

    def _child(self, write_fd: int) -> None:
        result = worker.record("fail", reason="the child failed before running the trial")
        try:
            self._setup_child()
            assert self.target is not None  # only a fork point has none, and it has its own _child
            result = worker.call(self.target, self.args, self.kwargs)
        except BaseException as exc:  # noqa: B036 - the child must always reach os._exit
            result = setup_failure(exc)
        finally:
            write_and_exit(write_fd, result)

    def _setup_child(self) -> None:
        os.setpgid(0, 0)
        as_trial_child()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.confinement.enter_child()
        os.environ.update(self.env)
        plain_std_streams()
        worker.set_start("fork")

    def result_record(self, data: bytes) -> dict | None:
        return parse_record(data)


def check_fork_safe() -> None:
    """Refuse to fork once TensorFlow's runtime has started: its thread pools are then fixed."""
    if "tensorflow" not in sys.modules:
        return
    from tensorflow.python.eager import context

    ctx = context.context_safe()
    if ctx is not None and getattr(ctx, "_context_handle", None) is not None:
        raise RuntimeError(
            "TensorFlow's runtime has already started in this process (a tensor or op was "
            "created), so forked trials would inherit its fixed thread pools. Import TensorFlow "
            "but create no tensors before tuning, or use start_method='spawn'."
        )


def plain_std_streams() -> None:
    """In a forked child of a Jupyter kernel, print through plain file descriptors 1 and 2: the
    kernel's own streams send messages over its sockets, and those belong to the parent."""
    if "ipykernel" not in sys.modules:
        return
    flush_std_streams()
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the child's stdout
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 - the child's stderr
