"""Headers whose enum S3 checks itself answer S3's own error (code, message, extra elements), not the
framework's "1 validation error detected"; a body member of the same shape keeps the generic answer."""

from __future__ import annotations

import pytest

from nimbus.errors import ServiceError, ValidationError
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.errors import serialize_error
from nimbus.protocol.http import HttpRequest

S3 = ServiceProtocol("s3")
KEY = {"Bucket": "b", "Key": "dst"}


def copy_request(**headers: str) -> HttpRequest:
    return HttpRequest("PUT", "/b/dst", "/b/dst", [], {"x-amz-copy-source": "b/src", **headers}, b"")


@pytest.mark.parametrize(("header", "value", "code", "message", "fields"), [
    ("x-amz-metadata-directive", "MERGE", "InvalidArgument", "Unknown metadata directive.",
     {"ArgumentName": "x-amz-metadata-directive", "ArgumentValue": "MERGE"}),
    ("x-amz-tagging-directive", "copy", "InvalidArgument", "Unknown tagging directive.",
     {"ArgumentName": "x-amz-tagging-directive", "ArgumentValue": "copy"}),
    ("x-amz-storage-class", "FAST", "InvalidStorageClass", "The storage class you specified is not valid",
     {"StorageClassRequested": "FAST"}),
])
def test_copy_object_header_enums(header: str, value: str, code: str, message: str, fields: dict[str, str]) -> None:
    with pytest.raises(ServiceError) as caught:
        S3.parse("CopyObject", copy_request(**{header: value}), KEY)
    error = caught.value
    assert (error.code, error.status, error.message, error.fields) == (code, 400, message, fields)
    body = serialize_error("rest-xml", error, "req").body.decode()
    extra = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    assert f"<Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>req</RequestId>" in body


def test_valid_header_values_pass() -> None:
    params = S3.parse("CopyObject", copy_request(**{
        "x-amz-metadata-directive": "REPLACE", "x-amz-tagging-directive": "COPY", "x-amz-storage-class": "GLACIER_IR",
    }), KEY)
    assert (params["MetadataDirective"], params["TaggingDirective"], params["StorageClass"]) == ("REPLACE", "COPY", "GLACIER_IR")


def test_put_object_and_multipart_storage_class() -> None:
    for operation, request in (
        ("PutObject", HttpRequest("PUT", "/b/k", "/b/k", [], {"x-amz-storage-class": "fast"}, b"x")),
        ("CreateMultipartUpload", HttpRequest("POST", "/b/k", "/b/k", [("uploads", "")], {"x-amz-storage-class": "fast"}, b"")),
    ):
        with pytest.raises(ServiceError) as caught:
            S3.parse(operation, request, KEY)
        assert caught.value.code == "InvalidStorageClass"
        assert caught.value.fields == {"StorageClassRequested": "fast"}


def test_a_body_member_of_the_same_shape_is_a_schema_error() -> None:
    # PutBucketReplication's Destination.StorageClass is not S3's header check (InvalidStorageClass): a value
    # outside the enum inside the XML document is S3's MalformedXML, as S3 validates documents against its schema
    xml = (b'<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><Status>Enabled</Status>'
           b'<Destination><Bucket>arn:aws:s3:::d</Bucket><StorageClass>FAST</StorageClass></Destination>'
           b'</Rule></ReplicationConfiguration>')
    request = HttpRequest("PUT", "/b", "/b", [("replication", "")], {}, xml)
    with pytest.raises(ValidationError) as caught:
        S3.parse("PutBucketReplication", request, {"Bucket": "b"})
    assert caught.value.code == "MalformedXML"
    assert caught.value.message == "The XML you provided was not well-formed or did not validate against our published schema"
    assert caught.value.fields == {}
