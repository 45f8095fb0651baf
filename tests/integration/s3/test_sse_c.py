"""SSE-C (customer-provided keys) against a real server with boto3 and the AWS CLI: every read of such an
object must present the key it was written with; copies, multipart uploads and S3's errors."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

KEY = os.urandom(32)
OTHER = os.urandom(32)
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("ssec")
    proc = NimbusProcess(base / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    client = server.client("s3")
    client.create_bucket(Bucket="ssec")
    return client


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def md5_of(key: bytes) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


def sse(key: bytes = KEY, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": key}  # boto3 adds the key's MD5


def test_reads_need_the_key(s3: Any) -> None:
    put = s3.put_object(Bucket="ssec", Key="secret", Body=b"hidden", **sse())
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"] == md5_of(KEY)
    got = s3.get_object(Bucket="ssec", Key="secret", **sse())
    assert got["Body"].read() == b"hidden" and got["SSECustomerKeyMD5"] == md5_of(KEY)
    assert s3.head_object(Bucket="ssec", Key="secret", **sse())["ContentLength"] == 6
    assert s3.get_object(Bucket="ssec", Key="secret", Range="bytes=0-1", **sse())["Body"].read() == b"hi"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ssec", Key="secret")
    assert code_of(e) == "InvalidRequest" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ssec", Key="secret", **sse(OTHER))
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="ssec", Key="secret")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket="ssec", Key="secret", ObjectAttributes=["ObjectSize"])
    assert code_of(e) == "InvalidRequest"
    # botocore encodes the key for this operation only when given as text (no handler adds its MD5 here)
    attrs = s3.get_object_attributes(Bucket="ssec", Key="secret", ObjectAttributes=["ObjectSize"], SSECustomerAlgorithm="AES256",
                                     SSECustomerKey=base64.b64encode(KEY).decode(), SSECustomerKeyMD5=md5_of(KEY))
    assert attrs["ObjectSize"] == 6
    # a plain object refuses a key
    s3.put_object(Bucket="ssec", Key="plain", Body=b"open")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ssec", Key="plain", **sse())
    assert code_of(e) == "InvalidRequest"
    assert "SSECustomerAlgorithm" not in s3.head_object(Bucket="ssec", Key="plain")


def test_copies_read_with_the_source_key_and_write_with_their_own(s3: Any) -> None:
    s3.put_object(Bucket="ssec", Key="src", Body=b"copy me", **sse())
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="ssec", Key="dst", CopySource={"Bucket": "ssec", "Key": "src"})
    assert code_of(e) == "InvalidRequest"
    out = s3.copy_object(Bucket="ssec", Key="dst", CopySource={"Bucket": "ssec", "Key": "src"},
                         **sse(KEY, "CopySource"), **sse(OTHER))
    assert out["SSECustomerKeyMD5"] == md5_of(OTHER)
    assert s3.get_object(Bucket="ssec", Key="dst", **sse(OTHER))["Body"].read() == b"copy me"
    # rotating the key in place (a copy onto itself), then decrypting for good
    s3.copy_object(Bucket="ssec", Key="src", CopySource={"Bucket": "ssec", "Key": "src"}, **sse(KEY, "CopySource"), **sse(OTHER))
    assert s3.get_object(Bucket="ssec", Key="src", **sse(OTHER))["Body"].read() == b"copy me"
    s3.copy_object(Bucket="ssec", Key="src", CopySource={"Bucket": "ssec", "Key": "src"}, **sse(OTHER, "CopySource"))
    assert s3.get_object(Bucket="ssec", Key="src")["Body"].read() == b"copy me"


def test_multipart_parts_carry_the_uploads_key(s3: Any) -> None:
    up = s3.create_multipart_upload(Bucket="ssec", Key="big", **sse())
    assert up["SSECustomerKeyMD5"] == md5_of(KEY)
    uid = up["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="ssec", Key="big", UploadId=uid, PartNumber=1, Body=b"a" * 5 * MiB)
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="ssec", Key="big", UploadId=uid, PartNumber=1, Body=b"a" * 5 * MiB, **sse(OTHER))
    assert code_of(e) == "InvalidRequest"
    p1 = s3.upload_part(Bucket="ssec", Key="big", UploadId=uid, PartNumber=1, Body=b"a" * 5 * MiB, **sse())
    assert p1["SSECustomerKeyMD5"] == md5_of(KEY)
    p2 = s3.upload_part(Bucket="ssec", Key="big", UploadId=uid, PartNumber=2, Body=b"b", **sse())
    s3.complete_multipart_upload(Bucket="ssec", Key="big", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ssec", Key="big")
    assert code_of(e) == "InvalidRequest"
    assert s3.get_object(Bucket="ssec", Key="big", **sse())["ContentLength"] == 5 * MiB + 1


def test_bad_keys_store_nothing(s3: Any, server: NimbusProcess) -> None:
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from tests.conftest import ACCESS_KEY, SECRET_KEY

    def raw_put(key: str, headers: dict[str, str]) -> int:
        req = AWSRequest(method="PUT", url=f"{server.endpoint}/ssec/{key}", data=b"x",
                         headers={"x-amz-content-sha256": hashlib.sha256(b"x").hexdigest(), **headers})
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
        prepared = req.prepare()
        try:
            with urllib.request.urlopen(urllib.request.Request(prepared.url, data=b"x", headers=dict(prepared.headers), method="PUT")) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            body = err.read().decode()
            assert "<Code>" in body
            return int(err.code)

    good = base64.b64encode(KEY).decode()
    cases = [
        {"x-amz-server-side-encryption-customer-algorithm": "AES128", "x-amz-server-side-encryption-customer-key": good,
         "x-amz-server-side-encryption-customer-key-MD5": md5_of(KEY)},
        {"x-amz-server-side-encryption-customer-algorithm": "AES256"},
        {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": base64.b64encode(b"short").decode(),
         "x-amz-server-side-encryption-customer-key-MD5": md5_of(b"short")},
        {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": good,
         "x-amz-server-side-encryption-customer-key-MD5": md5_of(OTHER)},
        {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": good},
        {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": good,
         "x-amz-server-side-encryption-customer-key-MD5": md5_of(KEY), "x-amz-server-side-encryption": "AES256"},
    ]
    for i, headers in enumerate(cases):
        assert raw_put(f"bad{i}", headers) == 400, headers
    assert not [o["Key"] for o in s3.list_objects_v2(Bucket="ssec", Prefix="bad").get("Contents", [])]


def test_cli_round_trip(server: NimbusProcess, s3: Any, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_bytes(b"via the cli")
    key = "0123456789abcdef0123456789ABCDEF"  # the CLI takes the raw 32-byte key (and encodes it itself)
    server.aws("s3api", "put-object", "--bucket", "ssec", "--key", "cli", "--body", str(src),
               "--sse-customer-algorithm", "AES256", "--sse-customer-key", key)
    out = tmp_path / "out.txt"
    server.aws("s3api", "get-object", "--bucket", "ssec", "--key", "cli", "--sse-customer-algorithm", "AES256",
               "--sse-customer-key", key, str(out))
    assert out.read_bytes() == b"via the cli"
    cp = server.aws("s3api", "get-object", "--bucket", "ssec", "--key", "cli", str(out), check=False)
    assert cp.returncode != 0 and "InvalidRequest" in cp.stderr
    assert s3.get_object(Bucket="ssec", Key="cli", **sse(key.encode()))["Body"].read() == b"via the cli"
