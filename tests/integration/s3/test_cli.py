"""The AWS CLI unchanged: aws s3 mb / cp / ls / sync / rm --recursive / rb and aws s3api."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def test_aws_s3_high_level_commands(nimbus_server: Any, tmp_path: Path) -> None:
    aws = nimbus_server.aws
    aws("s3", "mb", "s3://cli-bucket")
    assert "cli-bucket" in aws("s3", "ls").stdout
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    files = {"a.txt": b"alpha", "nested/b.txt": b"beta", "nested/deeper/c d.txt": b"gamma with space",
             "big.bin": os.urandom(9 * 1024 * 1024)}  # > 8 MB: the CLI goes multipart
    for name, data in files.items():
        (src / name).write_bytes(data)
    aws("s3", "cp", str(src / "a.txt"), "s3://cli-bucket/single/a.txt")
    aws("s3", "cp", str(src / "big.bin"), "s3://cli-bucket/single/big.bin")
    listing = aws("s3", "ls", "s3://cli-bucket/single/").stdout
    assert "a.txt" in listing and "big.bin" in listing
    aws("s3", "cp", "s3://cli-bucket/single/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "big.back").read_bytes() == files["big.bin"]
    aws("s3", "sync", str(src), "s3://cli-bucket/synced")
    rec = aws("s3", "ls", "--recursive", "s3://cli-bucket/synced/").stdout
    for name in files:
        assert f"synced/{name}" in rec, rec
    assert "PRE nested/" in aws("s3", "ls", "s3://cli-bucket/synced/").stdout
    # a second sync uploads nothing; a changed file is uploaded again
    assert "upload:" not in aws("s3", "sync", str(src), "s3://cli-bucket/synced").stdout
    (src / "a.txt").write_bytes(b"alpha changed")
    assert "upload:" in aws("s3", "sync", str(src), "s3://cli-bucket/synced").stdout
    down = tmp_path / "down"
    aws("s3", "sync", "s3://cli-bucket/synced", str(down))
    assert (down / "nested" / "deeper" / "c d.txt").read_bytes() == b"gamma with space"
    aws("s3", "rm", "--recursive", "s3://cli-bucket/synced/")
    assert "synced" not in aws("s3", "ls", "--recursive", "s3://cli-bucket/").stdout
    failed = aws("s3", "rb", "s3://cli-bucket", check=False)
    assert failed.returncode != 0 and "BucketNotEmpty" in failed.stderr
    aws("s3", "rb", "--force", "s3://cli-bucket")
    assert "cli-bucket" not in aws("s3", "ls").stdout


def test_aws_s3api_calls(nimbus_server: Any, tmp_path: Path) -> None:
    aws = nimbus_server.aws
    aws("s3api", "create-bucket", "--bucket", "api-bucket")
    body = tmp_path / "body.txt"
    body.write_bytes(b"s3api body")
    put = json.loads(aws("s3api", "put-object", "--bucket", "api-bucket", "--key", "k/1.txt", "--body", str(body),
                         "--content-type", "text/plain", "--metadata", "color=blue").stdout)
    assert put["ETag"].startswith('"')
    head = json.loads(aws("s3api", "head-object", "--bucket", "api-bucket", "--key", "k/1.txt").stdout)
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"color": "blue"}
    out = tmp_path / "out.txt"
    aws("s3api", "get-object", "--bucket", "api-bucket", "--key", "k/1.txt", "--range", "bytes=0-4", str(out))
    assert out.read_bytes() == b"s3api"
    listed = json.loads(aws("s3api", "list-objects-v2", "--bucket", "api-bucket", "--prefix", "k/").stdout)
    assert [o["Key"] for o in listed["Contents"]] == ["k/1.txt"]
    missing = aws("s3api", "get-object", "--bucket", "api-bucket", "--key", "nope", str(out), check=False)
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    aws("s3api", "delete-object", "--bucket", "api-bucket", "--key", "k/1.txt")
    aws("s3api", "delete-bucket", "--bucket", "api-bucket")
