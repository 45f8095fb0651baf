"""REST routing: the operation and labels of requests as botocore really sends them."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest, HttpResponse

from .botocore_harness import call

S3 = ServiceProtocol("s3")
LAMBDA = ServiceProtocol("lambda")
UUID = "6d9bce8e-836b-442c-8070-74e77903c815"


def sent(service: str, operation: str, **params: Any) -> HttpRequest:
    """The HttpRequest botocore builds for ``client.<operation>(**params)``."""
    seen: list[HttpRequest] = []

    def respond(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(status=200, body=b"")

    try:
        call(service, operation, params, respond)
    except Exception:  # noqa: BLE001 - some outputs cannot be parsed from an empty body; the request is what we want
        pass
    return seen[0]


def route(proto: ServiceProtocol, request: HttpRequest) -> tuple[str, dict[str, str]] | None:
    return proto.match_request(request)


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("list_objects_v2", {"Bucket": "b"}, "ListObjectsV2"),
        ("list_objects", {"Bucket": "b"}, "ListObjects"),
        ("put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}, "PutObject"),
        ("copy_object", {"Bucket": "b", "Key": "k", "CopySource": "src/k"}, "CopyObject"),
        ("upload_part", {"Bucket": "b", "Key": "k", "PartNumber": 1, "UploadId": "u", "Body": b"x"}, "UploadPart"),
        (
            "upload_part_copy",
            {"Bucket": "b", "Key": "k", "PartNumber": 1, "UploadId": "u", "CopySource": "src/k"},
            "UploadPartCopy",
        ),
        ("create_multipart_upload", {"Bucket": "b", "Key": "k"}, "CreateMultipartUpload"),
        (
            "complete_multipart_upload",
            {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": "e"}]}},
            "CompleteMultipartUpload",
        ),
        ("abort_multipart_upload", {"Bucket": "b", "Key": "k", "UploadId": "u"}, "AbortMultipartUpload"),
        ("list_parts", {"Bucket": "b", "Key": "k", "UploadId": "u"}, "ListParts"),
        ("list_multipart_uploads", {"Bucket": "b"}, "ListMultipartUploads"),
        ("delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}}, "DeleteObjects"),
        ("delete_object", {"Bucket": "b", "Key": "k"}, "DeleteObject"),
        ("get_object", {"Bucket": "b", "Key": "k"}, "GetObject"),
        ("get_object_tagging", {"Bucket": "b", "Key": "k"}, "GetObjectTagging"),
        ("head_object", {"Bucket": "b", "Key": "k"}, "HeadObject"),
        ("head_bucket", {"Bucket": "b"}, "HeadBucket"),
        ("create_bucket", {"Bucket": "b"}, "CreateBucket"),
        ("delete_bucket", {"Bucket": "b"}, "DeleteBucket"),
        ("get_bucket_tagging", {"Bucket": "b"}, "GetBucketTagging"),
        ("get_bucket_location", {"Bucket": "b"}, "GetBucketLocation"),
        ("list_buckets", {}, "ListBuckets"),
        ("put_bucket_notification_configuration", {"Bucket": "b", "NotificationConfiguration": {}}, "PutBucketNotificationConfiguration"),
    ],
)
def test_s3_operations_route_as_botocore_sends_them(operation: str, params: dict[str, Any], expected: str) -> None:
    found = route(S3, sent("s3", operation, **params))
    assert found is not None and found[0] == expected
    assert found[1].get("Bucket", "b") == "b"


@pytest.mark.parametrize("key", ["a/b/c.txt", "with space", "ünïcødé/ключ", "100%", "a%2Fb", "dir/", "+plus~", "a//b"])
def test_s3_keys_survive_routing(key: str) -> None:
    request = sent("s3", "get_object", Bucket="bucket", Key=key)
    assert route(S3, request) == ("GetObject", {"Bucket": "bucket", "Key": key})
    params = S3.parse("GetObject", request, {"Bucket": "bucket", "Key": key})
    assert params["Key"] == key


def test_s3_route_on_decoded_path_keeps_values_as_given() -> None:
    assert S3.match_rest("GET", "/b/a b/c", [], {}) == ("GetObject", {"Bucket": "b", "Key": "a b/c"})
    assert S3.match_rest("GET", "/b", [("list-type", "2"), ("prefix", "p")], {}) == ("ListObjectsV2", {"Bucket": "b"})
    assert S3.match_rest("GET", "/b/", [], {}) == ("ListObjects", {"Bucket": "b"})
    assert S3.match_rest("PUT", "/b/k", [], {"x-amz-copy-source": "s/k"})[0] == "CopyObject"  # type: ignore[index]
    assert S3.match_rest("PUT", "/b/k", [("partNumber", "1"), ("uploadId", "u")], {})[0] == "UploadPart"  # type: ignore[index]
    assert S3.match_rest("POST", "/b/k", [("uploads", "")], {})[0] == "CreateMultipartUpload"  # type: ignore[index]
    assert S3.match_rest("POST", "/b/k", [("uploadId", "u")], {})[0] == "CompleteMultipartUpload"  # type: ignore[index]
    assert S3.match_rest("POST", "/b", [("delete", "")], {})[0] == "DeleteObjects"  # type: ignore[index]
    assert S3.match_rest("PATCH", "/b", [], {}) is None


def test_s3_encoded_slash_in_raw_path_stays_in_key() -> None:
    assert S3.match_rest("GET", "/b/a/b", [], {}, raw_path="/b/a%2Fb") == ("GetObject", {"Bucket": "b", "Key": "a/b"})
    assert S3.match_rest("GET", "/b/100%", [], {}, raw_path="/b/100%25") == ("GetObject", {"Bucket": "b", "Key": "100%"})


@pytest.mark.parametrize(
    ("operation", "params", "expected", "labels"),
    [
        ("invoke", {"FunctionName": "fn", "Payload": b"{}"}, "Invoke", {"FunctionName": "fn"}),
        ("invoke_async", {"FunctionName": "fn", "InvokeArgs": b"{}"}, "InvokeAsync", {"FunctionName": "fn"}),
        ("get_function", {"FunctionName": "fn"}, "GetFunction", {"FunctionName": "fn"}),
        ("get_function_configuration", {"FunctionName": "fn"}, "GetFunctionConfiguration", {"FunctionName": "fn"}),
        (
            "get_function",
            {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:fn:live"},
            "GetFunction",
            {"FunctionName": "arn:aws:lambda:us-east-1:000000000000:function:fn:live"},
        ),
        ("create_function_url_config", {"FunctionName": "fn", "AuthType": "NONE"}, "CreateFunctionUrlConfig", {"FunctionName": "fn"}),
        ("get_function_url_config", {"FunctionName": "fn"}, "GetFunctionUrlConfig", {"FunctionName": "fn"}),
        ("list_layer_versions", {"LayerName": "lay"}, "ListLayerVersions", {"LayerName": "lay"}),
        ("get_layer_version", {"LayerName": "lay", "VersionNumber": 3}, "GetLayerVersion", {"LayerName": "lay", "VersionNumber": "3"}),
        ("get_layer_version_by_arn", {"Arn": "arn:aws:lambda:us-east-1:000000000000:layer:lay:3"}, "GetLayerVersionByArn", {}),
        ("list_layers", {}, "ListLayers", {}),
        ("create_event_source_mapping", {"FunctionName": "fn", "EventSourceArn": "arn:aws:kinesis:us-east-1:0:stream/s"}, "CreateEventSourceMapping", {}),
        ("get_event_source_mapping", {"UUID": UUID}, "GetEventSourceMapping", {"UUID": UUID}),
        ("list_event_source_mappings", {}, "ListEventSourceMappings", {}),
        ("put_function_event_invoke_config", {"FunctionName": "fn"}, "PutFunctionEventInvokeConfig", {"FunctionName": "fn"}),
        ("get_function_concurrency", {"FunctionName": "fn"}, "GetFunctionConcurrency", {"FunctionName": "fn"}),
        ("put_function_concurrency", {"FunctionName": "fn", "ReservedConcurrentExecutions": 1}, "PutFunctionConcurrency", {"FunctionName": "fn"}),
        ("list_functions", {}, "ListFunctions", {}),
        ("list_versions_by_function", {"FunctionName": "fn"}, "ListVersionsByFunction", {"FunctionName": "fn"}),
        ("get_alias", {"FunctionName": "fn", "Name": "live"}, "GetAlias", {"FunctionName": "fn", "Name": "live"}),
    ],
)
def test_lambda_routing(operation: str, params: dict[str, Any], expected: str, labels: dict[str, str]) -> None:
    assert route(LAMBDA, sent("lambda", operation, **params)) == (expected, labels)


def test_lambda_trailing_slash_and_unknown_paths() -> None:
    assert LAMBDA.match_rest("POST", "/2014-11-13/functions/fn/invoke-async", [], {}) == ("InvokeAsync", {"FunctionName": "fn"})
    assert LAMBDA.match_rest("GET", "/2015-03-31/nothing-here", [], {}) is None


def test_json_targets() -> None:
    firehose = ServiceProtocol("firehose")
    assert firehose.operation_for_target("Firehose_20150804.PutRecord") == "PutRecord"
    assert firehose.operation_for_target("Firehose_20150804.Nope") is None
    assert firehose.operation_for_target("Kinesis_20131202.PutRecord") is None
    assert firehose.operation_for_target("PutRecord") is None
    assert ServiceProtocol("logs").operation_for_target("Logs_20140328.PutLogEvents") == "PutLogEvents"


def test_streaming_inputs() -> None:
    assert S3.is_streaming_input("PutObject") and S3.is_streaming_input("UploadPart")
    assert not S3.is_streaming_input("CompleteMultipartUpload")
    assert not LAMBDA.is_streaming_input("Invoke")  # blob payload, but not marked streaming
    assert LAMBDA.is_streaming_input("InvokeAsync")
    assert S3.output_is_streaming("GetObject") and not S3.output_is_streaming("ListObjectsV2")
