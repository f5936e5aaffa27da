# The tfopt lab image: TensorFlow, the g2p model, the tuner and the harness at /src.
#
#   docker build -t tfopt .                                   (or: make image)
#   docker run --rm --cpus=1 --memory=4G -v "$PWD/results:/results" tfopt python /src/profile.py
#
# BASE_IMAGE: any Debian-like image with python3 (3.11, as the lock) and its venv module; the
#   default needs a registry, docker/base-image.sh builds one from Debian packages instead.
# TF_WHEEL: a TensorFlow wheel inside the build context (e.g. built with tensorflow/) installed
#   in place of the locked tensorflow-cpu.
# A wheelhouse/ folder in the context (docker/wheelhouse.sh) makes every install offline.
ARG BASE_IMAGE=python:3.11-slim

# --- deps: a venv from the hash-pinned lock; only its /opt/venv reaches the lab image ---------
FROM ${BASE_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
COPY docker/install-locked.sh /usr/local/bin/install-locked
# The wheelhouse glob matches nothing when the build may use the package index.
COPY requirements.lock wheelhouse* /tmp/lock/
# The project's code at /src, importable after the standard library and site-packages (so the
# stdlib's `profile` and the real `tensorflow` always win), with no reinstall per code change.
RUN install-locked deps /tmp/lock \
    && echo /src > "$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/tfopt-src.pth"
ARG TF_WHEEL=""
# Without TF_WHEEL this copies only the lock (no wheel): the locked tensorflow-cpu is installed.
COPY ${TF_WHEEL:-requirements.lock} /tmp/tf/
# TensorFlow's C++ headers (~290 MB) only serve building custom ops, which the lab never does.
RUN install-locked tensorflow /tmp/lock /tmp/tf \
    && rm -rf /opt/venv/lib/python3*/site-packages/tensorflow/include

# --- lab: the runtime image, as a non-root user; the code comes last ---------------------------
FROM ${BASE_IMAGE} AS lab
ARG TF_WHEEL=""
LABEL org.opencontainers.image.title="tfopt" tfopt.tensorflow-wheel="${TF_WHEEL}"
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    TFOPT_RESULTS=/results
RUN useradd --uid 1000 --create-home --shell /bin/bash lab \
    && mkdir /results /src && chown lab:lab /results && ln -s /results /src/results
COPY docker/entrypoint.sh /usr/local/bin/tfopt-entrypoint
USER lab
WORKDIR /src
ENTRYPOINT ["tfopt-entrypoint"]
CMD ["python"]
COPY --from=deps /opt/venv /opt/venv
# A code change rebuilds only these layers.
COPY pyproject.toml README.md requirements.lock Makefile profile.py /src/
COPY g2p /src/g2p/
COPY tuner /src/tuner/
COPY tfopt /src/tfopt/
