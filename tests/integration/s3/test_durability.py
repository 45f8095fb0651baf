"""Restart persistence, kill -9 in the middle of an upload, and the start-up sweep of orphan bodies."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


def blob_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]


def test_objects_survive_restart_and_kill9_mid_upload_leaves_nothing(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="durable")
        body = os.urandom(3 * 1024 * 1024)
        s3.put_object(Bucket="durable", Key="kept/one", Body=body, Metadata={"m": "1"}, Tagging="t=v")
        uid = s3.create_multipart_upload(Bucket="durable", Key="kept/mpu")["UploadId"]
        etag = s3.upload_part(Bucket="durable", Key="kept/mpu", UploadId=uid, PartNumber=1, Body=b"part")["ETag"]
        server.restart()
        s3 = server.client("s3")
        got = s3.get_object(Bucket="durable", Key="kept/one")
        assert got["Body"].read() == body and got["Metadata"] == {"m": "1"}
        assert [p["ETag"] for p in s3.list_parts(Bucket="durable", Key="kept/mpu", UploadId=uid)["Parts"]] == [etag]

        # start a 32 MB PUT, send a third of it, kill -9 the server while it streams
        size = 32 * 1024 * 1024
        req = AWSRequest("PUT", f"{server.endpoint}/durable/partial", headers={
            "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", "Content-Length": str(size)})
        S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.putrequest("PUT", "/durable/partial", skip_accept_encoding=True, skip_host=True)
        for k, v in req.headers.items():
            conn.putheader(k, v)
        conn.putheader("Host", f"127.0.0.1:{server.port}")
        conn.endheaders()
        chunk = os.urandom(1024 * 1024)
        for _ in range(size // 3 // len(chunk)):
            conn.send(chunk)
        deadline = time.monotonic() + 10
        tmp_dir = tmp_path / "data" / "s3" / "tmp"
        while time.monotonic() < deadline and not any(tmp_dir.iterdir()):
            time.sleep(0.02)  # wait until the server is writing the body to a temporary blob
        server.kill9()
        conn.close()
        server.start()
        s3 = server.client("s3")
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket="durable", Key="partial")
        assert e.value.response["Error"]["Code"] == "404"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="durable")["Contents"]]
        assert keys == ["kept/one"]
        assert not any(tmp_dir.iterdir())
        assert s3.get_object(Bucket="durable", Key="kept/one")["Body"].read() == body
    finally:
        server.stop()


def test_startup_sweeps_orphan_blobs(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="sweep")
        live = b"live" * 5000  # above the inline limit: a body file the sweep must keep
        s3.put_object(Bucket="sweep", Key="live", Body=live)
        server.stop()
        # what a crash between blob rename and metadata commit leaves: a body no object names
        orphan = tmp_path / "data" / "s3" / "objects" / "ff" / ("ff" + hashlib.sha256(b"orphan").hexdigest()[2:])
        orphan.parent.mkdir(parents=True, exist_ok=True)
        orphan.write_bytes(b"orphan")
        old = time.time() - 3600
        os.utime(orphan, (old, old))
        server.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and orphan.exists():
            time.sleep(0.05)
        assert not orphan.exists()
        assert server.client("s3").get_object(Bucket="sweep", Key="live")["Body"].read() == live
        assert len(blob_files(tmp_path / "data")) == 1
    finally:
        server.stop()


def inline_rows(data_dir: Path) -> tuple[int, int]:
    """(objects whose body is kept in their description, body documents of the older layout)."""
    import sqlite3

    import orjson

    db = sqlite3.connect(str(data_dir / "metadata.db"))
    try:
        docs = [orjson.loads(row[0]) for row in db.execute("SELECT doc FROM documents WHERE kind = 's3.object'")]
        legacy = int(db.execute("SELECT count(*) FROM documents WHERE kind = 's3.inline'").fetchone()[0])
        return sum(1 for d in docs if "d" in d), legacy
    finally:
        db.close()


def test_small_objects_kept_inline_survive_kill9_and_leave_nothing_behind(tmp_path: Path) -> None:
    """Small bodies commit in their description (no body file, no other document): every acknowledged
    put is readable after kill -9; overwrites and deletes remove the old bodies in the same transaction."""
    from concurrent.futures import ThreadPoolExecutor

    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="small")
        bodies = {f"k/{i}": os.urandom(1 + i * 37) for i in range(120)}

        def put(item: tuple[str, bytes]) -> str:
            r = s3.put_object(Bucket="small", Key=item[0], Body=item[1], ChecksumAlgorithm="SHA256")
            return str(r["ETag"])

        with ThreadPoolExecutor(8) as pool:
            etags = dict(zip(bodies, pool.map(put, bodies.items())))
        s3.put_object(Bucket="small", Key="k/0", Body=b"replaced")
        bodies["k/0"] = b"replaced"
        s3.delete_object(Bucket="small", Key="k/1")
        del bodies["k/1"]
        s3.copy_object(Bucket="small", Key="copy", CopySource={"Bucket": "small", "Key": "k/2"})
        bodies["copy"] = bodies["k/2"]
        server.kill9()
        server.start()
        s3 = server.client("s3")
        for key, body in bodies.items():
            got = s3.get_object(Bucket="small", Key=key)
            assert got["Body"].read() == body, key
            assert got["ContentLength"] == len(body)
        assert etags["k/5"] == f'"{hashlib.md5(bodies["k/5"]).hexdigest()}"'
        assert s3.get_object(Bucket="small", Key="k/5", Range="bytes=1-3")["Body"].read() == bodies["k/5"][1:4]
        assert blob_files(tmp_path / "data") == []
        assert inline_rows(tmp_path / "data") == (len(bodies), 0)
        for key in list(bodies):
            s3.delete_object(Bucket="small", Key=key)
        assert inline_rows(tmp_path / "data") == (0, 0)
    finally:
        server.stop()
