"""What a child is asked to run: a callable here, or a JSON task for a fresh interpreter
(``python -m tuner.worker`` or a zygote), which finds the target by name or gets it by value."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tuner import worker

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def as_callable(target: Callable[..., Any] | str) -> Callable[..., Any]:
    if isinstance(target, str):
        return worker.resolve(target)
    if not callable(target):
        raise TypeError(f"target must be a callable or a 'module:function' string, got {target!r}")
    return target


def target_name(target: Callable[..., Any] | str) -> str:
    """``"module:qualname"`` for a spawn task; a function of the ``__main__`` script is found
    under `main_module_name` (the script is then loaded by path, see `spawn_task`). TypeError
    for a function that has no such name (it then travels by value, see `_target_fields`)."""
    if isinstance(target, str):
        if target.count(":") != 1:
            raise ValueError(f"target must look like 'package.module:function', got {target!r}")
        return target
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if module is None or "<" in qualname:
        raise TypeError(f"{target!r} has no name a fresh interpreter can import")
    if module == "__main__":
        module = main_module_name()
    return f"{module}:{qualname}"


def main_module_name() -> str:
    """How a fresh interpreter finds this program's ``__main__``: the module run with
    ``python -m``, else the script, loaded by path as ``worker.MAIN_SCRIPT`` (`main_script`)."""
    main = sys.modules["__main__"]
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in (None, "__main__"):
        return spec.name
    if main_script():
        return worker.MAIN_SCRIPT
    raise TypeError("this program's __main__ (a notebook, the prompt) has no file to import")


def main_script() -> str | None:
    """The path of the script ``__main__`` was run from, if it was run from a file."""
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    return os.path.abspath(path) if path and spec is None and os.path.isfile(path) else None


def spawn_task(target: Any, args: tuple, kwargs: dict, env: dict[str, str]) -> dict:
    """The JSON task a fresh interpreter runs; a ``functools.partial`` of an importable function
    travels as that function with its bound arguments put in front."""
    while isinstance(target, functools.partial):
        args, kwargs = (*target.args, *args), {**target.keywords, **kwargs}
        target = target.func
    task = {
        "protocol": worker.PROTOCOL,
        **_target_fields(target),
        "args": list(args),
        "kwargs": kwargs,
        "env": env,
        "path": [PROJECT_ROOT],
    }
    try:
        json.dumps(task)
    except TypeError as exc:
        raise TypeError(
            f"start_method='spawn' sends arguments as JSON, and these are not: {exc}"
        ) from None
    return task


def _target_fields(target: Any) -> dict:
    """How the child finds the target: by name (the ``__main__`` script by its path), or, for
    a function no fresh interpreter can find by name (defined in a notebook cell, at the
    prompt, in another function), by value: pickled with cloudpickle, code and globals."""
    if not isinstance(target, str):
        as_callable(target)  # a clear error for what cannot be called
    try:
        name = target_name(target)
    except TypeError:
        return {"target": None, "pickled": pickled(target)}
    if name.startswith(worker.MAIN_SCRIPT + ":"):
        return {"target": name, "main": main_script()}
    return {"target": name}


def pickled(target: Callable[..., Any]) -> str:
    import base64

    import cloudpickle

    try:
        return base64.b64encode(cloudpickle.dumps(target)).decode()
    except Exception as exc:
        raise TypeError(
            f"start_method='spawn' could not send {target!r} to a fresh interpreter by value "
            f"({exc}): define it in a module file and pass it imported or as 'module:function', "
            f"or use start_method='fork'"
        ) from None


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """A fresh interpreter's environment: ours, ``env``, and the project root importable."""
    path = os.pathsep.join(p for p in (PROJECT_ROOT, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, **env, "PYTHONPATH": path}
