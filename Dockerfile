# driftcheck: the nightly drift audit, as an unprivileged image (see deploy/ for the CronJob).
#
# Valid for `docker build`, `podman build` and `buildah bud`. By default it downloads the Python base
# image, kubectl from dl.k8s.io (pinned release, sha256-checked below) and the Python dependencies from
# PyPI. `make image` builds it with buildah where no registry is reachable: the base is made from Debian
# packages (image/base.sh, PYTHON_IMAGE) and kubectl is a local file checked the same way (KUBECTL_SOURCE).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The dependency list alone, so the layer that installs it is rebuilt only when the list changes (not
# on every edit of pyproject.toml's tool settings).
FROM ${PYTHON_IMAGE} AS requirements
COPY pyproject.toml /src/
RUN python -c 'import tomllib; p = tomllib.load(open("/src/pyproject.toml", "rb"))["project"]; \
print("\n".join(p["dependencies"] + p["optional-dependencies"]["helm"] + p["optional-dependencies"]["s3"]))' > /requirements.txt

FROM ${PYTHON_IMAGE} AS build
# kubectl bundles Kustomize (kubectl 1.32 embeds kustomize v5.5.0), which driftcheck renders with.
# KUBECTL_SOURCE is a URL or a path in the build context; either way it must match KUBECTL_SHA256.
ARG KUBECTL_SOURCE=https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl
ARG KUBECTL_SHA256=10d739e9af8a59c9e7a730a2445916e04bc9cbb44bc79d22ce460cd329fa076c
# A CA bundle for pip behind a TLS-inspecting proxy (buildah bud -v ...); unset: the image's own CAs.
ARG PIP_CERT
WORKDIR /src
# The dependencies first: a change to driftcheck's code reuses this layer.
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN python -m venv /opt/driftcheck \
    && /opt/driftcheck/bin/pip install --no-cache-dir --upgrade pip \
    && /opt/driftcheck/bin/pip install --no-cache-dir -r /tmp/requirements.txt
ADD ${KUBECTL_SOURCE} /tmp/kubectl
RUN echo "${KUBECTL_SHA256}  /tmp/kubectl" | sha256sum --check --strict \
    && install -m 0755 /tmp/kubectl /usr/local/bin/kubectl && rm /tmp/kubectl \
    && /usr/local/bin/kubectl version --client
COPY pyproject.toml README.md ./
COPY rules ./rules
COPY driftcheck ./driftcheck
RUN /opt/driftcheck/bin/pip install --no-cache-dir --no-deps .

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
# Settings before the copies: a code change rebuilds only the copy of the venv and the check (each
# instruction is a layer, and vfs storage keeps a full copy of the root filesystem for each).
ENV PATH=/opt/driftcheck/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/usr/bin/tini", "--", "driftcheck"]
CMD ["--help"]
COPY --from=build /usr/local/bin/kubectl /usr/local/bin/kubectl
COPY --from=build /opt/driftcheck /opt/driftcheck
# Here, not in the build stage: GitPython refuses to import without git, which only this stage has.
RUN cd / && driftcheck --help >/dev/null \
    && python -c "from driftcheck.compare.rules import available_packs; assert available_packs()" \
    && kubectl version --client >/dev/null
