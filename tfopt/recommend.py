"""The lab's conclusion from its final rounds: the best configuration, the settings to paste, and
a check that nothing the report says contradicts its own tables."""

from __future__ import annotations

from .grappler import GRAPPLER_ENV
from .grappler import paste_line as grappler_line
from .matrix_keys import KNOB_ENV
from .summary import ConfigEntry, Summary, comparison, not_ranked, tunable_settings

POOL_CALLS = {"inter": "tf.config.threading.set_inter_op_parallelism_threads",
              "intra": "tf.config.threading.set_intra_op_parallelism_threads"}  # fmt: skip
MODEL_OPTIONS = ("mode", "batch_size", "bucket")
DEFAULTS_LINE = "TensorFlow's defaults: nothing to change"


def best_and_tied(configs: dict[str, ConfigEntry], initial: str, alpha: float,
                  threshold: float) -> tuple[str, list[str]]:  # fmt: skip
    """Best, the fastest of the `leaders` by its estimate, and the leaders tied with it (the
    final rounds cannot tell them apart); Best is ``initial`` when nothing is faster than it."""
    found = leaders(configs, initial, alpha, threshold)
    return (found[0], found[1:]) if found else (initial, [])


def leaders(configs: dict[str, ConfigEntry], initial: str, alpha: float,
            threshold: float) -> list[str]:  # fmt: skip
    """Every configuration that the final rounds show faster than ``initial`` and that no other
    configuration beats (faster than it, by the same rule), fastest first: none of them is
    significantly faster than another. A configuration whose outputs differ from TensorFlow's
    (`not_ranked`) is never ranked."""
    ranked = {label: entry for label, entry in configs.items() if not not_ranked(entry)}
    faster = sorted(
        ((result["value"], label) for label in ranked if label != initial
         for result in [comparison(configs[initial], configs[label], alpha, threshold)]
         if result and result["verdict"] == "faster"),
        reverse=True,
    )  # fmt: skip
    return [label for _, label in faster if not _beaten(label, ranked, alpha, threshold)]


def _beaten(label: str, configs: dict[str, ConfigEntry], alpha: float, threshold: float) -> bool:
    for other in configs:
        result = comparison(configs[label], configs[other], alpha, threshold) \
            if other != label else None  # fmt: skip
        if result and result["verdict"] == "faster":
            return True
    return False


def paste_lines(params: dict) -> list[str]:
    """The recommendation as a user pastes it: env vars, ``tf.config.threading`` calls, model
    options and the build; one line saying so when it is TensorFlow's defaults."""
    knobs = params.get("knobs", {})
    lines = [f"{name}={_env_value(knobs[key])}" for key, name in KNOB_ENV.items()
             if knobs.get(key) is not None]  # fmt: skip
    lines += [grappler_line(value) if name == GRAPPLER_ENV else f"{name}={value}"
              for name, value in params.get("env", {}).items()]  # fmt: skip
    lines += [f"{call}({knobs[key]})" for key, call in POOL_CALLS.items() if knobs.get(key)]
    options = {key: params[key] for key in MODEL_OPTIONS if params.get(key) is not None}
    if options:
        lines.append("model options: " + ", ".join(f"{k}={v!r}" for k, v in options.items()))
    variant = params.get("variant")
    if variant and variant != "stock":
        lines.append(f"TensorFlow build: variant {variant}")
    return lines or [DEFAULTS_LINE]


def _env_value(value) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def contradictions(summary: Summary) -> list[str]:
    """Every place where the Best line, the recommendation or a verdict disagrees with the tables
    beside it (empty when the report is consistent). The report writer prints these; tests
    assert there are none."""
    if summary.get("kind") != "lab":
        return []
    problems = []
    configs, best, speedup = summary["configs"], summary.get("best"), summary.get("speedup")
    settings = summary.get("settings", {})
    alpha, threshold = settings.get("alpha", 0.05), settings.get("threshold", 0.05)
    if best is None or best not in configs:
        return [f"Best {best!r} is not a measured configuration"]
    if not_ranked(configs[best]):
        problems.append(f"Best {best!r} is not ranked: {not_ranked(configs[best])}")
    found = leaders(configs, "initial", alpha, threshold)
    if "tied" in summary and sorted(summary["tied"]) != sorted(set(found) - {best}):
        problems.append(f"the configurations tied with Best are not {sorted(set(found) - {best})}")
    steps = {step["label"]: step for step in summary.get("steps", [])}
    if best in steps and (steps[best].get("vs_initial") or {}).get("verdict") != "faster":
        problems.append(f"Best {best!r} is not faster than initial in the steps table")
    if best in steps and speedup != steps[best].get("vs_initial"):
        problems.append(f"the Best line's speedup differs from {best!r}'s row")
    for label, step in steps.items():
        base = configs.get(step.get("base", "initial"), {})
        redone = comparison(base, configs[label], alpha, threshold) or {}
        if step.get("vs_base") and redone.get("verdict") != step["vs_base"]["verdict"]:
            problems.append(f"{label!r}: its verdict is not the final rounds' {redone['verdict']}")
        if (step.get("vs_initial") or {}).get("verdict") == "faster" and label != best and \
                not not_ranked(configs[label]) and \
                _better_than(label, best, configs, alpha, threshold):  # fmt: skip
            problems.append(f"{label!r} is faster than Best {best!r} in the final rounds")
    if summary.get("recommended") != tunable_settings(configs[best]["params"]):
        problems.append(f"the recommended settings are not {best!r}'s")
    if "recommendation" in summary and summary["recommendation"] != paste_lines(
            configs[best]["params"]):  # fmt: skip
        problems.append(f"the recommendation lines are not {best!r}'s settings")
    return problems


def _better_than(label: str, best: str, configs: dict, alpha: float, threshold: float) -> bool:
    result = comparison(configs[best], configs[label], alpha, threshold)
    return bool(result and result["verdict"] == "faster")
