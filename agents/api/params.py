"""Query parameters whose OpenAPI schema is exactly what the route accepts.

A client generated from /openapi.json must never send a request the server refuses for
its form: each parameter's schema comes from the parser's own patterns
(:mod:`pipeline.store.query`) or the enum the route checks against. What the schema cannot
say (an end before the start, a range of too many windows) is a 422
(:class:`pipeline.store.query.QueryConflict`)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import Query
from pydantic import WithJsonSchema

from pipeline.store.query import (
    AGGREGATE_PATTERN,
    FILL_PATTERN,
    RESOLUTIONS,
    TAG_FILTER_PATTERN,
    TIME_SCHEMA,
)

MAX_PAGE = 1_000_000
"""The wire format's page numbers are u32; a million pages of up to 1,000 items is more than
the store keeps (found by the OpenAPI fuzz test: a 16-digit page was a 500)."""
MAX_PER_PAGE = 1_000


def enum_list(enum: type[Enum], description: str) -> Any:
    """A repeatable parameter of ``enum``'s values (comma-separated also accepted)."""
    values = [member.value for member in enum]
    schema = {"type": "array", "items": {"type": "string", "enum": values}}
    return Annotated[list[str], Query(description=description), WithJsonSchema(schema)]


def enum_one(values: list[str], description: str) -> Any:
    schema = {"type": "string", "enum": values}
    return Annotated[str | None, Query(description=description), WithJsonSchema(schema)]


Time = Annotated[str | None, Query(description=str(TIME_SCHEMA["description"])),
                 WithJsonSchema(TIME_SCHEMA)]  # fmt: skip
Page = Annotated[  # bounds checked by the route, whose message says what to do instead
    int,
    Query(description="page number, from 1"),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
]
PerPage = Annotated[
    int,
    Query(description="items per page, 1 to 1000"),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
]
TagFilters = Annotated[
    list[str],
    Query(description="tag filter `key:value`, repeatable (all must match)"),
    WithJsonSchema({"type": "array", "items": {"type": "string", "pattern": TAG_FILTER_PATTERN}}),
]
RESOLUTION_VALUES = [*RESOLUTIONS, "auto"]
Resolution = enum_one(RESOLUTION_VALUES, "1m, 5m, 15m, 1h, 6h, 1d, 1w, 30d, or auto")
Aggregate = Annotated[
    str | None,
    Query(description="across series: avg, sum, min, max, count, median, stddev, pNN"),
    WithJsonSchema({"type": "string", "pattern": AGGREGATE_PATTERN}),
]
Fill = Annotated[
    str | None,
    Query(description="null, previous, linear, zero or an integer"),
    WithJsonSchema({"type": "string", "pattern": FILL_PATTERN}),
]
