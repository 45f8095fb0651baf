"""Fidelity audit: answers where Nimbus differed from what AWS S3 sends a boto3 user, against a real server.

Each test names the AWS behaviour it pins (error code, status, header or element) and the case that
showed the difference: partNumber reads, copy onto itself, UploadPartCopy ranges, tagging limits,
continuation tokens, ListMultipartUploads encoding and conditional-write errors."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

MiB = 1024 * 1024


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    return dict(excinfo.value.response["Error"])


def status_of(excinfo: pytest.ExceptionInfo[ClientError]) -> int:
    return int(excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.fixture(scope="module")
def s3(nimbus_server: NimbusProcess) -> Any:
    return nimbus_server.client("s3")


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="fidelity")
    return "fidelity"


@pytest.fixture(scope="module")
def multipart_key(s3: Any, bucket: str) -> str:
    """A two-part object: 5 MiB of ``a`` then 100 bytes of ``b``."""
    key = "mp/two-parts"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"a" * 5 * MiB)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"b" * 100)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    return key


# -- GetObject / HeadObject partNumber -----------------------------------------------------------------------


def test_part_number_past_the_last_part_is_invalid_part_number(s3: Any, bucket: str, multipart_key: str) -> None:
    # AWS: 416 InvalidPartNumber "The requested partnumber is not satisfiable" with PartNumberRequested and
    # ActualPartCount (Nimbus answered InvalidRange); a plain object has one part.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=multipart_key, PartNumber=3)
    assert status_of(e) == 416
    err = error_of(e)
    assert err["Code"] == "InvalidPartNumber"
    assert err["Message"] == "The requested partnumber is not satisfiable"
    assert (err["PartNumberRequested"], err["ActualPartCount"]) == ("3", "2")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"0123456789")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert status_of(e) == 416 and error_of(e)["Code"] == "InvalidPartNumber" and error_of(e)["ActualPartCount"] == "1"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=multipart_key, PartNumber=3)
    assert status_of(e) == 416


def test_range_with_part_number_is_invalid_request(s3: Any, bucket: str, multipart_key: str) -> None:
    # AWS refuses the pair (Nimbus silently ignored the Range)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key=multipart_key, PartNumber=1, Range="bytes=0-9")
    assert status_of(e) == 400
    assert error_of(e)["Code"] == "InvalidRequest"
    assert error_of(e)["Message"] == "Cannot specify both Range header and partNumber query parameter"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=multipart_key, PartNumber=1, Range="bytes=0-9")
    assert status_of(e) == 400


def test_parts_count_only_with_part_number_and_head_part_has_content_range(s3: Any, bucket: str, multipart_key: str) -> None:
    # AWS: x-amz-mp-parts-count "is only returned if you specify partNumber in your request" (Nimbus sent it
    # on every read of a multipart object); a HEAD of a part says which bytes it covers, as GET does.
    total = 5 * MiB + 100
    whole = s3.head_object(Bucket=bucket, Key=multipart_key)
    assert "PartsCount" not in whole and "ContentRange" not in whole
    assert "PartsCount" not in s3.get_object(Bucket=bucket, Key=multipart_key, Range="bytes=0-0")
    head = s3.head_object(Bucket=bucket, Key=multipart_key, PartNumber=2)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206  # as a GET of the part
    assert head["PartsCount"] == 2 and head["ContentLength"] == 100
    assert head["ContentRange"] == f"bytes {5 * MiB}-{total - 1}/{total}"
    ranged = s3.head_object(Bucket=bucket, Key=multipart_key, Range="bytes=0-9")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206 and ranged["ContentRange"] == f"bytes 0-9/{total}"
    assert ranged["ContentLength"] == 10
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_object(Bucket=bucket, Key=multipart_key, PartNumber=1)
    assert got["PartsCount"] == 2 and got["ContentRange"] == f"bytes 0-{5 * MiB - 1}/{total}"
    assert got["Body"].read() == b"a" * 5 * MiB


# -- CopyObject onto itself ----------------------------------------------------------------------------------


def test_copy_onto_itself_changing_encryption_or_redirect_is_allowed(s3: Any, bucket: str) -> None:
    # AWS refuses a copy onto itself only when it changes nothing of "metadata, storage class, website
    # redirect location or encryption attributes": an SSE header or a redirect location is a change.
    s3.put_object(Bucket=bucket, Key="self", Body=b"same", Metadata={"m": "1"}, ContentType="text/plain")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error_of(e)["Code"] == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"}, ServerSideEncryption="AES256")
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"}, WebsiteRedirectLocation="/elsewhere")
    head = s3.head_object(Bucket=bucket, Key="self")
    assert head["WebsiteRedirectLocation"] == "/elsewhere"
    assert head["Metadata"] == {"m": "1"} and head["ContentType"] == "text/plain"  # COPY kept the rest
    assert s3.get_object(Bucket=bucket, Key="self")["Body"].read() == b"same"


# -- UploadPartCopy ------------------------------------------------------------------------------------------


def test_upload_part_copy_range_past_the_source_is_invalid_argument(s3: Any, bucket: str) -> None:
    # AWS: 400 InvalidArgument "Range specified is not valid for source object of size: N" (Nimbus: 416 InvalidRange)
    s3.put_object(Bucket=bucket, Key="upc-src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="upc-dst")["UploadId"]
    try:
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=bucket, Key="upc-dst", UploadId=uid, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "upc-src"}, CopySourceRange="bytes=0-10")
        assert status_of(e) == 400
        err = error_of(e)
        assert err["Code"] == "InvalidArgument"
        assert err["Message"] == "Range specified is not valid for source object of size: 10"
        assert err["ArgumentName"] == "x-amz-copy-source-range"
        part = s3.upload_part_copy(Bucket=bucket, Key="upc-dst", UploadId=uid, PartNumber=1,
                                   CopySource={"Bucket": bucket, "Key": "upc-src"}, CopySourceRange="bytes=2-9")
        assert part["CopyPartResult"]["ETag"].startswith('"')
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="upc-dst", UploadId=uid)


# -- header enums S3 checks itself ---------------------------------------------------------------------------


def test_unknown_copy_directives_and_storage_classes_use_s3_errors(s3: Any, bucket: str) -> None:
    # S3 answers these enum headers with its own code and words, not the framework's "1 validation error
    # detected" (botocore does not check enums, so the values reach the server as sent)
    s3.put_object(Bucket=bucket, Key="enum/src", Body=b"x")
    source = f"{bucket}/enum/src"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="enum/dst", CopySource=source, MetadataDirective="MERGE")
    assert status_of(e) == 400
    assert {k: v for k, v in error_of(e).items() if k not in ("RequestId", "HostId")} == {
        "Code": "InvalidArgument", "Message": "Unknown metadata directive.",
        "ArgumentName": "x-amz-metadata-directive", "ArgumentValue": "MERGE",
    }
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="enum/dst", CopySource=source, TaggingDirective="replace")  # case counts
    assert status_of(e) == 400
    assert {k: v for k, v in error_of(e).items() if k not in ("RequestId", "HostId")} == {
        "Code": "InvalidArgument", "Message": "Unknown tagging directive.",
        "ArgumentName": "x-amz-tagging-directive", "ArgumentValue": "replace",
    }
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="enum/put", Body=b"x", StorageClass="FAST"),
        lambda: s3.copy_object(Bucket=bucket, Key="enum/dst", CopySource=source, StorageClass="FAST"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="enum/mp", StorageClass="FAST"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert status_of(e) == 400
        assert {k: v for k, v in error_of(e).items() if k not in ("RequestId", "HostId")} == {
            "Code": "InvalidStorageClass", "Message": "The storage class you specified is not valid",
            "StorageClassRequested": "FAST",
        }
    for key in ("enum/dst", "enum/put"):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=key)
        assert status_of(e) == 404  # nothing was written
    # the model's values still pass
    s3.copy_object(Bucket=bucket, Key="enum/dst", CopySource=source, MetadataDirective="REPLACE",
                   TaggingDirective="REPLACE", StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="enum/dst")["StorageClass"] == "STANDARD_IA"

# -- tagging -------------------------------------------------------------------------------------------------


def test_tagging_errors_use_aws_codes(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x")
    eleven = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
    # AWS: "BadRequest: Object tags cannot be greater than 10", by PutObjectTagging and by x-amz-tagging
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging=eleven)
    assert status_of(e) == 400
    assert (error_of(e)["Code"], error_of(e)["Message"]) == ("BadRequest", "Object tags cannot be greater than 10")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="tagged2", Body=b"x", Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert error_of(e)["Code"] == "BadRequest"
    # AWS: InvalidTag for a key given twice in a TagSet (Nimbus: InvalidArgument)
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
    assert (error_of(e)["Code"], error_of(e)["Message"]) == ("InvalidTag", "Cannot provide multiple Tags with the same key")
    # ... and InvalidArgument for a key given twice in x-amz-tagging (Nimbus kept the last value)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="tagged3", Body=b"x", Tagging="a=1&a=2")
    assert error_of(e)["Code"] == "InvalidArgument"
    assert "tag name duplicates" in error_of(e)["Message"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="tagged3")


# -- listing -------------------------------------------------------------------------------------------------


def test_a_continuation_token_nimbus_never_issued_is_refused(s3: Any, bucket: str) -> None:
    # AWS: 400 InvalidArgument "The continuation token provided is incorrect" (Nimbus listed from the start)
    for token in ("!!!", "not a token"):
        with pytest.raises(ClientError) as e:
            s3.list_objects_v2(Bucket=bucket, ContinuationToken=token)
        assert status_of(e) == 400
        assert error_of(e)["Code"] == "InvalidArgument"
        assert error_of(e)["Message"] == "The continuation token provided is incorrect"


def test_list_multipart_uploads_encodes_the_key_marker(s3: Any, bucket: str) -> None:
    # AWS encodes Delimiter, KeyMarker, Prefix, NextKeyMarker and Key with encoding-type=url (KeyMarker was raw)
    uids = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in ("lmu/a b", "lmu/c d")]
    try:
        out = s3.list_multipart_uploads(Bucket=bucket, Prefix="lmu/", KeyMarker="lmu/a b", EncodingType="url")
        assert out["EncodingType"] == "url"
        # S3 writes a space as "+" here, Nimbus as "%20": botocore (and any form decoder) reads both alike
        assert out["KeyMarker"] != "lmu/a b" and unquote_plus(out["KeyMarker"]) == "lmu/a b"
        assert [unquote_plus(u["Key"]) for u in out["Uploads"]] == ["lmu/c d"] != [u["Key"] for u in out["Uploads"]]
    finally:
        for key, uid in zip(("lmu/a b", "lmu/c d"), uids):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


# -- conditional writes --------------------------------------------------------------------------------------


def test_put_if_match_on_a_missing_key_names_the_key(s3: Any, bucket: str) -> None:
    # AWS: 404 NoSuchKey with <Key> (Nimbus left the element empty)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="never-written", Body=os.urandom(8), IfMatch='"0123"')
    assert status_of(e) == 404
    assert error_of(e)["Code"] == "NoSuchKey" and error_of(e)["Key"] == "never-written"


# -- multipart validation ------------------------------------------------------------------------------------


def test_complete_multipart_upload_refuses_part_number_zero_and_a_part_without_etag(s3: Any, bucket: str) -> None:
    # AWS: PartNumber 0 is InvalidArgument "PartNumber must be >= 1" (Nimbus: InvalidPartOrder), a part
    # without an ETag MalformedXML (Nimbus: InvalidPart); either way the upload stays
    uid = s3.create_multipart_upload(Bucket=bucket, Key="cmu-check")["UploadId"]
    try:
        etag = s3.upload_part(Bucket=bucket, Key="cmu-check", UploadId=uid, PartNumber=1, Body=b"one")["ETag"]
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="cmu-check", UploadId=uid,
                                         MultipartUpload={"Parts": [{"PartNumber": 0, "ETag": etag}]})
        assert status_of(e) == 400
        err = error_of(e)
        assert (err["Code"], err["Message"]) == ("InvalidArgument", "PartNumber must be >= 1")
        assert (err["ArgumentName"], err["ArgumentValue"]) == ("PartNumber", "0")
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="cmu-check", UploadId=uid, MultipartUpload={"Parts": [{"PartNumber": 1}]})
        assert error_of(e)["Code"] == "MalformedXML"
        assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="cmu-check", UploadId=uid)["Parts"]] == [1]
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="cmu-check", UploadId=uid)


@pytest.mark.parametrize(("algorithm", "checksum_type", "message"), [
    (None, "FULL_OBJECT", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
    (None, "COMPOSITE", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
    ("CRC64NVME", "COMPOSITE", "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."),
    ("SHA256", "FULL_OBJECT", "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm."),
])
def test_create_multipart_upload_checksum_type_rules(s3: Any, bucket: str, algorithm: str | None, checksum_type: str, message: str) -> None:
    # AWS: CRC64NVME is full-object only (Nimbus took COMPOSITE), a type needs an algorithm (Nimbus said
    # "the None checksum algorithm"), and the algorithm is named in lower case
    kwargs: dict[str, Any] = {"ChecksumType": checksum_type}
    if algorithm:
        kwargs["ChecksumAlgorithm"] = algorithm
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="cmu-type", **kwargs)
    assert status_of(e) == 400
    assert (error_of(e)["Code"], error_of(e)["Message"]) == ("InvalidRequest", message)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket, Prefix="cmu-type")


def test_complete_multipart_upload_sent_again_answers_the_same_result(s3: Any) -> None:
    # AWS answers a CompleteMultipartUpload repeated with the same parts (a client retry after a lost
    # response) with the same 200 while the object is the one it made; Nimbus answered NoSuchUpload.
    b = "fidelity-retry"
    s3.create_bucket(Bucket=b)
    uid = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=1, Body=b"one")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    first = s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload=parts)
    again = s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload=parts)
    assert {k: again[k] for k in ("Location", "Bucket", "Key", "ETag")} == {k: first[k] for k in ("Location", "Bucket", "Key", "ETag")}
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"one"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=b)
    for call in (
        lambda: s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid,  # another list of parts
                                             MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etag}]}),
        lambda: s3.complete_multipart_upload(Bucket=b, Key="other", UploadId=uid, MultipartUpload=parts),  # another key
        lambda: s3.list_parts(Bucket=b, Key="k", UploadId=uid),
        lambda: s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=uid),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e)["Code"] == "NoSuchUpload"
    s3.put_object(Bucket=b, Key="k", Body=b"replaced")  # the object is no longer the upload's
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload=parts)
    assert error_of(e)["Code"] == "NoSuchUpload"
    s3.delete_object(Bucket=b, Key="k")
    s3.delete_bucket(Bucket=b)  # what a completion leaves behind does not keep the bucket
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload=parts)
    assert error_of(e)["Code"] == "NoSuchUpload"
    s3.delete_bucket(Bucket=b)
