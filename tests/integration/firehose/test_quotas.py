"""Per-stream ingest quotas through the real server (NIMBUS_FIREHOSE_QUOTAS=on): PutRecord refused with
ServiceUnavailableException "Slow down.", PutRecordBatch refusing per record, only admitted records
delivered. The quota is 1 byte/s, so after the first record a 100-byte record owes ~99 s: the outcome does
not depend on how fast the test runs."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.firehose.test_firehose import ENV, create, flush, objects

QUOTA_ENV = {**ENV, "NIMBUS_FIREHOSE_QUOTAS": "on", "NIMBUS_FIREHOSE_QUOTA_BYTES_PER_S": "1"}


@pytest.fixture()
def server(tmp_path: Any) -> Iterator[NimbusProcess]:
    p = NimbusProcess(tmp_path / "data", env=QUOTA_ENV).start()
    try:
        yield p
    finally:
        p.stop()


def test_slow_down(server: NimbusProcess) -> None:
    # no retries: each refusal is seen (and counted) once
    fh, s3 = server.client("firehose", config=Config(retries={"total_max_attempts": 1})), server.client("s3")
    s3.create_bucket(Bucket="quota")
    name = create(fh, "quota", name="q1", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900})

    records = [{"Data": f"{i}".encode() * 100 + b"\n"} for i in range(5)]
    r = fh.put_record_batch(DeliveryStreamName=name, Records=records)
    assert r["FailedPutCount"] == 4
    assert "RecordId" in r["RequestResponses"][0] and "ErrorCode" not in r["RequestResponses"][0]
    assert r["RequestResponses"][1:] == [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}] * 4

    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName=name, Record={"Data": b"late\n"})
    assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert e.value.response["Error"]["Message"] == "Slow down."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    # another stream has its own buckets
    other = create(fh, "quota", name="q2", BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900}, Prefix="other/")
    assert fh.put_record(DeliveryStreamName=other, Record={"Data": b"ok\n"})["RecordId"]

    flush(server, name)
    flush(server, other)
    got = objects(s3, "quota")
    assert sorted(got.values()) == sorted([records[0]["Data"], b"ok\n"])  # only what was accepted
    stats = server.get_json("/_nimbus/firehose/streams")
    assert stats[f"000000000000/us-east-1/{name}"]["throttled_records"] == 5
    assert stats[f"000000000000/us-east-1/{name}"]["incoming_records"] == 1
    with urllib.request.urlopen(server.endpoint + "/_nimbus/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert f'nimbus_firehose_throttled_records_total{{account="000000000000",region="us-east-1",stream="{name}"}} 5' in metrics
