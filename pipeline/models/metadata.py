"""Metadata models of WIRE_FORMAT.md §8 (provisional; meaning: SEED_DATA_MODELS.md).

Only the top-level field lists and the enum spellings are known. The sub-objects the
spec marks with * (VersionInfo, OwnerInfo, AssetStatus, PolicyRule, Widget, …) have no
agreed shape, so they are :data:`OpenObject` values: any JSON object, written like
``any JSON`` (keys sorted at every level, §4.7). Replace them with real models once a
shape is agreed.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from pipeline.models.base import ANY_JSON, U32, Str, Timestamp, WireModel
from pipeline.models.events import FiniteAnyJson
from pipeline.wire.json_codec import normalize_any_json

__all__ = [
    "AssetMetadata",
    "AssetType",
    "DashboardConfig",
    "OpenObject",
    "OpenObjects",
    "PolicyDefinition",
    "PolicyType",
    "UserPreferences",
    "WidgetType",
]

_FLOAT_MAX_INT = int(sys.float_info.max)


def _no_float_overflow(value: Any) -> Any:
    """Refuse integers beyond the float range before ``normalize_any_json`` sees them (it
    would raise a bare OverflowError rather than a validation error)."""
    if isinstance(value, dict):
        for item in value.values():
            _no_float_overflow(item)
    elif isinstance(value, list):
        for item in value:
            _no_float_overflow(item)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX_INT:
        raise ValueError("number out of range: integer too large for a float")
    return value


OpenObject = Annotated[
    dict[str, FiniteAnyJson],
    BeforeValidator(_no_float_overflow),
    AfterValidator(normalize_any_json),
    ANY_JSON,
]
"""A JSON object of unknown shape (a §8 * sub-object); keys are sorted on read and write."""
OpenObjects = Annotated[list[OpenObject], ANY_JSON]
"""A list of open objects (``rules``, ``widgets``, ``saved_queries``)."""


class AssetType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    MODEL = "model"
    FINE_TUNED_MODEL = "fine_tuned_model"
    PROMPT_TEMPLATE = "prompt_template"
    DATASET = "dataset"
    ENDPOINT = "endpoint"
    APPLICATION = "application"


class PolicyType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    SECURITY = "security"
    COMPLIANCE = "compliance"
    COST_CONTROL = "cost_control"
    PERFORMANCE = "performance"
    DATA_GOVERNANCE = "data_governance"
    USAGE = "usage"


class WidgetType(str, Enum):  # noqa: UP042 (project convention: str, Enum)
    """Widget kinds. The key carrying it inside a Widget object is not defined yet (§8)."""

    LINE_CHART = "line_chart"
    BAR_CHART = "bar_chart"
    PIE_CHART = "pie_chart"
    TABLE = "table"
    STAT = "stat"
    HEATMAP = "heatmap"
    GAUGE = "gauge"
    TIMELINE = "timeline"
    GRAPH = "graph"


class AssetMetadata(WireModel):
    asset_id: Str
    asset_type: AssetType
    name: Str
    description: Str
    version: OpenObject
    owner: OpenObject
    tags: dict[str, Str]
    created_at: Timestamp
    updated_at: Timestamp
    status: OpenObject
    metadata: OpenObject


class PolicyDefinition(WireModel):
    policy_id: Str
    name: Str
    description: Str
    version: Str
    policy_type: PolicyType
    rules: OpenObjects
    enforcement: OpenObject
    scope: OpenObject
    status: OpenObject


class DashboardConfig(WireModel):
    dashboard_id: Str
    name: Str
    layout: OpenObject
    widgets: OpenObjects
    refresh_interval: U32
    default_time_range: Str
    visibility: OpenObject


class UserPreferences(WireModel):
    user_id: Str
    display: OpenObject
    notifications: OpenObject
    default_filters: dict[str, Str]
    favorite_dashboards: list[Str]
    saved_queries: OpenObjects
