"""One real worker process measuring two configurations ABBA (a payload per side), through the
Runner and the local executor. The workload is plain Python (no TensorFlow needed to check the
alternation): ``mode="graph"`` also sleeps ``PAUSE`` per call, which no sweep of it can beat."""

import time

import pytest

from tfopt.interleave import measure_rounds
from tfopt.matrix import resolve
from tfopt.progress import Progress
from tfopt.rounds import Budget
from tfopt.runner import Runner
from tfopt.variants import STOCK, Variant

WORKLOAD = {"workload": "test_shared_worker:make_model", "inputs": "test_shared_worker:inputs",
            "sizes": [1, 2], "repeats": 6, "warmup": 1, "mem_trace": {"enabled": False}}


PAUSE = 0.05  # seconds per graph-mode call


def make_model(mode: str = "eager"):
    pause = PAUSE if mode == "graph" else 0.0

    def predict(numbers: list[int]) -> int:
        time.sleep(pause)
        return sum(n * n for n in numbers)

    return predict


def inputs(size: int, seed: int) -> list[int]:
    return list(range(size * 20_000))


@pytest.mark.slow  # two real workers, each importing TensorFlow
def test_configurations_differing_in_model_options_share_one_worker_per_round(tmp_path):
    base = resolve(WORKLOAD)
    configs = {"eager": {**base, "mode": "eager"}, "graph": {**base, "mode": "graph"}}
    runner = Runner(tmp_path, {STOCK: Variant(STOCK)}, Progress(0))
    records, rounds = measure_rounds(runner, configs, "t", Budget(2, 2), lambda _: [],
                                     alpha=0.05, threshold=0.05)  # fmt: skip
    assert len(rounds.orders) == 2
    for label in configs:
        assert [r.worker for r in records[label]] == [0, 1]
        assert all(r.ok and r.label == label for r in records[label])
        assert all(len(r.sweeps()) == 6 for r in records[label])
    eager, graph = records["eager"][0], records["graph"][0]
    assert eager.payload["pid"] == graph.payload["pid"]  # one process measured both
    assert eager.payload["schema"] == graph.payload["schema"] == 2  # a payload per side
    # Each side's sweeps are its own model's (a sweep calls it once per size): the graph side
    # never beats its sleeps, so swapped or eager-only sides would fail here.
    calls = len(WORKLOAD["sizes"])
    assert all(sweep >= calls * PAUSE for r in records["graph"] for sweep in r.sweeps())
