"""tuner.tf on real TensorFlow: threading set in forked children, knobs read at the right moment."""

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import tuner
from tuner import TrialStatus
from tuner.tf import KNOBS, check_knobs, load_time_knobs, set_threading

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("attempt", "error", "match"),
    [
        ("22,2", TypeError, r"\[inter, intra\]"),
        ([4], ValueError, "two thread counts"),
        ([4, -1], ValueError, ">= 0"),
        ([4, 2.5], ValueError, "integers"),
        ({"inter_op": 2}, ValueError, "intra_op"),
    ],
)
def test_set_threading_rejects_bad_attempts(attempt, error, match):
    with pytest.raises(error, match=match):
        set_threading(attempt)


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_a_load_time_knob_is_refused_in_forked_trials_once_tensorflow_is_loaded(name, monkeypatch):
    """What ``read_at`` decides: a knob read at load does nothing in a fork of a process that
    has imported TensorFlow, so the tuner refuses it there, naming it and the way out."""
    knob = KNOBS[name]
    assert knob.read_at in ("load", "runtime")
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    check_knobs([name], "fork")  # not loaded yet: a fork reads it at its own import
    monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tensorflow"))
    check_knobs([name], "spawn")  # a fresh interpreter sets it before importing anything
    if knob.read_at == "runtime":
        check_knobs([name], "fork")
    else:
        with pytest.raises(ValueError, match=rf"^{name} is read when TensorFlow loads.*'spawn'"):
            check_knobs([name], "fork")


def test_the_knobs_read_at_load_are_those_of_the_libraries_tensorflow_loads():
    loaded = {"OMP_NUM_THREADS", "KMP_BLOCKTIME", "KMP_AFFINITY", "OMP_PROC_BIND",
              "TF_ENABLE_ONEDNN_OPTS", "ITEX_OMP_THREADPOOL", "TF_CPP_MIN_LOG_LEVEL"}  # fmt: skip
    assert set(load_time_knobs(KNOBS)) == loaded
    assert set(KNOBS) - loaded == {"TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS"}


FORKING_SCRIPT = """
import json
import tensorflow as tf
from tensorflow.python.eager import context
from tensorflow.python.util import _pywrap_util_port
import tuner
from tuner.tf import set_threading

def threads_in_child(config):
    set_threading([config["inter"], config["intra"]])
    tf.reduce_sum(tf.ones([32, 32]) @ tf.ones([32, 32])).numpy()  # the runtime starts here
    pools = tf.config.threading
    return 10 * pools.get_inter_op_parallelism_threads() + pools.get_intra_op_parallelism_threads()

def onednn_enabled():
    return _pywrap_util_port.IsMklEnabled()

out = {}
space = {"inter": tuner.Int(1, 2), "intra": tuner.Int(1, 3)}
result = tuner.minimize(threads_in_child, space, strategy="grid", timeout=120)
out["values"] = [e.value for e in result.evaluations]
out["statuses"] = sorted({t.status.value for t in result.trials})
ctx = context.context_safe()
out["parent_runtime_started"] = ctx is not None and ctx._context_handle is not None
# oneDNN's default depends on the CPU (on for AVX-512 Xeons, off elsewhere): ask for the other
parent_onednn = onednn_enabled()
flipped = {"TF_ENABLE_ONEDNN_OPTS": "0" if parent_onednn else "1"}
out["knob_in_fork"] = tuner.run_in_child(onednn_enabled, env=flipped).payload == parent_onednn
try:
    tuner.minimize(threads_in_child, {"OMP_NUM_THREADS": tuner.Int(1, 2)})
except ValueError as exc:
    out["knob_error"] = str(exc)
tf.constant(1.0)  # now the parent's runtime starts
try:
    tuner.run_in_child(onednn_enabled)
except RuntimeError as exc:
    out["fork_error"] = str(exc)
try:
    set_threading([1, 1])
except RuntimeError as exc:
    out["late_threading"] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.slow  # imports TensorFlow and starts its runtime in six children: ~20 s
def test_forked_children_get_their_own_thread_pools_and_the_parent_stays_clean(tmp_path):
    script = tmp_path / "tune_tf.py"
    script.write_text(FORKING_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["values"] == [11, 12, 13, 21, 22, 23]  # each child sized its own pools
    assert out["statuses"] == ["complete"]
    assert out["parent_runtime_started"] is False
    assert out["knob_in_fork"] is True  # read when TensorFlow loaded: setting it later is too late
    assert "OMP_NUM_THREADS is read when TensorFlow loads" in out["knob_error"]
    assert "start_method='spawn'" in out["fork_error"]
    assert "thread pools are fixed" in out["late_threading"]


@pytest.mark.slow  # two fresh interpreters import TensorFlow: ~15-35 s
def test_spawn_mode_sets_load_time_knobs_before_tensorflow_loads():
    target = "tensorflow.python.util._pywrap_util_port:IsMklEnabled"
    for value, expected in (("0", False), ("1", True)):
        outcome = tuner.run_in_child(
            target, mode="spawn", env={"TF_ENABLE_ONEDNN_OPTS": value, "TF_CPP_MIN_LOG_LEVEL": "3"}
        )
        assert outcome.status is TrialStatus.COMPLETE, outcome.reason
        assert outcome.payload is expected
