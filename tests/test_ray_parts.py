"""The Ray engine's parts that need no cluster: placement, the run order, the clean environment of
a spawned worker, the node axis, refusals on the command line, and the report by machine type.
The whole engine on a real local Ray cluster is in test_ray_engine.py (slow suite)."""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tuner
from tfopt import cli
from tfopt.executors import ray as ray_executor
from tfopt.executors import ray_cluster, ray_node
from tfopt.export import machine_types
from tfopt.jobs import jobs_for
from tfopt.matrix import ConfigError, Permutation, expand, resolve
from tfopt.progress import Progress
from tfopt.records import RunRecord, write_record
from tfopt.scaleout import RayRunner
from tfopt.variants import STOCK, Variant


def test_a_run_takes_a_whole_measuring_node_of_its_machine_type():
    assert ray_cluster.placement(None) == {"num_cpus": 0, "max_retries": 0,
                                            "resources": {"tfopt": 1}}  # fmt: skip
    by_resource = ray_cluster.placement("cpu:epyc-9004")
    assert by_resource["resources"] == {"tfopt": 1, "cpu:epyc-9004": ray_cluster.TYPE_SHARE}
    by_label = ray_cluster.placement("cpu=epyc-9004")
    assert by_label["label_selector"] == {"cpu": "epyc-9004"}
    assert by_label["resources"] == {"tfopt": 1}


def test_only_live_nodes_offering_tfopt_and_the_type_may_take_a_run():
    node = {"Resources": {"tfopt": 1.0, "cpu:a": 1.0}, "Labels": {"cpu": "a"}}
    assert ray_cluster._fits(node, None) and ray_cluster._fits(node, "cpu:a")
    assert ray_cluster._fits(node, "cpu=a") and not ray_cluster._fits(node, "cpu=b")
    assert not ray_cluster._fits(node, "cpu:b")
    assert not ray_cluster._fits({"Resources": {"CPU": 4.0}, "Labels": {}}, None)


def test_rounds_stay_in_order_with_a_random_order_inside_each(tmp_path):
    perms = [Permutation({"name": f"p{i}"}) for i in range(6)]
    jobs = jobs_for(perms, [f"p{i}" for i in range(6)], [tmp_path / f"p{i}" for i in range(6)], 2)
    runner = RayRunner(tmp_path, {}, Progress(0), rng=random.Random(1))
    order = runner.shuffled(jobs)
    assert [job.worker for job in order] == [0] * 6 + [1] * 6
    assert sorted(j.label for j in order[:6]) == sorted(j.label for j in jobs[:6])
    assert [j.label for j in order[:6]] != [j.label for j in jobs[:6]]
    assert [j.label for j in order[:6]] != [j.label for j in order[6:]]


def test_a_spawned_worker_sees_its_own_thread_knobs_and_none_of_rays(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as Ray sets it in its workers
    monkeypatch.setenv("RAY_JOB_ID", "01000000")
    with ray_node.ray_knobs_removed():
        unset = tuner.run_in_child("os:getenv", "OMP_NUM_THREADS", mode="spawn")
        ray_id = tuner.run_in_child("os:getenv", "RAY_JOB_ID", mode="spawn")
        own = tuner.run_in_child("os:getenv", "OMP_NUM_THREADS", mode="spawn",
                                 env={"OMP_NUM_THREADS": "3"})  # fmt: skip
    assert (unset.payload, ray_id.payload, own.payload) == (None, None, "3")
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["RAY_JOB_ID"] == "01000000"


def test_steal_time_is_read_from_proc_stat_where_visible(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 0 5 100 0 0 0 250 0 0\ncpu0 1 2 3\n")
    assert ray_node.steal_seconds(stat) == 250 / os.sysconf("SC_CLK_TCK")
    stat.write_text("cpu  10 0 5 100\n")
    assert ray_node.steal_seconds(stat) is None
    assert ray_node.steal_seconds(tmp_path / "missing") is None


def test_the_build_of_this_interpreter_comes_from_its_metadata():
    build = ray_node.tensorflow_build()
    assert build["distribution"] == "tensorflow-cpu" and build["version"].startswith("2.")
    assert build["wheel_tags"] and build["wheel_tags"][0].startswith("cp3")


def test_the_node_axis_expands_and_an_unset_node_keeps_the_run_ids():
    perms = expand(resolve({"node": ["cpu:a", "cpu=b"]}))
    assert [p.config["node"] for p in perms] == ["cpu:a", "cpu=b"]
    assert len({p.run_id for p in perms}) == 2
    plain = expand(resolve({}))[0]
    assert "node" not in plain.run_params
    with pytest.raises(ConfigError, match="'node'"):
        resolve({"node": 3})


def _profile(*args: str, capsys) -> tuple[int, str]:
    code = cli.main(["profile", *args])
    return code, capsys.readouterr().err


def test_the_engine_flags_are_refused_where_they_cannot_apply(tmp_path, capsys):
    code, err = _profile("--engine", "ray", capsys=capsys)
    assert code == cli.EXIT_USAGE and "--engine ray runs experiment matrices" in err
    code, err = _profile("--ray-address", "127.0.0.1:6379", capsys=capsys)
    assert code == cli.EXIT_USAGE and "--ray-address needs --engine ray" in err
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"node": "cpu:a", "repeats": 1}))
    code, err = _profile("--config", str(config), "--out", str(tmp_path / "o"), capsys=capsys)
    assert code == cli.EXIT_USAGE and "--engine ray" in err
    assert not (tmp_path / "o" / "run_data.csv").exists()


def test_a_lost_run_is_tried_again_then_reported_failed_with_every_reason(tmp_path):
    class EveryNodeLost(ray_executor.RayExecutor):
        """Loses every try, as a cluster whose nodes keep dying would (really: the slow suite)."""

        def _dispatch(self, job):
            raise ray_executor.NodeLost("node 1234 died")

    notes = []
    executor = EveryNodeLost(tmp_path, {STOCK: Variant(STOCK)}, notes.append, tries=3)
    perm = Permutation(resolve({}))
    job = jobs_for([perm], ["one"], [tmp_path / "runs" / "one"], 1)[0]
    record = executor.execute(job)
    assert record.status == "fail" and record.reason.count("node 1234 died") == 3
    assert "in 3 tries" in record.reason and len(notes) == 3 and "giving up" in notes[-1]
    assert record.row()["node.machine_type"] == ""


def _record(run_id: str, worker: int, params: dict, mtype: str, ms: float) -> RunRecord:
    sweeps = [ms / 1000 * (1 + 0.01 * i) for i in range(5)]
    payload = {"sweeps": sweeps, "latencies": {"1": sweeps}, "items_per_sweep": 1,
               "node": {"machine_type": mtype, "node_id": f"{mtype}-{worker}", "host": "h",
                        "cpu_model": mtype, "isa": ["avx2"], "logical_cores": 2,
                        "visible_cores": 2, "kernel": "6.1",
                        "tensorflow": {"distribution": "tensorflow-cpu", "version": "2.21.0",
                                       "wheel_tags": ["cp311"]}}}  # fmt: skip
    return RunRecord(run_id, worker, run_id, "complete", params, payload)


def test_the_report_has_a_table_and_plot_per_machine_type_and_a_cross_type_table(tmp_path):
    truth = {("cpu:a", 1): 10.0, ("cpu:a", 2): 20.0, ("cpu:b", 1): 5.0, ("cpu:b", 2): 8.0}
    for (mtype, batch), ms in truth.items():
        params = {"node": mtype, "batch_size": batch}
        perm = Permutation(params)
        folder = tmp_path / "runs" / f"{mtype}-{batch}".replace(":", "")
        for worker in range(2):
            write_record(folder, _record(perm.run_id, worker, params, mtype, ms))
    written = machine_types.export(tmp_path)
    names = {path.name for path in written}
    assert names == {"machine_types.md", "machine_cpu-a.png", "machine_cpu-b.png"}
    report = (tmp_path / "machine_types.md").read_text()
    assert "## cpu:a" in report and "## cpu:b" in report and "- nodes: 2" in report
    assert "| batch_size=1 | 10.20 | 5.10 |" in report
    assert "| batch_size=2 | 20.40 | 8.16 |" in report


def test_no_report_by_machine_type_for_runs_without_node_facts(tmp_path):
    perm = Permutation({"batch_size": 1})
    record = _record(perm.run_id, 0, {}, "x", 1.0)
    record.payload.pop("node")
    write_record(tmp_path / "runs" / "one", record)
    assert machine_types.export(Path(tmp_path)) == []


def test_a_spawned_run_dies_with_the_process_that_started_it(tmp_path):
    """What a node's or a driver's death does to the Ray worker, done to a plain parent here."""
    code = ("import sys, tuner; from tfopt.executors.ray_node import dies_with_parent; "
            "tuner.run_in_child('time:sleep', 120, mode='spawn', "
            "python=dies_with_parent(sys.executable))")  # fmt: skip
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        child = _wait_for_child(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 60
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the spawned run outlived the process that started it"


def _wait_for_child(pid: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _parent_of(entry) == pid and \
                    b"tuner.worker" in _read(entry / "cmdline"):  # fmt: skip
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError("the parent started no worker")


def _parent_of(entry: Path) -> int | None:
    stat = _read(entry / "stat")
    return int(stat.rsplit(b")", 1)[1].split()[1]) if stat else None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    stat = _read(Path(f"/proc/{pid}/stat"))
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] != b"Z"
