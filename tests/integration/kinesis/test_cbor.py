"""Kinesis over CBOR (``application/x-amz-cbor-1.1``, the AWS SDK for Java's default), signed requests."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nimbus.protocol import cbor
from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess
from tests.integration.kinesis.helpers import create_active


def call(server: NimbusProcess, operation: str, doc: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    body = cbor.dumps(doc)
    req = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-cbor-1.1", "X-Amz-Target": f"Kinesis_20131202.{operation}"},
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kinesis", "us-east-1").add_auth(req)
    http = urllib.request.Request(req.url, data=body, headers=dict(req.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(http, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, cbor.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, cbor.loads(e.read())


def test_put_and_get_records_in_cbor(server: NimbusProcess) -> None:
    create_active(server.client("kinesis"), "cb", 1)
    status, headers, out = call(server, "PutRecord", {"StreamName": "cb", "Data": b"\x00\x01binary", "PartitionKey": "k"})
    assert status == 200 and headers["content-type"] == "application/x-amz-cbor-1.1"
    assert out["ShardId"] == "shardId-000000000000" and len(out["SequenceNumber"]) == 56
    _, _, put = call(server, "PutRecords", {"StreamName": "cb", "Records": [{"Data": b"r%d" % i, "PartitionKey": "k"} for i in range(3)]})
    assert put["FailedRecordCount"] == 0
    _, _, it = call(server, "GetShardIterator", {"StreamName": "cb", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})
    _, _, got = call(server, "GetRecords", {"ShardIterator": it["ShardIterator"]})
    assert [r["Data"] for r in got["Records"]] == [b"\x00\x01binary", b"r0", b"r1", b"r2"]
    assert got["Records"][0]["ApproximateArrivalTimestamp"].year >= 2024
    # boto3 (JSON) sees the same records
    k = server.client("kinesis")
    it2 = k.get_shard_iterator(StreamName="cb", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in k.get_records(ShardIterator=it2)["Records"]][0] == b"\x00\x01binary"


def test_errors_in_cbor(server: NimbusProcess) -> None:
    status, headers, out = call(server, "DescribeStream", {"StreamName": "missing"})
    assert status == 400 and out["__type"] == "ResourceNotFoundException" and "missing" in out["message"]
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    status, _, out = call(server, "PutRecord", {"StreamName": "cb"})
    assert status == 400 and out["__type"] == "ValidationException"
