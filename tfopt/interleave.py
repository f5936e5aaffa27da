"""Randomized paired rounds on the Runner: round k runs worker k of every configuration, in a
seeded random order, and the adaptive loop (`tfopt.rounds`) decides when to stop.

When every configuration of the rounds can share one process (the same build, env, thread knobs
and limits, differing only in model options such as g2p's mode, batch size or bucketing), ONE
worker per round builds them all and alternates their sweeps ABBA (`tfopt.measure.run_sides`):
the process's luck then cancels in their ratios. Otherwise every configuration gets a worker of
its own per round, even those that could share: a configuration measured beside others in one
process (their garbage, caches and turns) is not measured like one in a process of its own, and
a ratio between the two kinds is biased (1.16x where workers of their own found 1.0x). The
workers run all at once, taking turns at their sweeps (`tfopt.tandem`), or where that cannot be
(containers, a cluster, a build whose OpenMP threads spin, ``tandem = false``), one after the
other in the round's random order. The rounds record which (``layout``).

Runs are keyed by content as everywhere else, so a rerun replays the finished rounds from disk
(the same order, the same values, the same decisions) and goes on from there.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from .jobs import Job
from .records import RunRecord
from .rounds import Budget, Pair, Rounds, run_rounds
from .runner import Runner, labelled, records_of
from .summary import replicates

SIDE_OPTIONS = ("mode", "batch_size", "bucket")  # set when the model is built, not at import
JOINED = "+"


def measure_rounds(
    runner: Runner,
    configs: dict[str, dict],
    tag: str,
    budget: Budget,
    wanted: Callable[[Rounds], list[Pair]],
    *,
    alpha: float,
    threshold: float,
    seed: int = 0,
    share: bool = True,
) -> tuple[dict[str, list[RunRecord]], Rounds]:
    """Every completed record per label, and the rounds (values, orders, why they stopped)."""
    groups = process_groups(configs, runner, share)
    perms, folders = labelled(runner, {name: _group_config(configs, labels)
                                       for name, labels in groups.items()}, tag)  # fmt: skip
    of_label = {label: name for name, labels in groups.items() for label in labels}

    def records(name: str, rounds_done: int) -> dict[str, list[RunRecord]]:
        made = [r for r in records_of(folders[name], perms[name]) if r.worker < rounds_done]
        split = [side_records(record, groups[name]) for record in made]
        return {label: [by_label[label] for by_label in split] for label in groups[name]}

    together = in_tandem(configs, groups, runner)

    def measure(round_: int, order: list[str]) -> dict[str, float | None]:
        names = list(dict.fromkeys(of_label[label] for label in order))
        jobs = [Job(perms[name], round_, name, folders[name]) for name in names]
        if together:
            runner.run_tandem(jobs)
        else:
            runner.run(lambda: jobs)
        found = {label: recs for name in names for label, recs in records(name, round_ + 1).items()}
        return {label: replicates(found[label]).get(round_) for label in order}

    rounds = run_rounds(list(configs), measure, wanted, budget, alpha=alpha, threshold=threshold,
                        seed=seed, note=runner.progress.note)  # fmt: skip
    rounds.layout = layout(groups, together)
    runner.progress.note(f"{tag}: {rounds.stopped} ({rounds.layout})")
    done = {label: recs for name in groups
            for label, recs in records(name, len(rounds.orders)).items()}  # fmt: skip
    return {label: done[label] for label in configs}, rounds


def process_groups(configs: dict[str, dict], runner: Runner, share: bool) -> dict[str, list[str]]:
    """The labels each worker of a round measures, by group name: all of them in one worker
    (``a+b+c``) when they can all share a process, else each in its own (``a``), so that both
    sides of every ratio are measured alike."""
    keys = {_share_key(config, runner) for config in configs.values()}
    if share and len(configs) > 1 and len(keys) == 1:
        return {JOINED.join(configs): list(configs)}
    return {label: [label] for label in configs}


def layout(groups: dict[str, list[str]], together: bool) -> str:
    """How a round's configurations were measured, in words."""
    if len(groups) == 1:
        return "one worker per round, sweeps alternated ABBA"
    if together:
        return "in tandem: a worker each per round, taking turns"
    return "a worker each per round, one after the other"


def in_tandem(configs: dict[str, dict], groups: dict[str, list[str]], runner: Runner) -> bool:
    """Whether a round's workers run at once, taking turns (`tfopt.tandem`): when there are
    several, the configs allow it and the executor can."""
    return (len(groups) > 1 and all(config.get("tandem") for config in configs.values())
            and runner.executor.can_tandem(list(configs.values())))  # fmt: skip


def _share_key(config: dict, runner: Runner) -> str:
    """Everything fixed once TensorFlow loads or the process starts: the build (the variant's
    interpreter or image and env, not its name), knobs, env, limits, inputs."""
    rest = {key: value for key, value in config.items() if key not in (*SIDE_OPTIONS, "variant")}
    build = {k: v for k, v in runner.variants[config["variant"]].describe().items() if k != "name"}
    return json.dumps([rest, build], sort_keys=True, default=str)


def _group_config(configs: dict[str, dict], labels: list[str]) -> dict:
    if len(labels) == 1:
        return configs[labels[0]]
    sides = [{"label": label, "variant": configs[label]["variant"],
              "options": {key: configs[label][key] for key in SIDE_OPTIONS}} for label in labels]
    return {**configs[labels[0]], "sides": sides}  # fmt: skip


def side_records(record: RunRecord, labels: list[str]) -> dict[str, RunRecord]:
    """One record per configuration a worker measured (a failed worker failed for each)."""
    if len(labels) == 1:
        return {labels[0]: record}
    sides = (record.payload or {}).get("sides") or {}
    common = {k: v for k, v in (record.payload or {}).items() if k != "sides"}
    return {label: RunRecord(**{**record.__dict__, "label": label,
                                "payload": {**common, **sides[label]} if label in sides else None})
            for label in labels}  # fmt: skip


def against_first(labels: list[str]) -> Callable[[Rounds], list[Pair]]:
    """Every label against the first (compare's reference)."""
    return lambda _: [(labels[0], other) for other in labels[1:]]
