# LLM Analytics Hub worker image (used by docker-compose.yml as `hub-worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs (pyproject packages: pipeline*, agents*; topics.yaml is read
# from the source tree), so local .venv/.cache/.run/.logs never reach the image.
COPY pyproject.toml README.md topics.yaml ./
COPY pipeline ./pipeline
COPY agents ./agents
# gcc builds the compiled latency-batch scanner (pipeline/_batch_scan.c) in place, next to
# the sources imported from /app, and is removed again.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install -e . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 hub \
    && chown -R hub /app

# pipeline/topics.py finds topics.yaml next to the `pipeline` package, so import the package
# from /app (the installed copy in site-packages has no topics.yaml beside it).
ENV PYTHONPATH=/app

USER hub
CMD ["hub", "worker"]
