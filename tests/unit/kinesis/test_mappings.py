"""Event source mapping engine on memory storage with a scripted function (no Lambda needed)."""

import asyncio
import base64
import json
from typing import Any

from nimbus.clock import SystemClock
from nimbus.services.kinesis.config import KinesisSettings
from nimbus.services.kinesis.engine import Streams
from nimbus.services.kinesis.mappings import CHECKPOINT, Mappings
from nimbus.storage import open_memory_storage

ACCT, REGION = "000000000000", "us-east-1"
FN = f"arn:aws:lambda:{REGION}:{ACCT}:function:f"
ROLE = f"arn:aws:iam::{ACCT}:role/r"


class Function:
    """Records every event; ``behaviour(event) -> (payload, error)`` decides the outcome."""

    def __init__(self, behaviour: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.behaviour = behaviour or (lambda event: (b"null", None))

    async def invoke(self, function: str, payload: bytes, account: str, region: str, kind: str) -> tuple[bytes, str | None]:
        event = json.loads(payload)
        if function.endswith(":dlq"):
            self.failures.append(event)
            return b"", None
        self.events.append(event)
        return self.behaviour(event)

    def data(self) -> list[str]:
        return [base64.b64decode(r["kinesis"]["data"]).decode() for e in self.events for r in e.get("Records", [])]


def setup(fn: Function, **kw: Any) -> tuple[Streams, Mappings]:
    storage = open_memory_storage()
    streams = Streams(storage.metadata, storage.logs, clock=SystemClock(), settings=KinesisSettings(state_delay_s=0, esm_poll_s=0.02))
    m = Mappings(storage.metadata, streams, invoke=fn.invoke, describe=lambda f, a, r: (FN, ROLE))
    return streams, m


async def until(cond: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


def test_in_order_delivery_event_format_and_checkpoint_resume() -> None:
    async def main() -> None:
        fn = Function()
        streams, m = setup(fn)
        s = streams.create_stream(ACCT, REGION, "s", shard_count=1)
        await streams.put_records(s, [(f"r{i}".encode(), "k", None) for i in range(25)])
        cfg = m.create(ACCT, REGION, {"EventSourceArn": s.arn, "FunctionName": "f", "StartingPosition": "TRIM_HORIZON", "BatchSize": 10})
        assert cfg["State"] == "Creating" and cfg["BatchSize"] == 10
        await until(lambda: len(fn.data()) == 25)
        assert fn.data() == [f"r{i}" for i in range(25)]
        rec = fn.events[0]["Records"][0]
        assert rec["eventSource"] == "aws:kinesis" and rec["eventName"] == "aws:kinesis:record"
        assert rec["eventID"] == f"shardId-000000000000:{rec['kinesis']['sequenceNumber']}"
        assert rec["invokeIdentityArn"] == ROLE and rec["eventSourceARN"] == s.arn and rec["awsRegion"] == REGION
        assert rec["kinesis"]["partitionKey"] == "k" and rec["kinesis"]["kinesisSchemaVersion"] == "1.0"
        await until(lambda: (m.metadata.get(CHECKPOINT, f"{cfg['UUID']}/shardId-000000000000") or {}).get("seq") == 25)
        await m.aclose()
        # a new engine over the same metadata resumes after the checkpoint
        await streams.put_records(s, [(b"late", "k", None)])
        m2 = Mappings(m.metadata, streams, invoke=fn.invoke, describe=lambda f, a, r: (FN, ROLE))
        await m2.start()
        await until(lambda: fn.data()[-1:] == ["late"])
        assert len(fn.data()) == 26
        await m2.aclose()

    asyncio.run(main())


def test_bisect_isolates_a_poison_record() -> None:
    def behaviour(event: dict[str, Any]) -> tuple[bytes, str | None]:
        datas = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
        return (b'{"errorMessage":"poison"}', "Unhandled") if b"poison" in datas else (b"null", None)

    async def main() -> None:
        fn = Function(behaviour)
        streams, m = setup(fn)
        s = streams.create_stream(ACCT, REGION, "s", shard_count=1)
        entries = [(f"r{i}".encode() if i != 5 else b"poison", "k", None) for i in range(10)]
        await streams.put_records(s, entries)
        m.create(ACCT, REGION, {
            "EventSourceArn": s.arn, "FunctionName": "f", "StartingPosition": "TRIM_HORIZON", "BatchSize": 10,
            "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 1,
            "DestinationConfig": {"OnFailure": {"Destination": FN.replace(":f", ":dlq")}},
        })
        await until(lambda: len(fn.failures) == 1)
        ok = [e for e in fn.events if b"poison" not in b"".join(base64.b64decode(r["kinesis"]["data"]) for r in e["Records"])]
        delivered = [base64.b64decode(r["kinesis"]["data"]).decode() for e in ok for r in e["Records"]]
        assert delivered == [f"r{i}" for i in range(10) if i != 5]
        info = fn.failures[0]["KinesisBatchInfo"]
        assert info["batchSize"] == 1 and fn.failures[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
        await m.aclose()

    asyncio.run(main())


def test_report_batch_item_failures_retries_from_lowest() -> None:
    calls = {"n": 0}

    def behaviour(event: dict[str, Any]) -> tuple[bytes, str | None]:
        calls["n"] += 1
        if calls["n"] == 1:
            seq = event["Records"][3]["kinesis"]["sequenceNumber"]
            return json.dumps({"batchItemFailures": [{"itemIdentifier": seq}]}).encode(), None
        return b'{"batchItemFailures": []}', None

    async def main() -> None:
        fn = Function(behaviour)
        streams, m = setup(fn)
        s = streams.create_stream(ACCT, REGION, "s", shard_count=1)
        await streams.put_records(s, [(f"r{i}".encode(), "k", None) for i in range(6)])
        m.create(ACCT, REGION, {"EventSourceArn": s.arn, "FunctionName": "f", "StartingPosition": "TRIM_HORIZON",
                                "FunctionResponseTypes": ["ReportBatchItemFailures"]})
        await until(lambda: len(fn.events) == 2)
        await asyncio.sleep(0.05)
        assert fn.data() == [f"r{i}" for i in range(6)] + ["r3", "r4", "r5"]
        await m.aclose()

    asyncio.run(main())


def test_tumbling_window_carries_state_and_final_invoke() -> None:
    def behaviour(event: dict[str, Any]) -> tuple[bytes, str | None]:
        total = event["state"].get("sum", 0) + sum(int(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"])
        return json.dumps({"state": {"sum": total}}).encode(), None

    async def main() -> None:
        fn = Function(behaviour)
        streams, m = setup(fn)
        s = streams.create_stream(ACCT, REGION, "s", shard_count=1)
        m.create(ACCT, REGION, {"EventSourceArn": s.arn, "FunctionName": "f", "StartingPosition": "TRIM_HORIZON",
                                "TumblingWindowInSeconds": 1, "BatchSize": 2})
        await streams.put_records(s, [(b"1", "k", None), (b"2", "k", None), (b"3", "k", None)])
        await until(lambda: any(e.get("isFinalInvokeForWindow") for e in fn.events), timeout=5)
        final = next(e for e in fn.events if e["isFinalInvokeForWindow"])
        assert final["state"] == {"sum": 6} and final["Records"] == []
        assert "window" in final and final["shardId"] == "shardId-000000000000"
        await m.aclose()

    asyncio.run(main())


def test_children_wait_for_parents() -> None:
    async def main() -> None:
        fn = Function()
        streams, m = setup(fn)
        s = streams.create_stream(ACCT, REGION, "s", shard_count=1)
        await streams.put_records(s, [(b"p1", "k", None), (b"p2", "k", None)])
        await streams.split_shard(s, "shardId-000000000000", str(2**127))
        await streams.put_records(s, [(b"c1", "k", None), (b"c2", "k", None)])
        m.create(ACCT, REGION, {"EventSourceArn": s.arn, "FunctionName": "f", "StartingPosition": "TRIM_HORIZON"})
        await until(lambda: len(fn.data()) == 4)
        assert fn.data() == ["p1", "p2", "c1", "c2"]
        await m.aclose()

    asyncio.run(main())


def test_filter_criteria_and_max_record_age() -> None:
    from nimbus.services.kinesis.mappings import _matches

    assert _matches({"data": {"kind": ["a"]}}, {"data": {"kind": "a"}})
    assert not _matches({"data": {"kind": ["a"]}}, {"data": {"kind": "b"}})
    assert _matches({"data": {"n": [{"numeric": [">", 5, "<=", 10]}]}}, {"data": {"n": 7}})
    assert _matches({"partitionKey": [{"prefix": "user-"}]}, {"partitionKey": "user-1"})
    assert _matches({"data": {"x": [{"exists": False}]}}, {"data": {}})
    assert _matches({"data": {"k": [{"anything-but": ["z"]}]}}, {"data": {"k": "y"}})

    async def main() -> None:
        fn = Function()
        streams, m = setup(fn)
        s = streams.create_stream(ACCT, REGION, "s", shard_count=1)
        await streams.put_records(s, [(json.dumps({"kind": k}).encode(), "k", None) for k in ("a", "b", "a")])
        m.create(ACCT, REGION, {"EventSourceArn": s.arn, "FunctionName": "f", "StartingPosition": "TRIM_HORIZON",
                                "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"data": {"kind": ["a"]}})}]}})
        await until(lambda: len(fn.data()) == 2)
        assert [json.loads(d)["kind"] for d in fn.data()] == ["a", "a"]
        await m.aclose()

    asyncio.run(main())
