"""What running on Ray costs against running here, on a local Ray cluster of this machine.

``overhead``: the same runs of a pure-Python workload, one at a time, through the local executor
and through the Ray executor on a one-node cluster. A run's dispatch overhead is the time the
driver waited for it minus the time its worker process lived (start to reap), so the worker's own
start-up and TensorFlow import, equal in both, cancel out. The first Ray run also starts a Ray
worker and reads the node's TensorFlow build; it is reported apart.

``matrix``: a 12-permutation g2p matrix, ``profile.py --config`` here against ``--engine ray`` on
a three-node cluster (every node on this machine's cores: no speedup is expected), wall times and
Ray's start-up.

    python benchmarks/ray_overhead.py overhead [--runs 6] [--out PATH]
    python benchmarks/ray_overhead.py matrix [--out PATH]

All Ray traffic stays on the loopback; the clusters are stopped before the script ends.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keeps every Ray address on 127.0.0.1

CHEAP = {"workload": "examples.workloads.sum_of_squares:make_model",
         "inputs": "examples.workloads.sum_of_squares:make_inputs",
         "sizes": [1, 4], "warmup": 1, "repeats": 3, "mem_trace": {"enabled": False}}  # fmt: skip
G2P_MATRIX = {"name": "g2p12", "workload": "g2p", "sizes": [1, 6], "warmup": 1, "repeats": 3,
              "workers": 1, "mode": ["eager", "graph", "xla"], "batch_size": [16, 64],
              "knobs": {"intra": [1, 2]}, "mem_trace": {"enabled": False}}  # fmt: skip
SMALL = {"object_store_memory": 80 * 2**20}


def start_cluster(nodes: int):
    """A head with no CPUs and ``nodes`` measuring nodes; returns (cluster, seconds to start)."""
    from ray.cluster_utils import Cluster

    started = time.monotonic()
    head = {"num_cpus": 0, "include_dashboard": False, **SMALL}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    for _ in range(nodes):
        cluster.add_node(num_cpus=1, resources={"tfopt": 1}, **SMALL)
    cluster.wait_for_nodes()
    return cluster, time.monotonic() - started


def machine_load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def overhead(runs: int) -> dict:
    import ray

    from tfopt.executors.local import LocalExecutor
    from tfopt.executors.ray import RayExecutor
    from tfopt.experiment import jobs_of
    from tfopt.matrix import resolve
    from tfopt.variants import STOCK, Variant

    config = resolve({**CHEAP, "batch_size": list(range(1, runs + 1)), "workers": 1})
    variants = {STOCK: Variant(STOCK)}
    load_before = machine_load()
    with tempfile.TemporaryDirectory() as tmp:
        # Local runs first: they fork this process, which must not hold Ray's threads yet.
        local = _timed(LocalExecutor(Path(tmp) / "local", variants, print),
                       jobs_of(config, Path(tmp) / "local"))  # fmt: skip
        cluster, startup = start_cluster(1)
        try:
            ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
            remote = _timed(RayExecutor(Path(tmp) / "ray", variants, print),
                            jobs_of(config, Path(tmp) / "ray"))  # fmt: skip
        finally:
            ray.shutdown()
            cluster.shutdown()
    local_overhead = [observed - child for observed, child in local]
    ray_overhead = [observed - child for observed, child in remote]
    steady = statistics.median(ray_overhead[1:]) if len(ray_overhead) > 1 else ray_overhead[0]
    return {
        "benchmark": "ray dispatch overhead per run",
        "runs": runs,
        "ray_startup_s": round(startup, 2),
        "local_overhead_s": _round(local_overhead),
        "ray_overhead_s": _round(ray_overhead),
        "local_overhead_median_s": round(statistics.median(local_overhead), 3),
        "ray_first_run_overhead_s": round(ray_overhead[0], 3),
        "ray_overhead_median_after_first_s": round(steady, 3),
        "ray_minus_local_s": round(steady - statistics.median(local_overhead), 3),
        "target_s": 0.5,
        "local_observed_s": _round([observed for observed, _ in local]),
        "ray_observed_s": _round([observed for observed, _ in remote]),
        "load_average_before": load_before,
        "load_average_after": machine_load(),
        "cores": os.cpu_count(),
    }


def _timed(executor, jobs) -> list[tuple[float, float]]:
    """(seconds the driver waited, seconds the worker process lived) per run."""
    timings = []
    for job in jobs:
        started = time.monotonic()
        record = executor.execute(job)
        if record.status != "complete":
            raise RuntimeError(f"{job.label}: {record.status}: {record.reason}")
        timings.append((time.monotonic() - started, record.wall_time))
    return timings


def _round(values: list[float]) -> list[float]:
    return [round(v, 3) for v in values]


def matrix() -> dict:
    load_before = machine_load()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "g2p12.json"
        config.write_text(json.dumps(G2P_MATRIX))
        local = _profile(config, Path(tmp) / "local")
        cluster, startup = start_cluster(3)
        try:
            remote = _profile(config, Path(tmp) / "ray", "--engine", "ray", "--ray-address",
                              cluster.address)  # fmt: skip
        finally:
            cluster.shutdown()
    return {
        "benchmark": "12-permutation g2p matrix: local against a 3-node local Ray cluster",
        "permutations": 12,
        "local": local,
        "ray": remote,
        "ray_startup_s": round(startup, 2),
        "ray_wall_minus_local_s": round(remote["wall_s"] - local["wall_s"], 1),
        "target": "ray wall <= local wall + 30 s of Ray start-up",
        "met": remote["wall_s"] <= local["wall_s"] + 30,
        "load_average_before": load_before,
        "load_average_after": machine_load(),
        "cores": os.cpu_count(),
    }


def _profile(config: Path, out: Path, *extra: str) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "profile.py", "--config", str(config), "--out",
                           str(out), "--json", *extra], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"profile.py {' '.join(extra)} failed:\n{done.stderr[-3000:]}")
    with (out / "run_data.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [(row["run_id"], row["worker"]) for row in rows]
    return {"wall_s": round(wall, 1), "runs": len(rows), "distinct_runs": len(set(keys)),
            "complete": sum(row["status"] == "complete" for row in rows)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("overhead", "matrix"))
    parser.add_argument("--runs", type=int, default=6, help="runs per executor (overhead)")
    parser.add_argument("--out", type=Path, help="JSON file (default: results/ray_<what>.json)")
    args = parser.parse_args(argv)
    result = overhead(args.runs) if args.what == "overhead" else matrix()
    out = args.out or ROOT / "results" / f"ray_{args.what}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
