"""The project's foundation: layout, import hygiene and the name clashes it must never fall into."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_profile_import_from_repo_root_is_the_standard_library():
    """`python -m cProfile` puts the current folder first: `import profile` must stay stdlib's."""
    assert (ROOT / "profile.py").is_file()  # the clash is real: the harness script is beside it
    out = run_python("-c", "import profile, sysconfig; print(profile.__file__)")
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).parent == Path(sysconfig_stdlib())


def test_cprofile_can_profile_the_harness_script():
    out = run_python("-m", "cProfile", "-s", "cumtime", "profile.py", "--help")
    assert out.returncode == 0, out.stderr
    assert "usage" in out.stdout.lower()
    assert "ncalls" in out.stdout  # cProfile's own table: the stdlib profiler really ran


def test_python_m_profile_from_repo_root_runs_the_standard_library_profiler(tmp_path):
    """`-m profile` finds ./profile.py first: it must run the stdlib profiler, args intact."""
    script = tmp_path / "tiny.py"
    script.write_text("print('tiny script says', 6 * 7)\n")
    out = run_python("-m", "profile", "-s", "calls", str(script))
    assert out.returncode == 0, out.stderr
    assert "tiny script says 42" in out.stdout
    assert "function calls" in out.stdout  # the stdlib profiler's own report
    assert "Ordered by: call count" in out.stdout  # `-s calls` reached it


def test_tensorflow_folder_never_shadows_the_real_package():
    assert (ROOT / "tensorflow").is_dir()  # the clash is real: the wheel recipe's folder
    out = run_python("-c", "import tensorflow as tf; print(tf.__file__); print(tf.__version__)")
    assert out.returncode == 0, out.stderr
    tf_file, version = out.stdout.split()[-2:]
    assert "site-packages" in tf_file
    assert not Path(tf_file).is_relative_to(ROOT / "tensorflow")
    assert version[0].isdigit()


def sysconfig_stdlib() -> str:
    import sysconfig

    return sysconfig.get_path("stdlib")
