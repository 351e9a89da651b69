# logship's container image: one per Docker host (README "Run on a Docker host", docs/docker-host.md), or the
# DaemonSet of helm/logship.
#
# Build with `bash scripts/build-image.sh`: it first downloads the dependencies' wheels into
# build/wheels on the host, so nothing here goes to the network (pip --no-index) and the image
# holds exactly the wheels found there. PYTHON_IMAGE is the base of the image, BUILDER_IMAGE
# the same Python with a C compiler and Python's headers, both pinned by version;
# scripts/build-image.sh --local-base swaps in Debian bases made with debootstrap, for machines
# without a registry.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm
ARG BUILDER_IMAGE=python:3.11.11-bookworm

# -- builder: a venv with the dependencies, then logship's wheel built from source into it, its
# hot modules compiled to C by mypyc (pyproject.toml) ------------------------------------------
FROM ${BUILDER_IMAGE} AS builder
# scripts/build-image.sh removes this stage's images that a newer build left behind
LABEL logship.image.stage="builder"
# Dependencies first: this layer is rebuilt only when build/wheels changes, not with the code.
# pip runs from a throwaway venv, so the installed venv carries no pip (--without-pip).
COPY build/wheels/ /wheels/
RUN python3 -m venv /opt/build \
 && python3 -m venv --without-pip /opt/logship \
 && /opt/build/bin/pip --python /opt/logship/bin/python install --disable-pip-version-check \
      --no-cache-dir --no-index --only-binary=:all: --find-links /wheels -r /wheels/requirements.txt
WORKDIR /src
COPY . ./
# the wheel is checked to hold the compiled modules: a build without them would ship silently slower
RUN HATCH_BUILD_HOOK_ENABLE_MYPYC=1 /opt/build/bin/pip wheel --disable-pip-version-check \
      --no-cache-dir --no-index --find-links /wheels --no-deps --wheel-dir /tmp/dist . \
 && /opt/build/bin/pip --python /opt/logship/bin/python install --disable-pip-version-check \
      --no-cache-dir --no-index --no-deps /tmp/dist/logship-*.whl \
 && /opt/logship/bin/python -c 'import logship.record as m, sys; sys.exit(not m.__file__.endswith(".so"))' \
 && /opt/logship/bin/logship --version

# -- runtime: the base, a user, and the venv; no compiler, pip, wheels or caches ---------------
FROM ${PYTHON_IMAGE}
ARG LOGSHIP_UID=10001
# Containers inherit their image's labels: logship does not ship its own log unless started
# with --label logship.ignore=false.
LABEL org.opencontainers.image.title="logship" \
      org.opencontainers.image.description="Ships every Docker container's logs to syslog, GELF, Elasticsearch, Fluentd or the console" \
      org.opencontainers.image.licenses="Apache-2.0" \
      logship.ignore="true"
# A fixed numeric user (Kubernetes' runAsNonRoot can check a number, not a name). It reaches
# the Docker socket through the socket's group, given at run time: --group-add. To read the
# json-file logs, which Docker keeps root's alone, logship runs as root instead, with every
# capability dropped (--user 0 --cap-drop ALL; the Helm chart does the same): the state
# directory belongs to the user and to root's group, so either can keep its checkpoints there.
RUN useradd --system --uid "${LOGSHIP_UID}" --user-group --no-create-home \
      --home-dir /var/lib/logship --shell /usr/sbin/nologin logship \
 && install -d -o "${LOGSHIP_UID}" -g 0 -m 0770 /var/lib/logship
# The root file system may be read-only (--read-only): no .pyc written at run time, and the
# only writable place logship needs is its state directory (checkpoints), a volume.
ENV PATH=/opt/logship/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    LOGSHIP_STATE_DIR=/var/lib/logship \
    LOGSHIP_HTTP=127.0.0.1:9880
VOLUME ["/var/lib/logship"]
EXPOSE 9880
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "/opt/logship/healthcheck.py"]
# Exec form: logship itself is PID 1 and gets docker stop's SIGTERM; it installs its own
# handler (PID 1 has no default one) and drains its buffers before exiting 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["logship"]
CMD ["run"]
USER ${LOGSHIP_UID}:${LOGSHIP_UID}
# Last, so that a change of the code rebuilds nothing above (with some storage drivers every
# step is a full copy of the file system).
COPY docker/healthcheck.py /opt/logship/healthcheck.py
COPY --from=builder /opt/logship /opt/logship
