"""A contract every step of the lab passes (``tfopt.steps.STEP_NAMES`` for each kind of workload
``steps.NOT_APPLICABLE`` knows, and a variant step): a step added there is tested here as it is.
It applies or says why not, proposes a valid configuration that the recommendation can tell
apart, and a faster candidate whose outputs differ from TensorFlow's is never kept."""

import copy

import pytest

from tfopt import lab as lab_module
from tfopt import steps
from tfopt.executors.simulated import NoiseModel, SimulatedExecutor
from tfopt.lab import Lab, LabSettings
from tfopt.matrix import resolve, validate
from tfopt.progress import Progress
from tfopt.recommend import contradictions, paste_lines
from tfopt.rounds import Budget
from tfopt.runtimes.base import TOLERANCE
from tfopt.summary import tunable_settings
from tfopt.variants import Variant

#: One workload of each kind the steps know; a new kind must add its example here.
EXAMPLES = {"g2p": "g2p", "savedmodel": "savedmodel:{models}/tiny",
            "callable": "tests.cheap_workload:make_model"}  # fmt: skip
TUNED = {"inter": 2, "intra": 3, "omp": 2}  # what the forking tuner would have found
OLD = {"TF_ENABLE_ONEDNN_OPTS": "0"}  # the variant step's build: stock with another setting
WRONG = {"runtime": {"runtime": "tflite", "version": "1", "precision": "f32", "threads": 1,
                     "tolerance": TOLERANCE["f32"]},
         "outputs": {"1": {"max_abs": 0.25, "max_rel": 0.02, "within_tolerance": False}}}


def test_every_kind_of_workload_the_steps_know_has_an_example():
    assert set(EXAMPLES) == set(steps.NOT_APPLICABLE)
    assert {steps.workload_kind(spec) for spec in EXAMPLES.values()} == set(EXAMPLES)


@pytest.fixture
def workload(request) -> str:
    """The kind's example spec (a real SavedModel only where one is needed)."""
    spec = EXAMPLES[request.param]
    return spec.format(models=request.getfixturevalue("models")) if "{models}" in spec else spec


def base_config(workload: str) -> dict:
    extra = {"inputs": "tests.cheap_workload:make_inputs"} if ":" in workload and \
        not workload.startswith("savedmodel:") else {}  # fmt: skip
    return resolve({"workload": workload, "sizes": [1], "variants": {"old": {"env": OLD}},
                    **extra})  # fmt: skip


def the_step(name: str, workload: str):
    """The step as the lab builds it; None (after checking the refusal says why) if it does
    not apply to this workload."""
    reason = steps.skipped_steps(workload).get(name)
    if reason:
        assert name not in steps.default_steps(workload)
        with pytest.raises(ValueError, match=rf"\['{name}'\] do not apply .*{reason[:30]}"):
            steps.build([name], [], workload)
        return None
    assert name in steps.default_steps(workload)
    (step,) = steps.build([name], [], workload)
    return step


@pytest.mark.parametrize("workload", sorted(EXAMPLES), indirect=True)
@pytest.mark.parametrize("name", [*steps.STEP_NAMES, "variant_old"])
def test_contract_a_step_applies_or_says_why_and_changes_what_the_recommendation_shows(
    workload, name
):
    step = steps.VariantStep("old") if name == "variant_old" else the_step(name, workload)
    if step is None:
        return
    assert step.name == name and step.change
    current = base_config(workload)
    untouched = copy.deepcopy(current)
    candidate = step.candidate(current, lambda config: dict(TUNED))
    assert current == untouched  # the current configuration is left as it was
    validate(candidate)
    assert candidate != current
    assert tunable_settings(candidate) != tunable_settings(current)
    assert paste_lines(candidate) != paste_lines(current)  # the user is told what to set
    if isinstance(step, steps.Step):  # a fixed change does exactly what it declares
        assert {key: _get(candidate, key) for key in step.updates} == step.updates


def _get(config: dict, dotted: str):
    for part in dotted.split("."):
        config = config[part]
    return config


class WrongOutputs(SimulatedExecutor):
    """Whatever differs from ``initial`` is twice as fast, and its outputs differ from
    TensorFlow's."""

    def __init__(self, initial: dict):
        super().__init__(self.truth_of, NoiseModel(0.02, 0.02))
        self.initial = tunable_settings(initial)

    def truth_of(self, config: dict) -> float:
        return 0.01 if tunable_settings(config) != self.initial else 0.02

    def execute(self, job, cpuset=None, gpu=None):
        record = super().execute(job, cpuset, gpu)
        config = job.perm.config
        for side in config.get("sides") or []:
            if self.truth_of({**config, **side["options"], "variant": side["variant"]}) < 0.02:
                record.payload["sides"][side["label"]]["details"] = WRONG
        if not config.get("sides") and self.truth_of(config) < 0.02:
            record.payload["details"] = WRONG
        return record


@pytest.mark.parametrize("name", [*steps.default_steps("g2p"), "variant_old"])
def test_contract_a_faster_step_whose_outputs_differ_is_never_kept(name, tmp_path, monkeypatch):
    monkeypatch.setattr(Lab, "tune", lambda self, config: dict(TUNED))
    # The environment record starts TensorFlow in a child; it is not what this test checks.
    monkeypatch.setattr(lab_module.environment, "record_environment", lambda log_dir: {})
    variant = name == "variant_old"
    settings = LabSettings(base={"workload": "g2p", "sizes": [1], "repeats": 10},
                           steps=["onednn"] if variant else [name],
                           variants={"old": Variant("old", env=OLD)} if variant else {},
                           final=Budget(2, 2), screen=Budget(3, 3))  # fmt: skip
    lab = Lab(settings, tmp_path, Progress(0), executor=WrongOutputs(resolve(settings.base)))
    summary = lab.run()
    step = {step["name"]: step for step in summary["steps"]}[name]
    assert step["vs_initial"]["verdict"] == "faster"  # it is faster ...
    assert not step["kept"] and step["screening"].startswith("not ranked: outputs differ")
    assert summary["best"] == lab_module.INITIAL  # ... and never wins
    assert contradictions(summary) == []
