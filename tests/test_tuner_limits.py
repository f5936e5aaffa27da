"""Per-trial limits: validation, and a contract every backend passes on real processes."""

import os
import time
from pathlib import Path

import pytest

import tuner
from tuner import Limits, TrialStatus
from tuner.limits import BACKENDS, as_limits, choose_backend, current, get_backend
from tuner.limits.base import format_memory, parse_memory
from tuner.limits.cgroup_v2 import CgroupV2Backend, delegate
from tuner.limits.systemd import SystemdConfinement

CORES = os.cpu_count()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cpus": CORES + 1}, ValueError, "more than this machine"),
        ({"cpus": 0}, ValueError, "positive"),
        ({"cpus": "2"}, TypeError, "number of cores"),
        ({"memory": "10M"}, ValueError, "below"),
        ({"memory": "lots"}, ValueError, "not a size"),
        ({"memory": 1.5}, TypeError, "bytes"),
        ({"cpuset": "0-99"}, ValueError, "does not have"),
        ({"cpuset": "1-0"}, ValueError, "backwards"),
        ({"cpuset": "a"}, ValueError, "core list"),
        ({"cpus": 2, "cpuset": "0"}, ValueError, "exceeds"),
    ],
)
def test_bad_limits_fail_up_front_naming_the_problem(kwargs, error, match):
    with pytest.raises(error, match=match):
        Limits(**kwargs)


def test_memory_sizes_read_like_docker():
    assert parse_memory("512M") == 512 * 1024**2
    assert parse_memory("4G") == parse_memory("4g") == parse_memory("4GiB") == 4 * 1024**3
    assert Limits(memory="1.5g").memory == int(1.5 * 1024**3)


def test_memory_sizes_are_written_back_in_the_same_units():
    assert format_memory(4 * 1024**3) == "4 GiB" and format_memory(100_000_000) == "95.4 MiB"
    assert format_memory(1023 * 1024**3) == "1023 GiB" and format_memory(5 * 1024**4) == "5 TiB"
    assert format_memory(512) == "512 bytes"
    for size in ("512M", "1.5G", "128K", "2T"):
        size_bytes = parse_memory(size)
        assert parse_memory(format_memory(size_bytes).replace(" ", "")) == size_bytes


def test_limits_from_a_dict_and_unknown_names():
    assert as_limits({"cpus": 1}) == Limits(cpus=1)
    with pytest.raises(ValueError, match="unknown limits"):
        as_limits({"gpus": 1})
    with pytest.raises(ValueError, match="unknown limits backend"):
        choose_backend(Limits(cpus=1), "fork", "nope")


def test_no_limits_means_no_backend():
    assert tuner.run_in_child(os.getpid).backend == "none"


def test_current_describes_this_process():
    here = current()
    assert here.visible_cores == len(os.sched_getaffinity(0))
    assert here.machine_cores == CORES
    assert here.cgroup_version in ("v1", "v2", None)


def spin(seconds):
    """Burn CPU for ``seconds`` of wall time; return CPU seconds per wall second."""
    start, cpu = time.monotonic(), time.process_time()
    while time.monotonic() - start < seconds:
        pass
    return (time.process_time() - cpu) / (time.monotonic() - start)


def usable(name: str):
    """The backend, or a skip saying why it cannot run here."""
    try:
        backend = get_backend(name)
    except ImportError:
        pytest.skip(f"the {name} backend's module is not in this tree")
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"{name} unavailable here: {reason}")
    return backend


def mode_for(backend) -> str:
    return "spawn" if backend.launches else "fork"


@pytest.mark.parametrize("name", list(BACKENDS))
def test_contract_memory_cap_kills_or_fails_the_trial_as_oom(name):
    backend = usable(name)
    mode = mode_for(backend)
    target = "builtins:bytearray" if mode == "spawn" else bytearray
    outcome = tuner.run_in_child(
        target, 512 * 1024**2, mode=mode, limits=Limits(memory="256M"), backend=backend
    )
    assert outcome.status is TrialStatus.OOM, outcome.reason
    assert outcome.backend == name
    assert "memory" in outcome.enforced


@pytest.mark.parametrize("name", list(BACKENDS))
def test_contract_the_child_sees_its_confines(name):
    backend = usable(name)
    mode = mode_for(backend)
    target = "tuner.limits:current_json" if mode == "spawn" else tuner.limits.current_json
    outcome = tuner.run_in_child(
        target, mode=mode, limits=Limits(cpus=1, memory="256M"), backend=backend
    )
    assert outcome.status is TrialStatus.COMPLETE, outcome.reason
    assert set(outcome.enforced) == {"cpus", "memory"}
    if outcome.backend == "fallback":
        assert outcome.payload["visible_cores"] == 1
    else:
        assert outcome.payload["cpu_quota_cores"] == 1.0
        assert outcome.payload["memory_limit"] == 256 * 1024**2


@pytest.mark.parametrize("name", ["cgroup_v2", "cgroup_v1", "fallback"])
def test_contract_cpu_limit_holds_a_busy_child_to_one_core_or_less(name):
    backend = usable(name)
    limits = Limits(cpus=0.5) if name != "fallback" else Limits(cpuset="0")
    outcome = tuner.run_in_child(spin, 1.0, limits=limits, backend=backend)
    assert outcome.status is TrialStatus.COMPLETE, outcome.reason
    assert outcome.value <= (0.65 if name != "fallback" else 1.05)


def test_cgroup_v1_leaves_no_trial_cgroups_behind():
    backend = usable("cgroup_v1")
    tuner.run_in_child(os.getpid, limits=Limits(cpus=1, memory="256M", cpuset="0"), backend=backend)
    from tuner.limits import cgroupfs

    for controller in ("cpu", "memory", "cpuset"):
        leftovers = list(cgroupfs.v1_dir(controller).glob(f"tfopt-trial-{os.getpid()}-*"))
        assert leftovers == []


def test_fallback_says_what_it_does_not_enforce():
    outcome = tuner.run_in_child(
        os.getpid, limits=Limits(cpus=1, memory="256M"), backend="fallback"
    )
    assert outcome.backend == "fallback"
    assert any("no CPU quota" in w for w in outcome.warnings)
    assert any("not resident memory" in w for w in outcome.warnings)


def make_fake_cgroup2(root: Path) -> None:
    """A cgroup v2 tree cannot be made here (its controllers are bound to v1): files stand in."""
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("\n")
    (root / "cgroup.procs").write_text("")


def test_cgroup_v2_writes_docker_equivalent_settings(tmp_path, monkeypatch):
    root = tmp_path / "cgroup"
    make_fake_cgroup2(root)
    monkeypatch.setattr("tuner.limits.cgroupfs.own_paths", lambda: {"": "/"})
    backend = CgroupV2Backend(root)
    assert backend.unavailable_reason() is None
    real_mkdir = Path.mkdir

    def mkdir_with_files(path, *args, **kwargs):  # the kernel creates a cgroup's files
        real_mkdir(path, *args, **kwargs)
        (path / "memory.swap.max").write_text("max\n")

    monkeypatch.setattr(Path, "mkdir", mkdir_with_files)
    confinement = backend.open(Limits(cpus=1.5, memory="1G", cpuset="0-1"))
    trial = confinement.dir
    assert (trial / "cpu.max").read_text() == "150000 100000\n"
    assert (trial / "memory.max").read_text() == f"{1024**3}\n"
    assert (trial / "memory.swap.max").read_text() == "0\n"
    assert (trial / "cpuset.cpus").read_text() == "0-1\n"
    assert (root / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory\n"
    (trial / "memory.events").write_text("oom 1\noom_kill 1\n")
    assert confinement.oom_killed()


def test_cgroup_v2_moves_processes_out_before_delegating(tmp_path):
    parent = tmp_path / "service"
    make_fake_cgroup2(parent)
    (parent / "cgroup.procs").write_text("4242\n")
    delegate(parent, {"memory"}, is_root=False)
    assert (parent / "leaf" / "cgroup.procs").read_text() == "4242\n"
    assert (parent / "cgroup.subtree_control").read_text() == "+memory\n"


def test_cgroup_v2_reports_missing_controllers(tmp_path):
    root = tmp_path / "cgroup"
    make_fake_cgroup2(root)
    (root / "cgroup.controllers").write_text("hugetlb\n")
    assert "lacks the cpu, cpuset, memory" in CgroupV2Backend(root).unavailable_reason()


def test_systemd_translates_limits_into_scope_properties():
    argv = SystemdConfinement(Limits(cpus=1.5, memory="1G", cpuset="0-1")).command(["py"], {})
    assert argv[:2] == ["systemd-run", "--scope"]
    assert {"CPUQuota=150%", f"MemoryMax={1024**3}", "MemorySwapMax=0", "AllowedCPUs=0-1"} <= set(
        argv
    )
    assert argv[-2:] == ["--", "py"]


def test_launching_backends_refuse_fork_mode():
    from tuner.limits.systemd import SystemdBackend

    assert not SystemdBackend().supports("fork")
    assert SystemdBackend().supports("spawn")
