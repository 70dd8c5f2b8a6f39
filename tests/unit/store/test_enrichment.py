"""Compacted metadata records and owner / cost-centre enrichment of series tags."""

from __future__ import annotations

import orjson
import pytest

from pipeline.models.metadata import AssetMetadata
from pipeline.store.enrichment import asset_index, enrich, metadata_record, owner_tags


def _asset(asset_id: str, name: str, owner: dict, tags: dict | None = None) -> dict:
    return {
        "asset_id": asset_id, "asset_type": "model", "name": name, "description": "",
        "version": {}, "owner": owner, "tags": tags or {},
        "created_at": "2026-11-01T00:00:00Z", "updated_at": "2026-11-01T00:00:00Z",
        "status": {}, "metadata": {},
    }  # fmt: skip


def test_records_store_validate_and_delete() -> None:
    doc = _asset("gpt-4o", "GPT-4o", {"team": "platform"})
    object_id, stored = metadata_record("assets", b"gpt-4o", orjson.dumps(doc))
    assert object_id == "gpt-4o" and orjson.loads(stored) == doc
    assert metadata_record("assets", b"gpt-4o", None) == ("gpt-4o", None)
    with pytest.raises(ValueError, match="differs from asset_id"):
        metadata_record("assets", b"other", orjson.dumps(doc))
    with pytest.raises(ValueError):
        metadata_record("assets", b"gpt-4o", orjson.dumps({**doc, "asset_type": "robot"}))
    with pytest.raises(ValueError, match="needs the id"):
        metadata_record("policies", None, None)
    with pytest.raises(ValueError, match="unknown metadata kind"):
        metadata_record("dashboards", b"x", b"{}")


def test_owner_and_cost_centre_from_owner_object_or_tags() -> None:
    a = AssetMetadata.model_validate(_asset("a", "A", {"team": "ml", "cost_center": 4711}))
    assert owner_tags(a) == {"owner": "ml", "cost_centre": "4711"}
    b = AssetMetadata.model_validate(_asset("b", "B", {}, {"owner": "search", "cost_centre": "cc"}))
    assert owner_tags(b) == {"owner": "search", "cost_centre": "cc"}
    c = AssetMetadata.model_validate(_asset("c", "C", {"flag": True}))
    assert owner_tags(c) == {}


def test_enrich_matches_model_id_by_id_then_name_and_never_overwrites() -> None:
    assets = [
        AssetMetadata.model_validate(_asset("gpt-4o", "GPT-4o", {"team": "platform",
                                                                  "cost_centre": "cc-1"})),
        AssetMetadata.model_validate(_asset("asset-7", "llama-3-70b", {"team": "research"})),
    ]  # fmt: skip
    index = asset_index(assets)
    assert enrich({"model_id": "gpt-4o", "region": "eu"}, index) == {
        "model_id": "gpt-4o", "region": "eu", "owner": "platform", "cost_centre": "cc-1",
    }  # fmt: skip
    assert enrich({"model_id": "llama-3-70b"}, index)["owner"] == "research"  # by name
    assert enrich({"model_id": "gpt-4o", "owner": "me"}, index)["owner"] == "me"
    assert enrich({"model_id": "unknown"}, index) == {"model_id": "unknown"}
    assert enrich({"region": "eu"}, index) == {"region": "eu"}
