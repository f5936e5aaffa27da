"""The GPUs an experiment can queue runs on: one queue per GPU, as the furcate
experiment runner has.

Found without TensorFlow (the parent never starts its runtime): ``CUDA_VISIBLE_DEVICES`` when it
is set, otherwise one id per GPU the NVIDIA driver lists under ``/proc``. A run given a GPU sees
only that one, through ``CUDA_VISIBLE_DEVICES`` in its environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver manages


def visible_gpus(env: Mapping[str, str] = os.environ, driver: Path = NVIDIA_GPUS) -> list[str]:
    """GPU ids to hand to runs, [] on a machine without one.

    As CUDA reads ``CUDA_VISIBLE_DEVICES``: the ids up to the first invalid one (``-1`` hides
    every GPU; an empty value hides them all too).
    """
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = []
        for gpu in (part.strip() for part in listed.split(",")):
            if not gpu or gpu.startswith("-"):
                break
            ids.append(gpu)
        return ids
    if not driver.is_dir():
        return []
    return [str(index) for index in range(sum(1 for _ in driver.iterdir()))]
