"""A benchmark's target as it is written into its JSON: the measured value, the bound it is held
to and whether it is met, so a reader sees the figure beside the verdict."""

from __future__ import annotations

import operator
from typing import Any

BOUNDS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}


def target(value: Any, bound: str, limit: Any) -> dict:
    """``{"value", "bound", "target", "met"}`` for ``value <bound> limit``."""
    met = bool(BOUNDS[bound](value, limit))
    return {"value": value, "bound": bound, "target": limit, "met": met}
