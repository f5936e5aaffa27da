"""`python -m g2p.bench [...]` runs `python -m benchmarks.g2p_bench [...]`: the benchmark is the
repository's (`benchmarks/`), not part of the installed package, so it runs from a checkout."""

import runpy
import sys
from importlib.util import find_spec

if find_spec("benchmarks") is None:
    print("python -m g2p.bench: run it from the repository root (benchmarks/g2p_bench/)",
          file=sys.stderr)  # fmt: skip
    sys.exit(2)
runpy.run_module("benchmarks.g2p_bench", run_name="__main__", alter_sys=True)
