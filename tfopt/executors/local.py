"""Real worker processes on this machine, started by the tuner's `run_in_child`.

Workers of this interpreter or another one are forked from a zygote (`tuner.zygote`) that
imported TensorFlow once with the configuration's environment, unless the config says
``zygote = false`` (``--no-zygote``); workers in a Docker image start as the image's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .. import variants as variants_mod
from ..jobs import Job, env_for, task_for
from ..records import RunRecord
from ..workloads.savedmodel import concurrency_levels

#: What a zygote imports once for all its workers (TensorFlow's runtime is not started).
PRELOAD = ("tensorflow", "tfopt.worker")


class LocalExecutor:
    def __init__(
        self, out: Path, variants: dict[str, variants_mod.Variant], note: Callable[[str], None]
    ):
        self.out, self.variants, self.note = Path(out), variants, note
        self._pythons: dict[str, str | None] = {}

    def execute(self, job: Job, cpuset: str | None = None, gpu: str | None = None,
                tandem: dict | None = None) -> RunRecord:  # fmt: skip
        import tuner

        from .. import worker

        config = job.perm.config
        options = self.trial_options(config)
        if gpu is not None:
            options["env"]["CUDA_VISIBLE_DEVICES"] = gpu
        forked = options["start_method"] == "fork"
        target = worker.measure_run if forked else "tfopt.worker:measure_run"
        limits = tuner.Limits(cpus=config["cpus"], memory=config["memory"], cpuset=cpuset)
        task = {**task_for(job), "tandem": tandem}
        outcome = tuner.run_in_child(
            target, task, timeout=config["timeout"], limits=limits, **options
        )
        return RunRecord.of_outcome(
            outcome,
            run_id=job.perm.run_id,
            worker=job.worker,
            label=job.label,
            params=job.perm.run_params,
            folder=str(job.folder.relative_to(self.out)),
        )

    def can_tandem(self, configs: list[Mapping[str, Any]]) -> bool:
        """Workers on this machine, none in a container (its pipes would need mounting) and none
        measuring concurrent requests (that phase runs after the turns, so it would overlap)."""
        return all(not self.variants[config["variant"]].image and not concurrency_levels(config)
                   for config in configs)  # fmt: skip

    def trial_options(self, config: Mapping[str, Any]) -> dict:
        """How a child for ``config`` starts: fork or spawn, interpreter or image, and its env."""
        variant = self.variants[config["variant"]]
        options = variants_mod.run_options(variant, self._python(variant))
        options["env"] = env_for(config, variant)
        if config.get("zygote", True) and not variant.image:
            options["preload"] = PRELOAD
        return options

    def _python(self, variant: variants_mod.Variant) -> str | None:
        if variant.name not in self._pythons:
            self._pythons[variant.name] = variants_mod.interpreter(variant, self.note)
        return self._pythons[variant.name]
