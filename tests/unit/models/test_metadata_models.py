"""Metadata models (WIRE_FORMAT.md §8, provisional).

Only the field lists, their order and the enum spellings are specified; the starred
sub-objects are open JSON objects, written like ``any JSON`` (keys sorted, §4.7).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.models.metadata import (
    AssetMetadata,
    AssetType,
    DashboardConfig,
    PolicyDefinition,
    PolicyType,
    UserPreferences,
    WidgetType,
)
from pipeline.wire.json_codec import WireDecodeError

ASSET = (
    '{"asset_id":"a-1","asset_type":"fine_tuned_model","name":"support-bot",'
    '"description":"tuned on tickets","version":{"major":1,"minor":2},'
    '"owner":{"team":"ml","user":"ana"},"tags":{"tier":"gold"},'
    '"created_at":"2024-01-15T10:30:00Z","updated_at":"2024-01-16T08:00:00.500Z",'
    '"status":{"state":"active"},"metadata":{"base_model":"gpt-4","params":{"epochs":3,"lr":0.00001}}}'
)
POLICY = (
    '{"policy_id":"pol-1","name":"budget cap","description":"stop at 1k USD","version":"2.0",'
    '"policy_type":"cost_control","rules":[{"limit_usd":1000.0,"metric":"spend"},{}],'
    '"enforcement":{"mode":"block"},"scope":{"modules":["llm-cost-ops"]},'
    '"status":{"active":true}}'
)
DASHBOARD = (
    '{"dashboard_id":"d-1","name":"Ops","layout":{"columns":12,"rows":null},'
    '"widgets":[{"kind":"line_chart","title":"p99"},{"kind":"stat","title":"errors"}],'
    '"refresh_interval":30,"default_time_range":"1h","visibility":{"public":false}}'
)
PREFS = (
    '{"user_id":"u-1","display":{"theme":"dark"},"notifications":{"email":true},'
    '"default_filters":{"env":"prod"},"favorite_dashboards":["d-1","d-2"],'
    '"saved_queries":[{"name":"slow","query":"latency > 500"}]}'
)

REJECTED = (ValidationError, WireDecodeError)


@pytest.mark.parametrize(
    "model, text",
    [
        (AssetMetadata, ASSET),
        (PolicyDefinition, POLICY),
        (DashboardConfig, DASHBOARD),
        (UserPreferences, PREFS),
    ],
)
def test_round_trip_byte_exact(model: type, text: str) -> None:
    obj = model.from_wire(text)
    assert obj.to_wire() == text
    assert model.from_wire(obj.to_wire()) == obj


@pytest.mark.parametrize(
    "model, text, keys",
    [
        (
            AssetMetadata,
            ASSET,
            [
                "asset_id",
                "asset_type",
                "name",
                "description",
                "version",
                "owner",
                "tags",
                "created_at",
                "updated_at",
                "status",
                "metadata",
            ],
        ),
        (
            PolicyDefinition,
            POLICY,
            [
                "policy_id",
                "name",
                "description",
                "version",
                "policy_type",
                "rules",
                "enforcement",
                "scope",
                "status",
            ],
        ),
        (
            DashboardConfig,
            DASHBOARD,
            [
                "dashboard_id",
                "name",
                "layout",
                "widgets",
                "refresh_interval",
                "default_time_range",
                "visibility",
            ],
        ),
        (
            UserPreferences,
            PREFS,
            [
                "user_id",
                "display",
                "notifications",
                "default_filters",
                "favorite_dashboards",
                "saved_queries",
            ],
        ),
    ],
)
def test_field_order_and_every_key_required(model: type, text: str, keys: list[str]) -> None:
    assert list(json.loads(model.from_wire(text).to_wire())) == keys
    for key in keys:
        doc = json.loads(text)
        del doc[key]
        with pytest.raises(ValidationError):
            model.from_wire(json.dumps(doc))
        doc[key] = None
        with pytest.raises(ValidationError):
            model.from_wire(json.dumps(doc))


@pytest.mark.parametrize(
    "enum, values",
    [
        (
            AssetType,
            [
                "model",
                "fine_tuned_model",
                "prompt_template",
                "dataset",
                "endpoint",
                "application",
            ],
        ),
        (
            PolicyType,
            ["security", "compliance", "cost_control", "performance", "data_governance", "usage"],
        ),
        (
            WidgetType,
            [
                "line_chart",
                "bar_chart",
                "pie_chart",
                "table",
                "stat",
                "heatmap",
                "gauge",
                "timeline",
                "graph",
            ],
        ),
    ],
)
def test_enum_values(enum: type, values: list[str]) -> None:
    assert [member.value for member in enum] == values


@pytest.mark.parametrize("bad", ["FineTunedModel", "fine-tuned-model", "Model", "llm"])
def test_asset_type_exact_spelling(bad: str) -> None:
    doc = json.loads(ASSET)
    doc["asset_type"] = bad
    with pytest.raises(ValidationError):
        AssetMetadata.from_wire(json.dumps(doc))


def test_policy_type_exact_spelling() -> None:
    doc = json.loads(POLICY)
    doc["policy_type"] = "costControl"
    with pytest.raises(ValidationError):
        PolicyDefinition.from_wire(json.dumps(doc))


def test_open_objects_are_written_with_sorted_keys_at_every_level() -> None:
    doc = json.loads(ASSET)
    doc["owner"] = {"user": "ana", "team": "ml"}
    doc["metadata"] = {"params": {"lr": 0.00001, "epochs": 3}, "base_model": "gpt-4"}
    doc["version"] = {"minor": 2, "major": 1}
    assert AssetMetadata.from_wire(json.dumps(doc)).to_wire() == ASSET


def test_open_objects_in_lists_are_sorted() -> None:
    doc = json.loads(POLICY)
    doc["rules"] = [{"metric": "spend", "limit_usd": 1000.0}, {}]
    assert PolicyDefinition.from_wire(json.dumps(doc)).to_wire() == POLICY


def test_open_object_floats_use_reference_layout() -> None:
    text = ASSET.replace('"lr":0.00001', '"lr":1e-05')
    assert AssetMetadata.from_wire(text).to_wire() == ASSET


def test_open_objects_keep_integer_and_float_kinds() -> None:
    text = DASHBOARD.replace('"columns":12', '"columns":12.0,"gap":2')
    expected = DASHBOARD.replace('"columns":12', '"columns":12.0,"gap":2')
    assert DashboardConfig.from_wire(text).to_wire() == expected


@pytest.mark.parametrize("bad", ['"active"', "[]", "1", "true"])
def test_open_objects_must_be_objects(bad: str) -> None:
    text = ASSET.replace('"status":{"state":"active"}', f'"status":{bad}')
    with pytest.raises(ValidationError):
        AssetMetadata.from_wire(text)


def test_open_object_rejects_non_finite_numbers() -> None:
    text = ASSET.replace('"lr":0.00001', '"lr":1e400')
    assert "1e400" in text
    with pytest.raises(ValidationError):
        AssetMetadata.from_wire(text)


def test_tags_and_default_filters_are_string_maps() -> None:
    doc = json.loads(ASSET)
    doc["tags"] = {"tier": 1}
    with pytest.raises(ValidationError):
        AssetMetadata.from_wire(json.dumps(doc))
    doc = json.loads(PREFS)
    doc["default_filters"] = {"env": "prod", "region": "eu", "tier": "gold"}
    prefs = UserPreferences.from_wire(json.dumps(doc))
    assert json.loads(prefs.to_wire())["default_filters"] == doc["default_filters"]


@pytest.mark.parametrize("bad", [30.0, -1, "30", 2**32, True])
def test_refresh_interval_is_u32(bad: object) -> None:
    doc = json.loads(DASHBOARD)
    doc["refresh_interval"] = bad
    with pytest.raises(ValidationError):
        DashboardConfig.from_wire(json.dumps(doc))


def test_refresh_interval_u32_max_accepted() -> None:
    doc = json.loads(DASHBOARD)
    doc["refresh_interval"] = 2**32 - 1
    assert DashboardConfig.from_wire(json.dumps(doc)).refresh_interval == 4_294_967_295


def test_timestamps_converted_to_utc() -> None:
    doc = json.loads(ASSET)
    doc["created_at"] = "2024-01-15T12:30:00+02:00"
    asset = AssetMetadata.from_wire(json.dumps(doc))
    assert asset.created_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert asset.to_wire() == ASSET
    doc["created_at"] = "2024-01-15T10:30:00"
    with pytest.raises(ValidationError):
        AssetMetadata.from_wire(json.dumps(doc))


def test_built_in_code() -> None:
    prefs = UserPreferences(
        user_id="u-1",
        display={"theme": "dark"},
        notifications={"email": True},
        default_filters={"env": "prod"},
        favorite_dashboards=["d-1", "d-2"],
        saved_queries=[{"query": "latency > 500", "name": "slow"}],
    )
    assert prefs.to_wire() == PREFS


def test_unknown_keys_ignored_and_duplicates_rejected() -> None:
    doc = json.loads(PREFS)
    doc["future"] = 1
    assert UserPreferences.from_wire(json.dumps(doc)).to_wire() == PREFS
    with pytest.raises(REJECTED):
        UserPreferences.from_wire(PREFS[:-1] + ',"user_id":"u-2"}')


def test_open_object_integer_beyond_float_range_is_a_validation_error() -> None:
    text = ASSET.replace('"epochs":3', '"epochs":1' + "0" * 400)
    with pytest.raises(ValidationError, match="number out of range"):
        AssetMetadata.from_wire(text)
