"""Shared fixtures. Tests run from the repo root against the project's .venv."""

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Keep TensorFlow's C++ log noise out of test output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
LAB_IMAGE = "tfopt"  # the default image of the docker limits backend: tests keep it fresh

# A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and so would
# every process it starts: the Ctrl-C tests would then send a signal nobody can receive.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def lab_image() -> str:
    """The lab image, built as `make image` builds it (reusing cached layers, the local base and
    the wheelhouse by content hash). Skips, saying why, where no Docker engine is reachable."""
    from tuner.limits.docker import engine_problem

    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    _build_image(LAB_IMAGE)
    return LAB_IMAGE


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Path:
    """Real SavedModels: lstm (input (None, None) int32) and tiny (input (None, 8))."""
    folder = tmp_path_factory.mktemp("models")
    script = ("import sys; from examples.workloads.keras_models import export; "
              "[export(name, f'{sys.argv[1]}/{name}') for name in ('tiny', 'lstm')]")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", script, str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.fixture
def build_image():
    """``build_image(image, *docker_build_args, cwd=ROOT)``: build as `make image` does."""
    return _build_image


def _build_image(image: str, *docker_args: str, cwd: Path = ROOT) -> str:
    """Build with `make image`'s script; its docker build log.

    Every test build uses the classic builder, whose log says which step the layer cache served
    (and whose cache the builds then share, wherever BuildKit is installed or not).
    """
    env = {**os.environ, "IMAGE": image, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(
        ["docker/build-image.sh", *docker_args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, f"building {image} failed:\n{done.stderr[-6000:]}"
    return done.stderr


# One ordering constraint is real and made explicit here: once a tensor exists in a process,
# TensorFlow's thread pools are fixed and the tuner (rightly) refuses to fork it. Tests that start
# the runtime in the pytest process itself (the g2p model tests, which keep one model per module
# to stay fast) carry the ``tf_runtime`` marker and run after every other test, whatever order the
# modules were given in; every other test must leave the runtime unstarted, which the fixture
# below checks, so that a test missing the marker fails at once instead of breaking later ones.
# The pools are sized before the first tf_runtime test (and its module's fixtures), so that all
# of them run with the same pools whichever comes first.
TF_RUNTIME = "tf_runtime"
TF_RUNTIME_THREADS = [1, 1]  # inter, intra: what the benchmark's contenders set for themselves


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the ``tf_runtime`` tests after the rest (a stable sort: nothing else is reordered)."""
    items.sort(key=lambda item: item.get_closest_marker(TF_RUNTIME) is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(TF_RUNTIME) is not None:
        _size_tensorflow_pools()


@functools.cache
def _size_tensorflow_pools() -> None:
    from tuner.tf import set_threading

    set_threading(TF_RUNTIME_THREADS)


def _tensorflow_runtime_started() -> bool:
    from tuner.process.fork import check_fork_safe

    try:
        check_fork_safe()
    except RuntimeError:
        return True
    return False


@pytest.fixture(autouse=True)
def _tensorflow_runtime_only_where_marked(request):
    """Fail a test that starts TensorFlow's runtime in this process without the marker."""
    before = _tensorflow_runtime_started()
    yield
    if not before and request.node.get_closest_marker(TF_RUNTIME) is None and \
            _tensorflow_runtime_started():  # fmt: skip
        pytest.fail(f"{request.node.nodeid} started TensorFlow's runtime in the pytest process: "
                    f"mark it {TF_RUNTIME} (or run TensorFlow in a child), or the forking tests "
                    "after it would fail")  # fmt: skip


class LabZygote:
    """Runs labs forked from one process that imported TensorFlow once (tests/lab_zygote.py)."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "lab_zygote.py")], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def run(self, argv: list[str], log: Path, signal: int | None = None, after: float = 0.0,
            once: tuple[str, int] | None = None):  # fmt: skip
        """Run ``tfopt argv``; with ``signal``, send it ``after`` seconds from the start, or from
        the moment ``once = (glob, count)`` files exist. The reply (tests/lab_zygote.py)."""
        request = {"argv": [str(a) for a in argv], "log": str(log), "signal": signal,
                   "after": after,
                   "once": {"glob": once[0], "count": once[1]} if once else None}  # fmt: skip
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")  # ended with its module: later tests count this process's children
def lab_zygote():
    zygote = LabZygote()
    yield zygote
    zygote.close()


@pytest.fixture(autouse=True)
def _zygotes_end_with_their_test():
    """A test that measured in this process ends the zygotes it started (`tuner.zygote`), so no
    later test finds them among this process's children."""
    yield
    zygote = sys.modules.get("tuner.zygote")
    if zygote is not None:
        zygote.close_all()


@pytest.fixture
def small_filesystem(tmp_path):
    """A real tmpfs of the given options, unmounted after; skips where mounting is not allowed."""
    mounted = []

    def mount(options: str) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)
