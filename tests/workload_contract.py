"""What the workload contract (tests/test_contract_workloads.py) checks of each workload, found in
one fresh interpreter: first what the parent does with a spec (which must not import
TensorFlow), then what a worker does (build, make inputs, predict).

    python -m tests.workload_contract '{"name": {"spec": ..., "inputs": ...}, ...}'

prints one JSON object of facts per name.
"""

import hashlib
import json
import sys

import numpy as np

SIZES = (1, 2, 4)


def parent_facts(spec: str, inputs: str | None) -> dict:
    from tfopt.workloads import resolve

    workload = resolve(spec, inputs)
    workload.check({"sizes": [1]})
    return {"kind": type(workload).__name__, "spec": workload.spec, "unit": workload.unit,
            "default_sizes": workload.default_sizes(None)}  # fmt: skip


def worker_facts(spec: str, inputs: str | None) -> dict:
    from tfopt.workloads import resolve

    workload = resolve(spec, inputs)
    built = workload.build({})
    made = {size: built.make_input(size, 7) for size in SIZES}
    for value in made.values():
        built.predict(value)
    return {"amounts": [amount(made[size]) for size in SIZES],
            "same_seed_same_input": digest(made[2]) == digest(built.make_input(2, 7)),
            "other_seed_other_input": digest(made[2]) != digest(built.make_input(2, 8)),
            "bad_option": refusal(workload)}  # fmt: skip


def refusal(workload) -> str:
    try:
        workload.build({"no_such_option": 1})
    except (TypeError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return "accepted"


def amount(value) -> int:
    """How much an input holds: rows of every array, or items of a list."""
    if isinstance(value, dict):
        return sum(np.asarray(array).shape[0] for array in value.values())
    return len(value)


def digest(value) -> str:
    if isinstance(value, dict):
        text = b"".join(key.encode() + np.asarray(a).tobytes() for key, a in sorted(value.items()))
    else:
        text = json.dumps(value, default=str).encode()
    return hashlib.sha256(text).hexdigest()


def main(argv: list[str]) -> None:
    specs = json.loads(argv[0])
    facts = {name: parent_facts(s["spec"], s.get("inputs")) for name, s in specs.items()}
    tensorflow_in_parent = "tensorflow" in sys.modules
    for name, s in specs.items():
        facts[name].update(worker_facts(s["spec"], s.get("inputs")),
                           tensorflow_in_parent=tensorflow_in_parent)  # fmt: skip
    print(json.dumps(facts))


if __name__ == "__main__":
    main(sys.argv[1:])
