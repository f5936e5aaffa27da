"""When and where each job runs: one at a time, or in parallel threads, each run on cores (and a
GPU) of its own; a measured run never shares a core or a GPU with another."""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import os
from collections.abc import Callable, Iterator

from tuner.process import stop_all_children, stop_in_flight

from .jobs import Job
from .records import OK, RunRecord
from .tandem import run_together

#: (jobs already tried, runs in flight) -> the jobs still to run, asked again after each run.
NextJobs = Callable[[set, int], list[Job]]
#: (job, cpuset, gpu) -> its record, measured.
Execute = Callable[[Job, str | None, str | None], RunRecord]
#: (job, record) -> the record, saved.
Finish = Callable[[Job, RunRecord], RunRecord]


def run_serial(next_jobs: NextJobs, execute: Execute, finish: Finish) -> list[RunRecord]:
    made: list[RunRecord] = []
    tried: set[tuple[str, int]] = set()
    while True:
        todo = next_jobs(tried, 0)
        if not todo:
            return made
        tried.add(todo[0].key)
        made.append(finish(todo[0], _execute_pinned(execute, todo[0])))


def _execute_pinned(execute: Execute, job: Job) -> RunRecord:
    with pinned(job.cores_needed) as cpuset:
        return execute(job, cpuset, None)


def run_tandem(jobs: list[Job], execute: Callable[..., RunRecord], finish: Finish,
               failed: Callable[[RunRecord], str | None]) -> list[RunRecord]:  # fmt: skip
    """One round's jobs at once on the same cores, taking turns at their timed sweeps
    (`tfopt.tandem`): ``execute(job, cpuset, tandem=...)``; ``failed(record)`` says why a run
    failed, or None."""
    need = max(job.cores_needed or 0 for job in jobs) or None
    with pinned(need) as cpuset:
        return run_together(
            jobs, lambda job, tandem: execute(job, cpuset, tandem=tandem), finish, failed,
            stop_all_children,
        )  # fmt: skip


@contextlib.contextmanager
def pinned(need: int | None) -> Iterator[str | None]:
    """Workers that need fewer cores than this machine shows run pinned to the last ones (the
    cpuset yielded), and this (harness) thread waits on the others, off the measured cores."""
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


def run_parallel(
    next_jobs: NextJobs,
    execute: Execute,
    finish: Finish,
    gpus: list[str],
    note: Callable[[str], None],
) -> list[RunRecord]:
    """Each run on cores of its own (as many as it needs, else all), and with ``gpus`` one GPU
    of its own: a run waits until they are free."""
    all_cores = sorted(os.sched_getaffinity(0))
    free, free_gpus = list(all_cores), list(gpus)
    running: dict[futures.Future, tuple[Job, list[int], str | None]] = {}
    made: list[RunRecord] = []
    tried: set[tuple[str, int]] = set()
    with futures.ThreadPoolExecutor(max_workers=len(all_cores)) as pool:
        try:
            while True:
                for job in next_jobs(tried, len(running)):
                    need = job.cores_needed or len(all_cores)
                    if need > len(free) or (gpus and not free_gpus):
                        continue  # wait: a measured run never shares a core or a GPU
                    cores, free = free[:need], free[need:]
                    gpu = free_gpus.pop(0) if gpus else None
                    tried.add(job.key)
                    cpuset = ",".join(map(str, cores))
                    running[pool.submit(execute, job, cpuset, gpu)] = (job, cores, gpu)
                if not running:
                    return made
                finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in finished:
                    job, cores, gpu = running.pop(future)
                    free = sorted(free + cores)
                    free_gpus += [gpu] if gpu is not None else []
                    made.append(finish(job, future.result()))
        except KeyboardInterrupt:
            made += _stop_in_flight(running, finish, note)
            raise


def _stop_in_flight(
    running: dict[futures.Future, tuple], finish: Finish, note: Callable[[str], None]
) -> list[RunRecord]:
    """On Ctrl-C or SIGTERM: start nothing more, stop the runs in flight and keep any of them
    that completed before the kill (a killed one is measured again on rerun)."""
    note(f"interrupted: stopping the {len(running)} run(s) in flight")
    kept: list[RunRecord] = []

    def keep(entry: tuple, record: RunRecord) -> None:
        if record.status == OK:
            kept.append(finish(entry[0], record))

    stop_in_flight(running, keep)
    return kept
