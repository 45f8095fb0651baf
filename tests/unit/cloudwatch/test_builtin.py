"""The AWS/* feed: what engines hand ``FEED`` comes out of a flush as AWS's metrics."""

from __future__ import annotations

import time
from types import SimpleNamespace

from nimbus.clock import ManualClock
from nimbus.services.cloudwatch import queries
from nimbus.services.cloudwatch.builtin import BuiltinMetrics
from nimbus.services.cloudwatch.feed import FEED
from nimbus.services.cloudwatch.store import Metric, MetricStore
from nimbus.storage.memory import MemoryMetadataStore

ARN = "arn:aws:lambda:eu-west-1:111122223333:function:fn"


def test_flush_writes_lambda_kinesis_and_plain_metrics() -> None:
    FEED.drain()
    FEED.drain_values()
    store = MetricStore(MemoryMetadataStore())
    core = SimpleNamespace(settings=SimpleNamespace(extra={}), clock=ManualClock(time.time()), storage=None)
    builtin = BuiltinMetrics(core, lambda: store)  # type: ignore[arg-type]
    for duration, error in ((10.0, False), (30.0, True)):
        FEED.lambda_started(ARN + ":live")
        FEED.lambda_finished(ARN + ":live", duration, error=error)
    FEED.lambda_started(ARN)
    FEED.lambda_failed(ARN, throttled=True)
    FEED.kinesis("111122223333", "eu-west-1", "s", "PutRecords", records=10, size=100, failed=2)
    FEED.kinesis_read("kinesis/111122223333/eu-west-1/s/0/shardId-000000000000", 7)
    FEED.metric("111122223333", "eu-west-1", "Logs", "Matches", 2.0, unit="Count", dimensions=(("Env", "prod"),))
    assert builtin.flush() > 0
    now = time.time()
    window = queries.Window.of(now - 600, now + 60, 3600)

    def value(namespace: str, name: str, dims: tuple[tuple[str, str], ...], stat: str = "Sum") -> float | None:
        found = queries.series(store, "111122223333", "eu-west-1", Metric(namespace, name, dims), window, stat=stat, unit=None)
        return next(iter(found.values()), None)

    fn = (("FunctionName", "fn"),)
    assert value("AWS/Lambda", "Invocations", fn) == 2 and value("AWS/Lambda", "Errors", fn) == 1
    assert value("AWS/Lambda", "Throttles", fn) == 1 and value("AWS/Lambda", "Invocations", ()) == 2
    assert value("AWS/Lambda", "Invocations", (("FunctionName", "fn"), ("Resource", "fn:live"))) == 2
    assert value("AWS/Lambda", "Duration", fn, "Average") == 20 and value("AWS/Lambda", "Duration", fn, "p50") == 10
    assert value("AWS/Lambda", "ConcurrentExecutions", fn, "Maximum") == 1
    stream = (("StreamName", "s"),)
    assert value("AWS/Kinesis", "IncomingRecords", stream) == 8 and value("AWS/Kinesis", "PutRecords.FailedRecords", stream) == 2
    assert value("AWS/Kinesis", "GetRecords.Records", stream) == 7
    assert value("Logs", "Matches", (("Env", "prod"),)) == 2
    assert builtin.flush() == 0  # drained
