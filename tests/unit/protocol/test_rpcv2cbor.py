"""Smithy RPC v2 CBOR: every CloudWatch operation through botocore's own serializer and parser, and the
same model over its other listed protocols (json, query) through the same codec object."""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.parsers
import botocore.serialize
import pytest
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict

from nimbus.errors import ServiceError
from nimbus.protocol.cbor import Tag, dumps, loads
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.models import load_service_model

from .botocore_harness import ENDPOINT, assert_contains, example, protocol, to_http_request

SERVICE = "cloudwatch"
WIRES = ("smithy-rpc-v2-cbor", "json", "query")  # the model's ``protocols``; botocore 1.44 itself picks json


def _operations() -> list[Any]:
    return [
        pytest.param(wire, op, id=f"{wire}.{op}") for wire in WIRES for op in load_service_model(SERVICE).operation_names
    ]


def botocore_call(wire: str, operation: str, params: dict[str, Any], respond: Any) -> dict[str, Any]:
    """botocore's own serializer for ``wire`` builds the request, ``respond`` answers, botocore's parser reads it."""
    model = load_service_model(SERVICE).operation_model(operation)
    request_dict = botocore.serialize.create_serializer(wire).serialize_to_request(params, model)
    prepare_request_dict(request_dict, ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    response: HttpResponse = respond(to_http_request(prepared))
    headers = HeadersDict()
    for name, value in response.headers:
        headers[name] = value
    body = response.body if isinstance(response.body, bytes) else b""
    parsed: dict[str, Any] = botocore.parsers.create_parser(wire).parse(
        {"status_code": response.status, "headers": headers, "body": body}, model.output_shape
    )
    return parsed


@pytest.mark.parametrize(("wire", "operation"), _operations())
def test_roundtrip(wire: str, operation: str) -> None:
    proto = protocol(SERVICE).for_wire(wire)
    model = proto.operation_model(operation)
    params = example(model.input_shape) if model.input_shape is not None else {}
    output = example(model.output_shape, output=True) if model.output_shape is not None else {}
    parsed: dict[str, Any] = {}

    def respond(request: HttpRequest) -> HttpResponse:
        path_params: dict[str, str] | None = None
        if wire == "smithy-rpc-v2-cbor":
            assert request.headers["smithy-protocol"] == "rpc-v2-cbor"
            found = proto.match_request(request)
            assert found is not None
            name, path_params = found
        elif wire == "json":
            name = proto.operation_for_target(request.headers["x-amz-target"])
        else:
            name, path_params = proto.operation_for_action(request)
        assert name == operation
        parsed.update(proto.parse(operation, request, path_params, validate=False))
        return proto.serialize(operation, output, "req-1")

    result = botocore_call(wire, operation, params, respond)
    # the query protocol's form cannot carry an empty structure (botocore writes no parameter for it)
    assert_contains(_without_empty(params) if wire == "query" else params, parsed, "input")
    result.pop("ResponseMetadata", None)
    assert_contains(output, result, "output")


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v != {}}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def test_unit_output_is_an_empty_body() -> None:
    proto = protocol(SERVICE)
    response = proto.serialize("PutMetricData", None, "req-1")
    assert response.status == 200 and response.body == b""
    assert all(name.lower() != "content-type" for name, _ in response.headers)


def test_timestamps_are_tag_1_epoch_seconds() -> None:
    proto = protocol(SERVICE)
    when = dt.datetime(2026, 11, 28, 1, 2, 3, 500000, tzinfo=dt.timezone.utc)
    out = {"Datapoints": [{"Timestamp": when, "Sum": 2.0}], "Label": "x"}
    doc = loads(proto.serialize("GetMetricStatistics", out, "r").body)  # type: ignore[arg-type]
    assert doc["Datapoints"][0]["Timestamp"] == when  # the decoder turns tag 1 back into a datetime
    raw = dumps(Tag(1, when.timestamp()))
    assert raw in proto.serialize("GetMetricStatistics", out, "r").body  # type: ignore[operator]


@pytest.mark.parametrize(
    ("code", "shape", "status"),
    [("InvalidParameterValue", "InvalidParameterValueException", 400), ("ResourceNotFound", "ResourceNotFound", 404),
     ("MissingParameter", "MissingRequiredParameterException", 400)],
)
def test_modeled_errors_reach_botocore_as_their_query_codes(code: str, shape: str, status: int) -> None:
    proto = protocol(SERVICE)

    def respond(request: HttpRequest) -> HttpResponse:
        response = proto.serialize_error(ServiceError("bad value", code=code, status=status), "req-1")
        assert loads(response.body)["__type"] == f"com.amazonaws.cloudwatch#{shape}"  # type: ignore[arg-type]
        return response

    parsed = botocore_call("smithy-rpc-v2-cbor", "ListMetrics", {}, respond)
    assert parsed["Error"]["Code"] == code and parsed["Error"]["Message"] == "bad value"


def test_route_only_matches_the_rpc_path() -> None:
    proto = protocol(SERVICE)
    assert proto.match_rest("POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics", [], {}) == ("ListMetrics", {})
    assert proto.match_rest("GET", "/service/GraniteServiceVersion20100801/operation/ListMetrics", [], {}) is None
    assert proto.match_rest("POST", "/service/Other/operation/ListMetrics", [], {}) is None
    assert proto.match_rest("POST", "/service/GraniteServiceVersion20100801/operation/Nope", [], {}) is None


def test_malformed_body_is_a_serialization_error() -> None:
    proto = protocol(SERVICE)
    request = HttpRequest("POST", "/", "/", [], {}, b"\xff\x00")
    with pytest.raises(ServiceError) as info:
        proto.parse("ListMetrics", request, {})
    assert info.value.code == "SerializationException"


def test_the_same_model_over_json_and_query() -> None:
    base = ServiceProtocol(SERVICE)
    as_json = base.for_wire("json")
    as_query = base.for_wire("query")
    assert as_json is base.for_wire("json") and as_json.protocol == "json" and as_query.protocol == "query"
    body = b'{"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.5}]}'
    request = HttpRequest("POST", "/", "/", [], {"content-type": "application/x-amz-json-1.0"}, body)
    assert as_json.operation_for_target("GraniteServiceVersion20100801.PutMetricData") == "PutMetricData"
    assert as_json.parse("PutMetricData", request)["MetricData"][0]["Value"] == 1.5
    form = b"Action=PutMetricData&Version=2010-08-01&Namespace=App&MetricData.member.1.MetricName=m&MetricData.member.1.Value=2"
    request = HttpRequest("POST", "/", "/", [], {"content-type": "application/x-www-form-urlencoded"}, form)
    op, flat = as_query.operation_for_action(request)
    assert op == "PutMetricData" and as_query.parse(op, request, flat)["MetricData"][0]["Value"] == 2.0
    with pytest.raises(ValueError):
        base.for_wire("rest-xml")
