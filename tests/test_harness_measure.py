"""The measuring loop's phases, on a fake clock where timing itself is not the point, and the
optimisation steps' candidates."""

import pytest

from tfopt import measure, steps
from tfopt.matrix import resolve
from tfopt.progress import Progress, format_duration


class FakeModel:
    """A model whose every call advances a fake clock by 1 ms per item (+50 ms on first call)."""

    def __init__(self):
        self.now, self.calls = 0.0, 0

    def clock(self) -> float:
        return self.now

    def predict(self, items: list) -> None:
        self.now += 0.001 * len(items) + (0.05 if self.calls == 0 else 0.0)
        self.calls += 1


def test_phases_warmup_then_fixed_repeats():
    model = FakeModel()
    inputs = {1: ["a"], 4: ["a"] * 4}
    result = measure.run_phases(model.predict, inputs, warmup_sweeps=2, repeats=3, duration=None,
                                clock=model.clock)  # fmt: skip
    assert result["warmup"] == pytest.approx([0.055, 0.005])  # first call paid for tracing
    assert result["latencies"] == {"1": pytest.approx([0.001] * 3), "4": pytest.approx([0.004] * 3)}
    assert result["sweeps"] == pytest.approx([0.005] * 3)
    assert result["items_per_sweep"] == 5
    assert model.calls == 2 * 2 + 3 * 2


def test_duration_is_calibrated_after_warmup_not_from_it():
    model = FakeModel()
    inputs = {10: ["a"] * 10}  # 10 ms per sweep once warm
    result = measure.run_phases(model.predict, inputs, warmup_sweeps=1, repeats=None, duration=0.1,
                                clock=model.clock)  # fmt: skip
    assert len(result["sweeps"]) == 10  # 0.1 s / 10 ms, not 0.1 s / 60 ms
    short = measure.run_phases(FakeModel().predict, inputs, warmup_sweeps=1, repeats=None,
                               duration=0.001, clock=FakeModel().clock)  # fmt: skip
    assert len(short["sweeps"]) == measure.MIN_SWEEPS == 3  # one burst is never the median


@pytest.mark.parametrize("tandem", [False, True])
def test_the_last_calibrating_sweep_is_the_first_timed_one_unless_partners_were_warming_up(tandem):
    """A slow model (one sweep fills the minimum) sweeps 1 warmup + MIN_SWEEPS times, the
    calibration's sweep opening the ABBA order; in a tandem that sweep too waits for a turn,
    and the turns are asked for just the sweeps still needed once it is calibrated."""
    model = FakeModel()
    inputs = [{20: ["a"] * 20}, {10: ["a"] * 10}]  # 20 ms and 10 ms per sweep: loops stay 1
    swept: list[int] = []

    def predict_of(side: int):
        def predict(items: list) -> None:
            swept.append(side)
            model.predict(items)
        return predict

    yielded: list[int] = []

    def turns(count):
        while len(yielded) < count():
            yielded.append(len(swept))
            yield

    results = measure.run_sides([predict_of(0), predict_of(1)], inputs, warmup_sweeps=1,
                                repeats=None, duration=0.01, clock=model.clock,
                                turns=turns if tandem else None)  # fmt: skip
    assert swept[:2] == [0, 1]  # the warmup
    assert swept[2:] == measure.abba(2, measure.MIN_SWEEPS)  # 0 1 1 0 0 1
    assert yielded == (list(range(2, 8)) if tandem else [])  # one turn before each sweep
    assert [len(result["sweeps"]) for result in results] == [measure.MIN_SWEEPS] * 2
    assert results[0]["latencies"] == {"20": pytest.approx([0.020] * measure.MIN_SWEEPS)}


def test_progress_eta_from_finished_runs():
    ticks = iter([0.0, 10.0, 20.0])
    lines = []

    class Stream:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    progress = Progress(4, stream=Stream(), clock=lambda: next(ticks))
    progress.advance("run a", 10.0)
    assert progress.eta() == pytest.approx(30.0)
    progress.expected = 6
    assert progress.eta() == pytest.approx(50.0)
    assert "[1/4] run a (10.0 s)" in lines[0] and "ETA 0:30" in lines[0]
    assert format_duration(3725) == "1:02:05"


def test_steps_propose_candidates_from_the_current_config():
    current = resolve({"mode": "graph"})
    xla = steps.MODEL_STEPS["xla"].candidate(current, tune=None)
    assert xla["mode"] == "xla" and current["mode"] == "graph"
    off = steps.OneDnnToggle().candidate(current, tune=None)
    assert off["knobs"]["onednn"] is False
    assert steps.OneDnnToggle().candidate(off, tune=None)["knobs"]["onednn"] is True
    tuned = steps.TunedThreads().candidate(current, tune=lambda c: {"inter": 1, "intra": 2,
                                                                    "omp": 1})  # fmt: skip
    assert tuned["knobs"] == {"inter": 1, "intra": 2, "omp": 1, "onednn": None}
    assert steps.VariantStep("old").candidate(current, tune=None)["variant"] == "old"


def test_step_selection():
    assert steps.default_steps("g2p") == ["graph", "xla", "batching", "onednn", "threads"]
    assert steps.default_steps("savedmodel:/m") == ["xla", "grappler", "onednn", "threads"]
    assert steps.default_steps("pkg.mod:factory") == ["onednn", "threads"]
    chosen = steps.build(["threads"], ["old"])
    assert [s.name for s in chosen] == ["threads", "variant_old"]
    with pytest.raises(ValueError, match=r"unknown step\(s\) \['turbo'\]"):
        steps.build(["turbo"], [])


@pytest.mark.parametrize(("sides", "repeats", "extra_turns"), [(1, 5, 0), (2, 3, 0), (3, 5, 4)])
def test_in_a_tandem_a_shared_worker_alternates_its_sides_abba_within_its_turns(
        sides, repeats, extra_turns):  # fmt: skip
    """The turns may run past the count (partners still sweeping): every side still gets at
    least ``repeats`` sweeps, in ABBA order, one per turn yielded."""
    models = [FakeModel() for _ in range(sides)]
    swept: list[int] = []
    asked: list[int] = []

    def turns(count):
        for _ in range(count() + extra_turns):
            yield
        asked.append(count())

    def predict_of(side: int):
        def predict(items: list) -> None:
            swept.append(side)
            models[side].predict(items)
        return predict

    results = measure.measure([predict_of(s) for s in range(sides)], [{1: ["a"]}] * sides,
                              repeats, models[0].clock, gate=measure.Gate(turns))  # fmt: skip
    assert asked == [sides * repeats]
    assert swept == [measure.abba(sides, 2)[i % (2 * sides)]
                     for i in range(sides * repeats + extra_turns)]  # fmt: skip
    assert all(len(result["sweeps"]) >= repeats for result in results)
