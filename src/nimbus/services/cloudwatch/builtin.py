"""Nimbus's own metrics under AWS's namespaces: AWS/Lambda, AWS/Kinesis, AWS/Firehose.

Every flush interval (``NIMBUS_CLOUDWATCH_FLUSH_S``, default 60 s) the task drains ``feed.FEED`` (Lambda's
and Kinesis's per-minute accumulators) and reads Firehose's Prometheus counters (the change since the last
flush), and writes the lot to the metric store in one transaction. Metrics are what AWS publishes, with its
names, units and dimensions (docs/services/cloudwatch.md lists them). A flush also runs at shutdown; what a
kill -9 interrupts between two flushes is lost (at most one interval), as AWS's own metrics may arrive late.
The same task applies the store's retention every ``NIMBUS_CLOUDWATCH_SWEEP_S`` (default 600 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nimbus.services.cloudwatch.feed import FEED
from nimbus.services.cloudwatch.statistics import Stats
from nimbus.services.cloudwatch.store import Metric, MetricStore

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

DEFAULT_FLUSH_S = 60.0
DEFAULT_SWEEP_S = 600.0

Batch = dict[tuple[Metric, int, int, str], Stats]


def _add(batches: dict[tuple[str, str], Batch], account: str, region: str, metric: Metric, minute: int, unit: str,
         stats: Stats) -> None:
    if stats.count <= 0:
        return
    batch = batches.setdefault((account, region), {})
    key = (metric, 60, minute, unit)
    found = batch.get(key)
    if found is None:
        batch[key] = stats
    else:
        found.merge(stats)


def _counts(ones: float, zeros: float = 0.0) -> Stats:
    """A count metric as CloudWatch keeps it: ``ones`` samples of 1 and ``zeros`` of 0 (Sum = ones)."""
    stats = Stats()
    if ones:
        stats.add_value(1.0, ones)
    if zeros:
        stats.add_value(0.0, zeros)
    return stats


def _value(value: float) -> Stats:
    stats = Stats()
    stats.add_value(value)
    return stats


def _lambda_targets(arn: str) -> tuple[str, str, list[tuple[tuple[tuple[str, str], ...], bool]]] | None:
    """(account, region, [(dimensions, per-function?)]) for an invoked function ARN: the account-wide metric,
    by FunctionName, and by Resource (name:qualifier) when invoked with a qualifier."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[5] != "function":
        return None
    region, account, name = parts[3], parts[4], parts[6]
    dims: list[tuple[tuple[tuple[str, str], ...], bool]] = [((), False), ((("FunctionName", name),), True)]
    if len(parts) > 7 and parts[7] and parts[7] != "$LATEST":
        dims.append(((("FunctionName", name), ("Resource", f"{name}:{parts[7]}")), True))
    return account, region, dims


class BuiltinMetrics:
    def __init__(self, core: Nimbus, store: Callable[[], MetricStore]) -> None:
        self.core = core
        self.store = store
        extra = core.settings.extra or {}
        self.flush_s = float(extra.get("NIMBUS_CLOUDWATCH_FLUSH_S") or DEFAULT_FLUSH_S)
        self.sweep_s = float(extra.get("NIMBUS_CLOUDWATCH_SWEEP_S") or DEFAULT_SWEEP_S)
        self._firehose_seen: dict[tuple[str, tuple[str, ...]], float] = {}
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = self.core.spawn(self._run(), "cloudwatch-builtin")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.core.storage is not None:
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - shutting down: log, never block the stop
                log.exception("cloudwatch final flush failed")

    async def _run(self) -> None:
        clock = self.core.clock
        last_sweep = clock.monotonic()
        while True:
            await clock.sleep(self.flush_s)
            try:
                self.flush()
                if clock.monotonic() - last_sweep >= self.sweep_s:
                    last_sweep = clock.monotonic()
                    deleted = await asyncio.to_thread(self.store().sweep, now=clock.time())
                    if deleted:
                        log.info("cloudwatch retention deleted=%d", deleted)
            except Exception:  # noqa: BLE001 - the next interval tries again
                log.exception("cloudwatch flush failed")

    def flush(self) -> int:
        """Write what accumulated since the last flush; returns the number of metric buckets written."""
        now = self.core.clock.time()
        minute_now = int(now) // 60 * 60
        batches: dict[tuple[str, str], Batch] = {}
        lambda_, peaks, kinesis_ = FEED.drain()
        for arn, running in FEED.running.items():
            if running > 0:
                key = (arn, minute_now)
                peaks[key] = max(peaks.get(key, 0), running)
        for (arn, minute), (calls, errors, throttles, total, lo, hi, values) in lambda_.items():
            targets = _lambda_targets(arn)
            if targets is None:
                continue
            account, region, dims_list = targets
            for dims, _ in dims_list:
                def metric(name: str) -> Metric:
                    return Metric("AWS/Lambda", name, dims)  # noqa: B023 - used at once
                if calls:
                    _add(batches, account, region, metric("Invocations"), minute, "Count", _counts(calls))
                    _add(batches, account, region, metric("Errors"), minute, "Count", _counts(errors, calls - errors))
                    duration = Stats(float(calls), float(total), float(lo), float(hi),
                                     None if values is None else {float(v): float(c) for v, c in values.items()})
                    _add(batches, account, region, metric("Duration"), minute, "Milliseconds", duration)
                _add(batches, account, region, metric("Throttles"), minute, "Count", _counts(throttles, calls))
        by_minute: dict[tuple[str, str, tuple[tuple[str, str], ...], int], int] = {}
        for (arn, minute), peak in peaks.items():
            targets = _lambda_targets(arn)
            if targets is None:
                continue
            account, region, dims_list = targets
            for dims, _ in dims_list:
                key = (account, region, dims, minute)
                by_minute[key] = by_minute.get(key, 0) + peak if not dims else max(by_minute.get(key, 0), peak)
        for (account, region, dims, minute), peak in by_minute.items():
            _add(batches, account, region, Metric("AWS/Lambda", "ConcurrentExecutions", dims), minute, "Count", _value(float(peak)))
        for (account, region, stream, operation, minute), (calls, records, size, failed) in kinesis_.items():
            if operation == "GetRecords" and not region:  # keyed by the shard log's name
                parts = account.split("/")
                if len(parts) < 4:
                    continue
                account, region, stream = parts[1], parts[2], parts[3]
            self._kinesis(batches, account, region, stream, operation, minute, calls, records, size, failed)
        self._firehose(batches, minute_now)
        for (account, region, namespace, name, dims, unit, minute), (count, total, lo, hi) in FEED.drain_values().items():
            stats = Stats()
            stats.add_set(count, total, lo, hi)
            _add(batches, account, region, Metric(namespace, name, dims), minute, unit, stats)
        written = 0
        store = self.store()
        for (account, region), batch in batches.items():
            store.add(account, region, batch, now=now)
            written += len(batch)
        return written

    @staticmethod
    def _kinesis(batches: dict[tuple[str, str], Batch], account: str, region: str, stream: str, operation: str, minute: int,
                 calls: float, records: float, size: float, failed: float) -> None:
        dims = (("StreamName", stream),)

        def put(name: str, unit: str, stats: Stats) -> None:
            _add(batches, account, region, Metric("AWS/Kinesis", name, dims), minute, unit, stats)

        def total(value: float, samples: float) -> Stats:
            stats = Stats()
            stats.add_set(samples, value, value / samples if samples else 0.0, value / samples if samples else 0.0)
            return stats

        if operation == "GetRecords":
            put("GetRecords.Records", "Count", total(records, calls))
            put("GetRecords.Success", "Count", _counts(calls))
            return
        ok = records - failed
        put("IncomingRecords", "Count", total(ok, calls))
        put("IncomingBytes", "Bytes", total(size, calls))
        if operation == "PutRecord":
            put("PutRecord.Bytes", "Bytes", total(size, calls))
            put("PutRecord.Success", "Count", _counts(calls))
        else:
            put("PutRecords.TotalRecords", "Count", total(records, calls))
            put("PutRecords.SuccessfulRecords", "Count", total(ok, calls))
            put("PutRecords.FailedRecords", "Count", total(failed, calls))
            put("PutRecords.Records", "Count", total(ok, calls))
            put("PutRecords.Bytes", "Bytes", total(size, calls))
            put("PutRecords.Success", "Count", _counts(calls))

    def _firehose(self, batches: dict[tuple[str, str], Batch], minute: int) -> None:
        """Firehose's counters (account, region, stream labels) as the change since the last flush."""
        try:
            from nimbus.services.firehose import metrics as firehose
        except ImportError:  # pragma: no cover - Firehose is part of Nimbus
            return
        deltas: dict[tuple[str, str, str], dict[str, float]] = {}
        sources: list[tuple[str, Any, str | None]] = [
            ("IncomingRecords", firehose.INCOMING_RECORDS, None),
            ("IncomingBytes", firehose.INCOMING_BYTES, None),
            ("DeliveryToS3.Records", firehose.DELIVERED_RECORDS, None),
            ("DeliveryToS3.Bytes", firehose.DELIVERED_BYTES, None),
            ("objects", firehose.OBJECTS, "data"),
            ("failures", firehose.DELIVERY_FAILURES, None),
        ]
        if hasattr(firehose, "HTTP_REQUESTS"):  # HTTP endpoint destinations, where Firehose counts them
            sources += [
                ("DeliveryToHttpEndpoint.Records", firehose.HTTP_RECORDS, None),
                ("DeliveryToHttpEndpoint.Bytes", firehose.HTTP_BYTES, None),
                ("http_ok", firehose.HTTP_REQUESTS, "success"),
                ("http_failed", firehose.HTTP_REQUESTS, "failure"),
            ]
        for name, counter, kind in sources:
            for labels, value in counter.samples():
                if kind is not None and (len(labels) < 4 or labels[3] != kind):
                    continue
                seen_key = (name, labels)
                before = self._firehose_seen.get(seen_key, 0.0)
                self._firehose_seen[seen_key] = value
                delta = value - before if value >= before else value  # a counter reset (restart)
                if delta:
                    deltas.setdefault((labels[0], labels[1], labels[2]), {})[name] = delta
        for (account, region, stream), values in deltas.items():
            dims = (("DeliveryStreamName", stream),)

            def put(name: str, unit: str, stats: Stats) -> None:
                _add(batches, account, region, Metric("AWS/Firehose", name, dims), minute, unit, stats)  # noqa: B023

            for name, unit in (("IncomingRecords", "Count"), ("IncomingBytes", "Bytes"), ("DeliveryToS3.Records", "Count"),
                               ("DeliveryToS3.Bytes", "Bytes"), ("DeliveryToHttpEndpoint.Records", "Count"),
                               ("DeliveryToHttpEndpoint.Bytes", "Bytes")):
                if values.get(name):
                    stats = Stats()
                    stats.add_set(1.0, values[name], values[name], values[name])
                    put(name, unit, stats)
            if values.get("objects") or values.get("failures"):
                put("DeliveryToS3.Success", "None", _counts(values.get("objects", 0.0), values.get("failures", 0.0)))
            if values.get("http_ok") or values.get("http_failed"):
                put("DeliveryToHttpEndpoint.Success", "None", _counts(values.get("http_ok", 0.0), values.get("http_failed", 0.0)))
