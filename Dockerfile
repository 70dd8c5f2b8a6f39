# LLM Analytics Hub image: every `hub` command (docker-compose.yml runs the worker, the sink,
# the chain assembler and the API from it).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs (pyproject packages: pipeline*, agents*; topics.yaml, rules.yaml
# and scripts/ become package data through the links in pipeline/data and agents/scripts), so
# local .venv/.cache/.run/.logs never reach the image.
COPY pyproject.toml README.md topics.yaml rules.yaml ./
COPY scripts ./scripts
COPY pipeline ./pipeline
COPY agents ./agents
# gcc builds the compiled latency-batch scanner (pipeline/ingest/_batch_scan.c) into the installed
# package, and is removed again.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 hub \
    && chown -R hub /app

USER hub
CMD ["hub", "worker"]
