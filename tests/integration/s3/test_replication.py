"""S3 replication inside Nimbus against a real server: new versions matching a rule are copied to the
destination with their version id, metadata, tags and ETag (PENDING then COMPLETED on the source, REPLICA
on the copy); prefix and tag filters, delete markers as the rule says, a destination that stops taking
versions (FAILED), multipart objects, the AWS CLI, and kill -9 with replications pending."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess

ROLE = "arn:aws:iam::000000000000:role/replication"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    base: Path = tmp_path_factory.mktemp("replication")
    proc = NimbusProcess(base / "data").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def s3(server: NimbusProcess) -> Any:
    return server.client("s3")


def versioned(s3: Any, name: str) -> str:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def rule(dest: str, rid: str, priority: int, filter_: dict[str, Any], markers: bool = False) -> dict[str, Any]:
    return {"ID": rid, "Priority": priority, "Status": "Enabled", "Filter": filter_,
            "DeleteMarkerReplication": {"Status": "Enabled" if markers else "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def version_ids(s3: Any, bucket: str, key: str) -> list[tuple[str, bool]]:
    out = s3.list_object_versions(Bucket=bucket, Prefix=key)
    entries = [(v["VersionId"], False, v["Key"]) for v in out.get("Versions", [])] + \
              [(m["VersionId"], True, m["Key"]) for m in out.get("DeleteMarkers", [])]
    return sorted((vid, marker) for vid, marker, k in entries if k == key)


def status(s3: Any, bucket: str, key: str, version: str | None = None) -> str | None:
    head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    return head.get("ReplicationStatus")  # type: ignore[no-any-return]


def test_new_versions_are_replicated_with_their_identity(s3: Any) -> None:
    src, dst = versioned(s3, "repl-a-src"), versioned(s3, "repl-a-dst")
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration={"Role": ROLE, "Rules": [
        rule(dst, "docs", 2, {"Prefix": "docs/"}, markers=True),
        rule(dst, "tagged", 1, {"Tag": {"Key": "replicate", "Value": "yes"}})]})
    put = s3.put_object(Bucket=src, Key="docs/a.txt", Body=b"first", ContentType="text/plain",
                        Metadata={"owner": "ops"}, Tagging="team=data")
    s3.put_object(Bucket=src, Key="other/skip.txt", Body=b"not replicated")
    s3.put_object(Bucket=src, Key="other/tagged.txt", Body=b"by tag", Tagging="replicate=yes")
    assert status(s3, src, "docs/a.txt") in ("PENDING", "COMPLETED")
    wait_for(lambda: status(s3, src, "docs/a.txt") == "COMPLETED")
    copy = s3.get_object(Bucket=dst, Key="docs/a.txt")
    assert copy["Body"].read() == b"first" and copy["VersionId"] == put["VersionId"] and copy["ETag"] == put["ETag"]
    assert copy["ContentType"] == "text/plain" and copy["Metadata"] == {"owner": "ops"}
    assert copy["ReplicationStatus"] == "REPLICA"
    assert s3.get_object_tagging(Bucket=dst, Key="docs/a.txt")["TagSet"] == [{"Key": "team", "Value": "data"}]
    wait_for(lambda: status(s3, src, "other/tagged.txt") == "COMPLETED")
    assert s3.get_object(Bucket=dst, Key="other/tagged.txt")["Body"].read() == b"by tag"
    assert status(s3, src, "other/skip.txt") is None
    with pytest.raises(ClientError):
        s3.head_object(Bucket=dst, Key="other/skip.txt")

    # a second version, then a delete marker: both arrive with their ids; a delete by version id stays local
    second = s3.put_object(Bucket=src, Key="docs/a.txt", Body=b"second")["VersionId"]
    marker = s3.delete_object(Bucket=src, Key="docs/a.txt")["VersionId"]
    want = sorted([(put["VersionId"], False), (second, False), (marker, True)])
    wait_for(lambda: version_ids(s3, dst, "docs/a.txt") == want)
    s3.delete_object(Bucket=src, Key="docs/a.txt", VersionId=second)
    time.sleep(0.5)
    assert version_ids(s3, dst, "docs/a.txt") == want


def test_markers_only_where_the_rule_says_and_failures(s3: Any) -> None:
    src, dst, gone = versioned(s3, "repl-b-src"), versioned(s3, "repl-b-dst"), versioned(s3, "repl-b-gone")
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration={"Role": ROLE, "Rules": [
        rule(dst, "keep", 1, {"Prefix": "keep/"}, markers=False), rule(gone, "fail", 2, {"Prefix": "fail/"})]})
    v = s3.put_object(Bucket=src, Key="keep/k", Body=b"k")["VersionId"]
    wait_for(lambda: status(s3, src, "keep/k") == "COMPLETED")
    s3.delete_object(Bucket=src, Key="keep/k")
    time.sleep(0.5)
    assert version_ids(s3, dst, "keep/k") == [(v, False)]  # DeleteMarkerReplication Disabled
    s3.put_bucket_versioning(Bucket=gone, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=src, Key="fail/f", Body=b"f")
    wait_for(lambda: status(s3, src, "fail/f") == "FAILED")


def test_multipart_objects_and_the_cli(server: NimbusProcess, s3: Any, tmp_path: Path) -> None:
    src, dst = versioned(s3, "repl-c-src"), versioned(s3, "repl-c-dst")
    config = {"Role": ROLE, "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {},
                                       "DeleteMarkerReplication": {"Status": "Disabled"},
                                       "Destination": {"Bucket": f"arn:aws:s3:::{dst}", "StorageClass": "STANDARD_IA"}}]}
    server.aws("s3api", "put-bucket-replication", "--bucket", src, "--replication-configuration", json.dumps(config))
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (9 * MiB))
    server.aws("s3", "cp", str(big), f"s3://{src}/big.bin")  # the CLI uploads 9 MiB in parts
    head = s3.head_object(Bucket=src, Key="big.bin")
    assert head["ETag"].endswith('-2"')
    wait_for(lambda: status(s3, src, "big.bin") == "COMPLETED", timeout=60)
    copy = s3.head_object(Bucket=dst, Key="big.bin")
    assert copy["ETag"] == head["ETag"] and copy["VersionId"] == head["VersionId"] and copy["ContentLength"] == 9 * MiB
    assert copy["StorageClass"] == "STANDARD_IA" and copy["ReplicationStatus"] == "REPLICA"
    out = tmp_path / "out.bin"
    server.aws("s3", "cp", f"s3://{dst}/big.bin", str(out))
    assert out.read_bytes() == big.read_bytes()


def test_pending_replications_survive_kill9(server: NimbusProcess, s3: Any) -> None:
    src, dst = versioned(s3, "repl-d-src"), versioned(s3, "repl-d-dst")
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration={"Role": ROLE, "Rules": [rule(dst, "all", 1, {})]})
    versions = {f"k{i}": s3.put_object(Bucket=src, Key=f"k{i}", Body=f"body {i}".encode())["VersionId"] for i in range(60)}
    server.kill9()  # acknowledged writes, some not yet replicated
    server.start()
    s3 = server.client("s3")
    wait_for(lambda: all(status(s3, src, k) == "COMPLETED" for k in versions), timeout=60)
    for key, vid in versions.items():
        got = s3.get_object(Bucket=dst, Key=key)
        assert got["VersionId"] == vid and got["Body"].read() == f"body {key[1:]}".encode()
        assert version_ids(s3, dst, key) == [(vid, False)]  # written once, even if replayed
