# The tfopt lab image: TensorFlow, the g2p model, the tuner and the harness at /src.
#
#   docker build -t tfopt .                                   (or: make image)
#   docker run --rm --cpus=1 --memory=4G -v "$PWD/results:/results" tfopt python /src/profile.py
#
# BASE_IMAGE: any Debian-like image with python3 (3.11, as the lock) and its venv module; the
#   default needs a registry, docker/base-image.sh builds one from Debian packages instead.
# TF_WHEEL: a TensorFlow wheel inside the build context (e.g. built with tensorflow/) installed
#   in place of the locked tensorflow-cpu.
# LOCK: the hash-pinned lock to install, requirements.lock or a variant's variants/<name>.lock
#   (its own TensorFlow build and numpy/ml-dtypes/protobuf pins); VARIANT and BUILD_RECORD label it
#   (docker/build-image.sh sets all three: VARIANT=<name> docker/build-image.sh).
# A wheelhouse/ folder in the context (docker/wheelhouse.sh) makes every install offline.
ARG BASE_IMAGE=python:3.11-slim

# --- deps: a venv from the hash-pinned lock; only its /opt/venv reaches the lab image ---------
FROM ${BASE_IMAGE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN python3 -m venv /opt/venv
COPY docker/install-locked.sh /usr/local/bin/install-locked
ARG LOCK=requirements.lock
# The wheelhouse glob matches nothing when the build may use the package index.
COPY ${LOCK:-requirements.lock} wheelhouse* /tmp/lock/
# The project's code at /src, importable after the standard library and site-packages (so the
# stdlib's `profile` and the real `tensorflow` always win), with no reinstall per code change.
RUN install-locked deps "/tmp/lock/${LOCK##*/}" \
    && echo /src > "$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/tfopt-src.pth"
ARG TF_WHEEL=""
# Without TF_WHEEL this copies only the lock (no wheel): the locked TensorFlow is installed.
COPY ${TF_WHEEL:-requirements.lock} /tmp/tf/
# TensorFlow's C++ headers (~290 MB) only serve building custom ops, which the lab never does.
RUN install-locked tensorflow "/tmp/lock/${LOCK##*/}" /tmp/tf \
    && rm -rf /opt/venv/lib/python3*/site-packages/tensorflow/include

# --- lab: the runtime image; the code comes last ----------------------------------------------
# The entry point starts as root only to look at /results, then runs the command as the owner of
# the mounted folder (as `lab`, uid 1000, when nothing is mounted): see docker/entrypoint.sh.
FROM ${BASE_IMAGE} AS lab
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    TFOPT_RESULTS=/results
RUN useradd --uid 1000 --create-home --shell /bin/bash lab \
    && mkdir /results /src && chown lab:lab /results && ln -s /results /src/results
COPY docker/entrypoint.sh /usr/local/bin/tfopt-entrypoint
WORKDIR /src
ENTRYPOINT ["tfopt-entrypoint"]
CMD ["python"]
# Declared here, used by the last step: a declaration's layer does not depend on the value, so a
# new build record (a new commit) rebuilds only the label.
ARG TF_WHEEL="" VARIANT="" BUILD_RECORD=""
COPY --from=deps /opt/venv /opt/venv
# A code change rebuilds only the layers from its own on (every layer costs seconds to commit):
# the folders that change least come first.
COPY variants /src/variants/
COPY examples/seed-journey.toml /src/examples/
COPY g2p /src/g2p/
COPY tuner /src/tuner/
COPY pyproject.toml README.md requirements.lock Makefile profile.py /src/
COPY tfopt /src/tfopt/
LABEL org.opencontainers.image.title="tfopt" tfopt.tensorflow-wheel="${TF_WHEEL}" \
      tfopt.variant="${VARIANT}" tfopt.build="${BUILD_RECORD}"
