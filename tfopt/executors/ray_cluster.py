"""Where a run may go on the Ray cluster, and the connection to it.

A node that may measure declares the custom resource ``tfopt`` = 1 (``ray start --resources
'{"tfopt": 1}'``); every run asks for all of it, so a node measures one run at a time and runs
nothing else of ours meanwhile. A run of a machine type goes only to nodes of that type (a node
label or a custom resource).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

RESOURCE = "tfopt"
# A fraction of a machine-type resource is enough to route: ``tfopt: 1`` already keeps one run
# per node, and every node of the type declares the type's resource (any amount >= this).
TYPE_SHARE = 0.001


def placement(machine_type: str | None) -> dict:
    """Ray task options: all of a node's ``tfopt`` resource, on a node of ``machine_type``.

    ``machine_type`` is a node label (``key=value``, as ``ray start --labels``) or the name of a
    custom resource the nodes of that type declare (``cpu:epyc-9004``)."""
    options: dict = {"num_cpus": 0, "max_retries": 0, "resources": {RESOURCE: 1}}
    if machine_type and "=" in machine_type:
        key, _, value = machine_type.partition("=")
        options["label_selector"] = {key: value}
    elif machine_type:
        options["resources"][machine_type] = TYPE_SHARE
    return options


def describe_placement(machine_type: str | None) -> str:
    if not machine_type:
        return f"the resource {RESOURCE!r}"
    kind = "label" if "=" in machine_type else "resource"
    return f"the resource {RESOURCE!r} and the {kind} {machine_type!r}"


def measuring_nodes(machine_type: str | None) -> list[dict]:
    """Live nodes that may take a run of ``machine_type``."""
    import ray

    return [node for node in ray.nodes() if node["Alive"] and _fits(node, machine_type)]


def _fits(node: dict, machine_type: str | None) -> bool:
    resources, labels = node.get("Resources", {}), node.get("Labels") or {}
    if resources.get(RESOURCE, 0) < 1:
        return False
    if not machine_type:
        return True
    if "=" in machine_type:
        key, _, value = machine_type.partition("=")
        return labels.get(key) == value
    return resources.get(machine_type, 0) >= TYPE_SHARE


@contextlib.contextmanager
def connected(address: str | None, note: Callable[[str], None]) -> Iterator[None]:
    """Connect to the cluster at ``address``; without one, start a local Ray whose only node
    measures (``tfopt: 1``), and stop it afterwards."""
    import ray

    started = time.monotonic()
    if address:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address="local", resources={RESOURCE: 1}, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
    try:
        nodes = measuring_nodes(None)
        note(f"ray: connected in {time.monotonic() - started:.1f} s; {len(nodes)} node(s) offer "
             f"{RESOURCE!r}")  # fmt: skip
        if not nodes:
            raise RuntimeError(
                f"no node of the Ray cluster at {address} offers the resource {RESOURCE!r}: "
                f"start measuring nodes with ray start --address {address} "
                f"--resources '{{\"{RESOURCE}\": 1}}'"
            )
        yield
    finally:
        ray.shutdown()
