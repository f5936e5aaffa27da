"""An experiment matrix: every permutation of a config file's list values (as the furcate
experiment runner expands them), resumable and live-editable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import variants as variants_mod
from .devices import visible_gpus
from .environment import record_environment
from .export import export_all
from .jobs import Job, jobs_for
from .journey import run_journey
from .matrix import ConfigError, LiveConfig, expand, varying_keys
from .progress import Progress
from .records import RunRecord
from .runner import Runner
from .saving import RUNS, load_records
from .summary import RUN_SETTINGS, ConfigEntry, Summary, config_entry, summary_document
from .variants import STOCK, Variant


def variants_of(config: dict, extra: dict[str, Variant]) -> dict[str, Variant]:
    table = {name: variants_mod.from_config(name, spec)
             for name, spec in config["variants"].items()}  # fmt: skip
    return {STOCK: Variant(STOCK), **table, **extra}


def jobs_of(config: dict, out: Path) -> list[Job]:
    perms, varying = expand(config), varying_keys(config)
    folders = [out / RUNS / perm.folder_name(varying) for perm in perms]
    labels = [folder.name for folder in folders]
    return jobs_for(perms, labels, folders, config["workers"])


def run_experiment(
    config_path: Path,
    out: Path,
    progress: Progress,
    extra_variants: dict[str, Variant],
    make_runner: type[Runner] = Runner,
) -> Summary:
    """``make_runner``: `Runner` runs here; `tfopt.scaleout.RayRunner` on a Ray cluster."""
    live = LiveConfig(config_path)
    if live.config["journey"]:
        return run_journey(live.config, out, progress, extra_variants)
    jobs = jobs_of(live.config, out)  # expanded again only when the file changes
    if not jobs:
        raise ConfigError(f"config file {config_path}: its exclude rules drop every permutation")
    if make_runner is Runner:
        refuse_node_axis(live.config)
    parallel, gpus = live.config["parallel"], visible_gpus()
    runner = make_runner(out, variants_of(live.config, extra_variants), progress, parallel, gpus)
    if parallel and gpus:
        progress.note(f"one queue per GPU: {', '.join(gpus)}")
    done_before = len(runner.completed())
    if done_before:
        progress.note(f"resuming: {done_before} finished run(s) in {out} will be skipped")

    def pending() -> list[Job]:
        nonlocal jobs
        if live.refresh():
            progress.note(f"{config_path} changed: pending runs recomputed")
            runner.variants.update(variants_of(live.config, extra_variants))
            jobs = jobs_of(live.config, out)
        if live.last_error:
            progress.note(live.last_error)
        return jobs

    runner.run(pending)
    summary = summarize(live.config, jobs, runner.records_of, record_environment(out / RUNS))
    export_all(summary, out)
    return summary


def refuse_node_axis(config: dict) -> None:
    """``node`` routes runs to machines of a cluster: on this machine alone it cannot be met."""
    if any(node is not None for node in _as_list(config["node"])):
        raise ConfigError(
            f"config key 'node' ({config['node']!r}) routes runs to cluster nodes: "
            "run with --engine ray, or remove it"
        )


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def summarize(
    config: dict, jobs: list[Job], records_of: Callable[[str], list[RunRecord]] | None = None,
    environment: dict | None = None,
) -> Summary:
    """``records_of(run_id)``: a permutation's records wherever they are (default: its folder)."""
    configs: dict[str, ConfigEntry] = {}
    for job in jobs:
        if job.label in configs:
            continue
        if records_of is None:
            records = [r for r in load_records(job.folder) if r.run_id == job.perm.run_id]
        else:
            records = records_of(job.perm.run_id)
        configs[job.label] = config_entry(job.label, job.perm.run_params, records)
    settings = {key: config[key] for key in RUN_SETTINGS}
    return summary_document("matrix", f"tfopt experiment: {config['name']}", settings, configs,
                            environment=environment)  # fmt: skip
