"""`tuner.minimize` end to end on real forked children, plus the parent's bookkeeping."""

import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import tuner
from tuner import Choice, Int, TrialStatus
from tuner.limits import LimitsWarning
from tuner.limits.fallback import FallbackBackend
from tuner.outcome import TrialOutcome
from tuner.runner import Study
from tuner.space import Space
from tuner.strategies import make_strategy

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"x": Int(0, 10), "mode": Choice(["slow", "fast"])}


def bowl(config):
    return (config["x"] - 3) ** 2 + (0 if config["mode"] == "fast" else 5)


def test_minimize_runs_each_trial_in_its_own_child():
    result = tuner.minimize(bowl, SPACE, start={"x": 9, "mode": "slow"})
    assert result.best_config == {"x": 3, "mode": "fast"}
    assert result.best_value == 0
    pids = {t.pid for t in result.trials}
    assert os.getpid() not in pids
    assert len(pids) == len(result.trials)
    assert all(t.status is TrialStatus.COMPLETE and t.peak_rss > 0 for t in result.trials)
    assert result.evaluated < Space(SPACE).size


def flaky(config):
    if config["x"] > 6:
        raise RuntimeError("too many threads")
    if config["x"] == 0:
        return "not a number"
    if config == {"x": 1, "mode": "slow"}:
        time.sleep(600)  # only its timeout ends it
    return bowl(config)


def test_failed_trials_score_inf_and_the_search_goes_on():
    # One trial hangs: the timeout only has to be far longer than a quick trial takes to fork.
    result = tuner.minimize(flaky, SPACE, strategy="grid", timeout=5.0)
    by_status = {t.status for t in result.trials}
    assert {TrialStatus.FAIL, TrialStatus.TIMEOUT, TrialStatus.COMPLETE} <= by_status
    failed = [t for t in result.trials if t.status is not TrialStatus.COMPLETE]
    assert all(t.value == float("inf") and t.reason for t in failed)
    assert any("not a number" in t.reason for t in failed)
    assert any("too many threads" in t.reason for t in failed)
    assert result.best_config == {"x": 3, "mode": "fast"}


def noisy(config):
    return bowl(config) + int.from_bytes(os.urandom(1), "big") / 1000


def test_repeats_take_the_median_and_keep_the_spread():
    result = tuner.minimize(noisy, SPACE, strategy="grid", budget=4, repeats=3)
    assert result.evaluated == 4
    assert all(len(e.values) >= 3 for e in result.evaluations)
    assert result.best_config == result.finalists[0].config
    assert result.best_value == statistics.median(result.finalists[0].final)
    assert result.best_spread["min"] <= result.best_value <= result.best_spread["max"]


def replay(values: dict):
    """An in-process executor replaying a scripted sequence of values per configuration."""
    calls: dict = {}

    def executor(config):
        key = config["x"]
        calls[key] = calls.get(key, 0) + 1
        return TrialOutcome(TrialStatus.COMPLETE, value=values[key][calls[key] - 1])

    return executor


@pytest.mark.parametrize("remeasure", [True, False])
def test_a_lucky_incumbent_is_measured_again_before_losing_the_lead(remeasure):
    space = Space({"x": Int(0, 1)})
    executor = replay({0: [5.0, 10.0], 1: [4.0]})  # x=0 was lucky the first time
    study = Study(
        space, make_strategy("grid", space), executor, remeasure_incumbent=remeasure, confirm=0
    )
    result = study.run()
    first = result.evaluations[0]
    assert first.values == ([5.0, 10.0] if remeasure else [5.0])
    assert result.best_config == {"x": 1}


def counted(config):
    with open(os.environ["TFOPT_MARKS"], "a") as marks:
        marks.write(f"{config['x']}\n")
    return bowl(config)


def test_a_rerun_with_the_log_redoes_no_finished_trial(tmp_path, monkeypatch):
    log, marks = tmp_path / "trials.jsonl", tmp_path / "marks"
    monkeypatch.setenv("TFOPT_MARKS", str(marks))
    first = tuner.minimize(counted, SPACE, budget=5, log=str(log))
    ran = len(marks.read_text().split())
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["kind"] == "header"
    assert len(lines) - 1 == len(first.trials) == ran
    second = tuner.minimize(counted, SPACE, budget=5, log=str(log))
    assert len(marks.read_text().split()) == ran  # nothing ran again
    assert all(t.resumed for t in second.trials)
    assert second.best_config == first.best_config
    third = tuner.minimize(counted, SPACE, log=str(log))  # a bigger budget continues the search
    assert len(marks.read_text().split()) > ran
    assert third.best_config == {"x": 3, "mode": "fast"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"space": {"x": Int(0, 5), "mode": SPACE["mode"]}}, "written for the space"),
        ({"strategy": "grid"}, "by the 'nelder-mead' strategy, not 'grid'"),
    ],
)
def test_a_log_from_another_space_or_strategy_is_refused(tmp_path, change, match):
    log = tmp_path / "trials.jsonl"
    tuner.minimize(bowl, SPACE, budget=1, log=str(log))
    with pytest.raises(ValueError, match=match):
        tuner.minimize(**{"objective": bowl, "space": SPACE, "log": str(log), **change})


def test_a_random_search_rerun_without_a_seed_asks_for_the_same_configurations(
    tmp_path, monkeypatch
):
    log, marks = tmp_path / "trials.jsonl", tmp_path / "marks"
    monkeypatch.setenv("TFOPT_MARKS", str(marks))
    search = {"strategy": "random", "log": str(log), "confirm": 0}
    first = tuner.minimize(counted, SPACE, budget=4, **search)
    header = json.loads(log.read_text().splitlines()[0])
    assert header["strategy"] == "random"
    assert isinstance(header["seed"], int)  # chosen, since none was given, and logged
    second = tuner.minimize(counted, SPACE, budget=8, **search)
    assert [e.config for e in second.evaluations[:4]] == [e.config for e in first.evaluations]
    assert sum(t.resumed for t in second.trials) == len(first.trials)  # none of them ran again


def reads_knob(config):
    return float(os.environ["TFOPT_KNOB"])


def test_upper_case_knobs_reach_the_child_environment():
    result = tuner.minimize(reads_knob, {"TFOPT_KNOB": Int(2, 4)}, strategy="grid")
    assert [e.value for e in result.evaluations] == [2.0, 3.0, 4.0]
    assert "TFOPT_KNOB" not in os.environ


def test_limits_are_enforced_and_recorded_per_trial():
    result = tuner.minimize(bowl, SPACE, budget=2, cpus=1, memory="256M")
    assert all(t.backend not in ("none", "") for t in result.trials)
    assert all(set(t.enforced) == {"cpus", "memory"} for t in result.trials)


def test_what_the_fallback_backend_does_not_enforce_is_warned_once_and_logged(tmp_path):
    log = tmp_path / "trials.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tuner.minimize(
            bowl, SPACE, budget=3, cpus=1, memory="256M", backend=FallbackBackend(), log=str(log)
        )
    said = [str(w.message) for w in caught if issubclass(w.category, LimitsWarning)]
    assert len(result.trials) > 1
    assert len(said) == 1  # once per search, not once per trial
    assert "'fallback'" in said[0]
    assert "no CPU quota" in said[0] and "not resident memory" in said[0]
    assert all(t.backend == "fallback" for t in result.trials)
    assert all(set(t.enforced) == {"cpus", "memory"} for t in result.trials)
    logged = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert [t["enforced"] for t in logged] == [t.enforced for t in result.trials]


def importable(tmp_path, monkeypatch, source: str) -> str:
    """Write ``source`` as a module a spawned child can import; return its name."""
    (tmp_path / "spawned_objective.py").write_text(source)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "spawned_objective"


def test_spawn_mode_with_an_importable_objective(tmp_path, monkeypatch):
    module = importable(
        tmp_path, monkeypatch, "def objective(config):\n    return (config['x'] - 2) ** 2\n"
    )
    result = tuner.minimize(f"{module}:objective", {"x": Int(0, 4)}, strategy="grid")
    assert result.best_config == {"x": 2}
    assert result.evaluated == 5
    assert len({t.pid for t in result.trials}) == len(result.trials)


READS_ENV = """
import os

def objective(config):
    return 10 * int(os.environ["TFOPT_BASE"]) + int(os.environ["TFOPT_KNOB"])
"""


def test_a_base_env_reaches_every_spawned_child_under_the_knobs(tmp_path, monkeypatch):
    module = importable(tmp_path, monkeypatch, READS_ENV)
    result = tuner.minimize(
        f"{module}:objective",
        {"TFOPT_KNOB": Int(1, 2)},
        strategy="grid",
        mode="spawn",
        env={"TFOPT_BASE": "7", "TFOPT_KNOB": "9"},  # the knob's own value wins
    )
    assert [e.value for e in result.evaluations] == [71.0, 72.0]
    assert "TFOPT_BASE" not in os.environ


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"space": [1, 2]}, TypeError, "space"),
        ({"budget": 0}, ValueError, "budget"),
        ({"repeats": "3"}, ValueError, "repeats"),
        ({"strategy": "annealing"}, ValueError, "unknown strategy"),
        ({"cpus": 1000}, ValueError, "cores"),
        ({"memory": "1K"}, ValueError, "below"),
        ({"timeout": -1}, ValueError, "timeout"),
    ],
)
def test_bad_arguments_fail_before_any_trial(kwargs, error, match):
    arguments = {"objective": bowl, "space": SPACE, **kwargs}
    with pytest.raises(error, match=match):
        tuner.minimize(**arguments)


def test_a_single_lucky_measurement_never_wins_over_confirmed_leaders():
    """The winner's curse: x=3 was measured once and lucky; the finals measure it again, as
    often as the others and in the same rounds, and it loses."""
    space = Space({"x": Int(0, 3)})
    executor = replay(
        {0: [2.0, 2.6, 2.6, 2.6], 1: [2.1, 2.5, 2.5, 2.5], 2: [2.2, 2.7, 2.7, 2.7],
         3: [1.0, 9.0, 9.0, 9.0]}
    )  # fmt: skip
    study = Study(space, make_strategy("grid", space), executor, remeasure_incumbent=False)
    result = study.run()
    assert [len(e.final) for e in result.finalists] == [3, 3, 3]  # equal evidence
    assert {tuple(f.config.values()) for f in result.finalists} == {(3,), (0,), (1,)}
    assert result.best_config == {"x": 1}
    assert result.best_value == 2.5
    assert result.evaluations[2].final == []  # not a finalist: its one value decides nothing


def test_each_finals_round_measures_every_finalist_once_in_a_random_order():
    space = Space({"x": Int(0, 4)})
    seen = []

    def executor(config):
        seen.append(config["x"])
        return TrialOutcome(TrialStatus.COMPLETE, value=float(config["x"]))

    study = Study(space, make_strategy("grid", space, seed=7), executor, confirm=3, rounds=4)
    result = study.run()
    finals = seen[len(seen) - 12 :]
    rounds = [finals[i : i + 3] for i in range(0, 12, 3)]
    assert all(sorted(r) == [0, 1, 2] for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1  # not the same order every round
    assert result.best_config == {"x": 0}
    assert [e.final for e in result.finalists] == [[0.0] * 4, [1.0] * 4, [2.0] * 4]


def test_finals_cut_short_by_ctrl_c_judge_only_the_rounds_every_finalist_finished():
    space = Space({"x": Int(0, 2)})
    values = {0: [1.0, 3.0, 3.0], 1: [2.0, 2.0, 2.0], 2: [4.0, 4.0, 4.0]}
    calls = {"count": 0}
    measure = replay(values)

    def executor(config):
        calls["count"] += 1
        if calls["count"] == 3 + 3 + 2:  # the search, one round of finals, part of the second
            raise KeyboardInterrupt
        return measure(config)

    study = Study(space, make_strategy("grid", space), executor, remeasure_incumbent=False)
    result = study.run()
    assert result.interrupted
    assert [len(e.final) for e in result.finalists] == [1, 1, 1]
    assert result.best_config == {"x": 1}  # 2.0 against x=0's 3.0 in the finished round


def reports_instead_of_returning(config):
    tuner.report(config["x"] / 2)


def test_an_objective_may_report_its_value_instead_of_returning_it():
    result = tuner.minimize(reports_instead_of_returning, {"x": Int(1, 3)}, strategy="grid")
    assert [e.value for e in result.evaluations] == [0.5, 1.0, 1.5]


SCRIPT = """
import sys

import tuner
from module_beside_the_script import OFFSET  # the script's folder is importable, as when it ran


def objective(config):
    return (config["x"] - OFFSET) ** 2

{call}
"""
GUARDED = """if __name__ == "__main__":
    result = tuner.minimize(objective, {"x": tuner.Int(0, 4)}, strategy="grid", mode="spawn",
                            confirm=1, verbose=False)
    print(result.best_config, len({t.pid for t in result.trials}) == len(result.trials))
"""
UNGUARDED = """
result = tuner.minimize(objective, {"x": tuner.Int(0, 1)}, strategy="grid", mode="spawn")
print(result.best_config, result.trials[0].reason.splitlines()[0])
"""


def run_script(tmp_path, call: str):
    (tmp_path / "module_beside_the_script.py").write_text("OFFSET = 3\n")
    script = tmp_path / "tune.py"
    script.write_text(SCRIPT.replace("{call}", call))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_spawn_mode_finds_an_objective_defined_in_the_users_script(tmp_path):
    done = run_script(tmp_path, GUARDED)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'x': 3} True"


def test_a_script_that_tunes_at_its_top_level_is_told_to_guard_the_call(tmp_path):
    done = run_script(tmp_path, UNGUARDED)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("None cannot load target '__tuner_main__:objective'")
    assert 'starts the search at its top level' in done.stdout
    assert 'put the call under `if __name__ == "__main__":`' in done.stdout


def test_spawn_mode_sends_a_function_without_an_importable_name_by_value():
    offset = 2  # a closure's value travels with it

    result = tuner.minimize(
        lambda c: (c["x"] - offset) ** 2, {"x": Int(0, 3)}, strategy="grid", mode="spawn",
        confirm=1, verbose=False,
    )  # fmt: skip
    assert result.best_config == {"x": 2}
    assert all(t.status is TrialStatus.COMPLETE for t in result.trials)


def test_spawn_mode_explains_what_to_do_with_a_function_it_cannot_send():
    import threading

    lock = threading.Lock()
    with pytest.raises(TypeError, match="could not send .* by value .*start_method='fork'"):
        tuner.minimize(lambda c: lock.locked(), {"x": Int(0, 1)}, mode="spawn")


def test_minimize_shows_progress_by_default_and_verbose_false_silences_it(capsys):
    tuner.minimize(bowl, SPACE, budget=2, confirm=1, rounds=1, unit="ms")
    shown = capsys.readouterr().err.splitlines()
    assert shown[0] == "tuning: nelder-mead over 22 configurations, measuring at most 2"
    assert shown[1].startswith("trial 0 (configuration 1 of 2): x=5 mode=slow -> 9 ms")
    assert shown[-1].startswith("best: x=")
    tuner.minimize(bowl, SPACE, budget=2, verbose=False)
    assert capsys.readouterr().err == ""
