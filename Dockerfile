# The Repomind app image: `repomind serve`, `repomind worker` (and `repomind worker --queue training`).
# It installs wheels built on the host, so the build itself needs no network:
#
#   python scripts/app_wheels.py                  # build/app-wheels/{deps,app}: the project and its dependencies
#   docker build -t repomind .                    # from python:3.11-slim-bookworm (a registry)
#   docker build --build-arg BASE=repomind-sandbox:py3.11 -t repomind .
#                                                 # offline: the debootstrap base of `repomind sandbox build --offline`
#
# The sandbox runs on a Docker daemon: mount the host's socket (-v /var/run/docker.sock:/var/run/docker.sock
# with --group-add of the socket's group) or set DOCKER_HOST. Either gives the container control of that
# daemon, which is root on its host: run the image only where you would run Repomind as root.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS deps
USER root
ARG WHEELS=build/app-wheels
COPY ${WHEELS}/deps /wheels/
RUN python3 -m venv /opt/repomind \
 && /opt/repomind/bin/pip install --no-index --no-cache-dir --disable-pip-version-check /wheels/*.whl

FROM ${BASE}
USER root
# git clones and pushes the repositories (the debootstrap base has it; the slim image gets it from apt).
RUN if ! command -v git >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && useradd --uid 10001 --user-group --home-dir /home/repomind --create-home --shell /usr/sbin/nologin repomind \
 && mkdir /data && chown repomind:repomind /data && chmod 700 /data
COPY --from=deps /opt/repomind /opt/repomind
ARG WHEELS=build/app-wheels
COPY ${WHEELS}/app /tmp/app/
RUN /opt/repomind/bin/pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check /tmp/app/*.whl \
 && rm -rf /tmp/app

ENV PATH=/opt/repomind/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 \
    REPOMIND_DATA_DIR=/data \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER repomind
WORKDIR /home/repomind
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["repomind"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
