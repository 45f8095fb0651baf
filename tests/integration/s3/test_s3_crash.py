"""kill -9 around CompleteMultipartUpload and during a large CopyObject: after the restart the key holds the
old object (or none) or the new one, whole, never a part of either; a completion that did not happen leaves
its upload and parts usable."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess

MiB = 1024 * 1024


def code_of(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def rchar(pid: int) -> int:
    """Bytes the process has read so far (files and sockets), from /proc/<pid>/io."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar")


def send_complete(server: NimbusProcess, bucket: str, key: str, upload_id: str, etags: list[str]) -> http.client.HTTPConnection:
    """Send a signed CompleteMultipartUpload and return without reading the answer."""
    xml = "<CompleteMultipartUpload>" + "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1)) + "</CompleteMultipartUpload>"
    body = xml.encode()
    path = f"/{bucket}/{key}?uploadId={upload_id}"
    req = AWSRequest("POST", server.endpoint + path, data=body, headers={"Content-Type": "application/xml"})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", path, body=body, headers=dict(req.headers.items()))
    return conn


def start_upload(s3: Any, bucket: str, key: str, parts: list[bytes], **create: Any) -> tuple[str, list[str]]:
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
    etags = [s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p, **extra)["ETag"]
             for n, p in enumerate(parts, 1)]
    return uid, etags


def outcome(s3: Any, bucket: str, key: str, uid: str, old: bytes | None, new: bytes, etags: list[str]) -> str:
    """'old' (the previous object, or none, and the upload intact) or 'new' (the completed object, upload gone)."""
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
        body, etag = got["Body"].read(), got["ETag"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey"
        body, etag = None, None
    if body == new:
        md5s = b"".join(bytes.fromhex(e.strip('"')) for e in etags)
        assert etag == f'"{hashlib.md5(md5s).hexdigest()}-{len(etags)}"'
        with pytest.raises(ClientError) as e:
            s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
        assert code_of(e) == "NoSuchUpload"
        return "new"
    assert body == old, f"{key}: neither the old object nor the new one ({None if body is None else len(body)} bytes)"
    assert [p["ETag"] for p in s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]] == etags
    return "old"


def test_kill9_around_complete_multipart_upload(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="crash")
        old = os.urandom(MiB + 5)
        cases: dict[str, tuple[bytes | None, list[bytes], dict[str, Any]]] = {
            # composite: completion is one metadata transaction
            "sent": (old, [os.urandom(5 * MiB), os.urandom(1000)], {}),
            "absent": (None, [os.urandom(5 * MiB), os.urandom(1000)], {}),
            # FULL_OBJECT CRC32: completion first re-reads every part (48 MiB) to compute the checksum
            "rereading": (old, [os.urandom(16 * MiB) for _ in range(3)], {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}),
            "answered": (old, [os.urandom(5 * MiB), os.urandom(3 * MiB)], {}),
        }
        uploads = {}
        for name, (before, parts, create) in cases.items():
            if before is not None:
                s3.put_object(Bucket="crash", Key=name, Body=before)
            uploads[name] = start_upload(s3, "crash", name, parts, **create)

        seen: dict[str, str] = {}
        for name, (before, parts, _) in cases.items():
            uid, etags = uploads[name]
            assert server.proc is not None
            pid = server.proc.pid
            start = rchar(pid)
            conn = send_complete(server, "crash", name, uid, etags)
            if name == "rereading":
                # kill once the server has read back a sixth of the parts (the request itself is < 1 KiB)
                deadline = time.monotonic() + 10
                while rchar(pid) - start < 8 * MiB and time.monotonic() < deadline:
                    pass
            elif name == "answered":
                resp = conn.getresponse()
                assert resp.status == 200, resp.read()
            server.kill9()
            conn.close()
            server.start()
            s3 = server.client("s3")
            seen[name] = outcome(s3, "crash", name, uid, before, b"".join(parts), etags)
            # a completion the crash undid can be done again: the parts are intact
            if seen[name] == "old":
                s3.complete_multipart_upload(Bucket="crash", Key=name, UploadId=uid, MultipartUpload={
                    "Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]})
                assert s3.get_object(Bucket="crash", Key=name)["Body"].read() == b"".join(parts)
        assert seen["answered"] == "new"  # acknowledged: durable
        full = s3.head_object(Bucket="crash", Key="rereading", ChecksumMode="ENABLED")
        crc = zlib.crc32(b"".join(cases["rereading"][1])).to_bytes(4, "big")
        assert full["ChecksumCRC32"] == base64.b64encode(crc).decode() and full["ChecksumType"] == "FULL_OBJECT"
        assert list((tmp_path / "data" / "s3" / "tmp").iterdir()) == []
    finally:
        server.stop()


def test_kill9_during_a_large_copy_object(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="crash")
        source = os.urandom(96 * MiB)
        old = os.urandom(2 * MiB)
        s3.put_object(Bucket="crash", Key="source", Body=source)
        s3.put_object(Bucket="crash", Key="target", Body=old)
        tmp_dir = tmp_path / "data" / "s3" / "tmp"

        errors: list[BaseException] = []

        def copy() -> None:
            try:
                s3.copy_object(Bucket="crash", Key="target", CopySource={"Bucket": "crash", "Key": "source"})
            except BaseException as e:  # noqa: BLE001 - the server dies under it
                errors.append(e)

        thread = threading.Thread(target=copy)
        thread.start()
        # kill once the copy's body is part-way into its temporary blob
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and thread.is_alive():
            sizes = []
            for p in tmp_dir.iterdir():
                try:
                    sizes.append(p.stat().st_size)
                except FileNotFoundError:
                    pass
            if any(s >= 8 * MiB for s in sizes):
                break
        server.kill9()
        thread.join(60)
        server.start()
        s3 = server.client("s3")
        got = s3.get_object(Bucket="crash", Key="target")["Body"].read()
        assert got in (old, source), f"target is neither the old object nor the copy ({len(got)} bytes)"
        assert s3.get_object(Bucket="crash", Key="source")["Body"].read() == source
        assert list(tmp_dir.iterdir()) == []
        # and the copy succeeds after the restart
        s3.copy_object(Bucket="crash", Key="target", CopySource={"Bucket": "crash", "Key": "source"})
        assert s3.get_object(Bucket="crash", Key="target")["Body"].read() == source
    finally:
        server.stop()
