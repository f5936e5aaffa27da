"""Tandem rounds: a round's workers run at once and take turns at their timed sweeps.

The turn protocol is checked on real processes with a stand-in sweep (the turn-taking is the
point, not what is timed); the whole path (Runner, local executor, worker, payload) on real
forked workers measuring a plain-Python workload."""

import multiprocessing
import os
import sys
import time

import pytest

from tfopt import variants
from tfopt.cli import build_parser
from tfopt.executors.local import LocalExecutor
from tfopt.interleave import measure_rounds
from tfopt.matrix import ConfigError, resolve
from tfopt.progress import Progress
from tfopt.rounds import Budget
from tfopt.runner import Runner
from tfopt.tandem import Baton, TandemError, run_together
from tfopt.variants import STOCK, Variant

pytestmark = pytest.mark.timeout(300)
FORK = multiprocessing.get_context("fork")


def _side(spec: dict, count: int, delay: float, fail: str | None, results,
          seconds: float = 0.005) -> None:  # fmt: skip
    """One tandem side: wait ``delay`` (a slow build), then sweep (sleep ``seconds``) when it
    may. ``fail``: "build" raises before the round, "crash" dies in its second turn."""
    time.sleep(delay)
    try:
        if fail == "build":
            raise RuntimeError("the model did not build")
        baton = Baton.from_task(spec)
        sweeps = []
        for _ in baton.turns(lambda: count):
            if fail == "crash" and len(sweeps) == 2:
                results.send({"error": "crashed holding the turn"})
                os._exit(1)
            start = time.monotonic()
            time.sleep(seconds)
            sweeps.append((start, time.monotonic()))
        results.send({"sweeps": sweeps, "left": baton.left})
    except Exception as error:  # noqa: BLE001 - the failure is the result here
        results.send({"error": f"{type(error).__name__}: {error}"})


def run_sides(delays: list[float], count: int = 6, fail: dict[int, str] | None = None,
              sweeps: list[tuple[int, float]] | None = None) -> list[dict]:  # fmt: skip
    """A tandem of ``len(delays)`` sides; ``sweeps``: each side's (count, seconds per sweep)."""

    def execute(side: int, tandem: dict) -> dict:
        receive, results = FORK.Pipe(duplex=False)
        how = (fail or {}).get(side)
        wanted, seconds = sweeps[side] if sweeps else (count, 0.005)
        process = FORK.Process(target=_side, args=(tandem, wanted, delays[side], how, results,
                                                   seconds))  # fmt: skip
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
    assert all(len(result["sweeps"]) >= 6 and result["left"] == [] for result in results)
    sides = assert_turns_never_overlap(results)
    changes = sum(1 for a, b in zip(sides, sides[1:], strict=False) if a != b)
    assert changes >= len(sides) // 3  # turns of one or two sweeps, not one side then the other
    assert sides[:1 + 2 * (len(results) - 1)] == [0, *[side for side in range(1, len(results))
                                                        for _ in range(2)]]  # A BB (CC) ...


@pytest.mark.parametrize("quick_sides", [1, 2])
def test_sides_of_quick_sweeps_beside_a_slow_one_need_few_turns(quick_sides):
    """A quick side (5 ms sweeps, 40 wanted) sweeps on in a turn up to half as long as the
    slow side's last (2 x 60 ms), so the slow side is not held to 40 sweeps, two per quick
    turn; the second quick side, whose turn follows the first's, too."""
    results = run_sides([0.0] * (1 + quick_sides), sweeps=[(4, 0.060)] + [(40, 0.005)] *
                        quick_sides)  # fmt: skip
    assert all("error" not in result for result in results), results
    slow, *quick = (len(result["sweeps"]) for result in results)
    assert min(quick) >= 40 and 4 <= slow <= 12  # two-sweep turns: 40 slow sweeps
    sides = assert_turns_never_overlap(results)
    assert sides[:3] == [0, 1, 1]  # A BB, then the quick sides' turns grow


def assert_turns_never_overlap(results: list[dict]) -> list[int]:
    """The sides' sweeps in time order: no two overlap; returns whose each was."""
    spans = sorted((start, end, side) for side, result in enumerate(results)
                   for start, end in result.get("sweeps", []))  # fmt: skip
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
    return [side for _, _, side in spans]


@pytest.mark.parametrize("delays", [[0.0, 0.3], [0.3, 0.0]])
def test_a_side_that_fails_to_build_leaves_and_the_other_goes_on(delays):
    started = time.monotonic()
    results = run_sides(delays, fail={1: "build"})
    assert "did not build" in results[1]["error"]
    assert len(results[0]["sweeps"]) >= 6 and results[0]["left"] == [1]
    assert time.monotonic() - started < 30  # not its trial's timeout


@pytest.mark.parametrize("crashing", [0, 1, 2])
def test_a_side_that_dies_holding_the_turn_leaves_and_the_others_go_on(crashing):
    results = run_sides([0.0, 0.1, 0.2], fail={crashing: "crash"})
    assert "crashed" in results[crashing]["error"]
    others = [side for side in range(3) if side != crashing]
    for side in others:
        assert len(results[side]["sweeps"]) >= 6 and results[side]["left"] == [crashing]
    order = assert_turns_never_overlap(results)
    assert set(order[-6:]) == set(others)  # after the crash, the two still alternate


def test_when_every_side_fails_the_round_ends():
    results = run_sides([0.0, 0.1], fail={0: "build", 1: "crash"})
    assert "did not build" in results[0]["error"]
    assert "error" in results[1]


def test_a_side_outside_the_tandem_is_refused(tmp_path):
    os.mkfifo(tmp_path / "side0")
    with pytest.raises(TandemError, match="side 2 of 2"):
        Baton(str(tmp_path), 2, 2)


# --- when a round runs in tandem ------------------------------------------------------------------

def test_tandem_is_the_default_and_takes_true_false_or_auto():
    assert resolve({})["tandem"] == "auto"
    assert resolve({"tandem": False})["tandem"] is False
    with pytest.raises(ConfigError, match="'tandem'.*true, false or \"auto\""):
        resolve({"tandem": "yes"})
    parse = build_parser().parse_args
    assert parse(["compare"]).tandem == "auto"
    assert parse(["compare", "--tandem"]).tandem is True
    assert parse(["compare", "--no-tandem"]).tandem is False


def python_with_distribution(folder, name: str, files: list[str]) -> str:
    """An interpreter (this one) that also sees an installed distribution ``name`` made of
    ``files`` (its metadata only: the point is what its record lists, as pip writes it)."""
    info = folder / f"{name.replace('-', '_')}-2.14.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 2.14.0\n")
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in files))
    python = folder / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={folder} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return str(python)


def test_an_openmp_runtime_bundled_with_tensorflow_is_found(tmp_path):
    assert variants.openmp_runtime(None) is None  # stock TensorFlow: its own thread pools
    intel = python_with_distribution(tmp_path / "intel", "intel-tensorflow", [
        "tensorflow/__init__.py", "tensorflow/include/external/llvm_openmp/libiomp5.so"])
    assert variants.openmp_runtime(intel) == "libiomp5.so"
    other = python_with_distribution(tmp_path / "other", "numpy", ["numpy.libs/libgomp.so.1"])
    assert variants.openmp_runtime(other) is None  # not TensorFlow's


@pytest.mark.parametrize(("tandem", "env", "expected"), [
    ("auto", {}, False), (True, {}, True), ("auto", {"KMP_BLOCKTIME": "0"}, True),
    ("auto", {"OMP_WAIT_POLICY": "PASSIVE"}, True)])  # fmt: skip
def test_by_default_a_build_whose_openmp_threads_spin_runs_one_after_the_other(
        tmp_path, tandem, env, expected):  # fmt: skip
    notes = []
    executor = LocalExecutor(tmp_path, {STOCK: Variant(STOCK), "intel": Variant("intel")},
                             notes.append)  # fmt: skip
    executor._openmp = {STOCK: None, "intel": "libiomp5.so"}  # as found in intel-tensorflow
    base = resolve({"tandem": tandem})
    configs = [base, {**base, "variant": "intel", "env": env}]
    assert executor.can_tandem(configs) is expected
    assert bool(notes) is not expected and all("intel's TensorFlow bundles" in n for n in notes)


# --- the whole path: real forked workers --------------------------------------------------------

WORKLOAD = {"workload": "tests.test_tandem:make_model", "inputs": "tests.test_tandem:inputs",
            "sizes": [1], "repeats": 8, "warmup": 1, "mem_trace": {"enabled": False}}  # fmt: skip


def make_model(batch_size: int | None = None):
    if os.environ.get("TANDEM_TEST_FAIL"):
        raise RuntimeError("this side's model does not build")

    def predict(numbers: list[int]) -> int:
        return sum(n * n for n in numbers * (batch_size or 1))

    return predict


def inputs(size: int, seed: int) -> list[int]:
    return list(range(size * 20_000))


def measure(tmp_path, b_env: dict, shared: bool = False, **settings):
    """Rounds of a and b (b with ``b_env``); ``shared``: also a2, which could share a's worker."""
    base = resolve({**WORKLOAD, "tandem": True, **settings})
    configs = {"a": {**base, "env": {"TANDEM_TEST_SIDE": "a"}}, "b": {**base, "env": b_env}}
    if shared:
        configs["a2"] = {**configs["a"], "batch_size": 2}
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
def test_beside_a_worker_of_its_own_no_configuration_shares_a_worker(tmp_path):
    """a and a2 could share a worker (they differ in a model option only), but b needs its own:
    then a and a2 get theirs too, so every ratio compares workers measured alike, all three
    taking turns."""
    records, rounds = measure(tmp_path, {"TANDEM_TEST_SIDE": "b"}, shared=True)
    assert rounds.layout == "in tandem: a worker each per round, taking turns"
    for worker in range(2):
        a, a2, b = (records[label][worker].payload for label in ("a", "a2", "b"))
        assert len({a["pid"], a2["pid"], b["pid"]}) == 3
        assert a["tandem"]["sides"] == 3
        turns = sorted(turn for side in (a, a2, b) for turn in side["tandem"]["turns"])
        assert all(later[0] >= earlier[1] for earlier, later in zip(turns, turns[1:], strict=False))
        assert min(len(a["sweeps"]), len(a2["sweeps"]), len(b["sweeps"])) >= 8
        assert sum(a2["sweeps"]) > sum(a["sweeps"])  # a2's calls do twice the work


@pytest.mark.slow
def test_without_tandem_the_workers_run_one_after_the_other(tmp_path):
    records, _ = measure(tmp_path, {"TANDEM_TEST_SIDE": "b"}, tandem=False)
    a, b = records["a"][0].payload, records["b"][0].payload
    assert a["tandem"] is None and b["tandem"] is None
    assert a["ended_at"] <= b["started_at"] or b["ended_at"] <= a["started_at"]


@pytest.mark.slow
def test_a_worker_whose_partner_fails_is_measured_all_the_same(tmp_path):
    records, rounds = measure(tmp_path, {"TANDEM_TEST_FAIL": "1"})
    assert "b" not in rounds.values and len(rounds.values["a"]) == 2  # no round has both
    assert "does not build" in records["b"][0].reason
    a = records["a"][0]
    assert a.ok and a.payload["tandem"]["left"] == [1 - a.payload["tandem"]["side"]]  # b's side
    assert len(a.payload["sweeps"]) >= 8
