"""API models (WIRE_FORMAT.md §9).

Expected JSON is written out by hand from the spec; maps with two or more keys are
compared as maps (§4.7, §12 #3), everything else byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from pydantic import ValidationError

from pipeline.models.api import (
    DOCUMENT_PATH,
    STANDARD_ERROR_CODES,
    AggregatedValue,
    ApiDataPoint,
    ApiError,
    ApiResponse,
    BatchItemResult,
    BatchResponse,
    BatchStatus,
    ErrorDetails,
    ItemStatus,
    MetricsQueryResult,
    PaginatedResponse,
    PaginationLinks,
    PaginationMetadata,
    PaginationParams,
    QueryMetrics,
    QueryResult,
    QueryStatus,
    ResponseMetadata,
    ResponseStatus,
    SeriesData,
    SortOrder,
    StreamEvent,
    StreamEventType,
    TimeSeriesQueryResult,
    api_error_from_issues,
    sse_frame,
    standard_code_for_status,
)
from pipeline.models.correlation import AlertThresholds, CorrelationConfig
from pipeline.models.issues import FieldIssue, issues_from_error
from pipeline.models.metrics import TimeRange
from pipeline.wire.json_codec import WireDecodeError, loads

REJECTED = (ValidationError, WireDecodeError)

U1 = "550e8400-e29b-41d4-a716-446655440000"
U2 = "3f2b8c1e-7d4a-4e9b-a1c2-5d6e7f809a1b"
TS = "2024-01-15T10:30:00Z"
RANGE = '{"start":"2024-01-15T10:00:00Z","end":"2024-01-15T11:00:00Z"}'

# §9.1 example, verbatim.
SUCCESS = (
    '{"status":"success","data":[1,2],"meta":{"request_id":"550e8400-e29b-41d4-a716-446655440000",'
    '"timestamp":"2024-01-15T10:30:00Z","api_version":"1.0.0","response_time_ms":12,'
    '"region":"us"}}'
)
META = f'{{"request_id":"{U1}","timestamp":"{TS}","api_version":"1.0.0"}}'
ERROR_FULL = (
    '{"code":"bad_request","message":"invalid query","status_code":400,'
    '"details":{"trace":"t-1","context":{"limit":{"got":5000,"max":1000}},'
    '"suggestions":["lower per_page"],"documentation_url":"https://docs.example/errors"},'
    '"field_errors":{"per_page":["must be <= 1000"]},'
    f'"timestamp":"{TS}"}}'
)
ERROR_MIN = (
    f'{{"code":"not_found","message":"no such metric","status_code":404,"timestamp":"{TS}"}}'
)
ERROR_RESPONSE = f'{{"status":"error","error":{ERROR_MIN},"meta":{META}}}'
PAGE_2 = (
    '{"page":2,"per_page":50,"total_items":250,"total_pages":5,"has_next":true,"has_previous":true}'
)
LAST_PAGE = (
    '{"page":5,"per_page":50,"total_items":250,"total_pages":5,"has_next":false,'
    '"has_previous":true}'
)
NO_ITEMS = (
    '{"page":1,"per_page":50,"total_items":0,"total_pages":0,"has_next":false,"has_previous":false}'
)
LINKS_PAGE_2 = (
    '{"first":"/api/v1/events?page=1","last":"/api/v1/events?page=5",'
    '"next":"/api/v1/events?page=3","prev":"/api/v1/events?page=1",'
    '"self_link":"/api/v1/events?page=2"}'
)
PAGINATED = (
    f'{{"status":"partial","data":[{{"a":1}},null,"x"],"pagination":{PAGE_2[:-1]},'
    f'"links":{LINKS_PAGE_2}}},"meta":{META}}}'
)
QUERY_METRICS = (
    '{"execution_time_ms":15,"records_scanned":10000,"records_returned":2,'
    '"bytes_processed":1048576,"from_cache":false}'
)
QUERY_METRICS_CACHED = (
    '{"execution_time_ms":0,"records_scanned":0,"records_returned":2,'
    '"bytes_processed":0,"from_cache":true,"cache_ttl":300}'
)
QUERY_RESULT = (
    f'{{"query_id":"{U1}","status":"partial_success","data":{{"rows":[[1,2.5,null]]}},'
    f'"metrics":{QUERY_METRICS},"warnings":["truncated"]}}'
)
# §9.5 API DataPoint example, verbatim.
DATA_POINT = '{"timestamp":"2024-01-15T10:30:00Z","value":1.0,"model":"gpt-4"}'
SERIES = f'{{"name":"latency","tags":{{"region":"eu"}},"points":[{DATA_POINT}]}}'
TS_RESULT = (
    f'{{"query":"SELECT mean(latency)","time_range":{RANGE},"series":[{SERIES}],'
    f'"metrics":{QUERY_METRICS_CACHED}}}'
)
AGG_VALUE = (
    f'{{"timestamp":"{TS}","avg":450.5,"min":50.0,"max":980.0,"p50":420.0,"p95":850.0,'
    '"p99":950.0,"count":100}'
)
METRICS_RESULT = (
    f'{{"metric":"latency_ms","window":"5m","values":[{AGG_VALUE}],"metrics":{QUERY_METRICS}}}'
)
# §9.6 example, verbatim.
STREAM_HEARTBEAT = (
    '{"event_id":"550e8400-e29b-41d4-a716-446655440000","event_type":"heartbeat","data":null,'
    '"sequence":7,"timestamp":"2024-01-15T10:30:00Z"}'
)
STREAM_DATA = (
    f'{{"event_id":"{U2}","event_type":"data","data":{{"a":[1,{{"b":2,"c":3}}]}},'
    '"sequence":8,"timestamp":"2024-01-15T10:30:01.500Z"}'
)
ITEM_OK = '{"index":0,"item_id":"evt-1","status":"success","data":{"id":"evt-1"}}'
ITEM_FAILED = f'{{"index":1,"item_id":null,"status":"failed","error":{ERROR_MIN}}}'
ITEM_SKIPPED = '{"index":2,"item_id":"evt-3","status":"skipped"}'
BATCH = (
    f'{{"batch_id":"{U1}","total_items":3,"success_count":1,"failure_count":1,'
    f'"results":[{ITEM_OK},{ITEM_FAILED},{ITEM_SKIPPED}],"status":"partial_success"}}'
)

ROUND_TRIPS = [
    (ApiResponse, SUCCESS),
    (ApiResponse, ERROR_RESPONSE),
    (ResponseMetadata, META),
    (ApiError, ERROR_FULL),
    (ApiError, ERROR_MIN),
    (ErrorDetails, "{}"),
    (PaginationMetadata, PAGE_2),
    (PaginationMetadata, LAST_PAGE),
    (PaginationMetadata, NO_ITEMS),
    (PaginationLinks, LINKS_PAGE_2),
    (PaginatedResponse, PAGINATED),
    (PaginationParams, '{"page":3,"per_page":1000,"sort_by":"timestamp","sort_order":"desc"}'),
    (QueryMetrics, QUERY_METRICS),
    (QueryMetrics, QUERY_METRICS_CACHED),
    (QueryResult, QUERY_RESULT),
    (ApiDataPoint, DATA_POINT),
    (SeriesData, SERIES),
    (TimeSeriesQueryResult, TS_RESULT),
    (AggregatedValue, AGG_VALUE),
    (MetricsQueryResult, METRICS_RESULT),
    (StreamEvent, STREAM_HEARTBEAT),
    (StreamEvent, STREAM_DATA),
    (BatchItemResult, ITEM_OK),
    (BatchItemResult, ITEM_FAILED),
    (BatchItemResult, ITEM_SKIPPED),
    (BatchResponse, BATCH),
]


@pytest.mark.parametrize(
    "model, text", ROUND_TRIPS, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(ROUND_TRIPS)]
)
def test_round_trip_byte_exact(model: type, text: str) -> None:
    obj = model.from_wire(text)
    assert obj.to_wire() == text
    assert model.from_wire(obj.to_wire()) == obj


# --- enums ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "enum, values",
    [
        (ResponseStatus, ["success", "error", "partial"]),
        (SortOrder, ["asc", "desc"]),
        (QueryStatus, ["success", "partial_success", "failed", "timeout"]),
        (StreamEventType, ["data", "heartbeat", "error", "complete"]),
        (ItemStatus, ["success", "failed", "skipped"]),
        (BatchStatus, ["all_success", "partial_success", "all_failed"]),
    ],
)
def test_enum_values(enum: type, values: list[str]) -> None:
    assert [member.value for member in enum] == values


@pytest.mark.parametrize("bad", ["Success", "SUCCESS", "ok", None])
def test_response_status_exact_spelling(bad: object) -> None:
    doc = json.loads(SUCCESS)
    doc["status"] = bad
    with pytest.raises(ValidationError):
        ApiResponse.from_wire(json.dumps(doc))


# --- §9.1 ApiResponse and ResponseMetadata -------------------------------------------------------


def test_success_example_values() -> None:
    response = ApiResponse.from_wire(SUCCESS)
    assert response.status is ResponseStatus.SUCCESS
    assert response.data == [1, 2]
    assert response.error is None
    assert response.meta.request_id == UUID(U1)
    assert response.meta.timestamp == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert response.meta.api_version == "1.0.0"
    assert response.meta.response_time_ms == 12
    assert response.meta.extras == {"region": "us"}


@pytest.mark.parametrize("data", ["null", None])
def test_data_null_or_absent_is_unset_and_omitted(data: str | None) -> None:
    doc = '{"status":"success",' + (f'"data":{data},' if data else "") + f'"meta":{META}}}'
    response = ApiResponse.from_wire(doc)
    assert response.data is None
    assert response.to_wire() == f'{{"status":"success","meta":{META}}}'


@pytest.mark.parametrize("value", ["0", "false", '""', "[]", "{}", "0.0"])
def test_falsy_data_is_still_written(value: str) -> None:
    text = f'{{"status":"success","data":{value},"meta":{META}}}'
    assert ApiResponse.from_wire(text).to_wire() == text


def test_data_any_json_objects_are_written_sorted_and_keep_number_kinds() -> None:
    text = f'{{"status":"success","data":{{"z":5,"a":{{"y":5.0,"b":[1e-6]}}}},"meta":{META}}}'
    expected = f'{{"status":"success","data":{{"a":{{"b":[1e-6],"y":5.0}},"z":5}},"meta":{META}}}'
    assert ApiResponse.from_wire(text).to_wire() == expected


def test_data_non_finite_is_rejected() -> None:
    with pytest.raises(ValidationError):
        ApiResponse.from_wire(f'{{"status":"success","data":[1e400],"meta":{META}}}')


def test_data_can_be_a_wire_model_written_in_its_own_key_order() -> None:
    thresholds = AlertThresholds(
        min_correlation_strength=0.8, min_anomaly_score=0.7, critical_impact_threshold=0.9
    )
    meta = ResponseMetadata.from_wire(META)
    response = ApiResponse(status=ResponseStatus.SUCCESS, data=thresholds, meta=meta)
    assert response.to_wire() == (
        '{"status":"success","data":{"min_correlation_strength":0.8,"min_anomaly_score":0.7,'
        f'"critical_impact_threshold":0.9}},"meta":{META}}}'
    )
    page = PaginatedResponse(
        status=ResponseStatus.SUCCESS,
        data=[CorrelationConfig.default()],
        pagination=PaginationMetadata.build(1, 50, 1),
        meta=meta,
    )
    written = page.to_wire()
    assert written.startswith(
        '{"status":"success","data":[{"auto_detect":true,"patterns":[],'
        '"correlation_window_minutes":60,"min_events":2,"alert_thresholds":'
        '{"min_correlation_strength":0.8,"min_anomaly_score":0.7,"critical_impact_threshold":0.9}}]'
    )


def test_error_response_values() -> None:
    response = ApiResponse.from_wire(ERROR_RESPONSE)
    assert response.status is ResponseStatus.ERROR
    assert response.data is None
    assert response.error is not None
    assert response.error.code == "not_found"
    assert response.error.status_code == 404
    assert response.error.details is None
    assert response.error.field_errors is None


def test_meta_is_required() -> None:
    with pytest.raises(ValidationError):
        ApiResponse.from_wire('{"status":"success","data":[1,2]}')


@pytest.mark.parametrize("key", ["request_id", "timestamp", "api_version"])
def test_response_metadata_named_keys_required_on_read(key: str) -> None:
    doc = json.loads(META)
    del doc[key]
    with pytest.raises(ValidationError) as info:
        ResponseMetadata.from_wire(json.dumps(doc))
    assert issues_from_error(info.value, doc) == [FieldIssue(key, "required field is missing")]


def test_response_metadata_constructor_default() -> None:
    before = datetime.now(UTC)
    meta = ResponseMetadata()
    after = datetime.now(UTC)
    assert meta.request_id.version == 4
    assert before <= meta.timestamp <= after
    assert meta.api_version == "1.0.0"
    assert meta.response_time_ms is None
    assert meta.extras == {}
    written = json.loads(meta.to_wire())
    assert list(written) == ["request_id", "timestamp", "api_version"]
    assert written["api_version"] == "1.0.0"
    assert ResponseMetadata().request_id != meta.request_id


def test_response_metadata_extras_after_named_keys_with_any_json_values() -> None:
    text = (
        f'{{"region":"us","request_id":"{U1}","shard":{{"z":1,"a":null}},'
        f'"timestamp":"{TS}","api_version":"1.1.0","response_time_ms":0,"flags":[true,5.0]}}'
    )
    meta = ResponseMetadata.from_wire(text)
    assert meta.extras == {"region": "us", "shard": {"a": None, "z": 1}, "flags": [True, 5.0]}
    written = meta.to_wire()
    assert written.startswith(
        f'{{"request_id":"{U1}","timestamp":"{TS}","api_version":"1.1.0","response_time_ms":0,'
    )
    assert '"shard":{"a":null,"z":1}' in written
    assert '"flags":[true,5.0]' in written
    assert json.loads(written) == json.loads(text)


def test_response_metadata_extra_null_is_kept() -> None:
    text = META[:-1] + ',"note":null}'
    assert ResponseMetadata.from_wire(text).to_wire() == text


def test_response_metadata_extras_in_code() -> None:
    meta = ResponseMetadata(
        request_id=UUID(U1),
        timestamp=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        response_time_ms=12,
        region="us",
    )
    assert ApiResponse(status=ResponseStatus.SUCCESS, data=[1, 2], meta=meta).to_wire() == SUCCESS


def test_refuses_to_write_an_extra_that_repeats_a_named_key() -> None:
    meta = ResponseMetadata.from_wire(META)
    assert meta.__pydantic_extra__ is not None
    meta.__pydantic_extra__["api_version"] = "2.0.0"
    with pytest.raises(ValueError, match="api_version"):
        meta.to_wire()
    # also for a named key that is unset and so not written
    meta = ResponseMetadata.from_wire(META)
    assert meta.__pydantic_extra__ is not None
    meta.__pydantic_extra__["response_time_ms"] = 5
    with pytest.raises(ValueError, match="response_time_ms"):
        meta.to_wire()
    point = ApiDataPoint.from_wire(DATA_POINT)
    assert point.__pydantic_extra__ is not None
    point.__pydantic_extra__["value"] = 2.0
    with pytest.raises(ValueError, match="value"):
        point.to_wire()


def test_duplicate_named_key_in_catch_all_is_rejected_but_extra_keeps_last() -> None:
    with pytest.raises(ValidationError, match="duplicate key 'api_version'"):
        ResponseMetadata.from_wire(META[:-1] + ',"api_version":"2.0.0"}')
    meta = ResponseMetadata.from_wire(META[:-1] + ',"region":"eu","region":"us"}')
    assert meta.to_wire() == META[:-1] + ',"region":"us"}'


def test_response_metadata_strict_types() -> None:
    doc = json.loads(META)
    doc["response_time_ms"] = 12.0
    with pytest.raises(ValidationError):
        ResponseMetadata.from_wire(json.dumps(doc))
    doc = json.loads(META)
    doc["request_id"] = "not-a-uuid"
    with pytest.raises(ValidationError):
        ResponseMetadata.from_wire(json.dumps(doc))
    doc = json.loads(META)
    doc["api_version"] = None
    with pytest.raises(ValidationError):
        ResponseMetadata.from_wire(json.dumps(doc))


# --- §9.2 Pagination --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page, per_page, total_items, expected",
    [(2, 50, 250, PAGE_2), (5, 50, 250, LAST_PAGE), (1, 50, 0, NO_ITEMS)],
    ids=["page-2-of-250", "last-page", "no-items"],
)
def test_pagination_table_rows(page: int, per_page: int, total_items: int, expected: str) -> None:
    built = PaginationMetadata.build(page, per_page, total_items)
    assert built.to_wire() == expected
    assert PaginationMetadata.from_wire(expected) == built


@pytest.mark.parametrize(
    "total_items, per_page, total_pages",
    [(0, 1, 0), (1, 50, 1), (49, 50, 1), (50, 50, 1), (51, 50, 2), (251, 50, 6), (7, 3, 3)],
)
def test_total_pages_is_ceiling(total_items: int, per_page: int, total_pages: int) -> None:
    assert PaginationMetadata.build(1, per_page, total_items).total_pages == total_pages


def test_has_next_and_has_previous_follow_the_formula() -> None:
    first = PaginationMetadata.build(1, 10, 30)
    assert (first.has_next, first.has_previous) == (True, False)
    middle = PaginationMetadata.build(2, 10, 30)
    assert (middle.has_next, middle.has_previous) == (True, True)
    last = PaginationMetadata.build(3, 10, 30)
    assert (last.has_next, last.has_previous) == (False, True)
    beyond = PaginationMetadata.build(4, 10, 30)
    assert (beyond.has_next, beyond.has_previous) == (False, True)


def test_links_page_2_of_5() -> None:
    meta = PaginationMetadata.build(2, 50, 250, base_path="/api/v1/events")
    assert meta.to_wire() == PAGE_2[:-1] + f',"links":{LINKS_PAGE_2}}}'


def test_links_first_page_has_no_prev() -> None:
    links = PaginationMetadata.build(1, 50, 250, base_path="/e").links
    assert links is not None
    assert links.to_wire() == (
        '{"first":"/e?page=1","last":"/e?page=5","next":"/e?page=2","self_link":"/e?page=1"}'
    )


def test_links_last_page_has_no_next() -> None:
    links = PaginationMetadata.build(5, 50, 250, base_path="/e").links
    assert links is not None
    assert links.to_wire() == (
        '{"first":"/e?page=1","last":"/e?page=5","prev":"/e?page=4","self_link":"/e?page=5"}'
    )


def test_links_with_no_items_point_last_at_page_0() -> None:
    links = PaginationMetadata.build(1, 50, 0, base_path="/e").links
    assert links is not None
    assert links.to_wire() == '{"first":"/e?page=1","last":"/e?page=0","self_link":"/e?page=1"}'


def test_links_single_page() -> None:
    links = PaginationLinks.build("/e", 1, 1)
    assert links.next is None
    assert links.prev is None
    assert links.self_link == "/e?page=1"
    assert links.to_wire() == '{"first":"/e?page=1","last":"/e?page=1","self_link":"/e?page=1"}'


def test_no_links_without_base_path() -> None:
    assert PaginationMetadata.build(2, 50, 250).links is None


def test_self_link_key_is_literal() -> None:
    with pytest.raises(ValidationError):
        PaginationLinks.from_wire('{"first":"a","last":"b","self":"c"}')


@pytest.mark.parametrize("per_page", [0])
def test_build_rejects_per_page_zero(per_page: int) -> None:
    with pytest.raises(ValueError, match="per_page"):
        PaginationMetadata.build(1, per_page, 10)


def test_build_rejects_non_integers() -> None:
    with pytest.raises(TypeError):
        PaginationMetadata.build(1, 50.0, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PaginationMetadata.build(True, 50, 10)  # type: ignore[arg-type]


def test_pagination_metadata_is_not_recomputed_on_read() -> None:
    # No semantic validation (§12 #13): inconsistent values are read and written as given.
    text = PAGE_2.replace('"total_pages":5', '"total_pages":9')
    assert PaginationMetadata.from_wire(text).to_wire() == text


@pytest.mark.parametrize(
    "key, bad",
    [("page", 4294967296), ("total_pages", -1), ("total_items", 2.0), ("has_next", 1)],
)
def test_pagination_metadata_strict_types(key: str, bad: object) -> None:
    doc = json.loads(PAGE_2)
    doc[key] = bad
    with pytest.raises(ValidationError):
        PaginationMetadata.from_wire(json.dumps(doc))


def test_pagination_params_empty_object_defaults() -> None:
    params = PaginationParams.from_wire("{}")
    assert params.page == 1
    assert params.per_page == 50
    assert params.sort_by is None
    assert params.sort_order is None
    assert params.to_wire() == '{"page":1,"per_page":50}'
    assert PaginationParams().to_wire() == '{"page":1,"per_page":50}'


def test_pagination_params_optional_keys_null_means_unset() -> None:
    params = PaginationParams.from_wire('{"sort_by":null,"sort_order":null}')
    assert params.to_wire() == '{"page":1,"per_page":50}'
    params = PaginationParams.from_wire('{"sort_order":"asc"}')
    assert params.sort_order is SortOrder.ASC
    assert params.to_wire() == '{"page":1,"per_page":50,"sort_order":"asc"}'


@pytest.mark.parametrize(
    "text",
    [
        '{"page":null}',
        '{"per_page":null}',
        '{"page":1.0}',
        '{"page":"2"}',
        '{"page":-1}',
        '{"per_page":true}',
        '{"sort_order":"ASC"}',
        '{"sort_order":"descending"}',
    ],
)
def test_pagination_params_rejections(text: str) -> None:
    with pytest.raises(ValidationError):
        PaginationParams.from_wire(text)


def test_pagination_params_cap_is_not_enforced() -> None:
    assert PaginationParams.from_wire('{"per_page":5000}').per_page == 5000


def test_paginated_response_without_data() -> None:
    text = f'{{"status":"error","pagination":{NO_ITEMS},"error":{ERROR_MIN},"meta":{META}}}'
    response = PaginatedResponse.from_wire(text)
    assert response.data is None
    assert response.to_wire() == text


def test_paginated_response_data_must_be_a_list() -> None:
    text = f'{{"status":"success","data":{{"a":1}},"pagination":{NO_ITEMS},"meta":{META}}}'
    with pytest.raises(ValidationError):
        PaginatedResponse.from_wire(text)


def test_paginated_response_requires_pagination() -> None:
    with pytest.raises(ValidationError):
        PaginatedResponse.from_wire(f'{{"status":"success","data":[],"meta":{META}}}')


# --- §9.3 Errors ------------------------------------------------------------------------------


def test_standard_error_codes_table() -> None:
    assert dict(STANDARD_ERROR_CODES) == {
        "bad_request": 400,
        "unauthorized": 401,
        "forbidden": 403,
        "not_found": 404,
        "internal_error": 500,
    }
    assert standard_code_for_status(404) == "not_found"
    assert standard_code_for_status(500) == "internal_error"
    assert standard_code_for_status(418) is None


def test_error_code_is_free_text() -> None:
    text = ERROR_MIN.replace('"not_found"', '"rate_limited"').replace("404", "429")
    assert ApiError.from_wire(text).to_wire() == text


def test_error_details_context_any_json_sorted() -> None:
    text = ERROR_FULL.replace('{"got":5000,"max":1000}', '{"max":1000,"got":5000}')
    assert text != ERROR_FULL
    error = ApiError.from_wire(text)
    assert error.details is not None
    assert error.details.context == {"limit": {"got": 5000, "max": 1000}}
    assert error.to_wire() == ERROR_FULL


def test_error_details_context_map_with_two_keys() -> None:
    details = ErrorDetails.from_wire('{"context":{"b":[1,{"y":1,"x":2}],"a":null}}')
    written = json.loads(details.to_wire())
    assert written == {"context": {"b": [1, {"x": 2, "y": 1}], "a": None}}
    assert '{"x":2,"y":1}' in details.to_wire()


def test_error_details_null_keys_mean_unset() -> None:
    text = '{"trace":null,"context":null,"suggestions":null,"documentation_url":null}'
    assert ErrorDetails.from_wire(text).to_wire() == "{}"


@pytest.mark.parametrize("key", ["code", "message", "status_code", "timestamp"])
def test_api_error_required_keys(key: str) -> None:
    doc = json.loads(ERROR_MIN)
    del doc[key]
    with pytest.raises(ValidationError):
        ApiError.from_wire(json.dumps(doc))


@pytest.mark.parametrize("bad", [70000, -1, 400.0, "400"])
def test_api_error_status_code_is_u16(bad: object) -> None:
    doc = json.loads(ERROR_MIN)
    doc["status_code"] = bad
    with pytest.raises(ValidationError):
        ApiError.from_wire(json.dumps(doc))


def test_field_errors_values_are_string_lists() -> None:
    doc = json.loads(ERROR_FULL)
    doc["field_errors"] = {"page": "bad"}
    with pytest.raises(ValidationError):
        ApiError.from_wire(json.dumps(doc))
    doc["field_errors"] = {"page": ["bad"], "per_page": ["too big", "not an integer"]}
    written = json.loads(ApiError.from_wire(json.dumps(doc)).to_wire())
    assert written["field_errors"] == doc["field_errors"]


def test_api_error_from_issues_of_a_real_rejection() -> None:
    text = '{"page":"2","per_page":-1,"sort_order":"ASC"}'
    document = loads(text)
    with pytest.raises(ValidationError) as info:
        PaginationParams.from_wire(text)
    issues = issues_from_error(info.value, document)
    error = api_error_from_issues(issues, "invalid pagination parameters")
    assert error.code == "bad_request"
    assert error.status_code == 400
    assert error.message == "invalid pagination parameters"
    assert error.field_errors is not None
    assert sorted(error.field_errors) == ["page", "per_page", "sort_order"]
    assert all(len(reasons) == 1 and reasons[0] for reasons in error.field_errors.values())
    assert abs(datetime.now(UTC) - error.timestamp) < timedelta(seconds=5)
    written = json.loads(error.to_wire())
    assert list(written) == ["code", "message", "status_code", "field_errors", "timestamp"]


def test_api_error_from_issues_groups_reasons_by_path() -> None:
    issues = [
        FieldIssue("payload.data.ttft_ms", "must be a number"),
        FieldIssue("payload.data.ttft_ms", "must be finite"),
        FieldIssue("payload.data.ttft_ms", "must be a number"),
        FieldIssue("", "malformed JSON"),
    ]
    error = api_error_from_issues(issues, "rejected", status_code=404)
    assert error.code == "not_found"
    assert error.status_code == 404
    assert error.field_errors == {
        "payload.data.ttft_ms": ["must be a number", "must be finite"],
        DOCUMENT_PATH: ["malformed JSON"],
    }


def test_api_error_from_issues_non_standard_status_and_no_issues() -> None:
    error = api_error_from_issues([], "too many", status_code=429)
    assert error.code == "bad_request"
    assert error.status_code == 429
    assert error.field_errors is None
    assert '"field_errors"' not in error.to_wire()


# --- §9.4 QueryResult -------------------------------------------------------------------------


def test_query_result_defaults() -> None:
    text = f'{{"query_id":"{U1}","status":"success","metrics":{QUERY_METRICS}}}'
    result = QueryResult.from_wire(text)
    assert result.data is None
    assert result.warnings == []
    assert result.metrics.cache_ttl is None
    assert result.to_wire() == text[:-1] + ',"warnings":[]}'


def test_query_result_warnings_null_rejected() -> None:
    doc = json.loads(QUERY_RESULT)
    doc["warnings"] = None
    with pytest.raises(ValidationError):
        QueryResult.from_wire(json.dumps(doc))


@pytest.mark.parametrize(
    "key, bad", [("cache_ttl", 2**32), ("from_cache", "false"), ("records_scanned", 1.5)]
)
def test_query_metrics_strict(key: str, bad: object) -> None:
    doc = json.loads(QUERY_METRICS_CACHED)
    doc[key] = bad
    with pytest.raises(ValidationError):
        QueryMetrics.from_wire(json.dumps(doc))


# --- §9.5 Query result payloads ---------------------------------------------------------------


def test_api_data_point_example() -> None:
    point = ApiDataPoint.from_wire(DATA_POINT)
    assert point.timestamp == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert point.value == 1.0
    assert point.extras == {"model": "gpt-4"}


def test_api_data_point_extras_any_json_and_order() -> None:
    text = (
        '{"labels":{"b":2,"a":1},"value":3,"timestamp":"2024-01-15T10:30:00Z",'
        '"ok":true,"nothing":null}'
    )
    point = ApiDataPoint.from_wire(text)
    written = point.to_wire()
    assert written.startswith('{"timestamp":"2024-01-15T10:30:00Z","value":3.0,')
    assert '"labels":{"a":1,"b":2}' in written
    assert json.loads(written) == {
        "timestamp": TS,
        "value": 3.0,
        "labels": {"a": 1, "b": 2},
        "ok": True,
        "nothing": None,
    }


def test_api_data_point_value_required_and_f64() -> None:
    with pytest.raises(ValidationError):
        ApiDataPoint.from_wire('{"timestamp":"2024-01-15T10:30:00Z","model":"gpt-4"}')
    with pytest.raises(ValidationError):
        ApiDataPoint.from_wire('{"timestamp":"2024-01-15T10:30:00Z","value":"1.0"}')
    with pytest.raises(ValidationError):
        ApiDataPoint.from_wire('{"timestamp":"2024-01-15T10:30:00Z","value":null}')


def test_api_data_point_built_in_code() -> None:
    point = ApiDataPoint(
        timestamp=datetime(2024, 1, 15, 10, 30, tzinfo=UTC), value=1.0, model="gpt-4"
    )
    assert point.to_wire() == DATA_POINT


def test_series_data_tags_default() -> None:
    series = SeriesData.from_wire('{"name":"s","points":[]}')
    assert series.tags == {}
    assert series.to_wire() == '{"name":"s","tags":{},"points":[]}'
    with pytest.raises(ValidationError):
        SeriesData.from_wire('{"name":"s","tags":null,"points":[]}')
    with pytest.raises(ValidationError):
        SeriesData.from_wire('{"name":"s","tags":{}}')


def test_time_series_query_result_uses_time_range_object() -> None:
    result = TimeSeriesQueryResult.from_wire(TS_RESULT)
    assert isinstance(result.time_range, TimeRange)
    assert result.metrics.cache_ttl == 300
    doc = json.loads(TS_RESULT)
    doc["time_range"] = "one_hour"
    with pytest.raises(ValidationError):
        TimeSeriesQueryResult.from_wire(json.dumps(doc))


def test_aggregated_value_count_is_u64_and_floats_from_integers() -> None:
    doc = json.loads(AGG_VALUE)
    doc["min"] = 50
    assert AggregatedValue.from_wire(json.dumps(doc)).to_wire() == AGG_VALUE
    doc["count"] = 100.0
    with pytest.raises(ValidationError):
        AggregatedValue.from_wire(json.dumps(doc))


# --- §9.6 Streaming ---------------------------------------------------------------------------


def test_stream_heartbeat_example_values() -> None:
    event = StreamEvent.from_wire(STREAM_HEARTBEAT)
    assert event.event_type is StreamEventType.HEARTBEAT
    assert event.data is None
    assert event.sequence == 7


def test_stream_event_data_key_is_required_even_if_null() -> None:
    doc = json.loads(STREAM_HEARTBEAT)
    del doc["data"]
    with pytest.raises(ValidationError) as info:
        StreamEvent.from_wire(json.dumps(doc))
    assert issues_from_error(info.value, doc) == [FieldIssue("data", "required field is missing")]


def test_stream_event_built_in_code_writes_null_data() -> None:
    event = StreamEvent(
        event_id=UUID(U1),
        event_type=StreamEventType.HEARTBEAT,
        data=None,
        sequence=7,
        timestamp=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
    )
    assert event.to_wire() == STREAM_HEARTBEAT


def test_stream_event_sequence_is_u64() -> None:
    doc = json.loads(STREAM_HEARTBEAT)
    doc["sequence"] = -7
    with pytest.raises(ValidationError):
        StreamEvent.from_wire(json.dumps(doc))


def test_sse_frame_data_only() -> None:
    assert sse_frame('{"a":1}') == 'data: {"a":1}\n\n'


def test_sse_frame_all_lines_in_order() -> None:
    assert sse_frame("x", event="data", id="42", retry=3000) == (
        "event: data\nid: 42\nretry: 3000\ndata: x\n\n"
    )


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"event": "heartbeat"}, "event: heartbeat\ndata: p\n\n"),
        ({"id": "7"}, "id: 7\ndata: p\n\n"),
        ({"retry": 0}, "retry: 0\ndata: p\n\n"),
        ({"id": "7", "retry": 10}, "id: 7\nretry: 10\ndata: p\n\n"),
        ({"event": "e", "retry": 10}, "event: e\nretry: 10\ndata: p\n\n"),
    ],
)
def test_sse_frame_lines_only_when_set(kwargs: dict[str, object], expected: str) -> None:
    assert sse_frame("p", **kwargs) == expected  # type: ignore[arg-type]


def test_sse_frame_multiline_data_becomes_several_data_lines() -> None:
    assert sse_frame("a\nb\r\nc") == "data: a\ndata: b\ndata: c\n\n"


@pytest.mark.parametrize(
    "kwargs",
    [{"event": "a\nb"}, {"id": "1\r"}, {"retry": -1}, {"retry": True}, {"retry": 1.5}],
)
def test_sse_frame_rejects_bad_fields(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        sse_frame("p", **kwargs)  # type: ignore[arg-type]


def test_stream_event_to_sse() -> None:
    event = StreamEvent.from_wire(STREAM_HEARTBEAT)
    assert event.to_sse() == f"event: heartbeat\nid: {U1}\ndata: {STREAM_HEARTBEAT}\n\n"
    assert event.to_sse(retry=5000) == (
        f"event: heartbeat\nid: {U1}\nretry: 5000\ndata: {STREAM_HEARTBEAT}\n\n"
    )


# --- §9.7 Batches -----------------------------------------------------------------------------


def test_batch_values() -> None:
    batch = BatchResponse.from_wire(BATCH)
    assert batch.status is BatchStatus.PARTIAL_SUCCESS
    assert [item.status for item in batch.results] == [
        ItemStatus.SUCCESS,
        ItemStatus.FAILED,
        ItemStatus.SKIPPED,
    ]
    assert batch.results[1].item_id is None
    assert batch.results[1].error is not None
    assert batch.results[0].data == {"id": "evt-1"}


def test_batch_item_id_absent_is_written_as_null() -> None:
    item = BatchItemResult.from_wire('{"index":4,"status":"skipped"}')
    assert item.to_wire() == '{"index":4,"item_id":null,"status":"skipped"}'


@pytest.mark.parametrize("key", ["index", "status"])
def test_batch_item_required_keys(key: str) -> None:
    doc = json.loads(ITEM_SKIPPED)
    del doc[key]
    with pytest.raises(ValidationError):
        BatchItemResult.from_wire(json.dumps(doc))


@pytest.mark.parametrize("key", ["batch_id", "total_items", "success_count", "failure_count"])
def test_batch_response_required_keys(key: str) -> None:
    doc = json.loads(BATCH)
    del doc[key]
    with pytest.raises(ValidationError):
        BatchResponse.from_wire(json.dumps(doc))


def test_batch_counts_are_not_cross_checked() -> None:
    text = BATCH.replace('"success_count":1', '"success_count":9')
    assert BatchResponse.from_wire(text).to_wire() == text


# --- §3.2 unknown and duplicate keys ----------------------------------------------------------


def test_unknown_keys_ignored_in_non_catch_all_objects() -> None:
    doc = json.loads(BATCH)
    doc["extra"] = 1
    doc["results"][0]["extra"] = {"a": 1}
    assert BatchResponse.from_wire(json.dumps(doc)).to_wire() == BATCH


def test_duplicate_named_key_rejected() -> None:
    with pytest.raises(REJECTED):
        QueryMetrics.from_wire(QUERY_METRICS[:-1] + ',"from_cache":true}')


# --- numbers beyond the float range (workaround for normalize_any_json's OverflowError) --------

HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    "model, text",
    [
        (ApiResponse, f'{{"status":"success","data":[{HUGE}],"meta":{META}}}'),
        (ResponseMetadata, META[:-1] + f',"x":{{"a":-{HUGE}}}}}'),
        (ErrorDetails, f'{{"context":{{"a":{HUGE}}}}}'),
        (ApiDataPoint, f'{{"timestamp":"{TS}","value":1.0,"x":{HUGE}}}'),
        (StreamEvent, STREAM_HEARTBEAT.replace('"data":null', f'"data":{HUGE}')),
    ],
)
def test_integers_beyond_float_range_are_a_validation_error(model: type, text: str) -> None:
    with pytest.raises(ValidationError, match="number out of range"):
        model.from_wire(text)


def test_integers_beyond_64_bits_become_floats_in_any_json() -> None:
    text = (
        f'{{"status":"success","data":[18446744073709551616,-9223372036854775809],"meta":{META}}}'
    )
    expected = (
        f'{{"status":"success","data":[1.8446744073709552e19,-9.223372036854776e18],"meta":{META}}}'
    )
    assert ApiResponse.from_wire(text).to_wire() == expected
    text = (
        f'{{"status":"success","data":[18446744073709551615,-9223372036854775808],"meta":{META}}}'
    )
    assert ApiResponse.from_wire(text).to_wire() == text
