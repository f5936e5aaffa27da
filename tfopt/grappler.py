"""Grappler, TensorFlow's graph optimizer: options a worker passes to
``tf.config.optimizer.set_experimental_options`` before it builds the model.

They travel as JSON in the ``TFOPT_GRAPPLER`` environment variable (a config's ``env``, or the
``grappler`` step), are checked in the parent (`parse`, no TensorFlow), and the worker records
what TensorFlow reports back (``tf.config.optimizer.get_experimental_options()``) in its payload.
"""

from __future__ import annotations

import json
import os

GRAPPLER_ENV = "TFOPT_GRAPPLER"
# The boolean options of tf.config.optimizer.set_experimental_options (min_graph_nodes: an int).
SWITCHES = ("layout_optimizer", "constant_folding", "shape_optimization", "remapping",
            "arithmetic_optimization", "dependency_optimization", "loop_optimization",
            "function_optimization", "debug_stripper", "disable_model_pruning",
            "scoped_allocator_optimization", "pin_to_host_optimization",
            "implementation_selector", "auto_mixed_precision",
            "disable_meta_optimizer")  # fmt: skip
COUNTS = ("min_graph_nodes",)


def parse(text: str) -> dict:
    """The options in ``text`` (a JSON object); anything TensorFlow would not take raises
    ValueError naming it."""
    try:
        options = json.loads(text)
    except json.JSONDecodeError:
        options = None
    if not isinstance(options, dict) or not options:
        raise ValueError(f"{GRAPPLER_ENV} must be a JSON object of grappler options such as "
                         f'{{"remapping": false}}, got {text!r}')  # fmt: skip
    for key, value in options.items():
        if key not in SWITCHES + COUNTS:
            raise ValueError(f"{GRAPPLER_ENV}: {key!r} is not a grappler option; choose from "
                             f"{', '.join(SWITCHES + COUNTS)}")  # fmt: skip
        wanted = bool if key in SWITCHES else int
        if type(value) is not wanted:
            raise ValueError(f"{GRAPPLER_ENV}: {key!r} takes a {wanted.__name__}, got {value!r}")
    return options


def encode(options: dict) -> str:
    return json.dumps(options, sort_keys=True)


def apply_from_env() -> dict | None:
    """In a worker, after TensorFlow is imported and before the model is built: set the options
    the environment asks for; what TensorFlow then reports (None when none were asked for)."""
    text = os.environ.get(GRAPPLER_ENV)
    if not text:
        return None
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options(parse(text))
    return dict(tf.config.optimizer.get_experimental_options())


def paste_line(text: str) -> str:
    """The call a user pastes to get the same options."""
    return f"tf.config.optimizer.set_experimental_options({parse(text)!r})"
