"""``--engine ray``: an experiment matrix on a Ray cluster, the driver (this process) owning the
records.

`RayRunner` keeps one run in flight per node that may measure, in a random order within each
round (worker k of every permutation), so no configuration always lands on the same node or the
same busy moment; each finished run is stored here exactly as a local run is (``run_data.csv``,
the run folder's ``metrics.json``), so a killed driver resumes from the records on rerun.
"""

from __future__ import annotations

import concurrent.futures as futures
import random
from collections.abc import Callable
from pathlib import Path

from . import variants as variants_mod
from .executors import ray as ray_executor
from .executors import ray_cluster
from .export import machine_types
from .jobs import Job
from .progress import Progress
from .records import RunRecord
from .runner import Runner
from .summary import Summary

MAX_IN_FLIGHT = 256  # threads waiting on Ray; the cluster's node count is the real limit


class RayRunner(Runner):
    executor: ray_executor.RayExecutor

    def __init__(
        self,
        out: Path,
        variants: dict[str, variants_mod.Variant],
        progress: Progress,
        parallel: bool = False,
        gpus: list[str] | None = None,
        executor: ray_executor.RayExecutor | None = None,
        rng: random.Random | None = None,
    ):
        """``parallel`` and ``gpus`` are the cluster's business: every node runs one at a time."""
        executor = executor or ray_executor.RayExecutor(out, variants, progress.note)
        super().__init__(out, variants, progress, executor=executor)
        self.rng = rng or random.Random()

    def run(self, pending: Callable[[], list[Job]]) -> list[RunRecord]:
        made: list[RunRecord] = []
        tried: set[tuple[str, int]] = set()
        running: dict[futures.Future, Job] = {}
        with futures.ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT) as pool:
            try:
                while True:
                    free = max(1, self.executor.slots()) - len(running)
                    for job in self.shuffled(self._todo(pending(), tried, len(running)))[:free]:
                        tried.add(job.key)
                        running[pool.submit(self._execute, job)] = job
                    if not running:
                        return made
                    done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                    made += [self._finish(running.pop(future), future.result()) for future in done]
            except KeyboardInterrupt:
                self.progress.note(f"interrupted: saving the {len(running)} run(s) in flight")
                for future in futures.as_completed(running):
                    made.append(self._finish(running[future], future.result()))
                raise

    def shuffled(self, jobs: list[Job]) -> list[Job]:
        """Rounds in order (worker 0 of every permutation first), a random order inside each."""
        rounds: dict[int, list[Job]] = {}
        for job in jobs:
            rounds.setdefault(job.worker, []).append(job)
        for members in rounds.values():
            self.rng.shuffle(members)
        return [job for worker in sorted(rounds) for job in rounds[worker]]


def run_experiment_on_ray(
    config_path: Path,
    out: Path,
    progress: Progress,
    extra_variants: dict[str, variants_mod.Variant],
    address: str | None = None,
) -> Summary:
    """`tfopt.experiment.run_experiment` with its runs on the cluster at ``address`` (a local
    Ray without one), then the report by machine type."""
    from .experiment import run_experiment

    with ray_cluster.connected(address, progress.note):
        summary = run_experiment(config_path, out, progress, extra_variants, RayRunner)
    written = machine_types.export(out)
    if written:
        progress.note(f"by machine type: {', '.join(p.name for p in written)}")
    return summary
