"""A user's model as a Python callable: ``module:factory`` plus an ``inputs`` generator.

``factory(**options)`` runs once in the worker, after the thread settings, and returns the
function to time; it receives only the options set in the config (mode, batch_size, bucket),
and only those it declares. ``inputs(size, seed)`` returns one input of that size.
"""

from __future__ import annotations

import inspect

from .base import Built, Workload, check_importable, load_callable


class CallableWorkload(Workload):
    def __init__(self, factory: str, inputs: str | None):
        check_importable(factory, "workload")
        if inputs is None:
            raise ValueError(
                f"workload {factory!r} needs 'inputs': a 'module:function' taking (size, seed)"
            )
        check_importable(inputs, "inputs")
        self.spec, self.inputs = factory, inputs

    def build(self, options: dict) -> Built:
        factory = load_callable(self.spec, "workload")
        given = {k: v for k, v in options.items() if v is not None}
        _check_accepts(factory, given, self.spec)
        predict = factory(**given)
        if not callable(predict):
            raise TypeError(f"workload factory {self.spec!r} returned {predict!r}, not a callable")
        return Built(predict=predict, make_input=load_callable(self.inputs, "inputs"))


def _check_accepts(factory, options: dict, spec: str) -> None:
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(f"workload factory {spec!r} does not take option(s) {unknown}")
