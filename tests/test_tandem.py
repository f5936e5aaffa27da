"""Tandem rounds: a round's workers run at once and take turns at their timed sweeps.

The turn protocol is checked on real processes with a stand-in sweep (the turn-taking is the
point, not what is timed); the whole path (Runner, local executor, worker, payload) on real
forked workers measuring a plain-Python workload."""

import multiprocessing
import os
import time

import pytest

from tfopt.interleave import measure_rounds
from tfopt.matrix import resolve
from tfopt.progress import Progress
from tfopt.rounds import Budget
from tfopt.runner import Runner
from tfopt.tandem import Baton, TandemError, run_together
from tfopt.variants import STOCK, Variant

pytestmark = pytest.mark.timeout(300)
FORK = multiprocessing.get_context("fork")


def _side(spec: dict, count: int, delay: float, fail: bool, results) -> None:
    """One tandem side: wait ``delay`` (a slow build), then sweep (sleep 5 ms) when it may."""
    time.sleep(delay)
    try:
        if fail:
            raise RuntimeError("the model did not build")
        baton = Baton.from_task(spec)
        sweeps = []
        for _ in baton.turns(count):
            start = time.monotonic()
            time.sleep(0.005)
            sweeps.append((start, time.monotonic()))
        results.send({"sweeps": sweeps})
    except Exception as error:  # noqa: BLE001 - the failure is the result here
        results.send({"error": f"{type(error).__name__}: {error}"})


def run_sides(delays: list[float], count: int = 6, fail: int | None = None) -> list[dict]:
    def execute(side: int, tandem: dict) -> dict:
        receive, results = FORK.Pipe(duplex=False)
        process = FORK.Process(target=_side, args=(tandem, count, delays[side], side == fail,
                                                   results))  # fmt: skip
        process.start()
        found = receive.recv()
        process.join()
        return found

    return run_together(list(range(len(delays))), execute, lambda side, result: result,
                        lambda result: result.get("error"), lambda: None)  # fmt: skip


@pytest.mark.parametrize("delays", [[0.0, 0.0], [0.0, 0.5], [0.5, 0.0], [0.2, 0.0, 0.4]])
def test_sides_take_turns_never_overlap_and_each_gets_its_sweeps(delays):
    results = run_sides(delays)
    assert all("error" not in result for result in results), results
    assert all(len(result["sweeps"]) >= 6 for result in results)
    spans = sorted((start, end, side) for side, result in enumerate(results)
                   for start, end in result["sweeps"])  # fmt: skip
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
    sides = [side for _, _, side in spans]
    changes = sum(1 for a, b in zip(sides, sides[1:], strict=False) if a != b)
    assert changes >= len(spans) // 3  # turns of one or two sweeps, not one side then the other


def test_a_side_that_fails_makes_the_others_give_up_at_once():
    started = time.monotonic()
    results = run_sides([0.0, 0.3], fail=1)
    assert "did not build" in results[1]["error"]
    assert "TandemError: tandem round abandoned: side 1 failed" in results[0]["error"]
    assert time.monotonic() - started < 30  # not its trial's timeout


def test_a_side_outside_the_tandem_is_refused(tmp_path):
    os.mkfifo(tmp_path / "side0")
    with pytest.raises(TandemError, match="side 2 of 2"):
        Baton(str(tmp_path), 2, 2)


# --- the whole path: real forked workers --------------------------------------------------------

WORKLOAD = {"workload": "tests.test_tandem:make_model", "inputs": "tests.test_tandem:inputs",
            "sizes": [1], "repeats": 8, "warmup": 1, "mem_trace": {"enabled": False}}  # fmt: skip


def make_model():
    if os.environ.get("TANDEM_TEST_FAIL"):
        raise RuntimeError("this side's model does not build")

    def predict(numbers: list[int]) -> int:
        return sum(n * n for n in numbers)

    return predict


def inputs(size: int, seed: int) -> list[int]:
    return list(range(size * 20_000))


def measure(tmp_path, b_env: dict, **settings):
    base = resolve({**WORKLOAD, "tandem": True, **settings})
    configs = {"a": {**base, "env": {"TANDEM_TEST_SIDE": "a"}}, "b": {**base, "env": b_env}}
    runner = Runner(tmp_path, {STOCK: Variant(STOCK)}, Progress(0))
    return measure_rounds(runner, configs, "t", Budget(2, 2), lambda _: [], alpha=0.05,
                          threshold=0.05)  # fmt: skip


@pytest.mark.slow  # two zygotes, each importing TensorFlow
def test_workers_that_cannot_share_a_process_run_as_a_tandem(tmp_path):
    records, rounds = measure(tmp_path, {"TANDEM_TEST_SIDE": "b"})
    assert set(rounds.values) == {"a", "b"} and len(rounds.values["a"]) == 2
    for worker in range(2):
        a, b = records["a"][worker].payload, records["b"][worker].payload
        assert a["pid"] != b["pid"]  # separate processes (their env differs)
        assert {a["tandem"]["side"], b["tandem"]["side"]} == {0, 1}
        turns = sorted([*a["tandem"]["turns"], *b["tandem"]["turns"]])
        assert all(later[0] >= earlier[1] for earlier, later in zip(turns, turns[1:], strict=False))
        assert len(a["sweeps"]) >= 8 and len(b["sweeps"]) >= 8


@pytest.mark.slow
def test_without_tandem_the_workers_run_one_after_the_other(tmp_path):
    records, _ = measure(tmp_path, {"TANDEM_TEST_SIDE": "b"}, tandem=False)
    a, b = records["a"][0].payload, records["b"][0].payload
    assert a["tandem"] is None and b["tandem"] is None
    assert a["ended_at"] <= b["started_at"] or b["ended_at"] <= a["started_at"]


@pytest.mark.slow
def test_a_worker_whose_partner_fails_fails_too_and_says_why(tmp_path):
    records, rounds = measure(tmp_path, {"TANDEM_TEST_FAIL": "1"})
    assert rounds.values == {}
    assert "does not build" in records["b"][0].reason
    assert "tandem round abandoned: side" in records["a"][0].reason
