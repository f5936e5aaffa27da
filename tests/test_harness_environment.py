"""The environment record shows what TensorFlow cannot see for itself: its default pools follow the
visible cores, not the CPU quota. Real TensorFlow in real confined children."""

from tfopt.environment import environment_record, oversubscription
from tfopt.worker import tensorflow_record
from tuner import Limits, run_in_child


def probe(limits: Limits, target=tensorflow_record) -> dict:
    outcome = run_in_child(target, limits=limits, timeout=120)
    assert outcome.ok, outcome.reason
    return outcome.payload


def whole_record() -> dict:
    return environment_record(tensorflow_record())


def test_default_pools_follow_the_visible_cores():
    pools = probe(Limits(cpuset="0"))["default_thread_pools"]
    assert pools["inter_op"] == 1
    assert pools["intra_op"] == 1


def test_a_quota_below_the_default_pools_is_flagged():
    env = probe(Limits(cpus=0.5), whole_record)
    assert env["limits"]["cpu_quota_cores"] == 0.5
    pools = env["tensorflow"]["default_thread_pools"]
    assert pools["inter_op"] == len(env["cpu"]["visible_cores"])
    assert "CPU quota of 0.5 cores" in oversubscription(env)


def test_no_warning_without_a_quota_or_with_enough_quota():
    env = {"limits": {"cpu_quota_cores": None}, "tensorflow": {"default_thread_pools": {
        "inter_op": 8, "intra_op": 8}}}  # fmt: skip
    assert oversubscription(env) is None
    env["limits"]["cpu_quota_cores"] = 8.0
    assert oversubscription(env) is None
