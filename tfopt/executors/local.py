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
        self._openmp: dict[str, str | None] = {}

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
        measuring concurrent requests (that phase runs after the turns, so it would overlap).
        With ``tandem = "auto"``, also none whose OpenMP threads spin while the others sweep."""
        if any(self.variants[config["variant"]].image or concurrency_levels(config)
               for config in configs):  # fmt: skip
            return False
        spinning = [config for config in configs
                    if config["tandem"] == "auto" and self._spins(config)]  # fmt: skip
        if spinning:
            self.note(f"one worker after the other, not in tandem: variant "
                      f"{spinning[0]['variant']}'s TensorFlow bundles an OpenMP runtime whose idle "
                      "threads spin (KMP_BLOCKTIME) and would slow the side sweeping meanwhile; "
                      "--tandem to run it in tandem all the same")  # fmt: skip
        return not spinning

    def _spins(self, config: Mapping[str, Any]) -> bool:
        variant = self.variants[config["variant"]]
        if variant.name not in self._openmp:
            self._openmp[variant.name] = variants_mod.openmp_runtime(self._python(variant))
        return variants_mod.openmp_spins(self._openmp[variant.name], env_for(config, variant))

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
