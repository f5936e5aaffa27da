"""`docker run -v "$PWD/results:/results" tfopt python /src/profile.py` just works: the lab runs as
the owner of the mounted folder (root only for a root-owned one), and as `lab` with a closing hint
when nothing is mounted. Real containers of the lab image; skipped with the reason without an
engine."""

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TINY_LAB = {"name": "owner", "sizes": [1], "workers": 1, "warmup": 0, "repeats": 1,
            "mode": "graph", "mem_trace": {"enabled": False}}  # fmt: skip


def docker_run(image: str, *args: str, volumes: dict[Path, str] | None = None):
    mounts = [f"-v={host}:{inside}" for host, inside in (volumes or {}).items()]
    return subprocess.run(["docker", "run", "--rm", *mounts, image, *args],
                           capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.mark.parametrize("owner", [0, 1000], ids=["root-owned", "uid-1000"])
def test_the_lab_writes_into_the_mounted_folder_as_its_owner(lab_image, tmp_path, owner):
    results, config = tmp_path / "results", tmp_path / "config"
    results.mkdir(mode=0o755)  # writable by its owner alone, as `mkdir results` leaves it
    os.chown(results, owner, owner)
    config.mkdir()
    (config / "tiny.json").write_text(json.dumps(TINY_LAB))
    run = docker_run(lab_image, "python", "/src/profile.py", "--config", "/config/tiny.json",
                     volumes={results: "/results", config: "/config"})  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Traceback" not in run.stderr
    written = list(results.rglob("*"))
    assert {"summary.json", "run_data.csv", "report.md"} <= {path.name for path in written}
    assert {(path.stat().st_uid, path.stat().st_gid) for path in written} == {(owner, owner)}


def test_without_a_mount_it_runs_as_lab_and_says_how_to_keep_the_results(lab_image):
    script = "import os; open('/results/note.txt', 'w').write('x'); print(os.getuid())"
    run = docker_run(lab_image, "python", "-c", script)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1000"]
    last = run.stderr.strip().splitlines()[-1]
    assert "/results" in last and "docker cp" in last and '-v "$PWD/results:/results"' in last


def test_the_commands_exit_status_and_output_pass_through(lab_image):
    run = docker_run(lab_image, "python", "-c", "print('out'); raise SystemExit(3)")
    assert run.returncode == 3
    assert run.stdout == "out\n"
    assert "docker cp" not in run.stderr  # nothing was written to /results
