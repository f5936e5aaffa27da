"""A contract every kind of workload passes (every subclass of ``tfopt.workloads.Workload``: a
kind added there fails here until it has an example, and is then tested as it is). Checked in
one fresh interpreter (tests/workload_contract.py), so this process never imports TensorFlow."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tfopt.workloads
from tfopt.workloads import Workload, resolve

ROOT = Path(__file__).resolve().parents[1]
#: One spec per kind; "{models}" is the folder of the session's real SavedModels.
EXAMPLES = {
    "G2pWorkload": {"spec": "g2p"},
    "CallableWorkload": {"spec": "tests.cheap_workload:make_model",
                         "inputs": "tests.cheap_workload:make_inputs"},
    "SavedModelWorkload": {"spec": "savedmodel:{models}/tiny"},
}  # fmt: skip
#: A spec of each kind the parent must refuse, and what the refusal names.
BAD = {
    "G2pWorkload": ("g2p2", "is not 'g2p', 'module:factory' or 'savedmodel:/path"),
    "CallableWorkload": ("tests.no_such_module:make_model", "module 'tests.no_such_module'"),
    "SavedModelWorkload": ("savedmodel:/no/such/model", "no saved_model.pb in '/no/such/model'"),
}


def kinds() -> list[str]:
    assert tfopt.workloads  # every kind is imported with the package
    return sorted(kind.__name__ for kind in Workload.__subclasses__())


def test_every_kind_of_workload_has_an_example():
    assert set(EXAMPLES) == set(BAD) == set(kinds())


@pytest.fixture(scope="module")
def facts(models) -> dict:
    specs = {kind: {k: v.format(models=models) for k, v in example.items()}
             for kind, example in EXAMPLES.items()}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "tests.workload_contract", json.dumps(specs)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(params=kinds())
def kind(request) -> str:
    return request.param


def test_contract_a_spec_is_checked_in_the_parent_without_tensorflow(facts, kind):
    found = facts[kind]
    assert found["kind"] == kind and found["tensorflow_in_parent"] is False
    assert isinstance(found["unit"], str) and found["unit"]
    sizes = found["default_sizes"]
    assert sizes is None or (sizes and all(isinstance(s, int) and s > 0 for s in sizes))


def test_contract_it_builds_and_makes_inputs_of_the_size_asked_for(facts, kind):
    found = facts[kind]
    one = found["amounts"][0]
    assert one > 0 and found["amounts"] == [one * size for size in (1, 2, 4)]
    assert found["same_seed_same_input"] and found["other_seed_other_input"]


def test_contract_an_option_it_does_not_take_is_refused_naming_it(facts, kind):
    assert "no_such_option" in facts[kind]["bad_option"]


def test_contract_a_bad_spec_is_refused_in_the_parent_naming_the_problem(kind):
    spec, problem = BAD[kind]
    with pytest.raises(ValueError, match=re.escape(problem)):
        resolve(spec, EXAMPLES[kind].get("inputs"))
