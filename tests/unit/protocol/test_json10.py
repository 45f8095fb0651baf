"""JSON 1.0 (awsJson1_0): no served model uses it (Firehose, Kinesis and Logs are 1.1), so the codec is
checked with botocore's own 1.0 models (DynamoDB, SQS, Step Functions): every operation both ways
through real botocore clients, the 1.0 content type, and errors botocore parses."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from nimbus.errors import ServiceError
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.models import load_service_model

from .botocore_harness import assert_contains, call, example, protocol

SERVICES = ("dynamodb", "sqs", "stepfunctions")
def _cases() -> list[Any]:
    return [pytest.param(s, op, id=f"{s}.{op}") for s in SERVICES for op in load_service_model(s).operation_names]


@pytest.mark.parametrize(("service", "operation"), _cases())
def test_roundtrip(service: str, operation: str) -> None:
    proto = protocol(service)
    assert proto.json_version == "1.0"
    model = proto.operation_model(operation)
    params = example(model.input_shape) if model.input_shape is not None else {}
    output = example(model.output_shape, output=True) if model.output_shape is not None else {}
    parsed: dict[str, Any] = {}
    seen: dict[str, Any] = {}

    def respond(request: HttpRequest) -> HttpResponse:
        assert request.headers["content-type"] == "application/x-amz-json-1.0"
        assert proto.operation_for_target(request.headers["x-amz-target"]) == operation
        parsed.update(proto.parse(operation, request, None, validate=False))
        response = proto.serialize(operation, output, "req-1")
        seen["headers"] = dict(response.headers)
        return response

    result, _ = call(service, xform_name(operation), params, respond)
    assert_contains(params, parsed, "input")
    result.pop("ResponseMetadata")
    assert_contains(output, result, "output")
    assert seen["headers"].get("Content-Type") == "application/x-amz-json-1.0"


@pytest.mark.parametrize(("service", "operation", "params", "code"), [
    ("dynamodb", "describe_table", {"TableName": "t"}, "ResourceNotFoundException"),
    ("sqs", "get_queue_url", {"QueueName": "q"}, "QueueDoesNotExist"),
    ("stepfunctions", "describe_state_machine", {"stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:m"}, "StateMachineDoesNotExist"),
])
def test_errors_parse_in_botocore(service: str, operation: str, params: dict[str, Any], code: str) -> None:
    proto = protocol(service)

    def respond(request: HttpRequest) -> HttpResponse:
        response = proto.serialize_error(ServiceError("not there", code=code, status=400), "req-9")
        assert dict(response.headers).get("Content-Type") == "application/x-amz-json-1.0"
        return response

    with pytest.raises(ClientError) as caught:
        call(service, operation, params, respond)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"] == "not there"
    assert caught.value.response["ResponseMetadata"]["RequestId"] == "req-9"
