"""The tuner in a real Jupyter kernel (ipykernel, driven by nbclient): objectives and loop bodies
defined in cells, each trial in a forked child that never touches the kernel's sockets."""

import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]

FUNCTION_API = """
import os
import tuner

def objective(config):
    return (config["x"] - 3) ** 2

result = tuner.minimize(objective, {"x": tuner.Int(0, 6)}, strategy="grid")
print("best", result.best_config, result.best_value)
print("children", len({t.pid for t in result.trials}), "trials", len(result.trials))
print("kernel", os.getpid() not in {t.pid for t in result.trials})
"""

FOR_LOOP = """
from tuner import nelder_mead

for attempt in nelder_mead(vertex=[5], bounds=[(1, 9)], names=["threads"], unit=""):
    print("body", attempt)
    if attempt[0] == 9:
        raise ValueError("a body that raises fails its trial, in the child only")
    print((attempt[0] - 7) ** 2)
print("after the loop")
"""

SPAWN = """
import os

def load_time_objective(config):  # a fresh interpreter: its env is set before anything loads
    return (int(os.environ["TFOPT_LOAD_TIME_KNOB"]) - 2) ** 2 + offset

offset = 0.5  # a global of the cell: sent with the function, by value
space = {"TFOPT_LOAD_TIME_KNOB": tuner.Int(0, 4)}
spawned = tuner.minimize(load_time_objective, space, strategy="grid", mode="spawn", confirm=1)
print("spawned", spawned.best_config, spawned.best_value)
"""

STILL_ALIVE = "print('the kernel runs cells', 6 * 7)"


def run_notebook(*cells: str) -> list[str]:
    """Execute ``cells`` in a fresh kernel; each cell's output (stdout and stderr, in order)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    return ["".join(o.get("text", "") for o in cell.outputs) for cell in notebook.cells]


def test_minimize_and_the_for_loop_work_with_code_defined_in_notebook_cells():
    function_api, for_loop, spawn, alive = run_notebook(FUNCTION_API, FOR_LOOP, SPAWN, STILL_ALIVE)
    assert "best {'x': 3} 0.0" in function_api
    assert re.search(r"children (\d+) trials \1\n", function_api)  # a child per trial
    assert "kernel True" in function_api
    assert "trial 0 (configuration 1 of" not in function_api  # no budget: none is claimed
    assert "trial 0 (configuration 1): x=0 -> 9" in function_api  # progress by default
    assert "best attempt threads=7: 0 (min 0, max 0)" in for_loop
    assert "body [5]" in for_loop  # the body's own prints reach the cell
    assert for_loop.count("after the loop") == 1  # the rest of the cell ran in the kernel only
    assert "the loop body did not finish" in for_loop  # attempt 9's trial failed ...
    assert "ValueError" not in for_loop  # ... in the child, which never showed a traceback
    assert "spawned {'TFOPT_LOAD_TIME_KNOB': 2} 0.5" in spawn
    assert alive == "the kernel runs cells 42\n"
