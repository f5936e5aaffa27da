"""Variants with their own hash-pinned dependency sets (variants/<name>.lock)."""

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from tfopt import variants

ROOT = Path(__file__).resolve().parents[1]
LOCKS = sorted((ROOT / "variants").glob("*.lock"))
TENSORFLOW = re.compile(r"^(tensorflow|tensorflow-cpu|intel-tensorflow)==(\S+)", re.MULTILINE)


def entries(lock: Path) -> dict[str, str]:
    """name -> the entry's text (its pin line and hash lines)."""
    blocks = re.split(r"^(?=[A-Za-z0-9])", lock.read_text(), flags=re.MULTILINE)[1:]
    return {block.split("==")[0].lower(): block for block in blocks}


def test_both_2_14_builds_are_locked():
    names = {lock.stem for lock in LOCKS}
    assert {"tensorflow-cpu-2.14.1", "intel-tensorflow-2.14.0"} <= names


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.stem)
def test_each_lock_is_the_documented_compile_of_its_input_with_every_entry_hashed(lock):
    header = lock.read_text().splitlines()[1]
    assert f"uv pip compile variants/{lock.stem}.in --generate-hashes" in header
    assert "--python-version 3.11 --python-platform x86_64-manylinux_2_28" in header
    pinned = entries(lock)
    assert all("==" in block and "--hash=sha256:" in block for block in pinned.values())
    (build, version), = TENSORFLOW.findall(lock.read_text())
    assert lock.stem == f"{build}-{version}"
    assert f"{build}=={version}" in (lock.with_suffix(".in")).read_text()
    # TensorFlow 2.14 needs its own numpy, ml-dtypes and protobuf, not the main lock's
    main = entries(ROOT / "requirements.lock")
    for name in ("numpy", "ml-dtypes", "protobuf"):
        assert pinned[name].split()[0] != main[name].split()[0], name
    assert pinned["numpy"].startswith("numpy==1.")


def test_a_pinned_requirement_finds_its_lock_and_nothing_else_does():
    lock = variants.lock_for("intel-tensorflow==2.14.0")
    assert lock == ROOT / "variants" / "intel-tensorflow-2.14.0.lock"
    assert variants.lock_for("Intel_TensorFlow == 2.14.0") == lock
    assert variants.lock_for("intel-tensorflow==2.13.0") is None
    assert variants.lock_for("tensorflow-cpu>=2.14") is None
    assert variants.lock_for(None) is None


def test_the_venv_key_follows_the_locks_content(tmp_path, monkeypatch):
    variant = variants.from_spec("old", "tensorflow-cpu==2.14.1")
    before = variants.venv_key(variant)
    copy = tmp_path / "tensorflow-cpu-2.14.1.lock"
    copy.write_text((ROOT / "variants" / copy.name).read_text() + "# re-locked\n")
    monkeypatch.setattr(variants, "LOCKS", tmp_path)
    assert variants.venv_key(variant) != before


def test_a_complete_wheelhouse_named_by_the_locks_hash_is_found(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    lock = ROOT / "variants" / "intel-tensorflow-2.14.0.lock"
    folder = tmp_path / "tfopt" / "wheelhouse" / hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    folder.mkdir(parents=True)
    assert variants.wheelhouse_for(lock) is None  # still downloading
    (folder / ".complete").touch()
    assert variants.wheelhouse_for(lock) == folder


def test_the_wheelhouse_script_names_its_folder_by_the_same_hash():
    script = (ROOT / "docker" / "wheelhouse.sh").read_text()
    assert 'LOCK_HASH=$(sha256sum "$LOCK" | cut -c1-16)' in script
    assert "wheelhouse/$LOCK_HASH" in script


@pytest.mark.slow
def test_the_variant_venv_installs_its_lock_offline_and_pip_check_passes(tmp_path, monkeypatch):
    """From the wheelhouse (docker/wheelhouse.sh fills it), with the package index unreachable."""
    lock = ROOT / "variants" / "tensorflow-cpu-2.14.1.lock"
    wheelhouse = subprocess.run(["docker/wheelhouse.sh", str(lock)], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
    cache = tmp_path / "cache"
    (cache / "tfopt" / "wheelhouse").mkdir(parents=True)
    (cache / "tfopt" / "wheelhouse" / Path(wheelhouse).name).symlink_to(wheelhouse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    python = variants.interpreter(variants.from_spec("old", "tensorflow-cpu==2.14.1"), print)
    probe = "import numpy, tensorflow as tf; print(tf.__version__, numpy.__version__)"
    versions = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert versions.stdout.split() == ["2.14.1", "1.26.4"]
    freeze = (Path(python).parents[1] / "freeze.txt").read_text()
    assert "ml-dtypes==0.2.0" in freeze and "protobuf==4.25.9" in freeze
    subprocess.run([python, "-m", "pip", "check"], check=True, capture_output=True)
