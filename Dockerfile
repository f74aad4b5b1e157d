# driftcheck: the nightly drift audit, as an unprivileged image (see deploy/ for the CronJob).
#
# Building this image DOWNLOADS: the Python base image, kubectl from dl.k8s.io (pinned release,
# sha256-checked below) and the Python dependencies from PyPI. A machine with Docker and network
# does that; the developers' machines have no Docker daemon, so CI checks the same steps in a
# clean venv instead (see deploy/README.md, "Image").

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# kubectl bundles Kustomize (kubectl 1.32.4 embeds kustomize v5.5.0), which driftcheck renders with.
ARG KUBECTL_VERSION=v1.32.4
ARG KUBECTL_SHA256=10d739e9af8a59c9e7a730a2445916e04bc9cbb44bc79d22ce460cd329fa076c
ADD https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl /tmp/kubectl
RUN echo "${KUBECTL_SHA256}  /tmp/kubectl" | sha256sum --check --strict \
    && install -m 0755 /tmp/kubectl /usr/local/bin/kubectl
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rules ./rules
COPY driftcheck ./driftcheck
RUN python -m venv /opt/driftcheck \
    && /opt/driftcheck/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/driftcheck/bin/pip install --no-cache-dir ".[helm]" \
    && cd / && /opt/driftcheck/bin/driftcheck --help >/dev/null \
    && /opt/driftcheck/bin/python -c "from driftcheck.compare.rules import available_packs; assert available_packs()"

FROM ${PYTHON_IMAGE}
# git: reading repositories; openssh-client: SSH remotes with strict host checking; tini: PID 1 that
# forwards SIGTERM so a stopped Job releases its lock and leaves no partial report.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 driftcheck \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin driftcheck \
    && mkdir -p /reports /cache \
    && chown 10001:10001 /reports /cache
COPY --from=build /usr/local/bin/kubectl /usr/local/bin/kubectl
COPY --from=build /opt/driftcheck /opt/driftcheck
ENV PATH=/opt/driftcheck/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/bin/tini", "--", "driftcheck"]
CMD ["--help"]
