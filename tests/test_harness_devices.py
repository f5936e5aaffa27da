"""Which GPUs an experiment queues runs on. No GPU exists on the machines this suite runs on, so
the NVIDIA driver's /proc folder is a stand-in tree here; CUDA_VISIBLE_DEVICES is read as CUDA
reads it."""

from pathlib import Path

import pytest

from tfopt.devices import visible_gpus


@pytest.fixture
def driver(tmp_path: Path) -> Path:
    """A stand-in for /proc/driver/nvidia/gpus with two GPUs."""
    for bus_id in ("0000:3b:00.0", "0000:af:00.0"):
        (tmp_path / bus_id).mkdir()
    return tmp_path


def test_no_driver_and_no_variable_means_no_gpu(tmp_path):
    assert visible_gpus({}, tmp_path / "absent") == []


def test_one_queue_per_gpu_the_driver_lists(driver):
    assert visible_gpus({}, driver) == ["0", "1"]


@pytest.mark.parametrize(
    ("value", "ids"),
    [("2,0", ["2", "0"]), (" 1 , 3 ", ["1", "3"]), ("GPU-5a1f", ["GPU-5a1f"]),
     ("1,-1,2", ["1"]), ("-1", []), ("", [])],
)  # fmt: skip
def test_cuda_visible_devices_narrows_the_queues_as_cuda_reads_it(driver, value, ids):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": value}, driver) == ids
