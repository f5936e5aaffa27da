"""tfopt's forking tuner: one child process per trial, because TensorFlow fixes its thread pools
(and reads knobs such as ``OMP_NUM_THREADS``) once its runtime starts.

A small public API; the modules behind it are implementation detail::

    import tuner

    def objective(config):  # runs in a forked child, so it may set TensorFlow's threading
        return measure_my_model(config["inter"], config["intra"])

    result = tuner.minimize(objective, {"inter": tuner.Int(1, 8), "intra": tuner.Int(1, 8)})
    print(result.best_config, result.best_value)

Names load lazily, so ``python -m tuner.worker`` in a spawned child imports only what it needs.
"""

from importlib import import_module

_EXPORTS = {
    "Int": "tuner.space",
    "Choice": "tuner.space",
    "Space": "tuner.space",
    "Limits": "tuner.limits",
    "TrialOutcome": "tuner.outcome",
    "TrialStatus": "tuner.outcome",
    "run_in_child": "tuner.process",
    "report": "tuner.worker",
    "minimize": "tuner.runner",
    "Result": "tuner.runner",
    "nelder_mead": "tuner.generator",
    "kamerton": "tuner.generator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tuner' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
