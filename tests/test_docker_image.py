"""The lab image, really built (`make image`'s script), then run under docker run's limits.

Where no registry is reachable the build uses the local Debian base and the host wheelhouse, all
offline. Without an engine these tests skip with the reason.
"""

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tuner.limits.docker import run_in_container

ROOT = Path(__file__).resolve().parents[1]
CUSTOM_WHEEL_IMAGE = "tfopt:custom-wheel-test"
CODE_CHANGE_IMAGE = "tfopt:code-change-test"

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TENSORFLOW_PROBE = """
import importlib.metadata as md, json
import tensorflow as tf
print(json.dumps({
    "tensorflow": tf.__file__,
    "tf_version": tf.__version__,
    "tf_direct_url": md.distribution("tensorflow-cpu").read_text("direct_url.json"),
}))
"""
LAB_PROBE = """
import json, os, profile
import g2p
print(json.dumps({
    "uid": os.getuid(),
    "phonemes": g2p.predict("aardvark"),
    "profile": profile.__file__,
    "results_writable": os.access("/results", os.W_OK),
}))
"""


def probe(image: str, script: str) -> dict:
    out, err = io.BytesIO(), io.BytesIO()
    run = run_in_container(["python", "-c", script], image=image, stdout=out, stderr=err)
    assert run.exit_code == 0, err.getvalue().decode()[-3000:]
    return json.loads(out.getvalue().decode().strip().splitlines()[-1])


def cached_steps(log: str) -> list[tuple[str, bool]]:
    """Each build step's instruction, in order, and whether the layer cache served it."""
    steps = re.split(r"^Step \d+/\d+ : ", log, flags=re.MULTILINE)[1:]
    return [(step.splitlines()[0].strip(), "---> Using cache" in step) for step in steps]


def test_the_image_runs_g2p_offline_as_a_non_root_user(lab_image):
    seen = probe(lab_image, LAB_PROBE)
    assert seen["uid"] != 0
    assert seen["phonemes"] == [["AA1", "R", "D", "V", "AA2", "R", "K"]]
    assert seen["profile"].startswith("/usr/")  # the standard library's, not /src/profile.py
    assert seen["results_writable"]
    tensorflow = probe(lab_image, TENSORFLOW_PROBE)
    assert tensorflow["tensorflow"].startswith("/opt/venv/")
    assert tensorflow["tf_direct_url"] is None  # the locked tensorflow-cpu, not a custom wheel


def test_the_quick_profile_runs_under_one_cpu_and_4g_into_the_mounted_folder(lab_image, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o777)  # the image's non-root user writes here, whatever uid runs the tests
    out, err = io.BytesIO(), io.BytesIO()
    run = run_in_container(
        # no --out: the image's default is /results; one step and two input sizes keep it
        # short on one CPU (all steps: test_profile_lab); onednn's workers run in tandem with
        # initial's, both eager
        ["python", "/src/profile.py", "--quick", "--steps", "onednn", "--sizes", "1,6"],
        {"cpus": 1, "memory": "4G"}, image=lab_image, volumes={str(results): "/results"},
        stdout=out, stderr=err,
    )  # fmt: skip
    assert run.exit_code == 0, f"{run.reason}\n{err.getvalue().decode()[-4000:]}"
    written = {p.name for p in results.iterdir()}
    steps = {"onednn.png"}
    assert {"summary.json", "run_data.csv", "report.md", "initial.png", *steps} <= written
    environment = json.loads((results / "summary.json").read_text())["environment"]
    limits, pools = environment["limits"], environment["tensorflow"]["default_thread_pools"]
    # the classic trap, recorded: every core visible, one core's worth of quota, and TensorFlow
    # sizing its pools to the cores it sees
    assert limits["cpu_quota_cores"] == 1.0
    assert limits["visible_cores"] == os.cpu_count()
    assert limits["memory_limit"] == 4 * 1024**3
    assert pools["intra_op"] == pools["inter_op"] == os.cpu_count()
    if os.cpu_count() > 1:
        assert "throttled onto the quota" in (results / "report.md").read_text()


def test_a_code_change_rebuilds_only_the_code_layers(lab_image, build_image, tmp_path):
    """A copy of the repo with one edited source file reuses every dependency layer."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    copy = tmp_path / "repo"
    for name in files:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    with (copy / "tfopt" / "__init__.py").open("a") as source:
        source.write("# an edit\n")
    try:
        steps = cached_steps(build_image(CODE_CHANGE_IMAGE, cwd=copy))
        venv = next(i for i, (step, _) in enumerate(steps) if "/opt/venv /opt/venv" in step)
        dependencies = [(s, cached) for s, cached in steps[: venv + 1] if s[:4] in ("RUN ", "COPY")]
        assert any("install-locked tensorflow" in step for step, _ in dependencies)
        assert all(cached for _, cached in dependencies), dependencies
        assert dict(steps)["COPY g2p /src/g2p/"] and not dict(steps)["COPY tfopt /src/tfopt/"]
    finally:
        subprocess.run(["docker", "rmi", CODE_CHANGE_IMAGE], capture_output=True)


def test_a_custom_tensorflow_wheel_replaces_the_locked_one(lab_image, build_image):
    """The workflow of tensorflow/README.md, with the wheelhouse's own tensorflow-cpu wheel.

    Only the image's dependency stage is built (``--target deps``): the lab stage above it does
    not depend on which wheel was installed, and skipping it keeps this test cheap.
    """
    wheelhouse = subprocess.run(
        ["docker/wheelhouse.sh"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    wheel = next(Path(wheelhouse).glob("tensorflow_cpu-*.whl"))
    staged = ROOT / "build" / "tensorflow" / wheel.name  # where tensorflow/README.md puts it
    staged.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copy2(wheel, staged)  # a copy: a hard link would change the context's tar (cache)
        build_image(CUSTOM_WHEEL_IMAGE, "--target", "deps",
              "--build-arg", f"TF_WHEEL={staged.relative_to(ROOT)}")  # fmt: skip
        seen = probe(CUSTOM_WHEEL_IMAGE, TENSORFLOW_PROBE)
    finally:
        staged.unlink(missing_ok=True)  # keep the 270 MB out of later build contexts
        subprocess.run(["docker", "rmi", CUSTOM_WHEEL_IMAGE], capture_output=True)
    # pip records a wheel installed from a file, which the locked install never is
    assert wheel.name in json.loads(seen["tf_direct_url"])["url"]
    assert seen["tf_version"] == "2.21.0"
