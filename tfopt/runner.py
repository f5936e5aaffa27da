"""Running (permutation, worker) jobs in child processes, saving each as it finishes.

Storage stays in this process (ask-and-tell): children only measure and send back JSON. Every
finished job is saved at once as one atomic run record (`tfopt.records`), then shown in the
derived views (``run_data.csv``, the folder's ``metrics.json``), so an interruption loses at most
the jobs in flight, and a rerun skips every job whose record says it completed.
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from . import tandem
from . import variants as variants_mod
from .executors import Executor
from .executors.local import LocalExecutor
from .export import json_format, png_format
from .export.csv_format import RUN_DATA, RunDataCsv
from .jobs import Job, jobs_for
from .matrix import Permutation
from .progress import Progress
from .records import OK, RecordStore, RunRecord, read_folder
from .summary import config_entry

RUNS = "runs"
METRICS = "metrics.json"


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
        self.csv = RunDataCsv(self.out / RUN_DATA)
        self.executor = executor or LocalExecutor(self.out, variants, progress.note)
        self._store: RecordStore | None = None

    @property
    def store(self) -> RecordStore:
        """The run records, read on first use: by then the caller holds the results folder."""
        if self._store is None:
            self._store = RecordStore(self.out / RUNS)
            self._sync_csv()
        return self._store

    def completed(self) -> set[tuple[str, int]]:
        return self.store.completed()

    def records_of(self, run_id: str) -> list[RunRecord]:
        """Every record of one permutation, whichever folder holds it."""
        return self.store.of_run(run_id)

    def _sync_csv(self) -> None:
        """run_data.csv is a view of the records: rebuilt when it disagrees with them."""
        records = self._store.records()
        if (records or self.csv.path.exists()) and not self.csv.agrees_with(records):
            self.progress.note(f"{self.csv.path} rebuilt from the {len(records)} run record(s)")
            self.csv.rebuild(records)

    def run(self, pending: Callable[[], list[Job]]) -> list[RunRecord]:
        """Run what ``pending()`` lists until nothing is left; it is asked again after each job,
        so a changed config adds or drops work. Returns the records made by this call."""
        if self.parallel:
            return self._run_parallel(pending)
        made: list[RunRecord] = []
        tried: set[tuple[str, int]] = set()
        while True:
            todo = self._todo(pending(), tried)
            if not todo:
                return made
            tried.add(todo[0].key)
            made.append(self._finish(todo[0], self._execute_pinned(todo[0])))

    def _todo(self, jobs: list[Job], tried: set, in_flight: int = 0) -> list[Job]:
        done = self.store.is_completed
        todo = [job for job in jobs if not done(job.key) and job.key not in tried]
        self.progress.set_total(self.progress.done + len(todo) + in_flight)
        return todo

    def _run_parallel(self, pending: Callable[[], list[Job]]) -> list[RunRecord]:
        all_cores = sorted(os.sched_getaffinity(0))
        free, free_gpus = list(all_cores), list(self.gpus)
        running: dict[futures.Future, tuple[Job, list[int], str | None]] = {}
        made, tried = [], set()
        with futures.ThreadPoolExecutor(max_workers=len(all_cores)) as pool:
            try:
                while True:
                    for job in self._todo(pending(), tried, len(running)):
                        need = job.cores_needed or len(all_cores)
                        if need > len(free) or (self.gpus and not free_gpus):
                            continue  # wait: a measured run never shares a core or a GPU
                        cores, free = free[:need], free[need:]
                        gpu = free_gpus.pop(0) if self.gpus else None
                        tried.add(job.key)
                        cpuset = ",".join(map(str, cores))
                        running[pool.submit(self._execute, job, cpuset, gpu)] = (job, cores, gpu)
                    if not running:
                        return made
                    finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                    for future in finished:
                        job, cores, gpu = running.pop(future)
                        free = sorted(free + cores)
                        free_gpus += [gpu] if gpu is not None else []
                        made.append(self._finish(job, future.result()))
            except KeyboardInterrupt:
                made += self._stop_in_flight(running)
                raise

    def _stop_in_flight(self, running: dict[futures.Future, tuple]) -> list[RunRecord]:
        """On Ctrl-C or SIGTERM: start nothing more, kill the runs in flight at once, and keep
        any of them that completed before the kill (a killed one is measured again on rerun).
        A second Ctrl-C meanwhile only repeats the kill: finished runs are still saved."""
        from tuner.process import stop_all_children

        self.progress.note(f"interrupted: stopping the {len(running)} run(s) in flight")
        kept = []
        pending = dict(running)
        while pending:
            try:
                stop_all_children()  # again each round: a run may have started meanwhile
                done, _ = futures.wait(pending, timeout=0.2)
                for future in done:
                    job, record = pending.pop(future)[0], future.result()
                    if record.status == OK:
                        kept.append(self._finish(job, record))
            except KeyboardInterrupt:
                continue
        return kept

    def _execute(self, job: Job, cpuset: str | None = None, gpu: str | None = None) -> RunRecord:
        return self.executor.execute(job, cpuset, gpu)

    def _execute_pinned(self, job: Job) -> RunRecord:
        with self._pinned(job.cores_needed) as cpuset:
            return self._execute(job, cpuset)

    def run_tandem(self, jobs: list[Job]) -> list[RunRecord]:
        """One round's jobs at once, taking turns at their timed sweeps (`tfopt.tandem`); with
        fewer than two left to run (a resumed round), one after the other as usual."""
        from tuner.process import stop_all_children

        todo = self._todo(jobs, set())
        if len(todo) < 2:
            return self.run(lambda: todo)
        need = max((job.cores_needed or 0 for job in todo), default=0) or None
        with self._pinned(need) as cpuset:
            return tandem.run_together(
                todo, lambda job, tandem: self.executor.execute(job, cpuset, tandem=tandem),
                self._finish, _failure,
                stop_all_children,
            )  # fmt: skip

    @contextlib.contextmanager
    def _pinned(self, need: int | None) -> Iterator[str | None]:
        """Workers that need fewer cores than this machine shows run pinned to the last ones
        (the cpuset yielded), and this (harness) thread waits on the others, off those cores."""
        cores = sorted(os.sched_getaffinity(0))
        if not need or need >= len(cores):
            yield None
            return
        harness, measured = cores[:-need], cores[-need:]
        os.sched_setaffinity(0, harness)
        try:
            yield ",".join(map(str, measured))
        finally:
            os.sched_setaffinity(0, cores)

    def trial_options(self, config: dict) -> dict:
        """How a child for ``config`` starts: fork or spawn, interpreter or image, and its env."""
        return self.executor.trial_options(config)

    def _finish(self, job: Job, record: RunRecord) -> RunRecord:
        """Save at once: the run record first (the truth), then the CSV row, the folder's
        metrics.json and its plot (views of the records)."""
        record.finished_at = time.time()
        try:
            self.store.save(job.folder, record)
            self.csv.append(record)
            records = [r for r in read_folder(job.folder) if r.run_id == job.perm.run_id]
            save_records(job.folder, job.label, job.perm, records)
        except OSError as err:
            where = f"{job.label} worker {job.worker} in {job.folder}"
            raise RuntimeError(f"could not save the run {where}: {err}; rerun to measure it "
                               "again") from err  # fmt: skip
        status = _failure(record) or "ok"
        self.progress.advance(f"{job.label} worker {job.worker} {status}", record.wall_time)
        return record


def _failure(record: RunRecord) -> str | None:
    return None if record.status == OK else f"{record.status}: {_first_line(record.reason)}"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:160] if text else ""


def save_records(folder: Path, label: str, perm: Permutation, records: list[RunRecord]) -> None:
    entry = config_entry(label, perm.run_params, records)
    data = {"run_id": perm.run_id, "label": label, "params": perm.run_params, "summary": entry,
            "workers": [r.__dict__ for r in sorted(records, key=lambda r: r.worker)]}  # fmt: skip
    json_format.write_json(folder / METRICS, data)
    if entry.get("by_size"):
        png_format.plot_sizes([entry], folder / "latency.png", f"{label}: latency by input size")


def load_records(folder: Path) -> list[RunRecord]:
    """The run records saved in one run folder."""
    return read_folder(folder)


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
