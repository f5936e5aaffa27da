"""Tune something that is not TensorFlow, for a metric that is not time: zlib's settings for the
smallest output that still compresses fast enough, with the function API.

    python examples/tune_zlib.py [--max-seconds 0.05]

Each trial runs in a forked child under a CPU quota of one core (where cgroups allow, else an
affinity approximation the result warns about); a trial that is too slow returns +inf, which
fails it (no value that is not finite is ranked), and the search goes on.
"""

import argparse
import email
import time
import zlib
from pathlib import Path

import tuner

CORPUS = b"".join(p.read_bytes() for p in sorted(Path(email.__file__).parent.rglob("*.py")))
STRATEGIES = {"default": zlib.Z_DEFAULT_STRATEGY, "filtered": zlib.Z_FILTERED, "rle": zlib.Z_RLE}


def compressed_size(config: dict, max_seconds: float) -> float:
    """Bytes out, or +inf when compressing took longer than ``max_seconds``."""
    start = time.perf_counter()
    packer = zlib.compressobj(
        level=config["level"], memLevel=config["mem_level"], strategy=STRATEGIES[config["strategy"]]
    )
    size = len(packer.compress(CORPUS) + packer.flush())
    return size if time.perf_counter() - start <= max_seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=0.05)
    args = parser.parse_args()
    space = {
        "level": tuner.Int(1, 9),
        "mem_level": tuner.Int(1, 9),
        "strategy": tuner.Choice(list(STRATEGIES)),
    }
    result = tuner.minimize(
        lambda config: compressed_size(config, args.max_seconds),
        space,
        start={"level": 1, "mem_level": 1, "strategy": "rle"},
        cpus=1,
        timeout=30,
        unit="bytes",
    )
    print(f"{len(CORPUS)} bytes -> {result.best_value:.0f} bytes with {result.best_config}")
    print(f"{result.evaluated} of {tuner.Space(space).size} settings measured")
    for warning in sorted({w for t in result.trials for w in t.warnings}):
        print("warning:", warning)


if __name__ == "__main__":
    main()
