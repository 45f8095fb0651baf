"""Validation, malformed input, serialisation details and errors as botocore reads them."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from nimbus.bytestream import ByteStream
from nimbus.errors import SerializationError, ServiceError, ValidationError
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest, HttpResponse

from .botocore_harness import call

UTC = dt.timezone.utc
FIREHOSE = ServiceProtocol("firehose")
KINESIS = ServiceProtocol("kinesis")
LAMBDA = ServiceProtocol("lambda")
S3 = ServiceProtocol("s3")
LOGS = ServiceProtocol("logs")
APIGW = ServiceProtocol("apigateway")


def json_request(target: str, body: Any) -> HttpRequest:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return HttpRequest("POST", "/", "/", [], {"x-amz-target": target}, raw)


def rest_request(method: str, path: str, body: bytes = b"", query: list[tuple[str, str]] | None = None) -> HttpRequest:
    return HttpRequest(method, path, path, query or [], {}, body)


# -- validation ---------------------------------------------------------------------------------------


def test_firehose_pattern_violation_reads_like_aws() -> None:
    request = json_request("Firehose_20150804.PutRecord", {"DeliveryStreamName": "bad name!", "Record": {"Data": "eA=="}})
    with pytest.raises(ValidationError) as caught:
        FIREHOSE.parse("PutRecord", request)
    assert caught.value.code == "ValidationException"  # the framework's code, as AWS answers a model constraint
    assert caught.value.message == (
        "1 validation error detected: Value 'bad name!' at 'deliveryStreamName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )


def test_kinesis_missing_and_ranges_are_collected() -> None:
    records = [{"Data": "eA==", "PartitionKey": ""}, {"PartitionKey": "p"}]
    with pytest.raises(ValidationError) as caught:
        KINESIS.parse("PutRecords", json_request("Kinesis_20131202.PutRecords", {"StreamName": "s", "Records": records}))
    assert caught.value.code == "ValidationException"
    message = caught.value.message
    assert message.startswith("2 validation errors detected: ")
    assert "Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1" in message
    assert "Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null" in message


def test_kinesis_valid_put_records_decodes_blobs() -> None:
    body = {"StreamName": "s", "Records": [{"Data": base64.b64encode(b"\x00hi").decode(), "PartitionKey": "p"}]}
    params = KINESIS.parse("PutRecords", json_request("Kinesis_20131202.PutRecords", body))
    assert params == {"StreamName": "s", "Records": [{"Data": b"\x00hi", "PartitionKey": "p"}]}


def test_lambda_codes_missing_vs_constraint() -> None:
    body = orjson.dumps({"FunctionName": "f", "Code": {}})
    with pytest.raises(ValidationError) as missing:
        LAMBDA.parse("CreateFunction", rest_request("POST", "/2015-03-31/functions", body))
    assert missing.value.code == "InvalidParameterValueException"
    body = orjson.dumps({"MemorySize": 1})
    with pytest.raises(ValidationError) as invalid:
        LAMBDA.parse("UpdateFunctionConfiguration", rest_request("PUT", "/x", body), {"FunctionName": "f"})
    assert invalid.value.code == "ValidationException"
    assert "at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128" in invalid.value.message


def test_enum_and_list_length() -> None:
    body = {"logGroupName": "g", "logStreamName": "s", "logEvents": []}
    with pytest.raises(ValidationError) as caught:
        LOGS.parse("PutLogEvents", json_request("Logs_20140328.PutLogEvents", body))
    assert caught.value.code == "InvalidParameterException"
    assert "Member must have length greater than or equal to 1" in caught.value.message
    with pytest.raises(ValidationError) as enum:
        LAMBDA.parse("CreateFunctionUrlConfig", rest_request("POST", "/x", b'{"AuthType":"OPEN"}'), {"FunctionName": "f"})
    assert "Member must satisfy enum value set: [NONE, AWS_IAM]" in enum.value.message


def test_apigateway_uses_bad_request() -> None:
    with pytest.raises(ValidationError) as caught:
        APIGW.parse("CreateRestApi", rest_request("POST", "/restapis", b"{}"))
    assert caught.value.code == "BadRequestException"


# -- malformed bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b'{"DeliveryStreamName": 5, "Record": {"Data": "eA=="}}',
     b'{"DeliveryStreamName": "s", "Record": {"Data": "***"}}', b'{"DeliveryStreamName": "s", "Record": []}'],
)
def test_json_malformed_is_serialization_exception(body: bytes) -> None:
    with pytest.raises(SerializationError) as caught:
        FIREHOSE.parse("PutRecord", json_request("Firehose_20150804.PutRecord", body))
    assert caught.value.code == "SerializationException"


def test_wrong_scalar_type_is_serialization_error() -> None:
    body = {"StreamName": "s", "ShardCount": "two"}
    with pytest.raises(SerializationError):
        KINESIS.parse("CreateStream", json_request("Kinesis_20131202.CreateStream", body))


def test_lambda_bad_json_is_invalid_request_content() -> None:
    with pytest.raises(SerializationError) as caught:
        LAMBDA.parse("CreateFunction", rest_request("POST", "/2015-03-31/functions", b"{oops"))
    assert caught.value.code == "InvalidRequestContentException"


@pytest.mark.parametrize("body", [b"<Delete><Object><Key>k</Key></Object>", b"not xml", b'<!DOCTYPE x [<!ENTITY a "b">]><Delete/>'])
def test_s3_malformed_xml(body: bytes) -> None:
    with pytest.raises(SerializationError) as caught:
        S3.parse("DeleteObjects", rest_request("POST", "/b", body, [("delete", "")]), {"Bucket": "b"})
    assert caught.value.code == "MalformedXML" and caught.value.status == 400


def test_s3_bad_integer_query() -> None:
    request = rest_request("PUT", "/b/k", b"x", [("partNumber", "one"), ("uploadId", "u")])
    with pytest.raises(SerializationError):
        S3.parse("UploadPart", request, {"Bucket": "b", "Key": "k"})


def test_s3_streaming_payload_is_passed_through() -> None:
    stream = ByteStream.from_bytes(b"data")
    request = HttpRequest("PUT", "/b/k", "/b/k", [], {"x-amz-meta-color": "red", "content-type": "text/plain"}, stream)
    params = S3.parse("PutObject", request, {"Bucket": "b", "Key": "k"})
    assert params["Body"] is stream
    assert params["Metadata"] == {"color": "red"} and params["ContentType"] == "text/plain"


def test_s3_xml_input_with_namespace() -> None:
    body = (
        b'<?xml version="1.0"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\"b\"</ETag></Part>"
        b"</CompleteMultipartUpload>"
    )
    request = rest_request("POST", "/b/k", body, [("uploadId", "u")])
    params = S3.parse("CompleteMultipartUpload", request, {"Bucket": "b", "Key": "k"})
    assert params["MultipartUpload"] == {"Parts": [{"PartNumber": 1, "ETag": '"a"'}, {"PartNumber": 2, "ETag": '"b"'}]}
    assert params["UploadId"] == "u"


# -- serialisation -----------------------------------------------------------------------------------


def test_json_output_shape() -> None:
    response = KINESIS.serialize(
        "DescribeStreamSummary",
        {"StreamDescriptionSummary": {"StreamName": "s", "StreamCreationTimestamp": dt.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=UTC), "KeyId": None}},
        "rid",
    )
    assert ("Content-Type", "application/x-amz-json-1.1") in response.headers
    assert ("x-amzn-RequestId", "rid") in response.headers
    assert orjson.loads(response.body) == {"StreamDescriptionSummary": {"StreamName": "s", "StreamCreationTimestamp": 1704067200.5}}  # type: ignore[arg-type]
    assert FIREHOSE.serialize("DeleteDeliveryStream", None, "rid").body == b"{}"
    assert orjson.loads(KINESIS.serialize("GetRecords", {"Records": [{"Data": b"\x01", "SequenceNumber": "1", "PartitionKey": "p"}]}, "r").body)["Records"][0]["Data"] == "AQ=="  # type: ignore[arg-type]


def test_s3_xml_output_document() -> None:
    response = S3.serialize(
        "ListObjectsV2",
        {"Name": "b", "KeyCount": 1, "IsTruncated": False,
         "Contents": [{"Key": "a&b", "LastModified": dt.datetime(2009, 10, 12, 17, 50, 30, tzinfo=UTC), "Size": 3}]},
        "rid",
    )
    body = response.body
    assert isinstance(body, bytes)
    assert b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' in body
    assert b"<Contents><Key>a&amp;b</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>" in body
    assert b"<IsTruncated>false</IsTruncated>" in body
    assert ("x-amz-request-id", "rid") in response.headers and any(h == "x-amz-id-2" for h, _ in response.headers)


def test_rest_headers_status_and_stream_payload() -> None:
    async def chunks() -> Any:
        yield b"a"

    response = S3.serialize("GetObject", {"Body": chunks(), "ContentLength": 1, "LastModified": dt.datetime(2024, 1, 2, tzinfo=UTC), "Metadata": {"k": "v"}}, "r")
    headers = dict(response.headers)
    assert headers["Last-Modified"] == "Tue, 02 Jan 2024 00:00:00 GMT" and headers["x-amz-meta-k"] == "v"
    assert not isinstance(response.body, bytes)
    invoked = LAMBDA.serialize("Invoke", {"StatusCode": 202, "Payload": b""}, "r")
    assert invoked.status == 202
    assert LAMBDA.serialize("CreateFunction", {"FunctionName": "f"}, "r").status == 201


# -- errors through botocore ----------------------------------------------------------------------------


def _error_via_botocore(service: str, operation: str, params: dict[str, Any], error: ServiceError, *, head: bool = False) -> ClientError:
    proto = ServiceProtocol(service)

    def respond(request: HttpRequest) -> HttpResponse:
        return proto.serialize_error(error, "req-9", head=head)

    with pytest.raises(ClientError) as caught:
        call(service, operation, params, respond)
    return caught.value


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("firehose", "describe_delivery_stream", {"DeliveryStreamName": "s"}),
        ("kinesis", "describe_stream", {"StreamName": "s"}),
        ("logs", "describe_log_groups", {}),
        ("lambda", "get_function", {"FunctionName": "f"}),
        ("apigateway", "get_rest_api", {"restApiId": "a"}),
        ("apigatewayv2", "get_api", {"ApiId": "a"}),
        ("s3", "get_object", {"Bucket": "b", "Key": "k"}),
    ],
)
def test_errors_parse_in_botocore(service: str, operation: str, params: dict[str, Any]) -> None:
    error = ServiceError("Thing not found: s", code="ResourceNotFoundException", status=404, Extra="x")
    caught = _error_via_botocore(service, operation, params, error)
    assert caught.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.response["Error"]["Message"] == "Thing not found: s"
    assert caught.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.response["ResponseMetadata"]["RequestId"] == "req-9"


def test_s3_error_fields_and_head() -> None:
    caught = _error_via_botocore("s3", "get_object", {"Bucket": "b", "Key": "k"}, ServiceError("The specified bucket does not exist", code="NoSuchBucket", status=404, BucketName="b"))
    assert caught.response["Error"]["BucketName"] == "b"
    assert caught.response["ResponseMetadata"]["HostId"]
    head = _error_via_botocore("s3", "head_object", {"Bucket": "b", "Key": "k"}, ServiceError("nope", code="NoSuchKey", status=404), head=True)
    assert head.response["Error"]["Code"] == "404"


def test_lambda_modeled_error_fields() -> None:
    error = ServiceError("Function not found: f", code="ResourceNotFoundException", status=404)
    caught = _error_via_botocore("lambda", "get_function", {"FunctionName": "f"}, error)
    assert caught.response["Type"] == "User" and caught.response["Message"] == "Function not found: f"
