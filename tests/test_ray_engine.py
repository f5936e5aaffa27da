"""``--engine ray`` on a real local Ray cluster: a head with no CPUs and three measuring nodes
(``tfopt: 1``), all started here on the loopback and stopped by the fixture. Real worker
processes measure a pure-Python workload (examples/workloads/sum_of_squares.py): each run costs
little more than its worker's TensorFlow import."""

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a Ray cluster and TensorFlow-importing workers: minutes here

ROOT = Path(__file__).resolve().parents[1]
# Ray turns 127.0.0.1 into the machine's interface address unless cluster mode is off; off, every
# node, the driver and their traffic stay on the loopback.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
SMALL = {"object_store_memory": 80 * 2**20}
CHEAP = {
    "workload": "examples.workloads.sum_of_squares:make_model",
    "inputs": "examples.workloads.sum_of_squares:make_inputs",
    "sizes": [1, 4],
    "warmup": 1,
    "repeats": 3,
    "mem_trace": {"enabled": False},
}


@pytest.fixture(scope="module")
def cluster():
    os.environ.update(LOOPBACK)  # read when Ray is imported, by this process and its children
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 0, "include_dashboard": False, **SMALL}
    ray_cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for index in range(3):
            kind = "cpu:type-a" if index < 2 else "cpu:type-b"
            ray_cluster.add_node(num_cpus=1, resources={"tfopt": 1, kind: 1}, **SMALL)
        yield ray_cluster
    finally:
        ray_cluster.shutdown()


def _env() -> dict:
    return {**os.environ, **LOOPBACK, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def start(config: Path, out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "profile.py", "--config", str(config), "--out", str(out), "--json",
               *extra]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def run(config: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    process = start(config, out, *extra)
    try:
        stdout, stderr = process.communicate(timeout=600)
    finally:
        process.kill()  # a no-op once it has exited; a failed or interrupted test leaves no driver
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def on_ray(cluster, config: Path, out: Path) -> subprocess.CompletedProcess:
    return run(config, out, "--engine", "ray", "--ray-address", cluster.address)


def write_config(path: Path, **extra) -> Path:
    path.write_text(json.dumps({**CHEAP, **extra}))
    return path


def rows(out: Path) -> list[dict]:
    path = out / "run_data.csv"
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def keys(table: list[dict]) -> list[tuple[str, str]]:
    return [(row["run_id"], row["worker"]) for row in table]


def records(out: Path) -> list[dict]:
    return [worker for path in sorted((out / "runs").glob("*/metrics.json"))
            for worker in json.loads(path.read_text())["workers"]]  # fmt: skip


def test_a_matrix_runs_once_per_permutation_and_worker_with_each_node_measuring_alone(
    cluster, tmp_path
):
    config = write_config(tmp_path / "c.json", batch_size=[1, 2, 3], workers=2)
    done = on_ray(cluster, config, tmp_path / "ray")
    assert done.returncode == 0, done.stderr[-3000:]
    table = rows(tmp_path / "ray")
    assert len(table) == 6 and len(set(keys(table))) == 6
    assert {row["status"] for row in table} == {"complete"}
    runs = records(tmp_path / "ray")
    by_node: dict[str, list[tuple[float, float]]] = {}
    for record in runs:
        node = record["payload"]["node"]
        assert node["cpu_model"] and node["kernel"] and node["logical_cores"] >= 1
        assert node["tensorflow"]["version"] == record["payload"]["tensorflow"]
        assert "steal_seconds" in node
        assert record["backend"].startswith("ray/")
        payload = record["payload"]
        by_node.setdefault(node["node_id"], []).append((payload["started_at"], payload["ended_at"]))
    assert len(by_node) >= 2, "three idle nodes, six runs: the runs spread over the nodes"
    for spans in by_node.values():
        spans.sort()
        pairs = zip(spans, spans[1:], strict=False)
        assert all(end <= next_start for (_, end), (next_start, _) in pairs)


def test_the_set_of_configurations_equals_a_local_run(cluster, tmp_path):
    config = write_config(tmp_path / "c.json", batch_size=[1, 2], workers=1)
    remote = on_ray(cluster, config, tmp_path / "ray")
    local = run(config, tmp_path / "local")
    assert remote.returncode == 0 and local.returncode == 0, remote.stderr[-2000:]
    assert sorted(keys(rows(tmp_path / "ray"))) == sorted(keys(rows(tmp_path / "local")))
    assert set(json.loads(remote.stdout)["configs"]) == set(json.loads(local.stdout)["configs"])


def test_the_node_axis_routes_runs_and_the_report_groups_by_machine_type(cluster, tmp_path):
    config = write_config(tmp_path / "c.json", node=["cpu:type-a", "cpu:type-b"],
                          batch_size=[1, 2], workers=1)  # fmt: skip
    done = on_ray(cluster, config, tmp_path / "ray")
    assert done.returncode == 0, done.stderr[-3000:]
    by_type: dict[str, set[str]] = {}
    for record in records(tmp_path / "ray"):
        node = record["payload"]["node"]
        assert node["machine_type"] == record["params"]["node"]
        by_type.setdefault(node["machine_type"], set()).add(node["node_id"])
    assert set(by_type) == {"cpu:type-a", "cpu:type-b"} and len(by_type["cpu:type-b"]) == 1
    assert not by_type["cpu:type-a"] & by_type["cpu:type-b"]
    report = (tmp_path / "ray" / "machine_types.md").read_text()
    assert "## cpu:type-a" in report and "## cpu:type-b" in report
    assert "| batch_size=1 |" in report and "across machine types" in report
    assert (tmp_path / "ray" / "machine_cpu-type-a.png").exists()


def test_a_killed_driver_resumes_from_the_records_without_measuring_anything_twice(
    cluster, tmp_path
):
    config = write_config(tmp_path / "c.json", batch_size=[1, 2, 3], workers=2)
    out = tmp_path / "ray"
    driver = start(config, out, "--engine", "ray", "--ray-address", cluster.address)
    deadline = time.monotonic() + 300
    while not rows(out) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.communicate(timeout=60)
    before = rows(out)
    assert 1 <= len(before) < 6, "killed mid-run, with some runs recorded"
    rerun = on_ray(cluster, config, out)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = rows(out)
    assert after[: len(before)] == before
    assert len(after) == 6 and len(set(keys(after))) == 6
    assert f"resuming: {len(before)} finished run(s)" in rerun.stderr


def test_the_runs_of_a_lost_node_are_retried_on_the_others(cluster, tmp_path):
    victim = cluster.add_node(num_cpus=1, resources={"tfopt": 1}, **SMALL)
    config = write_config(tmp_path / "c.json", batch_size=[1, 2, 3, 4], workers=1)
    out = tmp_path / "ray"
    driver = start(config, out, "--engine", "ray", "--ray-address", cluster.address)
    measuring: list[int] = []
    try:
        measuring += _wait_for_worker_under(victim.all_processes["raylet"][0].process.pid)
        cluster.remove_node(victim, allow_graceful=False)
    finally:
        stdout, stderr = driver.communicate(timeout=600)
        _stop_orphans(measuring)
    assert driver.returncode == 0, stderr[-3000:]
    assert "retrying" in stderr
    table = rows(out)
    assert len(table) == 4 and len(set(keys(table))) == 4
    assert {row["status"] for row in table} == {"complete"}


def _wait_for_worker_under(raylet: int, timeout: float = 300) -> list[int]:
    """The lab's measuring workers started below ``raylet`` (a Ray worker's spawned children)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid in _descendants(raylet) if b"tuner.worker" in _cmdline(pid)]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("no run started on the node to be removed")


def _descendants(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1]
                                               .split()[1])  # fmt: skip
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _stop_orphans(pids: list[int]) -> None:
    """A removed node's Ray worker dies with it; the run it had spawned is stopped here."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def test_a_g2p_matrix_measures_real_tensorflow_on_the_nodes(cluster, tmp_path):
    config = tmp_path / "g2p.json"
    config.write_text(json.dumps({"workload": "g2p", "mode": ["graph", "xla"], "sizes": [1, 6],
                                  "warmup": 1, "repeats": 2, "workers": 1,
                                  "mem_trace": {"enabled": False}}))  # fmt: skip
    done = on_ray(cluster, config, tmp_path / "ray")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert len(summary["configs"]) == 2
    assert all(entry["sweep"]["median"] > 0 for entry in summary["configs"].values())
    for record in records(tmp_path / "ray"):
        assert record["payload"]["tensorflow"] == record["payload"]["node"]["tensorflow"]["version"]
        assert record["payload"]["unit"] == "words"
