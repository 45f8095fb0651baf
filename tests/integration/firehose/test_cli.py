"""``nimbus firehose flush`` / ``describe`` as a user runs them: a subprocess against a real server, the
endpoint and credentials from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import NimbusProcess
from tests.integration.firehose.test_firehose import ENV, ROLE, objects, wait_active

NIMBUS = [sys.executable, "-m", "nimbus"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path_factory.mktemp("firehose-cli") / "data", env=ENV).start()
    try:
        yield p
    finally:
        p.stop()


def nimbus(server: NimbusProcess, *args: str, region: str = "us-east-1") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NIMBUS, "firehose", *args], env=server.aws_env(region), capture_output=True, text=True, timeout=120)


def make_stream(server: NimbusProcess, name: str, bucket: str, region: str = "us-east-1") -> Any:
    fh, s3 = server.client("firehose", region), server.client("s3", region)
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "cli/",
                                            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 900}},
    )
    wait_active(fh, name)
    return fh


def test_flush_then_describe(server: NimbusProcess) -> None:
    fh = make_stream(server, "cli-stream", "cli-bucket")
    s3 = server.client("s3")
    fh.put_record_batch(DeliveryStreamName="cli-stream", Records=[{"Data": f"r{i}\n".encode()} for i in range(10)])

    # before the flush: the buffer holds the 10 records (30 bytes), nothing delivered
    cp = nimbus(server, "describe", "cli-stream", "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["description"]["DeliveryStreamName"] == "cli-stream"
    assert doc["stats"]["incoming_records"] == 10 and doc["stats"]["pending_bytes"] == 30
    assert doc["stats"]["backlog_records"] == 10 and doc["stats"]["last_delivery_ms"] is None
    text = nimbus(server, "describe", "cli-stream").stdout
    assert "Buffer fill      30 B of 1 MB" in text and "10 records not yet delivered" in text
    assert "Last delivery    never" in text and "s3://cli-bucket/cli/" in text
    assert objects(s3, "cli-bucket") == {}

    cp = nimbus(server, "flush", "cli-stream")
    assert cp.returncode == 0 and cp.stdout.startswith("flushed cli-stream"), cp.stderr
    got = objects(s3, "cli-bucket")
    assert b"".join(got.values()) == b"".join(f"r{i}\n".encode() for i in range(10))
    assert all(k.startswith("cli/") for k in got)

    doc = json.loads(nimbus(server, "describe", "cli-stream", "--json").stdout)
    stats = doc["stats"]
    assert stats["delivered_records"] == 10 and stats["objects"] == 1 and stats["pending_bytes"] == 0
    assert stats["backlog_records"] == 0 and stats["last_delivery_ms"] is not None and stats["last_error"] is None
    text = nimbus(server, "describe", "cli-stream").stdout
    assert "Delivered        10 records" in text and "in 1 objects" in text and "Last error       none" in text
    assert "Errors           0 delivery failures" in text


def test_region_option_and_errors(server: NimbusProcess) -> None:
    make_stream(server, "cli-west", "cli-west-bucket", region="eu-west-1")
    server.client("firehose", "eu-west-1").put_record(DeliveryStreamName="cli-west", Record={"Data": b"w\n"})
    # --region after the subcommand, the environment saying us-east-1
    cp = nimbus(server, "flush", "cli-west", "--region", "eu-west-1")
    assert cp.returncode == 0, cp.stderr
    assert b"".join(objects(server.client("s3", "eu-west-1"), "cli-west-bucket").values()) == b"w\n"
    cp = nimbus(server, "--region", "eu-west-1", "describe", "cli-west")
    assert cp.returncode == 0 and "Delivered        1 records" in cp.stdout, cp.stderr

    # the stream is unknown in us-east-1: a clear message, exit status 1
    for sub in ("flush", "describe"):
        cp = nimbus(server, sub, "cli-west")
        assert cp.returncode == 1 and "cli-west" in cp.stderr and "not found" in cp.stderr, cp.stderr
