"""Delivery to an external S3-compatible endpoint (``NIMBUS_FIREHOSE_S3_ENDPOINT``), end to end.

The external store is a second, real Nimbus server: server A's delivery streams write their objects there
(with the configured keys) and not into A's own S3. When the endpoint goes away, the data stays in A's
durable buffer, failures are counted and shown, and delivery resumes by itself once it is back.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess
from tests.integration.firehose.test_firehose import objects, wait_objects

ROLE = "arn:aws:iam::000000000000:role/firehose"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[NimbusProcess, NimbusProcess]]:
    (tmp_path / "external").mkdir()
    (tmp_path / "a").mkdir()
    external = NimbusProcess(tmp_path / "external" / "data").start()
    env = {
        "NIMBUS_FIREHOSE_S3_ENDPOINT": external.endpoint,
        "NIMBUS_FIREHOSE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "NIMBUS_FIREHOSE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    server = NimbusProcess(tmp_path / "a" / "data", env=env).start()
    try:
        yield server, external
    finally:
        server.stop()
        external.stop()


def stream_stats(server: NimbusProcess, name: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.endpoint}/_nimbus/firehose/streams", timeout=30) as r:
        stats = json.loads(r.read())
    return next(v for k, v in stats.items() if k.endswith(name))


def create(server: NimbusProcess, name: str, bucket: str, interval: int) -> None:
    fh = server.client("firehose")
    fh.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}", "Prefix": "ext/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": interval},
        },
    )
    deadline = time.monotonic() + 30
    while fh.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_objects_go_to_the_external_endpoint(pair: tuple[NimbusProcess, NimbusProcess]) -> None:
    server, external = pair
    external.client("s3").create_bucket(Bucket="ext-bucket")
    create(server, "to-external", "ext-bucket", interval=1)
    fh = server.client("firehose")
    fh.put_record_batch(DeliveryStreamName="to-external", Records=[{"Data": f"rec-{i}\n".encode()} for i in range(50)])
    got = wait_objects(external.client("s3"), "ext-bucket", prefix="ext/", timeout=30)
    assert len(got) == 1
    (key, body), = got.items()
    assert key.startswith("ext/") and "to-external-1-" in key
    assert body == b"".join(f"rec-{i}\n".encode() for i in range(50))
    # nothing was written to the delivering server's own S3
    assert server.client("s3").list_buckets()["Buckets"] == []


def test_endpoint_down_keeps_data_and_resumes(pair: tuple[NimbusProcess, NimbusProcess]) -> None:
    server, external = pair
    external.client("s3").create_bucket(Bucket="ext-bucket")
    create(server, "resumes", "ext-bucket", interval=1)
    external.stop()  # the endpoint goes away (its data dir and port are kept)
    fh = server.client("firehose")
    fh.put_record_batch(DeliveryStreamName="resumes", Records=[{"Data": b"kept while down\n"}])
    deadline = time.monotonic() + 30
    while stream_stats(server, "resumes")["delivery_failures"] < 2:
        assert time.monotonic() < deadline, stream_stats(server, "resumes")
        time.sleep(0.2)
    stats = stream_stats(server, "resumes")
    assert stats["objects"] == 0 and stats["last_error"] and stats["backlog_records"] == 1
    # the data is in the durable buffer: it survives a kill -9 of the delivering server too
    server.kill9()
    server.start()
    fh = server.client("firehose")
    fh.describe_delivery_stream(DeliveryStreamName="resumes")  # loads the service, which resumes the stream
    external.start()
    got = wait_objects(external.client("s3"), "ext-bucket", prefix="ext/", timeout=60)
    assert list(got.values()) == [b"kept while down\n"]
    deadline = time.monotonic() + 30
    while stream_stats(server, "resumes")["backlog_records"] != 0:
        assert time.monotonic() < deadline, stream_stats(server, "resumes")
        time.sleep(0.2)
    assert objects(external.client("s3"), "ext-bucket", "ext/") == got
