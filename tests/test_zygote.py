"""Trial children forked from a zygote (`tuner.zygote`): fresh processes with the knobs of their
environment and their own thread counts, confined, timed, killed and reaped as any trial, and no
process left behind when the lab ends.

The targets below run in the children (by name, spawn mode); most zygotes preload only ``json``,
so they start in a moment; one imports TensorFlow, as the lab's do."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tuner
from tests.procfs import children_of, is_running
from tests.waiting import wait_until
from tuner import TrialStatus, worker
from tuner import zygote as zygote_mod

ROOT = Path(__file__).resolve().parents[1]
HERE = "tests.test_zygote"
CHEAP = ["json"]
_counter = [0]


def threads_seen(inter: int, intra: int) -> dict:
    """Set the thread pools as the lab's worker does, run an op, and say what is in force."""
    import tensorflow as tf
    from tuner.tf import set_threading

    set_threading([inter, intra])
    float(tf.reduce_sum(tf.ones([4, 4])))
    return {"inter": tf.config.threading.get_inter_op_parallelism_threads(),
            "intra": tf.config.threading.get_intra_op_parallelism_threads(),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"), "pid": os.getpid(),
            "zygote": os.getppid(), **worker.start_info()}  # fmt: skip


def bump() -> dict:
    _counter[0] += 1
    cgroup = Path("/proc/self/cgroup").read_text()
    return {"count": _counter[0], "pid": os.getpid(), "zygote": os.getppid(), "cgroup": cgroup,
            **worker.start_info()}  # fmt: skip


def allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 1024**2)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


def complain_and_die() -> None:
    print("the worker's last words", file=sys.stderr, flush=True)
    os._exit(7)


def kill_my_zygote() -> None:
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)  # the parent-death signal ends this first


def sleep_and_tell(path: str, seconds: float) -> None:
    Path(path).write_text(json.dumps({"pid": os.getpid(), "zygote": os.getppid()}))
    time.sleep(seconds)


def test_threads_set_in_a_zygote_child_take_effect_and_its_env_was_there_at_import():
    env = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = tuner.run_in_child(f"{HERE}:threads_seen", 1, 2, mode="spawn", env=env,
                               preload=["tensorflow"])  # fmt: skip
    second = tuner.run_in_child(f"{HERE}:threads_seen", 3, 1, mode="spawn", env=env,
                                preload=["tensorflow"])  # fmt: skip
    assert first.status is TrialStatus.COMPLETE, first.reason
    assert second.status is TrialStatus.COMPLETE, second.reason
    a, b = first.payload, second.payload
    assert (a["inter"], a["intra"]) == (1, 2) and (b["inter"], b["intra"]) == (3, 1)
    assert a["start"] == b["start"] == "zygote" and a["onednn"] == b["onednn"] == "0"
    assert a["zygote"] == b["zygote"] != os.getpid()  # one zygote, two fresh children
    assert a["pid"] != b["pid"] and a["import_saved_seconds"] > 0
    assert first.peak_rss and first.pid == a["pid"]


def test_each_replicate_is_a_new_process_and_a_new_environment_gets_its_own_zygote():
    runs = [tuner.run_in_child(f"{HERE}:bump", mode="spawn", preload=CHEAP, env=env)
            for env in ({"A": "1"}, {"A": "1"}, {"A": "2"})]  # fmt: skip
    assert [r.payload["count"] for r in runs] == [1, 1, 1]  # nothing carried over
    assert len({r.pid for r in runs}) == 3 and {r.payload["start"] for r in runs} == {"zygote"}
    assert not any(Path(f"/proc/{r.pid}").exists() for r in runs)  # each one reaped
    assert zygote_mod.close_all() == 2


def test_a_zygote_child_is_confined_by_its_trial_cgroup_and_killed_by_the_memory_cap():
    confined = tuner.run_in_child(f"{HERE}:bump", mode="spawn", preload=CHEAP,
                                  limits={"cpus": 1, "memory": "256M"})  # fmt: skip
    if confined.backend not in ("cgroup_v1", "cgroup_v2"):
        pytest.skip(f"no cgroup backend here ({confined.backend})")
    assert f"tfopt-trial-{os.getpid()}-" in confined.payload["cgroup"]
    hog = tuner.run_in_child(f"{HERE}:allocate", 1024, mode="spawn", preload=CHEAP,
                             limits={"memory": "256M"})  # fmt: skip
    assert hog.status is TrialStatus.OOM, hog.reason


def test_timeouts_crashes_and_exit_codes_are_reported_as_for_any_child():
    slow = tuner.run_in_child(f"{HERE}:sleep_and_tell", os.devnull, 60, mode="spawn",
                              preload=CHEAP, timeout=1)  # fmt: skip
    assert slow.status is TrialStatus.TIMEOUT and not is_running(slow.pid)
    assert slow.wall_time < 60  # stopped at its timeout, not at the target's end
    died = tuner.run_in_child(f"{HERE}:complain_and_die", mode="spawn", preload=CHEAP)
    assert died.status is TrialStatus.FAIL
    assert "exited with code 7" in died.reason and "the worker's last words" in died.reason
    killed = tuner.run_in_child("os:abort", mode="spawn", preload=CHEAP)
    assert killed.status is TrialStatus.SIGNALLED and "SIGABRT" in killed.reason


def ctrl_c_once_written(path: Path) -> None:
    """Ctrl-C this process once ``path`` has content (from a thread: the main thread gets it)."""
    try:
        wait_until(lambda: path.exists() and path.read_text(), f"{path.name} to be written")
    finally:
        os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_kills_the_zygote_child_and_close_all_leaves_no_child(tmp_path):
    told = tmp_path / "child.json"
    ctrl_c = threading.Thread(target=ctrl_c_once_written, args=(told,))
    ctrl_c.start()
    with pytest.raises(KeyboardInterrupt):
        tuner.run_in_child(f"{HERE}:sleep_and_tell", str(told), 600, mode="spawn", preload=CHEAP)
    ctrl_c.join()
    child = json.loads(told.read_text())
    assert not is_running(child["pid"])
    assert zygote_mod.close_all() == 1
    assert child["zygote"] not in children_of(os.getpid())


def test_a_lab_killed_with_kill_9_takes_its_zygote_and_their_child_with_it(tmp_path):
    told = tmp_path / "child.json"
    code = (f"import tuner; tuner.run_in_child({HERE + ':sleep_and_tell'!r}, {str(told)!r}, 60, "
            f"mode='spawn', preload={CHEAP!r}, limits={{'cpus': 1}})")  # fmt: skip
    lab = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        wait_until(lambda: told.exists() and told.read_text(), "the zygote child's note")
        child = json.loads(told.read_text())
        lab.kill()
        lab.wait()
        wait_until(lambda: not is_running(child["pid"]) and not is_running(child["zygote"]),
                   "the zygote and its child to end with their lab")  # fmt: skip
    finally:
        lab.kill()
        lab.wait()


def test_a_zygote_that_dies_takes_its_child_along_and_the_next_trial_gets_a_new_one():
    orphaned = tuner.run_in_child(f"{HERE}:kill_my_zygote", mode="spawn", preload=CHEAP)
    assert orphaned.status in (TrialStatus.FAIL, TrialStatus.SIGNALLED)
    assert "zygote ended" in orphaned.reason and not is_running(orphaned.pid)
    after = tuner.run_in_child(f"{HERE}:bump", mode="spawn", preload=CHEAP)
    assert after.status is TrialStatus.COMPLETE and after.payload["start"] == "zygote"


def test_a_forked_trial_comes_from_a_zygote_unless_this_process_has_the_modules_already():
    assert "tabnanny" not in sys.modules  # a module nothing here imports
    from_zygote = tuner.run_in_child(bump, preload=["tabnanny"])
    assert from_zygote.status is TrialStatus.COMPLETE, from_zygote.reason
    assert from_zygote.payload["start"] == "zygote"
    assert tuner.run_in_child(bump, preload=CHEAP).payload["start"] == "fork"  # json is here


def test_arguments_a_zygote_cannot_take_start_the_child_as_the_mode_says():
    outcome = tuner.run_in_child(lambda x: {**worker.start_info(), "x": len(x)}, {1, 2},
                                 preload=CHEAP)  # fmt: skip
    assert outcome.status is TrialStatus.COMPLETE, outcome.reason
    assert outcome.payload["start"] == "fork" and outcome.payload["x"] == 2


# --- the lab ------------------------------------------------------------------------------------

LAB = {"workload": "tests.cheap_workload:make_model", "inputs": "tests.cheap_workload:make_inputs",
       "sizes": [1], "warmup": 0, "repeats": 3, "workers": 2, "mem_trace": {"enabled": False},
       "variants": {"here": {"python": sys.executable}}, "variant": "here"}  # fmt: skip


def test_the_lab_forks_another_interpreters_workers_from_one_zygote(lab_zygote, tmp_path):
    """(The lab runs forked from a process that imported TensorFlow, as the reliability tests'
    labs do: its stock workers fork from it; another interpreter's come from a zygote.)"""
    config, out = tmp_path / "m.json", tmp_path / "out"
    config.write_text(json.dumps(LAB))
    reply = lab_zygote.run(["profile", "--config", config, "--out", out], tmp_path / "lab.log")
    assert reply["exit"] == 0, (tmp_path / "lab.log").read_text()
    payloads = [json.loads(p.read_text())["payload"] for p in out.glob("runs/*/run-*.json")]
    assert len(payloads) == 2 and {p["start"] for p in payloads} == {"zygote"}
    assert len({p["pid"] for p in payloads}) == 2
    assert all(p["import_saved_seconds"] > 0 for p in payloads)
    assert json.loads((out / "summary.json").read_text())["settings"]["zygote"] is True


def test_the_zygote_is_used_for_this_and_other_interpreters_but_not_images_nor_when_off():
    from tfopt.executors.local import PRELOAD, LocalExecutor
    from tfopt.matrix import resolve
    from tfopt.variants import from_spec

    variants = {"stock": from_spec("stock", "stock"),
                "other": from_spec("other", f"python:{sys.executable}"),
                "image": from_spec("image", "docker:tfopt")}  # fmt: skip
    executor = LocalExecutor(Path("."), variants, print)

    def options(**config):
        return executor.trial_options({**resolve({}), **config})

    assert options()["preload"] == PRELOAD and options()["start_method"] == "fork"
    assert options(variant="other")["preload"] == PRELOAD
    assert "preload" not in options(variant="image")
    assert "preload" not in options(zygote=False)


def test_no_zygote_on_the_command_line_or_in_a_config(tmp_path, capsys):
    from tfopt import cli
    from tfopt.matrix import ConfigError, resolve

    args = cli.build_parser().parse_args(["profile", "--no-zygote"])
    args.progress = None
    assert cli._base_config(args)["zygote"] is False
    with pytest.raises(ConfigError, match="zygote"):
        resolve({"zygote": "no"})
    config = tmp_path / "m.json"
    config.write_text(json.dumps(LAB))
    code = cli.main(["profile", "--config", str(config), "--no-zygote", "--out", str(tmp_path)])
    assert code == 2 and "--no-zygote cannot be combined with --config" in capsys.readouterr().err
