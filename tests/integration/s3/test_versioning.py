"""S3 object versioning against a real server (boto3 and the AWS CLI): bucket states, versions and
delete markers on every write path, reads and tagging by version, ListObjectVersions paging, DeleteBucket,
notifications, lifecycle's noncurrent actions, and kill -9 after acknowledged versioned writes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from xml.etree import ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create

VERSION_ID = re.compile(r"^[A-Za-z0-9._]{32}$")
MiB = 1024 * 1024
HOSTILE = ["../../etc/passwd", "a b+c%20d", "ключ/файл", "k?versionId=abc", "x&y<z>'\"", "tab\there", "dir//x", "emoji-🎉"]

RECORDER = """
import json, boto3
s3 = boto3.client("s3")
def handler(event, context):
    for record in event["Records"]:
        o = record["s3"]["object"]
        name = record["eventName"].replace(":", "-") + "/" + o["key"] + "/" + o.get("versionId", "none")
        s3.put_object(Bucket="ver-sink", Key=name, Body=json.dumps(record).encode())
    return "ok"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("versioning")
    env = {"NIMBUS_S3_LIFECYCLE_SWEEP_SECONDS": "0.3", "NIMBUS_S3_LIFECYCLE_DAY_SECONDS": "1"}
    proc = NimbusProcess(base / "data", env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def headers_of(excinfo: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return dict(excinfo.value.response["ResponseMetadata"]["HTTPHeaders"])


def wait_for(fn: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def versioned(s3: Any, name: str, status: str = "Enabled") -> str:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
    return name


def all_versions(s3: Any, bucket: str, **kw: Any) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is delete marker) in the order of the wire: S3's, by key, newest first,
    versions and delete markers interleaved (clients read them as two lists; raw XML readers see one)."""
    bodies: list[bytes] = []

    def keep(response_dict: Any, **_: Any) -> None:
        bodies.append(response_dict["body"])

    s3.meta.events.register("before-parse.s3.ListObjectVersions", keep)
    try:
        s3.list_object_versions(Bucket=bucket, **kw)
    finally:
        s3.meta.events.unregister("before-parse.s3.ListObjectVersions", keep)
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    rows = []
    for el in ElementTree.fromstring(bodies[-1]):
        tag = el.tag.replace(ns, "")
        if tag in ("Version", "DeleteMarker"):
            rows.append((el.findtext(ns + "Key") or "", el.findtext(ns + "VersionId") or "",
                         el.findtext(ns + "IsLatest") == "true", tag == "DeleteMarker"))
    return rows


def wire(rows: list[tuple[str, str, bool, bool]]) -> list[tuple[str, str, bool, bool]]:
    """S3's order of a listing on the wire: by key, newest first, versions and delete markers interleaved."""
    return list(rows)


# -- bucket configuration --------------------------------------------------------------------------------


def test_bucket_versioning_states(s3: Any, server: NimbusProcess) -> None:
    s3.create_bucket(Bucket="ver-states")
    got = s3.get_bucket_versioning(Bucket="ver-states")
    assert "Status" not in got and "MFADelete" not in got  # never versioned
    s3.put_bucket_versioning(Bucket="ver-states", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="ver-states")["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket="ver-states", VersioningConfiguration={"Status": "Suspended", "MFADelete": "Disabled"})
    got = s3.get_bucket_versioning(Bucket="ver-states")
    assert got["Status"] == "Suspended" and got["MFADelete"] == "Disabled"
    # never back to unversioned: botocore refuses the value, the server too (schema: MalformedXML)
    raw = server.client("s3", config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        raw.put_bucket_versioning(Bucket="ver-states", VersioningConfiguration={"Status": "Disabled"})
    assert code_of(e) == "MalformedXML"
    # MFA delete needs an MFA device Nimbus does not have: refused as S3 refuses a request without MFA
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="ver-states", VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert code_of(e) == "AccessDenied" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3.get_bucket_versioning(Bucket="ver-states")["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="ver-missing-bucket", VersioningConfiguration={"Status": "Enabled"})
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket="ver-missing-bucket")
    assert code_of(e) == "NoSuchBucket"
    cli = json.loads(server.aws("s3api", "get-bucket-versioning", "--bucket", "ver-states").stdout)
    assert cli["Status"] == "Suspended"


def test_unversioned_bucket_lists_null_versions_and_sends_no_version_header(s3: Any) -> None:
    s3.create_bucket(Bucket="ver-plain")
    put = s3.put_object(Bucket="ver-plain", Key="a", Body=b"1")
    assert "VersionId" not in put
    got = s3.get_object(Bucket="ver-plain", Key="a")
    assert "VersionId" not in got
    assert s3.get_object(Bucket="ver-plain", Key="a", VersionId="null")["Body"].read() == b"1"
    assert all_versions(s3, "ver-plain") == wire([("a", "null", True, False)])
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver-plain", Key="a", VersionId="A" * 32)
    assert code_of(e) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver-plain", Key="a", VersionId="not-a-version")
    assert code_of(e) == "InvalidArgument"
    out = s3.delete_object(Bucket="ver-plain", Key="a")
    assert "DeleteMarker" not in out and "VersionId" not in out
    assert all_versions(s3, "ver-plain") == []
    s3.delete_bucket(Bucket="ver-plain")


# -- versions and delete markers ---------------------------------------------------------------------------


def test_enabled_bucket_keeps_every_version(s3: Any) -> None:
    b = versioned(s3, "ver-enabled")
    v1 = s3.put_object(Bucket=b, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="doc", Body=b"two" * 10000)["VersionId"]  # a blob, not inline
    v3 = s3.put_object(Bucket=b, Key="doc", Body=b"three")["VersionId"]
    assert len({v1, v2, v3}) == 3 and all(VERSION_ID.match(v) for v in (v1, v2, v3))
    got = s3.get_object(Bucket=b, Key="doc")
    assert got["Body"].read() == b"three" and got["VersionId"] == v3
    assert s3.get_object(Bucket=b, Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=b, Key="doc", VersionId=v2)["Body"].read() == b"two" * 10000
    assert s3.get_object(Bucket=b, Key="doc", VersionId=v2, Range="bytes=0-2")["Body"].read() == b"two"
    head = s3.head_object(Bucket=b, Key="doc", VersionId=v1)
    assert head["VersionId"] == v1 and head["ContentLength"] == 3
    assert all_versions(s3, b) == wire([("doc", v3, True, False), ("doc", v2, False, False), ("doc", v1, False, False)])
    listed = s3.list_object_versions(Bucket=b)["Versions"]
    assert [v["Size"] for v in listed] == [5, 30000, 3]
    assert all(v["StorageClass"] == "STANDARD" and v["Owner"]["ID"] and v["ETag"].startswith('"') for v in listed)
    assert listed[0]["ETag"] == '"' + hashlib.md5(b"three").hexdigest() + '"'
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["doc"]
    # unknown (well formed) and malformed version ids
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="doc", VersionId="B" * 32)
    assert code_of(e) == "NoSuchVersion" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="doc", VersionId="../../x")
    assert code_of(e) == "InvalidArgument" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="doc", VersionId="B" * 32)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # permanently deleting the current version makes the next one current
    out = s3.delete_object(Bucket=b, Key="doc", VersionId=v3)
    assert out["VersionId"] == v3 and "DeleteMarker" not in out
    got = s3.get_object(Bucket=b, Key="doc")
    assert got["VersionId"] == v2 and got["Body"].read() == b"two" * 10000
    # deleting a noncurrent version leaves the current one
    s3.delete_object(Bucket=b, Key="doc", VersionId=v1)
    assert all_versions(s3, b) == wire([("doc", v2, True, False)])
    # deleting a version that is not there succeeds (S3 is idempotent)
    s3.delete_object(Bucket=b, Key="doc", VersionId=v1)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="doc", VersionId="bad id")
    assert code_of(e) == "InvalidArgument"


def test_delete_markers(s3: Any) -> None:
    b = versioned(s3, "ver-markers")
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"v1")["VersionId"]
    out = s3.delete_object(Bucket=b, Key="k")
    assert out["DeleteMarker"] is True and VERSION_ID.match(out["VersionId"])
    marker = out["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code_of(e) == "NoSuchKey"
    h = headers_of(e)
    assert h["x-amz-delete-marker"] == "true" and h["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404 and headers_of(e)["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId=marker)
    assert code_of(e) == "MethodNotAllowed" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert headers_of(e)["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k", VersionId=marker)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    # the old version is still there, by id
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"v1"
    assert "Contents" not in s3.list_objects_v2(Bucket=b)
    assert "Contents" not in s3.list_objects(Bucket=b)
    assert "CommonPrefixes" not in s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert all_versions(s3, b) == wire([("k", marker, True, True), ("k", v1, False, False)])
    # a delete of a key that never existed also leaves a marker
    gone = s3.delete_object(Bucket=b, Key="never")
    assert gone["DeleteMarker"] is True
    # a second marker on top of the first
    m2 = s3.delete_object(Bucket=b, Key="k")["VersionId"]
    assert all_versions(s3, b, Prefix="k") == wire([("k", m2, True, True), ("k", marker, False, True), ("k", v1, False, False)])
    # removing the markers by id brings the object back
    out = s3.delete_object(Bucket=b, Key="k", VersionId=m2)
    assert out["DeleteMarker"] is True and out["VersionId"] == m2
    s3.delete_object(Bucket=b, Key="k", VersionId=marker)
    got = s3.get_object(Bucket=b, Key="k")
    assert got["Body"].read() == b"v1" and got["VersionId"] == v1
    # a put over a delete marker is the current version again
    s3.delete_object(Bucket=b, Key="k")
    v3 = s3.put_object(Bucket=b, Key="k", Body=b"v3")["VersionId"]
    assert s3.get_object(Bucket=b, Key="k")["VersionId"] == v3


def test_suspended_bucket_writes_the_null_version(s3: Any) -> None:
    b = "ver-suspended"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="old", Body=b"before versioning")  # becomes the null version
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="old", Body=b"enabled")["VersionId"]
    assert s3.get_object(Bucket=b, Key="old", VersionId="null")["Body"].read() == b"before versioning"
    assert all_versions(s3, b) == wire([("old", v1, True, False), ("old", "null", False, False)])
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=b, Key="old", Body=b"suspended 1")
    assert put["VersionId"] == "null"
    # the new null version replaced the older null one; v1 stays
    assert all_versions(s3, b) == wire([("old", "null", True, False), ("old", v1, False, False)])
    assert s3.get_object(Bucket=b, Key="old", VersionId="null")["Body"].read() == b"suspended 1"
    s3.put_object(Bucket=b, Key="old", Body=b"suspended 2" * 5000)
    assert all_versions(s3, b) == wire([("old", "null", True, False), ("old", v1, False, False)])
    assert s3.get_object(Bucket=b, Key="old")["Body"].read() == b"suspended 2" * 5000
    # a delete adds a null delete marker, which replaces the null version
    out = s3.delete_object(Bucket=b, Key="old")
    assert out["DeleteMarker"] is True and out["VersionId"] == "null"
    assert all_versions(s3, b) == wire([("old", "null", True, True), ("old", v1, False, False)])
    # enabled again: new versions on top, the null marker stays noncurrent
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v3 = s3.put_object(Bucket=b, Key="old", Body=b"again")["VersionId"]
    assert all_versions(s3, b) == wire([("old", v3, True, False), ("old", "null", False, True), ("old", v1, False, False)])


def test_copy_tagging_attributes_and_acl_by_version(s3: Any) -> None:
    b = versioned(s3, "ver-copy")
    v1 = s3.put_object(Bucket=b, Key="src", Body=b"first", Tagging="n=1")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="src", Body=b"second")["VersionId"]
    out = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert out["CopySourceVersionId"] == v1 and VERSION_ID.match(out["VersionId"])
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == b"first"
    out = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    assert out["CopySourceVersionId"] == v2
    # restoring an old version onto its own key (a copy by version id needs no other change)
    out = s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert s3.get_object(Bucket=b, Key="src")["Body"].read() == b"first"
    assert [v for k, v, _, _ in all_versions(s3, b, Prefix="src")] == [out["VersionId"], v2, v1]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src", "VersionId": "C" * 32})
    assert code_of(e) == "NoSuchVersion"
    marker = s3.delete_object(Bucket=b, Key="gone")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "gone", "VersionId": marker})
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "gone"})
    assert code_of(e) == "NoSuchKey"
    # tags per version
    got = s3.get_object_tagging(Bucket=b, Key="src", VersionId=v1)
    assert got["TagSet"] == [{"Key": "n", "Value": "1"}] and got["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=b, Key="src", VersionId=v2)["TagSet"] == []
    out = s3.put_object_tagging(Bucket=b, Key="src", VersionId=v2, Tagging={"TagSet": [{"Key": "t", "Value": "2"}]})
    assert out["VersionId"] == v2
    assert s3.get_object_tagging(Bucket=b, Key="src", VersionId=v2)["TagSet"] == [{"Key": "t", "Value": "2"}]
    assert s3.get_object_tagging(Bucket=b, Key="src", VersionId=v1)["TagSet"] == [{"Key": "n", "Value": "1"}]
    assert s3.delete_object_tagging(Bucket=b, Key="src", VersionId=v1)["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=b, Key="src", VersionId=v1)["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=b, Key="src", VersionId="D" * 32)
    assert code_of(e) == "NoSuchVersion"
    # attributes per version
    attrs = s3.get_object_attributes(Bucket=b, Key="src", VersionId=v2, ObjectAttributes=["ETag", "ObjectSize"])
    assert attrs["ObjectSize"] == 6 and attrs["VersionId"] == v2 and attrs["ETag"] == hashlib.md5(b"second").hexdigest()
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=b, Key="src", VersionId="E" * 32, ObjectAttributes=["ETag"])
    assert code_of(e) == "NoSuchVersion"
    assert s3.get_object_acl(Bucket=b, Key="src", VersionId=v1)["Grants"]


def test_multipart_and_post_uploads_make_versions(s3: Any, server: NimbusProcess) -> None:
    b = versioned(s3, "ver-multipart")
    v0 = s3.put_object(Bucket=b, Key="big", Body=b"small")["VersionId"]
    uid = s3.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    p1, p2 = os.urandom(5 * MiB), os.urandom(1000)
    etags = [s3.upload_part(Bucket=b, Key="big", UploadId=uid, PartNumber=n, Body=p)["ETag"] for n, p in ((1, p1), (2, p2))]
    done = s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]})
    assert VERSION_ID.match(done["VersionId"])
    assert s3.get_object(Bucket=b, Key="big", VersionId=v0)["Body"].read() == b"small"
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == p1 + p2
    # upload part copy from an old version
    uid = s3.create_multipart_upload(Bucket=b, Key="from-old")["UploadId"]
    part = s3.upload_part_copy(Bucket=b, Key="from-old", UploadId=uid, PartNumber=1,
                               CopySource={"Bucket": b, "Key": "big", "VersionId": v0})
    assert part["CopySourceVersionId"] == v0
    s3.complete_multipart_upload(Bucket=b, Key="from-old", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=b, Key="from-old")["Body"].read() == b"small"
    # a browser POST upload is a version too
    post = s3.generate_presigned_post(b, "posted")
    boundary = "----nimbus"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in post["fields"].items()]
    body = ("".join(parts) + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n').encode()
    body += b"posted body\r\n" + f"--{boundary}--\r\n".encode()
    for _ in range(2):
        req = urllib.request.Request(post["url"], data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 204
            assert VERSION_ID.match(r.headers["x-amz-version-id"])
    assert len(all_versions(s3, b, Prefix="posted")) == 2


# -- listing ---------------------------------------------------------------------------------------------


def test_list_object_versions_paging_prefix_delimiter(s3: Any, server: NimbusProcess) -> None:
    b = versioned(s3, "ver-listing")
    expected: list[tuple[str, str, bool, bool]] = []
    keys = ["a", "b/1", "b/2", "c", "d/x/y", "e"]
    for key in keys:
        ids = [s3.put_object(Bucket=b, Key=key, Body=key.encode())["VersionId"] for _ in range(3)]
        rows = [(key, v, False, False) for v in reversed(ids)]
        if key in ("c", "e"):
            m = s3.delete_object(Bucket=b, Key=key)["VersionId"]
            rows.insert(0, (key, m, False, True))
        rows[0] = (rows[0][0], rows[0][1], True, rows[0][3])
        expected += rows
    full = s3.list_object_versions(Bucket=b)
    assert full["IsTruncated"] is False and "NextKeyMarker" not in full
    assert all_versions(s3, b) == wire(expected)
    # page through with every page size; the pages join into the full listing, in order
    for size in (1, 2, 3, 5, 7):
        seen: list[tuple[str, str]] = []
        kw: dict[str, Any] = {}
        while True:
            page = s3.list_object_versions(Bucket=b, MaxKeys=size, **kw)
            entries = [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])] + \
                      [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", [])]
            assert len(entries) <= size
            seen += sorted(entries, key=lambda e: [x[:2] for x in expected].index(e))
            if not page["IsTruncated"]:
                break
            kw = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
        assert seen == [x[:2] for x in expected], size
    # KeyMarker alone starts after that key
    assert {v["Key"] for v in s3.list_object_versions(Bucket=b, KeyMarker="c").get("Versions", [])} == {"d/x/y", "e"}
    # prefix and delimiter
    out = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["b/", "d/"]
    assert {v["Key"] for v in out["Versions"]} == {"a", "c", "e"}
    out = s3.list_object_versions(Bucket=b, Prefix="b/", Delimiter="/")
    assert {v["Key"] for v in out["Versions"]} == {"b/1", "b/2"} and "CommonPrefixes" not in out
    out = s3.list_object_versions(Bucket=b, Delimiter="/", MaxKeys=4)
    assert out["IsTruncated"] and out["NextKeyMarker"] == "b/"
    rest = s3.list_object_versions(Bucket=b, Delimiter="/", KeyMarker="b/")
    assert rest["Versions"][0]["Key"] == "c" and [p["Prefix"] for p in rest["CommonPrefixes"]] == ["d/"]
    # markers without a key marker
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket=b, VersionIdMarker="A" * 32)
    assert code_of(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.list_object_versions(Bucket="ver-missing-bucket")
    assert code_of(e) == "NoSuchBucket"
    # ListObjects shows only current, non-delete-marker versions
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["a", "b/1", "b/2", "d/x/y"]
    # the AWS CLI (it pages by itself)
    cli = json.loads(server.aws("s3api", "list-object-versions", "--bucket", b, "--page-size", "4").stdout)
    assert len(cli["Versions"]) == 18 and len(cli["DeleteMarkers"]) == 2
    cli = json.loads(server.aws("s3api", "list-object-versions", "--bucket", b, "--prefix", "c").stdout)
    assert [m["IsLatest"] for m in cli["DeleteMarkers"]] == [True]


def test_hostile_keys(s3: Any, server: NimbusProcess) -> None:
    b = versioned(s3, "ver-hostile")
    ids = {}
    for key in HOSTILE:
        first = s3.put_object(Bucket=b, Key=key, Body=b"1:" + key.encode())["VersionId"]
        s3.put_object(Bucket=b, Key=key, Body=b"2:" + key.encode())
        ids[key] = first
        assert s3.get_object(Bucket=b, Key=key, VersionId=first)["Body"].read() == b"1:" + key.encode()
        copied = s3.copy_object(Bucket=b, Key=key + ".copy", CopySource={"Bucket": b, "Key": key, "VersionId": first})
        assert copied["CopySourceVersionId"] == first
        assert s3.get_object(Bucket=b, Key=key + ".copy")["Body"].read() == b"1:" + key.encode()
    everything = set(HOSTILE) | {k + ".copy" for k in HOSTILE}
    out = s3.list_object_versions(Bucket=b)  # botocore asks for encoding-type=url and decodes
    assert {v["Key"] for v in out["Versions"]} == everything and len(out["Versions"]) == 3 * len(HOSTILE)
    out = s3.list_object_versions(Bucket=b, EncodingType="url")  # asked by the caller: not decoded
    assert out["EncodingType"] == "url"
    assert {urllib.parse.unquote(v["Key"]) for v in out["Versions"]} == everything
    assert "ключ" not in "".join(v["Key"] for v in out["Versions"]) and "\t" not in "".join(v["Key"] for v in out["Versions"])
    # the listing of one key at a time with markers
    key = HOSTILE[0]
    page = s3.list_object_versions(Bucket=b, Prefix=key, MaxKeys=1)
    assert page["IsTruncated"] and page["NextKeyMarker"] == key
    page = s3.list_object_versions(Bucket=b, Prefix=key, KeyMarker=page["NextKeyMarker"],
                                   VersionIdMarker=page["NextVersionIdMarker"], MaxKeys=1)
    assert page["Versions"][0]["VersionId"] == ids[key]
    for key in HOSTILE:
        s3.delete_object(Bucket=b, Key=key)
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=b, Key=key)
        assert headers_of(e)["x-amz-delete-marker"] == "true"
    got = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": HOSTILE[1], "VersionId": ids[HOSTILE[1]]}]})
    assert got["Deleted"] == [{"Key": HOSTILE[1], "VersionId": ids[HOSTILE[1]]}]


def test_delete_objects_with_versions(s3: Any) -> None:
    b = versioned(s3, "ver-bulk")
    v1 = s3.put_object(Bucket=b, Key="x", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="x", Body=b"2")["VersionId"]
    s3.put_object(Bucket=b, Key="y", Body=b"y")
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "x", "VersionId": v1}, {"Key": "y"}, {"Key": "x", "VersionId": "bad"}]})
    deleted = {(d["Key"], d.get("VersionId")): d for d in out["Deleted"]}
    assert deleted[("x", v1)] == {"Key": "x", "VersionId": v1}
    y = deleted[("y", None)]
    assert y["DeleteMarker"] is True and VERSION_ID.match(y["DeleteMarkerVersionId"])
    assert out["Errors"] == [{"Key": "x", "VersionId": "bad", "Code": "NoSuchVersion", "Message": "The specified version does not exist."}]
    # removing the marker by id reports it as a marker
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "y", "VersionId": y["DeleteMarkerVersionId"]}]})
    assert out["Deleted"] == [{"Key": "y", "VersionId": y["DeleteMarkerVersionId"], "DeleteMarker": True,
                               "DeleteMarkerVersionId": y["DeleteMarkerVersionId"]}]
    assert s3.get_object(Bucket=b, Key="y")["Body"].read() == b"y"
    assert all_versions(s3, b, Prefix="x") == wire([("x", v2, True, False)])


def test_delete_bucket_refuses_while_versions_remain(s3: Any) -> None:
    b = versioned(s3, "ver-delete-bucket")
    v = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    m = s3.delete_object(Bucket=b, Key="k")["VersionId"]  # nothing current, a version and a marker remain
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=b)
    assert code_of(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=b, Key="k", VersionId=v)
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=b)
    assert code_of(e) == "BucketNotEmpty"  # the delete marker alone still counts
    s3.delete_object(Bucket=b, Key="k", VersionId=m)
    s3.delete_bucket(Bucket=b)
    s3.create_bucket(Bucket=b)  # a new bucket of that name starts never versioned
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)


# -- notifications and lifecycle ---------------------------------------------------------------------------


def test_notifications_carry_version_ids(s3: Any, server: NimbusProcess) -> None:
    lam = server.client("lambda")
    arn = create(lam, "ver-recorder", RECORDER, Timeout=30)["FunctionArn"]
    b = versioned(s3, "ver-notify")
    s3.create_bucket(Bucket="ver-sink")
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"Id": "created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]},
        {"Id": "marker", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:DeleteMarkerCreated"]},
        {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:Delete"]},
    ]})
    v1 = s3.put_object(Bucket=b, Key="n", Body=b"1")["VersionId"]
    v2 = s3.copy_object(Bucket=b, Key="n", CopySource={"Bucket": b, "Key": "n"}, MetadataDirective="REPLACE")["VersionId"]
    marker = s3.delete_object(Bucket=b, Key="n")["VersionId"]
    s3.delete_object(Bucket=b, Key="n", VersionId=v1)

    def keys() -> list[str]:
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="ver-sink").get("Contents", []))

    wait_for(lambda: len(keys()) >= 4)
    assert keys() == sorted([f"ObjectCreated-Put/n/{v1}", f"ObjectCreated-Copy/n/{v2}",
                             f"ObjectRemoved-DeleteMarkerCreated/n/{marker}", f"ObjectRemoved-Delete/n/{v1}"])
    record = json.loads(s3.get_object(Bucket="ver-sink", Key=f"ObjectRemoved-DeleteMarkerCreated/n/{marker}")["Body"].read())
    assert record["s3"]["configurationId"] == "marker" and "size" not in record["s3"]["object"]


def test_lifecycle_noncurrent_expiration_and_expired_delete_markers(s3: Any) -> None:
    b = versioned(s3, "ver-lifecycle")
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "noncurrent", "Status": "Enabled", "Filter": {"Prefix": "nc/"}, "NoncurrentVersionExpiration": {"NoncurrentDays": 2}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "dm/"}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]})
    old = s3.put_object(Bucket=b, Key="nc/k", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=b, Key="nc/k", Body=b"new")["VersionId"]
    s3.put_object(Bucket=b, Key="nc/only", Body=b"current only")
    v = s3.put_object(Bucket=b, Key="dm/k", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=b, Key="dm/k")
    s3.delete_object(Bucket=b, Key="dm/lonely")  # a marker with no version under it: expired at once
    s3.delete_object(Bucket=b, Key="nc/k", VersionId=new)  # old is current again: never expired
    new = s3.put_object(Bucket=b, Key="nc/k", Body=b"new")["VersionId"]
    wait_for(lambda: not any(k == "dm/lonely" for k, *_ in all_versions(s3, b)), timeout=20)
    wait_for(lambda: [x[1] for x in all_versions(s3, b, Prefix="nc/k")] == [new], timeout=20)
    assert s3.get_object(Bucket=b, Key="nc/k")["Body"].read() == b"new"
    assert len(all_versions(s3, b, Prefix="nc/only")) == 1
    # the marker over a remaining version is not expired; once the version goes, it is
    assert sorted(x[3] for x in all_versions(s3, b, Prefix="dm/k")) == [False, True]
    s3.delete_object(Bucket=b, Key="dm/k", VersionId=v)
    wait_for(lambda: all_versions(s3, b, Prefix="dm/") == [], timeout=20)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=b, Key="nc/k", VersionId=old)


def test_lifecycle_expiration_in_a_versioned_bucket_adds_a_delete_marker(s3: Any) -> None:
    b = versioned(s3, "ver-lc-expire")
    v = s3.put_object(Bucket=b, Key="exp/k", Body=b"x")["VersionId"]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "days", "Status": "Enabled", "Filter": {"Prefix": "exp/"}, "Expiration": {"Days": 1}}]})
    wait_for(lambda: sorted(x[3] for x in all_versions(s3, b)) == [False, True], timeout=20)
    assert s3.get_object(Bucket=b, Key="exp/k", VersionId=v)["Body"].read() == b"x"


# -- durability ------------------------------------------------------------------------------------------


def test_acknowledged_versions_survive_kill9(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        b = versioned(s3, "ver-crash")
        acked: dict[tuple[str, str], bytes] = {}
        markers: dict[str, str] = {}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n: int) -> None:
            c = server.client("s3")
            i = 0
            while not stop.is_set():
                key = f"w{n}/{i % 3}"
                body = os.urandom(40 * 1024 if i % 2 else 200) + f"{n}:{i}".encode()
                try:
                    if i % 5 == 4:
                        vid = c.delete_object(Bucket=b, Key=key)["VersionId"]
                        with lock:
                            markers[vid] = key
                    else:
                        vid = c.put_object(Bucket=b, Key=key, Body=body)["VersionId"]
                        with lock:
                            acked[(key, vid)] = body
                except Exception:  # noqa: BLE001 - the server went away mid-request
                    return
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acked) >= 60, timeout=60)
        server.kill9()
        stop.set()
        for t in threads:
            t.join()
        server.start()
        s3 = server.client("s3")
        listed = {}
        kw: dict[str, Any] = {}
        while True:
            page = s3.list_object_versions(Bucket=b, MaxKeys=50, **kw)
            for v in page.get("Versions", []):
                listed[(v["Key"], v["VersionId"])] = v
            for m in page.get("DeleteMarkers", []):
                listed[(m["Key"], m["VersionId"])] = m
            if not page["IsTruncated"]:
                break
            kw = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
        for (key, vid), body in acked.items():
            assert (key, vid) in listed, (key, vid)
            got = s3.get_object(Bucket=b, Key=key, VersionId=vid)
            assert got["Body"].read() == body and got["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
        for vid, key in markers.items():
            assert (key, vid) in listed
        # every listed version reads whole (none half written), and each key has exactly one latest
        latest: dict[str, int] = {}
        for (key, vid), entry in listed.items():
            latest[key] = latest.get(key, 0) + (1 if entry["IsLatest"] else 0)
            if "Size" in entry:
                assert len(s3.get_object(Bucket=b, Key=key, VersionId=vid)["Body"].read()) == entry["Size"]
        assert set(latest.values()) == {1}
        # after another restart (the start-up sweep ran), noncurrent bodies are all still there
        server.restart()
        s3 = server.client("s3")
        for (key, vid), body in list(acked.items())[:30]:
            assert s3.get_object(Bucket=b, Key=key, VersionId=vid)["Body"].read() == body
    finally:
        server.stop()


def test_aws_cli_versioning_round_trip(server: NimbusProcess, tmp_path: Path) -> None:
    b = "ver-cli"
    server.aws("s3api", "create-bucket", "--bucket", b)
    server.aws("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
    src = tmp_path / "body"
    ids = []
    for text in ("first", "second"):
        src.write_text(text)
        out = json.loads(server.aws("s3api", "put-object", "--bucket", b, "--key", "dir/file name", "--body", str(src)).stdout)
        ids.append(out["VersionId"])
    assert all(VERSION_ID.match(v) for v in ids) and ids[0] != ids[1]
    dest = tmp_path / "got"
    meta = json.loads(server.aws("s3api", "get-object", "--bucket", b, "--key", "dir/file name", "--version-id", ids[0], str(dest)).stdout)
    assert meta["VersionId"] == ids[0] and dest.read_text() == "first"
    out = json.loads(server.aws("s3api", "delete-object", "--bucket", b, "--key", "dir/file name").stdout)
    assert out["DeleteMarker"] is True
    listed = json.loads(server.aws("s3api", "list-object-versions", "--bucket", b, "--prefix", "dir/",
                                   "--query", "{v: Versions[].VersionId, m: DeleteMarkers[].VersionId}").stdout)
    assert listed == {"v": [ids[1], ids[0]], "m": [out["VersionId"]]}
    # `aws s3 ls` sees no current object; the versions stay until each is deleted by id
    assert server.aws("s3", "ls", f"s3://{b}/dir/", check=False).stdout.strip() == ""  # (exit 1: nothing listed)
    for v in [*ids, out["VersionId"]]:
        server.aws("s3api", "delete-object", "--bucket", b, "--key", "dir/file name", "--version-id", v)
    assert json.loads(server.aws("s3api", "list-object-versions", "--bucket", b).stdout).get("Versions") is None
    server.aws("s3api", "delete-bucket", "--bucket", b)
