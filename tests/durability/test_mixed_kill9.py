"""kill -9 of a whole server under mixed write load: S3 PutObject, Kinesis PutRecords, Firehose PutRecordBatch,
Logs PutLogEvents, IAM CreateRole and STS GetSessionToken from concurrent clients, killed at a random moment,
restarted, several times over.
Every write that was answered 200 is there after each restart (S3 objects whole, byte for byte; every
acknowledged Kinesis record and log event readable), and at the end the delivery stream delivers every
acknowledged Firehose record at least once. The services share the metadata store, the logs and the
blob store: this checks their recoveries together, not one at a time."""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

from botocore.config import Config

from tests.conftest import NimbusProcess

CYCLES = 3
WRITERS_CONFIG = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10)
FH_RECORD = re.compile(rb"<[^>]*>")
TRUST = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'



class Acked:
    """What the server acknowledged, by service; writers add to it only after a 200."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, str] = {}  # key -> md5 hex
        self.kinesis: set[bytes] = set()
        self.firehose: set[bytes] = set()
        self.events: set[str] = set()
        self.roles: dict[str, str] = {}  # role name -> its tag's value
        self.sessions: list[dict[str, str]] = []  # STS session keys


def _setup(srv: NimbusProcess) -> None:
    srv.client("s3").create_bucket(Bucket="mixed")
    kin = srv.client("kinesis")
    kin.create_stream(StreamName="mixed", ShardCount=2)
    logs = srv.client("logs")
    logs.create_log_group(logGroupName="mixed")
    logs.create_log_stream(logGroupName="mixed", logStreamName="s")
    fh = srv.client("firehose")
    fh.create_delivery_stream(
        DeliveryStreamName="mixed",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/r",
            "BucketARN": "arn:aws:s3:::mixed",
            "Prefix": "fh/",
            "ErrorOutputPrefix": "fherr/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        k = kin.describe_stream_summary(StreamName="mixed")["StreamDescriptionSummary"]["StreamStatus"]
        f = fh.describe_delivery_stream(DeliveryStreamName="mixed")["DeliveryStreamDescription"]["DeliveryStreamStatus"]
        if k == f == "ACTIVE":
            return
        time.sleep(0.1)
    raise AssertionError("streams did not become ACTIVE")


def _writers(srv: NimbusProcess, acked: Acked, cycle: int, stop: threading.Event, seed: int) -> list[Callable[[], None]]:
    def s3(tag: str) -> Callable[[], None]:
        def run() -> None:
            c = srv.client("s3", config=WRITERS_CONFIG)
            rnd = random.Random(f"{seed}{tag}")
            i = 0
            while not stop.is_set():
                key = f"c{cycle}/{tag}/o{i}"
                body = rnd.randbytes(rnd.choice([10, 1000, 70_000]))
                try:
                    c.put_object(Bucket="mixed", Key=key, Body=body)
                except Exception:  # noqa: BLE001 - the kill
                    return
                with acked.lock:
                    acked.objects[key] = hashlib.md5(body).hexdigest()
                i += 1
        return run

    def kinesis() -> None:
        c = srv.client("kinesis", config=WRITERS_CONFIG)
        i = 0
        while not stop.is_set():
            records = [{"Data": f"c{cycle}-k{i}-{j}".encode(), "PartitionKey": str(j)} for j in range(50)]
            try:
                out = c.put_records(StreamName="mixed", Records=records)
            except Exception:  # noqa: BLE001
                return
            with acked.lock:  # (a body cut short by the kill parses as {}: nothing acknowledged)
                acked.kinesis.update(r["Data"] for r, res in zip(records, out.get("Records", [])) if "SequenceNumber" in res)
            i += 1

    def firehose(tag: str) -> Callable[[], None]:
        def run() -> None:
            c = srv.client("firehose", config=WRITERS_CONFIG)
            i = 0
            while not stop.is_set():
                records = [{"Data": f"<c{cycle}{tag}-f{i}-{j}>".encode()} for j in range(100)]
                try:
                    out = c.put_record_batch(DeliveryStreamName="mixed", Records=records)
                except Exception:  # noqa: BLE001
                    return
                with acked.lock:
                    acked.firehose.update(r["Data"] for r, res in zip(records, out.get("RequestResponses", [])) if "RecordId" in res)
                i += 1
        return run

    def logs() -> None:
        c = srv.client("logs", config=WRITERS_CONFIG)
        i = 0
        while not stop.is_set():
            now = int(time.time() * 1000)
            events = [{"timestamp": now, "message": f"c{cycle}-l{i}-{j}"} for j in range(20)]
            try:
                c.put_log_events(logGroupName="mixed", logStreamName="s", logEvents=events)
            except Exception:  # noqa: BLE001
                return
            with acked.lock:
                acked.events.update(e["message"] for e in events)
            i += 1

    def iam() -> None:
        c = srv.client("iam", config=WRITERS_CONFIG)
        sts = srv.client("sts", config=WRITERS_CONFIG)
        i = 0
        while not stop.is_set():
            name = f"c{cycle}-r{i}"
            try:
                c.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "n", "Value": name}])
                with acked.lock:
                    acked.roles[name] = name
                if i % 5 == 0:
                    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
                    with acked.lock:
                        acked.sessions.append(creds)
            except Exception:  # noqa: BLE001
                return
            i += 1

    return [s3("a"), s3("b"), kinesis, firehose("x"), firehose("y"), logs, iam]


def _check(srv: NimbusProcess, acked: Acked) -> None:
    s3 = srv.client("s3")
    for key, md5 in acked.objects.items():
        assert hashlib.md5(s3.get_object(Bucket="mixed", Key=key)["Body"].read()).hexdigest() == md5, key
    kin = srv.client("kinesis")
    records: set[bytes] = set()
    for shard in kin.list_shards(StreamName="mixed")["Shards"]:
        it = kin.get_shard_iterator(StreamName="mixed", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            out = kin.get_records(ShardIterator=it, Limit=10_000)
            records.update(r["Data"] for r in out["Records"])
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                break
            it = out.get("NextShardIterator")
    missing = acked.kinesis - records
    assert not missing, f"{len(missing)} acknowledged Kinesis records lost, e.g. {sorted(missing)[:3]}"
    logs = srv.client("logs")
    events: set[str] = set()
    token = None
    while True:
        out = logs.get_log_events(logGroupName="mixed", logStreamName="s", startFromHead=True, **({"nextToken": token} if token else {}))
        events.update(e["message"] for e in out["events"])
        if out["nextForwardToken"] == token:
            break
        token = out["nextForwardToken"]
    missing_events = acked.events - events
    assert not missing_events, f"{len(missing_events)} acknowledged log events lost, e.g. {sorted(missing_events)[:3]}"
    iam = srv.client("iam")
    roles = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
    missing_roles = set(acked.roles) - roles
    assert not missing_roles, f"{len(missing_roles)} acknowledged IAM roles lost, e.g. {sorted(missing_roles)[:3]}"
    for name in list(acked.roles)[-3:]:
        assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "n", "Value": acked.roles[name]}]
    for creds in acked.sessions[-3:]:  # an acknowledged STS session still signs requests
        session = srv.client("sts", access_key=creds["AccessKeyId"], secret_key=creds["SecretAccessKey"],
                             aws_session_token=creds["SessionToken"])
        assert session.get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"


def _delivered(srv: NimbusProcess) -> list[bytes]:
    req = urllib.request.Request(srv.endpoint + "/_nimbus/firehose/flush/us-east-1/mixed", method="POST")
    urllib.request.urlopen(req, timeout=120).read()
    s3 = srv.client("s3")
    found: list[bytes] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mixed", Prefix="fh/"):
        for obj in page.get("Contents", []):
            found.extend(FH_RECORD.findall(s3.get_object(Bucket="mixed", Key=obj["Key"])["Body"].read()))
    return found


def test_every_acknowledged_write_survives_repeated_kill9_under_mixed_load(tmp_path: Path) -> None:
    rnd = random.Random()
    seed = rnd.randrange(1 << 30)
    print(f"seed {seed}")  # shown with a failure
    srv = NimbusProcess(tmp_path / "data").start()
    acked = Acked()
    try:
        _setup(srv)
        for cycle in range(CYCLES):
            stop = threading.Event()
            threads = [threading.Thread(target=w) for w in _writers(srv, acked, cycle, stop, seed + cycle)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.8, 2.5))
            srv.kill9()
            stop.set()
            for t in threads:
                t.join(30)
            srv.start()
            _check(srv, acked)
        assert acked.objects and acked.kinesis and acked.firehose and acked.events and acked.roles  # the load really ran
        delivered = _delivered(srv)
        missing = acked.firehose - set(delivered)
        assert not missing, f"{len(missing)} acknowledged Firehose records never delivered, e.g. {sorted(missing)[:3]}"
        assert not [o for p in srv.client("s3").get_paginator("list_objects_v2").paginate(Bucket="mixed", Prefix="fherr/")
                    for o in p.get("Contents", [])], "records went to the error prefix"
    finally:
        srv.stop()

