"""Metadata CRUD: assets, policies and user preferences (the spec's §8 models) in Redis.

One hash per kind under the topic prefix (``<p>meta:<kind>``: id -> wire JSON). Reads
need the ``read`` role, writes ``admin``. A ``PUT`` validates the body with the same
model the wire format defines and requires the body's id to equal the path's, so an
object can never be stored under a name it does not carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import ValidationError

from agents.api import schemas
from agents.api.auth import ApiKey, Role
from agents.api.deps import hub_state, require
from agents.api.errors import ApiProblem, WireJSON, meta
from agents.api.routes.ingest import read_body
from pipeline.models.api import ApiResponse, api_error_from_issues
from pipeline.models.api import ResponseStatus as Status
from pipeline.models.base import WireModel
from pipeline.models.issues import issues_from_error, only_whole_floats_for_integers
from pipeline.models.metadata import AssetMetadata, PolicyDefinition, UserPreferences
from pipeline.wire.json_codec import WireDecodeError, loads

router = APIRouter(prefix="/api/v1", tags=["metadata"])

MAX_BODY_BYTES = 256 * 1024
_ERRORS = {
    400: {"model": schemas.ErrorResponse},
    401: {"model": schemas.ErrorResponse},
    403: {"model": schemas.ErrorResponse},
    404: {"model": schemas.ErrorResponse},
    413: {"model": schemas.ErrorResponse},
    429: {"model": schemas.ErrorResponse},
}
Id = Annotated[str, PathParam(min_length=1, max_length=128, description="the object's id")]


@dataclass(frozen=True)
class Kind:
    """One kind of metadata: where it lives, its model and the field holding its id."""

    path: str
    model: type[WireModel]
    id_field: str
    label: str

    def key(self, request: Request) -> str:
        return hub_state(request).store.layout.metadata(self.path)


def _parse(kind: Kind, raw: bytes, object_id: str) -> WireModel:
    if not raw.strip():
        raise ApiProblem(400, f"the request body is empty: send a {kind.label} as JSON")
    document: Any = None
    try:
        document = loads(raw)
        item = kind.model.model_validate(document)
    except (WireDecodeError, ValidationError) as exc:
        issues = issues_from_error(exc, document)
        first = str(issues[0]) if issues else str(exc)
        raise ApiProblem(
            422 if only_whole_floats_for_integers(issues) else 400,
            f"not a {kind.label}: {first}; fix the fields listed in field_errors",
            field_errors=api_error_from_issues(issues, "").field_errors,
        ) from None
    if getattr(item, kind.id_field) != object_id:
        raise ApiProblem(
            422,
            f"the body's {kind.id_field} {getattr(item, kind.id_field)!r} differs from the "
            f"path's {object_id!r}; make them equal",
            field_errors={kind.id_field: ["must equal the id in the path"]},
        )
    return item


def _register(kind: Kind) -> None:
    """GET list, GET one, PUT and DELETE for one kind (one implementation for all kinds)."""
    one = f"/{kind.path}/{{object_id}}"

    @router.get(f"/{kind.path}", summary=f"All stored {kind.label} objects",
                response_class=WireJSON, responses={200: {"model": ApiResponse}, **_ERRORS},
                operation_id=f"list_{kind.path}")  # fmt: skip
    async def list_all(
        request: Request, _key: Annotated[ApiKey, Depends(require(Role.READ))]
    ) -> WireJSON:
        raw = await hub_state(request).store.redis.hgetall(kind.key(request))
        items = [kind.model.from_wire(raw[k]) for k in sorted(raw)]
        return WireJSON(ApiResponse(status=Status.SUCCESS, data=items, meta=meta(request)))

    @router.get(one, summary=f"One {kind.label}", response_class=WireJSON,
                responses={200: {"model": ApiResponse}, **_ERRORS},
                operation_id=f"get_{kind.path}")  # fmt: skip
    async def get_one(
        request: Request, object_id: Id, _key: Annotated[ApiKey, Depends(require(Role.READ))]
    ) -> WireJSON:
        raw = await hub_state(request).store.redis.hget(kind.key(request), object_id)
        if raw is None:
            hint = f"GET /api/v1/{kind.path} lists them; an admin key can create it with PUT"
            raise ApiProblem(404, f"no {kind.label} {object_id!r}; {hint}")
        data = kind.model.from_wire(raw)
        return WireJSON(ApiResponse(status=Status.SUCCESS, data=data, meta=meta(request)))

    @router.put(one, summary=f"Create or replace a {kind.label} (admin)", response_class=WireJSON,
                responses={200: {"model": ApiResponse}, 201: {"model": ApiResponse}, **_ERRORS,
                           422: schemas.CONFLICT},
                operation_id=f"put_{kind.path}",
                openapi_extra=schemas.json_body(kind.model.__name__))  # fmt: skip
    async def put_one(
        request: Request, object_id: Id, _key: Annotated[ApiKey, Depends(require(Role.ADMIN))]
    ) -> WireJSON:
        raw = await read_body(request, MAX_BODY_BYTES, kind.label, "send a smaller object")
        item = _parse(kind, raw, object_id)
        created = await hub_state(request).store.redis.hset(
            kind.key(request), object_id, item.to_wire_bytes()
        )
        body = ApiResponse(status=Status.SUCCESS, data=item, meta=meta(request))
        return WireJSON(body, status_code=201 if created else 200)

    @router.delete(one, summary=f"Delete a {kind.label} (admin)", response_class=WireJSON,
                   responses={200: {"model": ApiResponse}, **_ERRORS},
                   operation_id=f"delete_{kind.path}")  # fmt: skip
    async def delete_one(
        request: Request, object_id: Id, _key: Annotated[ApiKey, Depends(require(Role.ADMIN))]
    ) -> WireJSON:
        if not await hub_state(request).store.redis.hdel(kind.key(request), object_id):
            raise ApiProblem(404, f"no {kind.label} {object_id!r} to delete")
        body = ApiResponse(status=Status.SUCCESS, data={"deleted": object_id}, meta=meta(request))
        return WireJSON(body)


KINDS = (
    Kind("assets", AssetMetadata, "asset_id", "AssetMetadata"),
    Kind("policies", PolicyDefinition, "policy_id", "PolicyDefinition"),
    Kind("preferences", UserPreferences, "user_id", "UserPreferences"),
)
for _kind in KINDS:
    _register(_kind)
