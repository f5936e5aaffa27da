"""The environment record every result carries: CPU and ISA, cores against limits, TensorFlow.

The TensorFlow part is gathered in a worker process (``tfopt.worker.tensorflow_record``), because
importing TensorFlow fixes its oneDNN and threading state for the life of the process.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from tuner.limits.base import format_memory

from .devices import visible_gpus

ISA_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
    "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
)  # fmt: skip


def read_cpuinfo(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The CPU's model name and ISA flags (the platform's name, no flags, where none is listed)."""
    model, flags = platform.processor() or "unknown", set()
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return model, flags


def cpu_record(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """CPU model, the ISA flags TensorFlow cares about, and the cores this process may use."""
    model, flags = read_cpuinfo(cpuinfo)
    return {
        "model": model,
        "isa": [flag for flag in ISA_FLAGS if flag in flags],
        "logical_cores": os.cpu_count(),
        "visible_cores": sorted(os.sched_getaffinity(0)),
    }


def limits_record() -> dict:
    """Visible cores against the cgroup quota and memory cap, and the backend limits would use."""
    from tuner import Limits, limits

    record = limits.current().as_dict()
    try:
        record["limits_backend"] = limits.choose_backend(Limits(cpus=1), "fork").name
    except RuntimeError as err:
        record["limits_backend"] = f"none available: {err}"
    return record


def oversubscription(env: dict) -> str | None:
    """A warning when TensorFlow's default pools exceed the CPU quota (the container trap)."""
    quota = env.get("limits", {}).get("cpu_quota_cores")
    pools = (env.get("tensorflow") or {}).get("default_thread_pools") or {}
    threads = max(pools.get("inter_op", 0), pools.get("intra_op", 0))
    if not quota or threads <= quota:
        return None
    return (
        f"TensorFlow's default pools start {threads} threads per pool against a CPU quota of "
        f"{quota:g} cores: without tuned thread counts they are throttled onto the quota."
    )


def host_record() -> dict:
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "in_container": Path("/.dockerenv").exists(),
    }


def environment_record(tensorflow: dict | None = None) -> dict:
    """The whole record; ``tensorflow`` comes from a worker (``tfopt.worker.probe_tensorflow``)."""
    return {
        "host": host_record(),
        "cpu": cpu_record(),
        "limits": limits_record(),
        "gpus": visible_gpus(),
        "tensorflow": tensorflow or {},
    }


def machine_title(env: dict) -> str:
    """One line for plot titles: the CPU and the limits the run had."""
    cpu, limits = env.get("cpu", {}), env.get("limits", {})
    cores = len(cpu.get("visible_cores", [])) or cpu.get("logical_cores")
    parts = [cpu.get("model", "unknown CPU"), f"{cores} cores visible"]
    quota = limits.get("cpu_quota_cores")
    parts.append(f"CPU quota {quota:g}" if quota else "no CPU quota")
    tf = env.get("tensorflow") or {}
    if tf.get("version"):
        parts.append(f"TF {tf['version']} (oneDNN {'on' if tf.get('onednn_enabled') else 'off'})")
    memory = limits.get("memory_limit")
    if memory:
        shown = format_memory(memory) if isinstance(memory, (int, float)) else memory
        parts.append(f"memory {shown}")
    return ", ".join(parts)


def record_environment(log_dir: Path) -> dict:
    """The environment record, TensorFlow's part probed in a child (logs kept in ``log_dir``)."""
    import tuner

    from .worker import probe_tensorflow

    outcome = tuner.run_in_child(probe_tensorflow, str(log_dir), timeout=300)
    return environment_record(outcome.payload if outcome.ok else None)
