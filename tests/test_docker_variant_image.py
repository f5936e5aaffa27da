"""A variant image: `VARIANT=intel-tensorflow-2.14.0 docker/build-image.sh` builds
`tfopt:intel-tensorflow-2.14.0` from that variant's own lock, labelled with the build. A real
build (offline from the lock's wheelhouse where no registry answers); skipped without an engine."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
VARIANT = "intel-tensorflow-2.14.0"
PROBE = ("import importlib.metadata as md, numpy, tensorflow as tf; "
         "print(md.version('intel-tensorflow'), tf.__version__, numpy.__version__, "
         "md.version('protobuf'), md.version('ml-dtypes'))")  # fmt: skip


@pytest.fixture(scope="module")
def variant_image() -> str:
    from tuner.limits.docker import engine_problem

    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    env = {**os.environ, "VARIANT": VARIANT, "DOCKER_BUILDKIT": "0"}
    env.pop("IMAGE", None)
    done = subprocess.run(["docker/build-image.sh"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=3600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-6000:]
    assert done.stdout.strip() == f"tfopt:{VARIANT}"
    return done.stdout.strip()


def test_the_variant_image_holds_its_locks_set_and_pip_check_passes(variant_image):
    run = subprocess.run(["docker", "run", "--rm", variant_image, "python", "-c", PROBE],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["2.14.0", "2.14.0", "1.26.4", "4.25.9", "0.2.0"]
    check = subprocess.run(["docker", "run", "--rm", variant_image, "python", "-m", "pip", "check"],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_variant_images_label_records_the_build(variant_image):
    labels = json.loads(subprocess.run(
        ["docker", "inspect", "-f", "{{ json .Config.Labels }}", variant_image],
        capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert labels["tfopt.variant"] == VARIANT
    build = json.loads(labels["tfopt.build"])
    lock = ROOT / "variants" / f"{VARIANT}.lock"
    assert build["tensorflow"] == "intel-tensorflow==2.14.0"
    assert build["lock"] == f"variants/{VARIANT}.lock"
    assert build["lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert isinstance(build["offline"], bool) and build["commit"] and build["base"]
