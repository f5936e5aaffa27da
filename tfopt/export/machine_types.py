"""The report by machine type, for runs spread over a cluster: ``machine_types.md``, one table and
one ``machine_<type>.png`` per type, and a cross-type table of each configuration.

A run's machine type is in its record (``payload["node"]["machine_type"]``: the ``node`` routing
value, else the node's CPU model), so one permutation whose workers landed on two types counts
once per type. Drawn from the run folders alone: ``tfopt report`` needs no cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..matrix import flatten
from ..records import RunRecord
from ..saving import RUNS, load_records
from ..summary import ConfigEntry, config_entry
from . import png_format

REPORT = "machine_types.md"


def export(out: Path) -> list[Path]:
    """Write the files when any record names its machine type; returns the files written."""
    groups = grouped(out)
    if not groups:
        return []
    names = configuration_names({key: params for by_config in groups.values()
                                 for key, (params, _) in by_config.items()})  # fmt: skip
    entries = {mtype: {key: config_entry(names[key], params, records)
                       for key, (params, records) in by_config.items()}
               for mtype, by_config in groups.items()}  # fmt: skip
    facts = {mtype: node_facts([r for _, records in by_config.values() for r in records])
             for mtype, by_config in groups.items()}  # fmt: skip
    written = [_plot(out, mtype, by_config) for mtype, by_config in sorted(entries.items())]
    path = out / REPORT
    path.write_text("\n".join(render(entries, names, facts)) + "\n")
    return [path, *[p for p in written if p]]


def grouped(out: Path) -> dict[str, dict[str, tuple[dict, list[RunRecord]]]]:
    """machine type -> configuration key (its params without ``node``) -> (params, records)."""
    groups: dict[str, dict[str, tuple[dict, list[RunRecord]]]] = {}
    for folder in sorted((out / RUNS).glob("*/")):
        for record in load_records(folder):
            mtype = machine_type(record)
            if mtype is None:
                continue
            params = {k: v for k, v in record.params.items() if k != "node"}
            key = json.dumps(params, sort_keys=True, default=str)
            groups.setdefault(mtype, {}).setdefault(key, (params, []))[1].append(record)
    return groups


def machine_type(record: RunRecord) -> str | None:
    node = (record.payload or {}).get("node") or {}
    return node.get("machine_type")


def configuration_names(configs: dict[str, dict]) -> dict[str, str]:
    """A short name per configuration: the settings that differ between them."""
    flat = {key: flatten(params) for key, params in configs.items()}
    keys = sorted({k for f in flat.values() for k in f})
    varying = [
        k for k in keys if len({json.dumps(f.get(k), default=str) for f in flat.values()}) > 1
    ]
    return {key: ", ".join(f"{k}={f.get(k)}" for k in varying) or "all runs"
            for key, f in flat.items()}  # fmt: skip


def render(
    entries: dict[str, dict[str, ConfigEntry]], names: dict[str, str], facts: dict[str, list[str]]
) -> list[str]:
    lines = ["# Results by machine type", ""]
    for mtype, by_config in sorted(entries.items()):
        lines += [f"## {mtype}", "", *facts[mtype], "",
                  "| configuration | workers | median ms/sweep | p90 | throughput/s |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        lines += [_row(entry) for entry in by_config.values()]
        lines += ["", f"![{mtype}]({_plot_name(mtype)})", ""]
    types = sorted(entries)
    lines += ["## The same configuration across machine types (median ms/sweep)", "",
              "| configuration | " + " | ".join(types) + " |",
              "|---|" + "---:|" * len(types)]  # fmt: skip
    for key in sorted(names, key=lambda key: names[key]):
        cells = [_median(entries[mtype].get(key)) for mtype in types]
        lines.append(f"| {names[key]} | " + " | ".join(cells) + " |")
    return lines


def node_facts(records: list[RunRecord]) -> list[str]:
    """What the nodes of one type said about themselves, each distinct value once."""
    nodes = [(record.payload or {})["node"] for record in records]

    def distinct(key: str) -> str:
        values = {json.dumps(n.get(key), default=str): n.get(key) for n in nodes if n.get(key)}
        return "; ".join(_text(v) for v in values.values()) or "not recorded"

    steal = [n["steal_seconds_during_run"] for n in nodes if "steal_seconds_during_run" in n]
    return [
        f"- nodes: {len({n.get('node_id') for n in nodes})} ({distinct('host')})",
        f"- CPU: {distinct('cpu_model')}; ISA: {distinct('isa')}",
        f"- cores: {distinct('logical_cores')} logical, {distinct('visible_cores')} visible; "
        f"kernel {distinct('kernel')}",
        f"- TensorFlow: {distinct('tensorflow')}",
        f"- steal time during runs: {max(steal):.2f} s at most"
        if steal
        else "- steal time: not visible",
    ]


def _text(value) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, dict):
        tags = ", ".join(value.get("wheel_tags") or [])
        return f"{value.get('distribution')} {value.get('version')} ({tags})"
    return str(value)


def _row(entry: ConfigEntry) -> str:
    sweep = entry.get("sweep")
    if not sweep:
        return f"| {entry['label']} | 0 | no worker completed | | |"
    return (f"| {entry['label']} | {entry['workers']} | {sweep['median']:.2f} | "
            f"{sweep['p90']:.2f} | {entry['throughput']:.1f} |")  # fmt: skip


def _median(entry: ConfigEntry | None) -> str:
    if not entry:
        return "not run"
    sweep = entry.get("sweep")
    return f"{sweep['median']:.2f}" if sweep else "failed"


def _plot_name(mtype: str) -> str:
    slug = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in mtype)
    return f"machine_{slug}.png"


def _plot(out: Path, mtype: str, by_config: dict[str, ConfigEntry]) -> Path | None:
    drawn = [entry for entry in by_config.values() if entry.get("by_size")]
    if not drawn:
        return None
    return png_format.plot_sizes(drawn, out / _plot_name(mtype), f"machine type: {mtype}")
