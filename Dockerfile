# The Repomind app image: `repomind serve` with the embedded worker. The sandbox runs on the Docker
# daemon reached through the mounted socket (or DOCKER_HOST): mount it to let the bot run tests.
#   docker build -t repomind .
#   docker run -p 8000:8000 -v /var/run/docker.sock:/var/run/docker.sock \
#     -v repomind-data:/data -e REPOMIND_DATA_DIR=/data repomind
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends git debootstrap ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-cache-dir .

ENV REPOMIND_DATA_DIR=/data \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
ENTRYPOINT ["repomind"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
