"""`hub api`: the HTTP API (FastAPI) over the Redis store and the Kafka topics (docs/API.md)."""

from agents.api.app import create_app

__all__ = ["create_app"]
