"""All fork/spawn, pipe, timeout and reaping plumbing: run one function in one child process.

Every child runs in its own process group, so a timeout or Ctrl-C kills the trial and anything it
started, and the terminal's Ctrl-C reaches only the parent, which then stops the child itself.
Every child is reaped with ``wait4`` (no zombies), which also gives its peak RSS. A child forked
by a zygote (``preload``, `tuner.zygote`) is reaped the same way by its zygote, which reports its
exit status and peak RSS; everything else about it (result pipe, timeout, kill) is as here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tuner import worker
from tuner.child import (
    STOP_SIGNALS,
    as_trial_child,
    flush_std_streams,
    setup_failure,
    write_and_exit,
)
from tuner.limits import Limits, as_limits, choose_backend
from tuner.limits.base import Backend, Confinement, check_timeout
from tuner.outcome import TrialOutcome, TrialStatus
from tuner.zygote import ZygoteError, dumps_confinement, release, wait_exit, zygote_for

MODES = ("fork", "spawn")
PROJECT_ROOT = str(Path(__file__).resolve().parents[1])
_STDERR_TAIL = 4000


def run_in_child(
    target: Callable[..., Any] | str,
    *args: Any,
    mode: str = "fork",
    timeout: float | None = None,
    limits: Limits | Mapping | None = None,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
    backend: str | Backend | None = None,
    kwargs: Mapping[str, Any] | None = None,
    preload: Sequence[str] | None = None,
) -> TrialOutcome:
    """Run ``target(*args, **kwargs)`` in a child process under ``limits``; return what happened.

    ``mode="fork"`` forks this process (cheap: heavy imports are already done); ``target`` is a
    callable or a ``"module:function"`` string. ``mode="spawn"`` starts ``python -m tuner.worker``
    (``python`` defaults to this interpreter), which sets ``env`` before importing the target, so
    knobs read at library load work; ``target`` must then be a ``"module:function"`` string or an
    importable module-level function. The target's return value comes back as JSON data in
    ``outcome.payload`` (and ``outcome.value`` if it is a number). Ctrl-C stops the child, reaps it,
    then raises ``KeyboardInterrupt``.

    ``preload`` (module names, e.g. ``["tensorflow"]``) forks the child from a zygote of
    ``python`` and this ``env`` instead (`tuner.zygote`): a process that imported those modules
    once, with ``env`` already set, so knobs read at library load still work in either mode; the
    child is confined, timed, killed and reaped as any other. Where no zygote can serve the
    trial (its arguments are not JSON, a launching limits backend, the zygote failed to start)
    it starts as ``mode`` says; so does a forked one where this process has already imported
    every preloaded module (a plain fork is as cheap). `tuner.worker.start_info` tells the
    child how it began.

    >>> run_in_child(pow, 2, 10).value
    1024.0
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    check_timeout(timeout)
    env = {str(k): str(v) for k, v in (env or {}).items()}
    limits = as_limits(limits)
    chosen = choose_backend(limits, mode, backend)
    with chosen.open(limits) as confinement:
        if _wants_zygote(preload, mode, chosen):
            with contextlib.suppress(ZygoteError):  # no zygote: start as the mode says
                run = _zygote_trial(target, args, dict(kwargs or {}), env, python, mode,
                                    preload, confinement)  # fmt: skip
                return run.execute(timeout)
        if mode == "fork":
            check_fork_safe()
            run = _ForkedTrial(as_callable(target), args, dict(kwargs or {}), env, confinement)
        else:
            task = spawn_task(target, args, dict(kwargs or {}), env)
            run = _SpawnedTrial(task, python or sys.executable, env, confinement)
        return run.execute(timeout)


def _wants_zygote(preload: Sequence[str] | None, mode: str, backend: Backend) -> bool:
    """A zygote serves confined children, and a forked one only where this process has not
    imported the modules itself (then a plain fork is as cheap)."""
    if not preload or backend.launches:
        return False
    return mode == "spawn" or not all(name in sys.modules for name in preload)


def _zygote_trial(target, args, kwargs, env, python, mode, preload, confinement) -> _ZygoteTrial:
    """The trial as a zygote's child, or ZygoteError where no zygote can run it."""
    try:
        task = spawn_task(target, args, kwargs, env)
    except TypeError as exc:
        raise ZygoteError(str(exc)) from None
    if mode == "fork":  # the child finds what this process finds
        task["path"] += [p for p in sys.path if p and p not in task["path"]]
    request = {"task": task, "confinement": dumps_confinement(confinement),
               "affinity": sorted(os.sched_getaffinity(0))}  # fmt: skip
    interpreter = sys.executable if mode == "fork" else python or sys.executable
    return _ZygoteTrial(zygote_for(interpreter, child_env(env), preload), request, confinement)


class ChildEnd:
    """Held by a child that `fork_here` returned into: ``finish`` sends its result and exits."""

    def __init__(self, write_fd: int) -> None:
        self.write_fd = write_fd

    def finish(self, record: dict) -> NoReturn:
        write_and_exit(self.write_fd, record)


def fork_here(
    timeout: float | None = None,
    limits: Limits | Mapping | None = None,
    env: Mapping[str, str] | None = None,
    backend: str | Backend | None = None,
) -> TrialOutcome | ChildEnd:
    """Fork, and return in both processes, like ``os.fork`` with the tuner's care around it.

    The child (confined, in its own process group, ``env`` applied) gets a `ChildEnd` and must
    end with ``ChildEnd.finish(record)``; the parent waits for that record and gets the
    `TrialOutcome`. This is what lets a ``for`` loop's body run once per child
    (`tuner.generator`).
    """
    check_timeout(timeout)
    limits = as_limits(limits)
    confinement = choose_backend(limits, "fork", backend).open(limits)
    check_fork_safe()
    trial = _ForkPoint(env, confinement)
    try:
        outcome = trial.execute(timeout)
    except _InChild as inside:
        return inside.end  # the child: its confinement belongs to the parent
    except BaseException:
        confinement.close()
        raise
    confinement.close()
    return outcome


def as_callable(target: Callable[..., Any] | str) -> Callable[..., Any]:
    if isinstance(target, str):
        return worker.resolve(target)
    if not callable(target):
        raise TypeError(f"target must be a callable or a 'module:function' string, got {target!r}")
    return target


def target_name(target: Callable[..., Any] | str) -> str:
    """``"module:qualname"`` for a spawn task; a function of the ``__main__`` script is found
    under `main_module_name` (the script is then loaded by path, see `spawn_task`). TypeError
    for a function that has no such name (it then travels by value, see `_target_fields`)."""
    if isinstance(target, str):
        if target.count(":") != 1:
            raise ValueError(f"target must look like 'package.module:function', got {target!r}")
        return target
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if module is None or "<" in qualname:
        raise TypeError(f"{target!r} has no name a fresh interpreter can import")
    if module == "__main__":
        module = main_module_name()
    return f"{module}:{qualname}"


def main_module_name() -> str:
    """How a fresh interpreter finds this program's ``__main__``: the module run with
    ``python -m``, else the script, loaded by path as ``worker.MAIN_SCRIPT`` (`main_script`)."""
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in (None, "__main__"):
        return spec.name
    if main_script():
        return worker.MAIN_SCRIPT
    raise TypeError("this program's __main__ (a notebook, the prompt) has no file to import")


def main_script() -> str | None:
    """The path of the script ``__main__`` was run from, if it was run from a file."""
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    return os.path.abspath(path) if path and spec is None and os.path.isfile(path) else None


def spawn_task(target: Any, args: tuple, kwargs: dict, env: dict[str, str]) -> dict:
    """The JSON task a fresh interpreter runs; a ``functools.partial`` of an importable function
    travels as that function with its bound arguments put in front."""
    while isinstance(target, functools.partial):
        args, kwargs = (*target.args, *args), {**target.keywords, **kwargs}
        target = target.func
    task = {
        "protocol": worker.PROTOCOL,
        **_target_fields(target),
        "args": list(args),
        "kwargs": kwargs,
        "env": env,
        "path": [PROJECT_ROOT],
    }
    try:
        json.dumps(task)
    except TypeError as exc:
        raise TypeError(f"spawn mode sends arguments as JSON, and these are not: {exc}") from None
    return task


def _target_fields(target: Any) -> dict:
    """How the child finds the target: by name (the ``__main__`` script by its path), or, for
    a function no fresh interpreter can find by name (defined in a notebook cell, at the
    prompt, in another function), by value: pickled with cloudpickle, code and globals."""
    if not isinstance(target, str):
        as_callable(target)  # a clear error for what cannot be called
    try:
        name = target_name(target)
    except TypeError:
        return {"target": None, "pickled": pickled(target)}
    if name.startswith(worker.MAIN_SCRIPT + ":"):
        return {"target": name, "main": main_script()}
    return {"target": name}


def pickled(target: Callable[..., Any]) -> str:
    import base64

    import cloudpickle

    try:
        return base64.b64encode(cloudpickle.dumps(target)).decode()
    except Exception as exc:
        raise TypeError(
            f"spawn mode could not send {target!r} to a fresh interpreter by value ({exc}): "
            f"define it in a module file and pass it imported or as 'module:function', or use "
            f"mode='fork'"
        ) from None


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
            "but create no tensors before tuning, or use mode='spawn'."
        )


#: pid -> the trial waiting for it, in whichever thread: what `stop_all_children` kills.
_LIVE: dict[int, _ChildTrial] = {}
#: One child starts at a time: a child forked by one thread while another thread's new result pipe
#: still has its write end open here would inherit that end, and the other trial would then not
#: see its child's end of file until this child exits.
_STARTING = threading.Lock()


def stop_all_children() -> int:
    """Kill every trial child of this process now, from any thread; returns how many.

    Each trial then ends at once, as killed by SIGKILL, in the thread that waits for it: this is
    how a parallel lab stops its runs in flight on Ctrl-C or SIGTERM.
    """
    live = list(_LIVE.items())
    for pid, trial in live:
        trial.kill(pid)
    return len(live)


def _hold_stop_signals() -> set:
    """Hold Ctrl-C, SIGTERM and SIGHUP while a child starts; returns the mask to restore.

    A ``KeyboardInterrupt`` raised inside ``os.fork``'s at-fork callbacks is swallowed ("Exception
    ignored"), which would lose the stop; held, it arrives once the child is known and killable.
    """
    return signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _release_stop_signals(held: set) -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, held)


class _ChildTrial:
    """What forked and spawned trials share: waiting, killing, reaping and classifying."""

    confinement: Confinement

    def execute(self, timeout: float | None) -> TrialOutcome:
        flush_std_streams()
        start = time.monotonic()
        held = _hold_stop_signals()
        try:
            with _STARTING:
                pid, fd = self.start()
        except BaseException:
            _release_stop_signals(held)
            raise
        _LIVE[pid] = self
        try:
            return self._wait(pid, fd, start, timeout, held)
        finally:
            _LIVE.pop(pid, None)

    def _wait(
        self, pid: int, fd: int, start: float, timeout: float | None, held: set
    ) -> TrialOutcome:
        deadline = None if timeout is None else start + timeout
        try:
            _release_stop_signals(held)  # a stop sent while forking is raised here
            data = _read_until_eof(fd, deadline)
        except BaseException:
            self.kill(pid)
            self.reap(pid)
            raise
        finally:
            os.close(fd)
        if data is None:
            self.kill(pid)
        status, peak_rss = self.reap(pid)
        outcome = self.classify(data, status, peak_rss, pid)
        outcome.wall_time = time.monotonic() - start
        return outcome

    def start(self) -> tuple[int, int]:
        raise NotImplementedError

    def reap(self, pid: int) -> tuple[int | None, int]:
        """The child's wait status and peak RSS in bytes, once it is reaped."""
        status, rusage = _reap(pid)
        return status, rusage.ru_maxrss * 1024

    def kill(self, pid: int) -> None:
        """Kill the child's process group, then whatever the backend runs outside it."""
        _kill_group(pid)
        self.confinement.stop()

    def result_record(self, data: bytes) -> dict | None:
        raise NotImplementedError

    def failure_detail(self) -> str:
        return ""

    def classify(
        self, data: bytes | None, wait_status: int | None, peak_rss: int, pid: int
    ) -> TrialOutcome:
        conf = self.confinement
        outcome = TrialOutcome(
            status=TrialStatus.FAIL,
            pid=pid,
            peak_rss=peak_rss,
            backend=conf.backend,
            enforced=dict(conf.enforced),
            warnings=list(conf.warnings),
        )
        record = self.result_record(data) if data else None
        if record is not None:
            _apply_record(outcome, record)
        elif data is None:
            outcome.status, outcome.reason = TrialStatus.TIMEOUT, "killed after the timeout"
        elif conf.oom_killed():
            outcome.status, outcome.reason = TrialStatus.OOM, "killed by the memory cap"
        else:
            outcome.status, outcome.reason = _ended_without_result(wait_status)
            outcome.reason += self.failure_detail()
        return outcome


class _ForkedTrial(_ChildTrial):
    def __init__(self, target, args, kwargs, env, confinement) -> None:
        self.target, self.args, self.kwargs = target, args, kwargs
        self.env, self.confinement = env, confinement

    def start(self) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns from here
            os.close(read_fd)
            self._child(write_fd)
        os.close(write_fd)
        _set_group(pid)
        return pid, read_fd

    def _child(self, write_fd: int) -> None:
        result = worker.record("fail", reason="the child failed before running the trial")
        try:
            self._setup_child()
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
        return _parse_record(data)


class _CapturedStderr(_ChildTrial):
    """A child whose stderr goes to a file: its tail explains a child that died silently."""

    def execute(self, timeout: float | None) -> TrialOutcome:
        with tempfile.TemporaryFile() as self.stderr:
            return super().execute(timeout)

    def result_record(self, data: bytes) -> dict | None:
        lines = data.decode(errors="replace").strip().splitlines()
        return _parse_record(lines[-1].encode()) if lines else None

    def failure_detail(self) -> str:
        self.stderr.seek(0)
        tail = self.stderr.read().decode(errors="replace")[-_STDERR_TAIL:].strip()
        return f"; stderr ends with:\n{tail}" if tail else ""


class _SpawnedTrial(_CapturedStderr):
    def __init__(self, task, python, env, confinement) -> None:
        self.task, self.python, self.env, self.confinement = task, python, env, confinement

    def start(self) -> tuple[int, int]:
        argv = self.confinement.command([self.python, "-m", "tuner.worker"], self.env)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=child_env(self.env),
            preexec_fn=self._in_child,
        )
        proc.stdin.write(json.dumps(self.task).encode())
        proc.stdin.close()
        proc.returncode = 0  # reaped by wait4 below: keep Popen from trying to reap it again
        raw = proc.stdout.detach()
        fd = os.dup(raw.fileno())
        raw.close()
        return proc.pid, fd

    def _in_child(self) -> None:
        os.setpgid(0, 0)
        as_trial_child()
        self.confinement.enter_child()


class _ZygoteTrial(_CapturedStderr):
    """A child forked by a zygote (`tuner.zygote`): its result comes through our pipe as a
    forked child's does; its exit status and peak RSS from the zygote, which reaps it."""

    def __init__(self, zygote, request: dict, confinement: Confinement) -> None:
        self.zygote, self.request, self.confinement = zygote, request, confinement

    def execute(self, timeout: float | None) -> TrialOutcome:
        try:
            return super().execute(timeout)
        finally:
            release(self.zygote)

    def start(self) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        try:
            pid, self.reply = self.zygote.fork(self.request, write_fd, self.stderr.fileno())
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return pid, read_fd

    def reap(self, pid: int) -> tuple[int | None, int]:
        ended: list = []
        try:
            interrupted = _wait_through_ctrl_c(pid, lambda: ended.append(wait_exit(self.reply)))
        finally:
            self.reply.close()
        if interrupted:
            raise KeyboardInterrupt
        return ended[0]


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """A fresh interpreter's environment: ours, ``env``, and the project root importable."""
    path = os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, **env, "PYTHONPATH": path}


class _InChild(BaseException):
    """Carries a `fork_here` child out of the trial machinery, back to its caller."""

    def __init__(self, end: ChildEnd) -> None:
        super().__init__()
        self.end = end


class _ForkPoint(_ForkedTrial):
    """A forked trial whose child returns to the caller instead of running a target."""

    def __init__(self, env, confinement) -> None:
        super().__init__(None, (), {}, dict(env or {}), confinement)

    def _child(self, write_fd: int) -> None:
        try:
            self._setup_child()
        except BaseException as exc:  # noqa: B036 - the child must always reach os._exit
            write_and_exit(write_fd, setup_failure(exc))
        raise _InChild(ChildEnd(write_fd))


def plain_std_streams() -> None:
    """In a forked child of a Jupyter kernel, print through plain file descriptors 1 and 2: the
    kernel's own streams send messages over its sockets, and those belong to the parent."""
    if "ipykernel" not in sys.modules:
        return
    flush_std_streams()
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - the child's stdout
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 - the child's stderr


def _apply_record(outcome: TrialOutcome, record: dict) -> None:
    outcome.status = TrialStatus(record.get("status", "fail"))
    outcome.payload = record.get("payload")
    outcome.value = record.get("value")
    outcome.reason = record.get("reason")
    outcome.pid = record.get("pid") or outcome.pid
    outcome.peak_rss = max(outcome.peak_rss or 0, record.get("peak_rss") or 0) or None


def _parse_record(data: bytes) -> dict | None:
    try:
        record = json.loads(data)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("protocol") != worker.PROTOCOL:
        return None
    return record


def _ended_without_result(wait_status: int | None) -> tuple[TrialStatus, str]:
    if wait_status is None:
        return TrialStatus.FAIL, "its zygote ended before reporting how it exited"
    if os.WIFSIGNALED(wait_status):
        sig = signal.Signals(os.WTERMSIG(wait_status))
        return TrialStatus.SIGNALLED, f"killed by {sig.name} before reporting a result"
    code = os.waitstatus_to_exitcode(wait_status)
    return TrialStatus.FAIL, f"exited with code {code} without reporting a result"


def _read_until_eof(fd: int, deadline: float | None) -> bytes | None:
    """Everything the child writes until it closes its end; None if the deadline passes first."""
    chunks = []
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _set_group(pid: int) -> None:
    """Also set the group from the parent, so a kill right after fork cannot miss the child."""
    with contextlib.suppress(OSError):  # the child already did it (or already exec'd)
        os.setpgid(pid, pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _reap(pid: int) -> tuple[int, Any]:
    """Wait for the child, kill anything it left in its group, then reap it.

    The exited child stays a zombie until ``wait4``, so its group id cannot be reused by an
    unrelated process while we kill the group. Ctrl-C meanwhile is re-raised once it is reaped.
    """
    waited: list = []
    interrupted = _wait_through_ctrl_c(
        pid, lambda: os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    )
    _kill_group(pid)
    interrupted |= _wait_through_ctrl_c(pid, lambda: waited.append(os.wait4(pid, 0)))
    if interrupted:
        raise KeyboardInterrupt
    _, status, rusage = waited[0]
    return status, rusage


def _wait_through_ctrl_c(pid: int, wait: Callable[[], Any]) -> bool:
    """Run ``wait`` to completion even through Ctrl-C (killing the child); True if interrupted."""
    interrupted = False
    while True:
        try:
            wait()
            return interrupted
        except KeyboardInterrupt:
            interrupted = True
            _kill_group(pid)
