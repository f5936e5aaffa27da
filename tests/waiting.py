"""Waiting for a condition instead of sleeping for a guessed time.

The deadline only bounds a hang: a test that waits for an event passes as soon as the event
happens, however loaded the machine, and fails (saying what it waited for) if it never does.
"""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

HANG = 120.0  # seconds: far beyond any wait a working system needs, even on a loaded machine


def wait_until(condition: Callable[[], T], what: str, timeout: float = HANG) -> T:
    """Poll ``condition`` until it returns something true; that value. AssertionError naming
    ``what`` if it never does within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.01)
