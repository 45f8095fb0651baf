"""S3 statuses the botocore model does not state: 206 for ranged GetObject, no body on 304."""

from __future__ import annotations

from nimbus.errors import ServiceError
from nimbus.protocol.dispatch import ServiceProtocol

S3 = ServiceProtocol("s3")


def test_ranged_get_object_answers_206() -> None:
    full = S3.serialize("GetObject", {"Body": b"abc", "ContentLength": 3}, "rid")
    assert full.status == 200
    ranged = S3.serialize("GetObject", {"Body": b"b", "ContentLength": 1, "ContentRange": "bytes 1-1/3"}, "rid")
    assert ranged.status == 206
    assert ("Content-Range", "bytes 1-1/3") in ranged.headers


def test_not_modified_has_no_body() -> None:
    resp = S3.serialize_error(ServiceError("Not Modified", code="NotModified", status=304, headers={"ETag": '"x"'}), "rid")
    assert resp.status == 304 and resp.body == b""
    assert ("ETag", '"x"') in resp.headers
