"""Registry metadata beside the metrics: compacted-topic records and owner/cost-centre tags.

The registry publishes ``AssetMetadata`` and the policy engine ``PolicyDefinition`` to
compacted topics, keyed by id, a null value deleting the id (``metadata_record``). A
series whose ``model_id`` (or ``asset_id``) names a registered asset gets that asset's
owner and cost centre as extra tags in query answers (``enrich``): the FinOps question
"whose spend is this" without the producers having to tag every event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.models.base import WireModel
from pipeline.models.metadata import AssetMetadata, PolicyDefinition

KINDS: dict[str, tuple[type[WireModel], str]] = {
    "assets": (AssetMetadata, "asset_id"),
    "policies": (PolicyDefinition, "policy_id"),
}
"""Topic role -> (model, id field)."""

_OWNER_KEYS = ("team", "name", "owner", "email")
_COST_CENTRE_KEYS = ("cost_centre", "cost_center", "costCenter", "cost_centre_id")
MATCH_TAGS = ("model_id", "asset_id")
"""Series tags looked up in the asset registry, in this order."""


def metadata_record(kind: str, key: bytes | None, value: bytes | None) -> tuple[str, bytes | None]:
    """(id, wire JSON to store, or None to delete) of one compacted-topic record.

    Raises ValueError with what is wrong (unknown kind, no id, an invalid object, or a
    key that differs from the object's id: a compacted topic keeps one value per key,
    so a mismatch would keep a stale object alive under the wrong key)."""
    if kind not in KINDS:
        raise ValueError(f"unknown metadata kind {kind!r}; expected one of {sorted(KINDS)}")
    model, id_field = KINDS[kind]
    if value is None:
        if not key:
            raise ValueError("a tombstone (null value) needs the id as its key")
        return key.decode("utf-8", "replace"), None
    item = model.from_wire(value)
    object_id = str(getattr(item, id_field))
    if key and key.decode("utf-8", "replace") != object_id:
        raise ValueError(
            f"record key {key.decode('utf-8', 'replace')!r} differs from {id_field} "
            f"{object_id!r}: produce it keyed by its {id_field}"
        )
    return object_id, item.to_wire_bytes()


def _first(mapping: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def owner_tags(asset: AssetMetadata) -> dict[str, str]:
    """``owner`` and ``cost_centre`` from the asset's (free-form) owner object or tags."""
    out = {}
    owner = _first(asset.owner, _OWNER_KEYS) or _first(asset.tags, ("owner", "team"))
    if owner is not None:
        out["owner"] = owner
    centre = _first(asset.owner, _COST_CENTRE_KEYS) or _first(asset.tags, _COST_CENTRE_KEYS)
    if centre is not None:
        out["cost_centre"] = centre
    return out


def asset_index(assets: Iterable[AssetMetadata]) -> dict[str, dict[str, str]]:
    """Asset id and name -> the tags it adds (ids win over names)."""
    index: dict[str, dict[str, str]] = {}
    listed = list(assets)
    for asset in listed:
        tags = owner_tags(asset)
        if tags:
            index.setdefault(asset.name, tags)
    for asset in listed:
        tags = owner_tags(asset)
        if tags:
            index[asset.asset_id] = tags
    return index


def enrich(tags: Mapping[str, str], index: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The series' tags plus its asset's owner and cost centre; a tag the series already
    has is never overwritten (the producer's word wins)."""
    out = dict(tags)
    for key in MATCH_TAGS:
        found = index.get(out.get(key, ""))
        if found:
            for name, value in found.items():
                out.setdefault(name, value)
            break
    return out
