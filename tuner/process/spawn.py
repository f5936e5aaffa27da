"""A trial in a fresh interpreter, ``python -m tuner.worker`` (through the backend's launcher,
if it has one): it sets the environment before importing the target, so knobs read at library
load take effect."""

from __future__ import annotations

import json
import os
import subprocess

from tuner.child import as_trial_child
from tuner.limits.base import Confinement
from tuner.process.task import child_env
from tuner.process.trial import CapturedStderr


class SpawnedTrial(CapturedStderr):
    def __init__(self, task: dict, python: str, env: dict[str, str], confinement: Confinement):
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
        assert proc.stdin is not None and proc.stdout is not None  # both are pipes, as asked
        proc.stdin.write(json.dumps(self.task).encode())
        proc.stdin.close()
        proc.returncode = 0  # reaped with wait4 (`reaping`): Popen must not reap it too
        raw = proc.stdout.detach()  # type: ignore[attr-defined]  # a BufferedReader
        fd = os.dup(raw.fileno())
        raw.close()
        return proc.pid, fd

    def _in_child(self) -> None:
        os.setpgid(0, 0)
        as_trial_child()
        self.confinement.enter_child()
