"""The lab's front door: ``python profile.py`` (or ``docker run tfopt python /src/profile.py``).

This file shares its name with the standard library's ``profile`` module, which ``cProfile``
imports. Three traps follow, and all are closed here:

* Run as a script, Python puts this folder first on ``sys.path``, so a later ``import cProfile``
  would load this file. We move the folder behind the standard library before importing anything.
* Imported as ``profile`` (``python -m cProfile profile.py`` from this folder puts the current
  folder first), this file hands the import over to the standard library's module.
* Run as ``python -m profile ...`` from this folder, ``-m`` finds this file before the standard
  library's: it hands over to the standard library's profiler, arguments untouched.
"""

import os
import sys
import sysconfig
import types


def _put_own_folder_last() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    sys.path.append(here)


def _load_stdlib_profile(name: str) -> types.ModuleType:
    """The standard library's ``profile`` module, executed and registered as ``name``."""
    import importlib.util

    stdlib_file = os.path.join(sysconfig.get_path("stdlib"), "profile.py")
    spec = importlib.util.spec_from_file_location(name, stdlib_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {stdlib_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    if __spec__ is not None and __spec__.name == "profile":  # python -m profile ...
        _load_stdlib_profile("profile").main()
    else:
        _put_own_folder_last()
        from tfopt.cli import main

        sys.exit(main(["profile", *sys.argv[1:]]))
else:
    _load_stdlib_profile(__name__)
