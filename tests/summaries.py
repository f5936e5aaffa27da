"""Worker records and a lab summary made by hand, as the runner and the lab make them from real
runs: inputs for the summary, report and exporter tests."""

import numpy as np

from tfopt.recommend import paste_lines
from tfopt.records import RunRecord
from tfopt.summary import comparison, config_entry

SIZES = [1, 2, 6]


def record(label: str, median: float, worker: int = 0, params: dict | None = None) -> RunRecord:
    """A worker's record as the runner builds it from a child's JSON payload."""
    rng = np.random.default_rng(worker + int(median * 1e4))
    latencies = {str(s): list(median * s / 9 * np.exp(rng.normal(0, 0.02, 12))) for s in SIZES}
    sweeps = [sum(vals) for vals in zip(*latencies.values(), strict=True)]
    payload = {"latencies": latencies, "sweeps": sweeps, "items_per_sweep": 9, "unit": "words",
               "tensorflow": "2.21.0"}  # fmt: skip
    return RunRecord(f"id-{label}", worker, label, "complete", params or {"mode": label},
                     payload=payload, folder=f"runs/{label}")  # fmt: skip


GRAPH = {"variant": "stock", "mode": "graph", "knobs": {"intra": 1, "onednn": False}}


def lab_summary() -> dict:
    configs = {
        "initial": config_entry("initial", {"mode": "eager"}, [record("initial", 0.09, w)
                                                               for w in (0, 1)]),
        "graph": config_entry("graph", GRAPH, [record("graph", 0.03, w) for w in (0, 1)]),
    }  # fmt: skip
    vs = comparison(configs["initial"], configs["graph"], 0.05, 0.05)
    return {
        "schema": 1, "kind": "lab", "title": "tfopt lab: g2p",
        "environment": {"cpu": {"model": "Test CPU", "visible_cores": [0, 1]},
                        "limits": {"cpu_quota_cores": 1.0, "memory_limit": 2**32}},
        "configs": configs,
        "steps": [{"name": "graph", "label": "graph", "file": "graph", "change": "graph mode",
                   "kept": True, "vs_initial": vs, "vs_previous": vs}],
        "comparisons": [], "best": "graph", "speedup": vs,
        "recommended": {"variant": "stock", "mode": "graph", "intra": 1, "onednn": False},
        "recommendation": paste_lines(GRAPH),
    }  # fmt: skip
