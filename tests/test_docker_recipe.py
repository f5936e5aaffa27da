"""The build recipes of the lab image and the TensorFlow wheel are well formed (fast checks).

The builds themselves run in test_docker_image.py; these checks catch a broken recipe in seconds.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
TF_DOCKERFILE = ROOT / "tensorflow" / "Dockerfile"
SCRIPTS = sorted((ROOT / "docker").glob("*.sh"))
#: Package registries and mirrors: their names come from the tools' defaults, never from the repo.
REGISTRY_HOSTS = ("debian.org", "pypi.org", "pythonhosted.org", "docker.io", "docker.com",
                  "ubuntu.com", "llvm.org", "gcr.io", "pkg.dev")  # fmt: skip


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    defaults = {}
    for keyword, args in instructions(dockerfile):
        if keyword == "ARG":
            name, _, value = args.partition("=")
            defaults.setdefault(name, value.strip('"'))
    return defaults


def stage_of(dockerfile: Path, needle: str) -> int:
    """The index of the first instruction whose arguments contain ``needle``."""
    for index, (_, args) in enumerate(instructions(dockerfile)):
        if needle in args:
            return index
    raise AssertionError(f"{needle!r} not found in {dockerfile}")


def test_the_base_image_is_a_build_argument_defaulting_to_python_slim():
    assert arg_defaults(DOCKERFILE)["BASE_IMAGE"] == "python:3.11-slim"
    froms = [args for keyword, args in instructions(DOCKERFILE) if keyword == "FROM"]
    assert froms and all(args.startswith("${BASE_IMAGE}") for args in froms)


def test_a_custom_tensorflow_wheel_replaces_the_locked_one():
    assert arg_defaults(DOCKERFILE)["TF_WHEEL"] == ""
    tf_copy = stage_of(DOCKERFILE, "${TF_WHEEL:-")
    assert instructions(DOCKERFILE)[tf_copy][0] == "COPY"
    assert stage_of(DOCKERFILE, "install-locked tensorflow") > tf_copy


def test_no_copy_source_can_expand_to_the_whole_context():
    """An empty ``COPY ${ARG} dst/`` source means ".": every unset argument needs a default."""
    for keyword, args in instructions(DOCKERFILE):
        if keyword == "COPY":
            assert not re.search(r"\$\{\w+\}|\$\w", args), args


@pytest.mark.parametrize("owner", [(0, 0), (1234, 1235)], ids=["root-owned", "uid-1234"])
def test_the_entry_point_runs_the_command_as_the_mounted_results_folders_owner(
    small_filesystem, tmp_path, owner
):
    """The entry point itself, run here as the image runs it (as root: no USER in the recipe),
    with a mounted folder in place of /results. In real containers: test_docker_results.py."""
    assert not [args for keyword, args in instructions(DOCKERFILE) if keyword == "USER"]
    if os.getuid() != 0:
        pytest.skip("the entry point starts as root")
    results = small_filesystem("size=1m")
    os.chown(results, *owner)
    script = tmp_path / "entrypoint.sh"
    script.write_text((ROOT / "docker" / "entrypoint.sh").read_text()
                      .replace("RESULTS=/results", f"RESULTS={results}")
                      .replace("/tmp/home-", f"{tmp_path}/home-"))  # fmt: skip
    done = subprocess.run(["sh", str(script), "sh", "-c", 'echo "$(id -u) $(id -g)"; exit 3'],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 3, done.stderr  # the command's own exit status
    assert done.stdout.split() == [str(owner[0]), str(owner[1])]


def test_a_variant_without_a_lock_is_refused_naming_the_locked_ones():
    done = subprocess.run(["docker/build-image.sh"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "VARIANT": "tensorflow-9.9"})  # fmt: skip
    assert done.returncode == 2
    assert "no lock variants/tensorflow-9.9.lock" in done.stderr
    assert "intel-tensorflow-2.14.0" in done.stderr


def copy_sources(args: str) -> set[str]:
    return {source.rstrip("/") for source in args.split()[:-1] if not source.startswith("--")}


def test_a_code_change_cannot_invalidate_the_tensorflow_layers():
    """Every COPY of the project's code comes after the dependency layers are complete."""
    code = {"g2p", "tuner", "tfopt", "profile.py"}
    venv = stage_of(DOCKERFILE, "--from=deps /opt/venv")
    steps = instructions(DOCKERFILE)
    code_copies = [
        index for index, (keyword, args) in enumerate(steps)
        if keyword == "COPY" and copy_sources(args) & code
    ]  # fmt: skip
    assert set().union(*(copy_sources(steps[i][1]) for i in code_copies)) >= code
    assert min(code_copies) > venv
    # and the dependency stage sees nothing of the code
    deps_copies = [args for keyword, args in steps[:venv] if keyword == "COPY"]
    assert not set().union(*map(copy_sources, deps_copies)) & code


def test_the_build_context_leaves_out_the_venv_git_and_results():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".git", "results"):
        assert entry in ignored


def test_the_helper_scripts_are_valid_shell():
    assert {s.name for s in SCRIPTS} >= {"base-image.sh", "wheelhouse.sh", "build-image.sh"}
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        shell = "sh" if script.read_text().startswith("#!/bin/sh") else "bash"
        check = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
        assert check.returncode == 0, f"{script.name}: {check.stderr}"


#: Stand-ins for the build stage's tools: each notes its arguments, one per line; bazel leaves a
#: wheel where TensorFlow's wheel target puts it.
FAKE_TOOLS = {
    "git": 'printf "%s\\n" "$@" > "$NOTES/git"\n',
    "bazel": 'printf "%s\\n" "$@" > "$NOTES/bazel"\n'
             "mkdir -p bazel-bin/tensorflow/tools/pip_package/wheel_house\n"
             "touch bazel-bin/tensorflow/tools/pip_package/wheel_house/tensorflow_cpu-x.whl\n",
}


def test_the_tensorflow_build_passes_each_flag_on_and_keeps_the_wheel_and_its_flags(tmp_path):
    """The build stage's RUN steps, run by sh with the build arguments in the environment as
    Docker runs them, against stand-in git and bazel."""
    defaults = arg_defaults(TF_DOCKERFILE)
    assert re.fullmatch(r"\d+\.\d+\.\d+", defaults["TF_VERSION"])
    assert defaults["PYTHON_VERSION"] == "3.11"  # the lock's interpreter
    tools, notes, work, out = (tmp_path / name for name in ("bin", "notes", "work", "out"))
    for folder in (tools, notes, work):
        folder.mkdir()
    for name, body in FAKE_TOOLS.items():
        (tools / name).write_text("#!/bin/sh\n" + body)
        (tools / name).chmod(0o755)
    env = {**os.environ, **defaults, "COPTS": "-O3 -march=haswell",
           "BAZEL_OPTIONS": "--jobs=8 --local_ram_resources=16384", "NOTES": str(notes),
           "PATH": f"{tools}:{os.environ['PATH']}"}  # fmt: skip
    for keyword, args in instructions(TF_DOCKERFILE):
        if keyword == "RUN":
            done = subprocess.run(["sh", "-c", args.replace("/out", str(out))], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert done.returncode == 0, done.stderr
    git = (notes / "git").read_text().split()
    assert git[:4] == ["clone", "--depth", "1", "--branch"]
    assert git[4] == f"v{defaults['TF_VERSION']}" and git[5] == defaults["TF_REPO"]
    bazel = (notes / "bazel").read_text().splitlines()
    assert bazel[0] == "build" and bazel[-1] == "//tensorflow/tools/pip_package:wheel"
    assert {"--config=release_cpu_linux", "--copt=-O3", "--copt=-march=haswell", "--jobs=8",
            "--local_ram_resources=16384", "--repo_env=HERMETIC_PYTHON_VERSION=3.11",
            "--repo_env=WHEEL_NAME=tensorflow_cpu"} == set(bazel[1:-1])  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["build-flags.txt", "tensorflow_cpu-x.whl"]
    assert "COPTS=-O3 -march=haswell\n" in (out / "build-flags.txt").read_text()
    last_from = [args for keyword, args in instructions(TF_DOCKERFILE) if keyword == "FROM"][-1]
    assert last_from.startswith("scratch")
    assert instructions(TF_DOCKERFILE)[-1] == ("COPY", "--from=build /out/ /wheels/")


def test_the_tensorflow_folder_is_a_recipe_never_a_package():
    assert not list((ROOT / "tensorflow").rglob("__init__.py"))
    assert not list((ROOT / "tensorflow").rglob("*.py"))


def test_the_docker_folder_never_shadows_the_docker_sdk():
    """Run from the repo root, ``import docker`` must still be the SDK, not the scripts' folder."""
    assert not list((ROOT / "docker").glob("*.py"))
    found = subprocess.run(
        [sys.executable, "-c", "import docker; print(docker.__file__, docker.from_env.__name__)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert "site-packages" in found.stdout and "from_env" in found.stdout


def test_no_registry_or_mirror_host_is_written_into_the_recipes():
    files = [DOCKERFILE, ROOT / ".dockerignore", TF_DOCKERFILE, ROOT / "tensorflow" / "README.md"]
    for path in files + SCRIPTS:
        text = path.read_text().lower()
        found = [host for host in REGISTRY_HOSTS if host in text]
        assert not found, f"{path.name} names {found}"


@pytest.mark.docker
@pytest.mark.parametrize("dockerfile", [DOCKERFILE, TF_DOCKERFILE], ids=["lab", "tensorflow"])
def test_the_engines_own_parser_accepts_the_recipes(dockerfile):
    """The classic builder parses every instruction before it looks for the target stage."""
    from tuner.limits.docker import engine_problem

    problem = engine_problem()
    if problem:
        pytest.skip(problem)
    check = subprocess.run(
        ["docker", "build", "--target", "no-such-stage", "-"],
        input=dockerfile.read_bytes(), capture_output=True, timeout=60,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    assert b"failed to reach build target no-such-stage" in check.stderr, check.stderr
