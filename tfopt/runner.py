"""Running (permutation, worker) jobs in child processes, saving each as it finishes.

Storage stays in this process (ask-and-tell): children only measure and send back JSON. Every
finished job is saved at once (`tfopt.saving`), so an interruption loses at most the jobs in
flight, and a rerun skips every job whose record says it completed. Which job runs when, and on
which cores, is `tfopt.scheduling`'s; what measures it, the executor's (`tfopt.executors`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from . import variants as variants_mod
from .executors import Executor
from .executors.local import LocalExecutor
from .jobs import Job, jobs_for
from .matrix import Permutation
from .progress import Progress
from .records import OK, RecordStore, RunRecord
from .saving import RUNS, RunSaver, load_records
from .scheduling import run_parallel, run_serial, run_tandem


class Runner:
    def __init__(
        self,
        out: Path,
        variants: dict[str, variants_mod.Variant],
        progress: Progress,
        parallel: bool = False,
        gpus: list[str] | None = None,
        executor: Executor | None = None,
    ):
        """``gpus``: with ``parallel``, one queue per GPU id, each run holding one GPU alone.
        ``executor`` measures one job (default: a real child process on this machine)."""
        self.out, self.variants, self.progress = Path(out), variants, progress
        self.parallel, self.gpus = parallel, list(gpus or [])
        self.saver = RunSaver(self.out, progress.note)
        self.executor = executor or LocalExecutor(self.out, variants, progress.note)

    @property
    def store(self) -> RecordStore:
        return self.saver.store

    def completed(self) -> set[tuple[str, int]]:
        return self.store.completed()

    def records_of(self, run_id: str) -> list[RunRecord]:
        """Every record of one permutation, whichever folder holds it."""
        return self.store.of_run(run_id)

    def run(self, pending: Callable[[], list[Job]]) -> list[RunRecord]:
        """Run what ``pending()`` lists until nothing is left; it is asked again after each job,
        so a changed config adds or drops work. Returns the records made by this call."""

        def next_jobs(tried: set, in_flight: int) -> list[Job]:
            return self._todo(pending(), tried, in_flight)

        if self.parallel:
            return run_parallel(next_jobs, self._execute, self._finish, self.gpus,
                                self.progress.note)  # fmt: skip
        return run_serial(next_jobs, self._execute, self._finish)

    def _todo(self, jobs: list[Job], tried: set, in_flight: int = 0) -> list[Job]:
        done = self.store.is_completed
        todo = [job for job in jobs if not done(job.key) and job.key not in tried]
        self.progress.set_total(self.progress.done + len(todo) + in_flight)
        return todo

    def _execute(self, job: Job, cpuset: str | None = None, gpu: str | None = None) -> RunRecord:
        return self.executor.execute(job, cpuset, gpu)

    def run_tandem(self, jobs: list[Job]) -> list[RunRecord]:
        """One round's jobs at once, taking turns at their timed sweeps (`tfopt.tandem`); with
        fewer than two left to run (a resumed round), one after the other as usual."""
        todo = self._todo(jobs, set())
        if len(todo) < 2:
            return self.run(lambda: todo)
        return run_tandem(todo, self.executor.execute, self._finish, _failure)

    def trial_options(self, config: dict) -> dict:
        """How a child for ``config`` starts: fork or spawn, interpreter or image, and its env."""
        return self.executor.trial_options(config)

    def _finish(self, job: Job, record: RunRecord) -> RunRecord:
        """Save at once, then count the run as done."""
        record.finished_at = time.time()
        self.saver.save(job, record)
        status = _failure(record) or "ok"
        self.progress.advance(f"{job.label} worker {job.worker} {status}", record.wall_time)
        return record


def _failure(record: RunRecord) -> str | None:
    return None if record.status == OK else f"{record.status}: {_first_line(record.reason)}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:160] if text else ""


def measure_labelled(
    runner: Runner, configs: dict[str, dict], workers: int, tag: str
) -> dict[str, list[RunRecord]]:
    """Interleaved workers of each labelled config; every completed record per label (resumed
    ones included). ``tag`` keeps phases apart: the same config in two phases is two runs."""
    perms, folders = labelled(runner, configs, tag)
    jobs = jobs_for(list(perms.values()), list(perms), list(folders.values()), workers)
    runner.run(lambda: jobs)
    return {label: records_of(folders[label], perm) for label, perm in perms.items()}


def labelled(runner: Runner, configs: dict[str, dict],
             tag: str) -> tuple[dict[str, Permutation], dict[str, Path]]:  # fmt: skip
    """Each label's permutation (its config in phase ``tag``) and run folder."""
    perms = {label: Permutation({**config, "tag": tag}) for label, config in configs.items()}
    folders = {label: runner.out / RUNS / f"{tag}_{label}_{perm.run_id[:6]}"
               for label, perm in perms.items()}  # fmt: skip
    return perms, folders


def records_of(folder: Path, perm: Permutation) -> list[RunRecord]:
    return [r for r in load_records(folder) if r.run_id == perm.run_id]
