# tfopt: every target runs from the repo root against the project's own .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)

.PHONY: setup test test-slow lint profile profile-quick bench bench-credibility lock variant-locks image wheelhouse base-image clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

# The default test run: lint, type check, then every test not marked slow.
test: setup
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

# The slow tests (full CMUdict sweeps, real TensorFlow end-to-end runs, Docker image builds).
test-slow: setup
	$(PY) -m pytest -m slow --durations=40

lint: setup
	$(PY) -m ruff check .

profile: setup
	$(PY) profile.py

profile-quick: setup
	$(PY) profile.py --quick

bench: setup
	$(PY) -m benchmarks.g2p_bench

# Can the lab's verdicts be trusted on this machine? Real A/A and A/B compares, quiet and beside a
# busy neighbour; counts and a time cap through BENCH_ARGS, e.g. BENCH_ARGS="--aa 6 --max-minutes 60".
bench-credibility: setup
	$(PY) -m benchmarks.credibility $(BENCH_ARGS)

# Regenerate the hash-pinned lock after editing pyproject.toml (needs `uv` on the host).
lock:
	uv pip compile pyproject.toml --extra bench --extra runtimes --extra test --extra ray --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.lock

# Each variant's own hash-pinned set: variants/<name>.in (a TensorFlow build and the pins it needs,
# beside the lab's dependencies) -> variants/<name>.lock (needs `uv` on the host, as `make lock`).
variant-locks:
	for spec in variants/*.in; do \
	  uv pip compile "$$spec" --generate-hashes --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 -o "$${spec%.in}.lock" || exit 1; \
	done

# The lab image. With a reachable registry: python:3.11-slim and the package index; without one:
# a Debian base built from packages (base-image) and the host's wheelhouse, fully offline.
image:
	docker/build-image.sh

# Every wheel the lock pins, hash-checked, in ~/.cache/tfopt/wheelhouse/<lock hash>/.
wheelhouse:
	docker/wheelhouse.sh

# A local Debian bookworm base image (debootstrap + docker import), tagged by its recipe's hash.
base-image:
	docker/base-image.sh

clean:
	rm -rf $(VENV) .pytest_cache
