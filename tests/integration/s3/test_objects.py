"""S3 through boto3 and plain HTTP against a real server: objects, listing, multipart, errors, checksums."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def s3(nimbus_server: Any) -> Any:
    return nimbus_server.client("s3")


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="objects-bucket")
    return "objects-bucket"


# -- buckets -------------------------------------------------------------------------------------------


def test_bucket_lifecycle_and_errors(s3: Any, nimbus_server: Any) -> None:
    s3.create_bucket(Bucket="life-cycle")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="life-cycle")
    assert code_of(e) == "BucketAlreadyOwnedByYou"
    for bad in ("ab", "UpperCase", "bad..dots", "192.168.1.1", "-leading", "x" * 64, "under_score"):
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=bad)
        assert code_of(e) == "InvalidBucketName", bad
    s3.head_bucket(Bucket="life-cycle")
    assert s3.get_bucket_location(Bucket="life-cycle")["LocationConstraint"] is None
    s3.put_object(Bucket="life-cycle", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="life-cycle")
    assert code_of(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="life-cycle", Key="k")
    s3.delete_bucket(Bucket="life-cycle")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="life-cycle")
    assert code_of(e) == "404"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="life-cycle")
    assert code_of(e) == "NoSuchBucket"


def test_location_constraint_and_listing_across_regions(nimbus_server: Any) -> None:
    eu = nimbus_server.client("s3", region="eu-west-1")
    eu.create_bucket(Bucket="euro-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket="euro-bucket")["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket="no-constraint")
    assert code_of(e) == "IllegalLocationConstraintException"
    us = nimbus_server.client("s3")
    names = {b["Name"] for b in us.list_buckets()["Buckets"]}
    assert "euro-bucket" in names  # ListBuckets lists every bucket of the account


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert code_of(e) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "data"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


# -- objects -------------------------------------------------------------------------------------------


def test_put_get_headers_metadata_and_overrides(s3: Any, bucket: str) -> None:
    body = b"hello nimbus" * 100
    put = s3.put_object(
        Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain", Metadata={"Owner": "me"},
        CacheControl="max-age=60", ContentDisposition="inline", ContentLanguage="en", ContentEncoding="identity",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"owner": "me"}
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "inline"
    assert got["ContentLanguage"] == "en" and got["ContentEncoding"] == "identity"
    assert got["AcceptRanges"] == "bytes" and got["ContentLength"] == len(body)
    over = s3.get_object(Bucket=bucket, Key="docs/hello.txt", ResponseContentType="application/x-test",
                         ResponseContentDisposition="attachment; filename=x.txt", ResponseCacheControl="no-cache")
    assert over["ContentType"] == "application/x-test"
    assert over["ContentDisposition"] == "attachment; filename=x.txt" and over["CacheControl"] == "no-cache"
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="docs/missing")
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="docs/missing")
    assert code_of(e) == "404"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert code_of(e) == "NoSuchBucket"


def test_ranges(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="range.bin", Body=body)
    for spec, want in (("bytes=0-9", body[:10]), ("bytes=1000-", body[1000:]), ("bytes=-24", body[-24:]),
                       ("bytes=1000-5000", body[1000:])):
        got = s3.get_object(Bucket=bucket, Key="range.bin", Range=spec)
        assert got["Body"].read() == want, spec
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"].endswith(f"/{len(body)}")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="range.bin", Range="bytes=5000-6000")
    assert code_of(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_conditional_reads_and_writes(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0000"')
    assert code_of(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert code_of(e) == "304"
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=future)
    assert code_of(e) == "304"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=past)
    assert code_of(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=past)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="cond", Body=b"v2", IfNoneMatch="*")
    assert code_of(e) == "PreconditionFailed"
    s3.put_object(Bucket=bucket, Key="cond-new", Body=b"v2", IfNoneMatch="*")


def test_delete_and_delete_objects(s3: Any, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"del/{i}", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="del/0")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="del/never")["ResponseMetadata"]["HTTPStatusCode"] == 204
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"del/{i}"} for i in range(1, 4)]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["del/1", "del/2", "del/3"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "del/4"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="del/")


def test_copy_object_with_metadata_directive(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="copy/src", Body=b"source", ContentType="text/a", Metadata={"a": "1"},
                  Tagging="t=1")
    s3.copy_object(Bucket=bucket, Key="copy/same-meta", CopySource={"Bucket": bucket, "Key": "copy/src"})
    same = s3.head_object(Bucket=bucket, Key="copy/same-meta")
    assert same["ContentType"] == "text/a" and same["Metadata"] == {"a": "1"}
    res = s3.copy_object(Bucket=bucket, Key="copy/new meta", CopySource=f"{bucket}/copy/src", MetadataDirective="REPLACE",
                         ContentType="text/b", Metadata={"b": "2"})
    assert res["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"source").hexdigest()}"'
    new = s3.get_object(Bucket=bucket, Key="copy/new meta")
    assert new["Body"].read() == b"source" and new["ContentType"] == "text/b" and new["Metadata"] == {"b": "2"}
    assert s3.get_object_tagging(Bucket=bucket, Key="copy/new meta")["TagSet"] == [{"Key": "t", "Value": "1"}]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="copy/src", CopySource={"Bucket": bucket, "Key": "copy/src"})
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="copy/x", CopySource={"Bucket": bucket, "Key": "copy/none"})
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="copy/x", CopySource={"Bucket": bucket, "Key": "copy/src"},
                       CopySourceIfMatch='"nope"')
    assert code_of(e) == "PreconditionFailed"


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.head_object(Bucket=bucket, Key="tagged")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    tags = s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"a": "1", "b": "two words"}
    s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == [{"Key": "c", "Value": "3"}]
    s3.delete_object_tagging(Bucket=bucket, Key="tagged")
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="tagged",
                              Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert code_of(e) == "BadRequest"  # what S3 answers for more than 10 object tags


# -- listing ---------------------------------------------------------------------------------------------


def test_list_objects_v2_params(s3: Any) -> None:
    s3.create_bucket(Bucket="listing-bucket")
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e/f", "ü/x", "plus+sign"]
    for k in keys:
        s3.put_object(Bucket="listing-bucket", Key=k, Body=k.encode())
    allkeys = [o["Key"] for o in s3.list_objects_v2(Bucket="listing-bucket")["Contents"]]
    assert allkeys == sorted(keys, key=lambda k: k.encode())
    top = s3.list_objects_v2(Bucket="listing-bucket", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "d e/", "ü/"]
    assert [o["Key"] for o in top["Contents"]] == ["c", "plus+sign"]
    assert top["KeyCount"] == 6
    sub = s3.list_objects_v2(Bucket="listing-bucket", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in sub["Contents"]] == ["a/1", "a/2"] and sub["CommonPrefixes"] == [{"Prefix": "a/b/"}]
    # paging with continuation tokens, common prefixes counting toward max-keys
    seen: list[str] = []
    token = None
    while True:
        kw: dict[str, Any] = {"Bucket": "listing-bucket", "Delimiter": "/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == sorted(["a/", "b/", "c", "d e/", "plus+sign", "ü/"])
    after = s3.list_objects_v2(Bucket="listing-bucket", StartAfter="b/1")
    assert [o["Key"] for o in after["Contents"]][0] == "c"
    owned = s3.list_objects_v2(Bucket="listing-bucket", FetchOwner=True, MaxKeys=1)
    assert "ID" in owned["Contents"][0]["Owner"]
    assert "Owner" not in s3.list_objects_v2(Bucket="listing-bucket", MaxKeys=1)["Contents"][0]
    # paginator + v1 marker
    pages = s3.get_paginator("list_objects").paginate(Bucket="listing-bucket", PaginationConfig={"PageSize": 3})
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == allkeys
    v1 = s3.list_objects(Bucket="listing-bucket", Marker="b/1")
    assert [o["Key"] for o in v1["Contents"]][0] == "c"


def test_encoding_type_url_is_echoed(nimbus_server: Any, s3: Any) -> None:
    s3.put_object(Bucket="listing-bucket", Key="enc/a b&c", Body=b"x")
    # botocore asks for encoding-type=url by itself and decodes what we return
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="listing-bucket", Prefix="enc/")["Contents"]] == ["enc/a b&c"]
    # asked for explicitly, botocore leaves the decoding to the caller: the wire form shows
    out = s3.list_objects_v2(Bucket="listing-bucket", Prefix="enc/", EncodingType="url")
    assert out["Contents"][0]["Key"] == "enc/a%20b%26c" and out["EncodingType"] == "url"


# -- hostile keys, checksums, presigned ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../../etc/passwd", "a/../../b", "with space/and+plus", "ünï/çødé 😀",
                                 "k" * 1024, "./dot", "trailing/", "x?y#z%20"])
def test_hostile_keys_round_trip(s3: Any, bucket: str, key: str, nimbus_server: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]]
    assert key in listed
    assert not (nimbus_server.data_dir.parent / "etc").exists()
    s3.delete_object(Bucket=bucket, Key=key)


def test_key_too_long(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code_of(e) == "KeyTooLongError"


def test_content_md5_and_checksums(s3: Any, bucket: str) -> None:
    body = b"checksummed body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=base64.b64encode(b"0" * 16).decode())
    assert code_of(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5="not-base64!")
    assert code_of(e) == "InvalidDigest"
    for algo in ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"):
        put = s3.put_object(Bucket=bucket, Key=f"ck-{algo}", Body=body, ChecksumAlgorithm=algo)
        member = f"Checksum{algo}"
        assert put[member]
        head = s3.head_object(Bucket=bucket, Key=f"ck-{algo}", ChecksumMode="ENABLED")
        assert head[member] == put[member]
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert s3.head_object(Bucket=bucket, Key="ck-CRC32", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="ck-bad", Body=body, ChecksumCRC32=base64.b64encode(b"\0\0\0\0").decode())
    assert code_of(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="ck-bad", Body=body, ChecksumSHA256="short")
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="ck-bad")


def test_aws_chunked_trailer_checksum(nimbus_server: Any, bucket: str) -> None:
    """What botocore sends over https: aws-chunked with the CRC32 in a trailer (aws-contracts.md E.3)."""
    import http.client

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.conftest import ACCESS_KEY, SECRET_KEY

    body = os.urandom(70_000)
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()

    def send(trailer_value: str) -> tuple[int, bytes]:
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:65536], body[65536:]))
        chunked += f"0\r\nx-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
        url = f"{nimbus_server.endpoint}/{bucket}/chunked"
        headers = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32",
                   "X-Amz-Decoded-Content-Length": str(len(body)), "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                   "Content-Length": str(len(chunked))}
        req = AWSRequest("PUT", url, headers=headers)
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", nimbus_server.port, timeout=30)
        conn.request("PUT", f"/{bucket}/chunked", body=chunked, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        return resp.status, resp.read()

    status, _ = send(crc)
    assert status == 200
    s3 = nimbus_server.client("s3")
    got = s3.get_object(Bucket=bucket, Key="chunked", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got["ChecksumCRC32"] == crc
    assert "aws-chunked" not in got.get("ContentEncoding", "")
    status, text = send(base64.b64encode(b"\1\2\3\4").decode())
    assert status == 400 and b"BadDigest" in text


def test_presigned_get_and_put_with_plain_http(nimbus_server: Any, bucket: str) -> None:
    # SigV4 query auth (botocore presigns S3 with legacy SigV2 unless told otherwise: test_presigned_default.py)
    s3 = nimbus_server.client("s3", config=Config(signature_version="s3v4", retries={"max_attempts": 1}))
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned.txt"}, ExpiresIn=300)
    req = urllib.request.Request(put_url, data=b"via presigned put", method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(get_url, timeout=10) as r:
        assert r.read() == b"via presigned put"
    ranged = urllib.request.Request(get_url, headers={"Range": "bytes=4-12"})
    with urllib.request.urlopen(ranged, timeout=10) as r:
        assert r.status == 206 and r.read() == b"presigned"
    tampered = get_url.replace("presigned.txt", "other.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned.txt"}, ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(expired, timeout=10)
    assert e.value.code == 403 and b"AccessDenied" in e.value.read()


def test_auth_errors(nimbus_server: Any, bucket: str) -> None:
    bad_key = nimbus_server.client("s3", access_key="NKIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as e:
        bad_key.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "InvalidAccessKeyId"
    bad_secret = nimbus_server.client("s3", secret_key="wrong-secret")
    with pytest.raises(ClientError) as e:
        bad_secret.list_objects_v2(Bucket=bucket)
    assert code_of(e) == "SignatureDoesNotMatch"


def signed_raw(nimbus_server: Any, method: str, host: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """Sign for ``host`` and send to 127.0.0.1 with that Host header (no DNS for *.localhost needed)."""
    import http.client

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.conftest import ACCESS_KEY, SECRET_KEY

    req = AWSRequest(method, f"http://{host}{path}", data=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", nimbus_server.port, timeout=30)
    headers = dict(req.headers.items())
    headers["Host"] = host
    from urllib.parse import urlsplit

    sent = urlsplit(req.prepare().url)
    conn.request(method, sent.path + (f"?{sent.query}" if sent.query else ""), body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_virtual_hosted_addressing(nimbus_server: Any, s3: Any, bucket: str) -> None:
    for host in (f"{bucket}.s3.localhost:{nimbus_server.port}", f"{bucket}.localhost:{nimbus_server.port}"):
        status, text = signed_raw(nimbus_server, "PUT", host, "/virtual/key.txt", b"vhost " + host.encode())
        assert status == 200, text
        assert s3.get_object(Bucket=bucket, Key="virtual/key.txt")["Body"].read() == b"vhost " + host.encode()
        status, listing = signed_raw(nimbus_server, "GET", host, "/?list-type=2&prefix=virtual%2F")
        assert status == 200 and b"<Key>virtual/key.txt</Key>" in listing, listing


# -- multipart -----------------------------------------------------------------------------------------------


def test_multipart_api_and_errors(s3: Any, bucket: str) -> None:
    key = "mpu/object"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-mpu", Metadata={"m": "1"})
    uid = up["UploadId"]
    p1 = os.urandom(5 * MiB)
    p2 = b"tail"
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    small = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=3, Body=b"small")["ETag"]
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=1, PartNumberMarker=1)["Parts"]] == [2]
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="mpu/")["Uploads"]
    assert [u["UploadId"] for u in uploads] == [uid]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert code_of(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert code_of(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": small}]})
    assert code_of(e) == "EntityTooSmall"
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    md5s = hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(p2).digest()).hexdigest()
    assert done["ETag"] == f'"{md5s}-2"'
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == p1 + p2 and got["ContentType"] == "application/x-mpu" and got["Metadata"] == {"m": "1"}
    part2 = s3.get_object(Bucket=bucket, Key=key, PartNumber=2)
    assert part2["Body"].read() == p2 and part2["PartsCount"] == 2
    assert s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")["Body"].read() == p1[-2:] + p2[:2]
    for call in (lambda: s3.list_parts(Bucket=bucket, Key=key, UploadId=uid),
                 lambda: s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"x"),
                 lambda: s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "NoSuchUpload"
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="mpu/aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mpu/aborted", UploadId=aborted, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=bucket, Key="mpu/aborted", UploadId=aborted)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket, Prefix="mpu/")


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    src = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="upc/src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="upc/dst")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="upc/dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "upc/src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    r2 = s3.upload_part_copy(Bucket=bucket, Key="upc/dst", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "upc/src"}, CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}")
    s3.complete_multipart_upload(Bucket=bucket, Key="upc/dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="upc/dst")["Body"].read() == src


def test_transfer_50mb_multipart_and_ranged_download(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with open(src, "wb") as f:
        for i in range(50):
            f.write(bytes([i]) + block[1:])
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4, use_threads=True)
    s3.upload_file(str(src), bucket, "big/file.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == 50 * MiB and head["ETag"].endswith('-7"')
    dst = tmp_path / "back.bin"
    s3.download_file(bucket, "big/file.bin", str(dst), Config=cfg)
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


def test_concurrent_puts_to_one_key_leave_one_whole_object(s3: Any, bucket: str) -> None:
    bodies = [bytes([i]) * (256 * 1024) for i in range(6)]
    errors: list[BaseException] = []

    def put(b: bytes) -> None:
        try:
            s3.put_object(Bucket=bucket, Key="race", Body=b)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() in bodies
