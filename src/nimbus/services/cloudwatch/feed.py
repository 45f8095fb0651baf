"""FEED: where engines hand CloudWatch the AWS/* metrics of what they do, at the cost of a dict update.

The hot paths (Invoke, PutRecord(s), GetRecords) call one method here and return; nothing is written.
``builtin.BuiltinMetrics`` drains the accumulator every flush interval into the metric store. Entries are
keyed by the minute they happened in, so a late flush still files them under the right minute. Like
``nimbus.metrics.REGISTRY``, this is process-wide: one server per process.

    FEED.lambda_started(invoked_arn)            # before the function runs (ConcurrentExecutions)
    FEED.lambda_finished(invoked_arn, duration_ms, error=False)
    FEED.lambda_failed(invoked_arn, throttled=True)
    FEED.kinesis(account, region, stream, "PutRecords", records=500, size=512_000, failed=0)
    FEED.kinesis_read(shard_log_name, records=100)   # GetRecords
    FEED.metric(account, region, "MyNamespace", "Matches", 1.0, unit="Count", dimensions=(("Env", "prod"),))
"""

from __future__ import annotations

import time
from typing import Any

_MAX_VALUES = 1000  # distinct Duration values (to 0.01 ms) kept per function and minute (beyond: no percentiles)


class Feed:
    def __init__(self) -> None:
        # (invoked_arn, minute) -> [invocations, errors, throttles, duration sum, min, max, {duration: count} | None]
        self.lambda_: dict[tuple[str, int], list[Any]] = {}
        # invoked_arn -> running now; (invoked_arn, minute) -> the most at once during that minute
        self.running: dict[str, int] = {}
        self.peaks: dict[tuple[str, int], int] = {}
        # (account, region, stream, operation, minute) -> [calls, records, bytes, failed records]
        self.kinesis_: dict[tuple[str, str, str, str, int], list[float]] = {}
        # (account, region, namespace, name, dimensions, unit, minute) -> [count, sum, min, max]
        self.values: dict[tuple[str, str, str, str, tuple[tuple[str, str], ...], str, int], list[float]] = {}

    # -- Lambda ------------------------------------------------------------------------------------
    def _entry(self, arn: str) -> list[Any]:
        key = (arn, int(time.time()) // 60 * 60)
        entry = self.lambda_.get(key)
        if entry is None:
            entry = self.lambda_[key] = [0, 0, 0, 0.0, float("inf"), 0.0, {}]
        return entry

    def lambda_started(self, arn: str) -> None:
        now = self.running.get(arn, 0) + 1
        self.running[arn] = now
        key = (arn, int(time.time()) // 60 * 60)
        if now > self.peaks.get(key, 0):
            self.peaks[key] = now

    def lambda_finished(self, arn: str, duration_ms: float, *, error: bool = False) -> None:
        self.running[arn] = max(0, self.running.get(arn, 1) - 1)
        entry = self._entry(arn)
        entry[0] += 1
        if error:
            entry[1] += 1
        entry[3] += duration_ms
        if duration_ms < entry[4]:
            entry[4] = duration_ms
        if duration_ms > entry[5]:
            entry[5] = duration_ms
        values = entry[6]
        if values is not None:
            rounded = round(duration_ms, 2)
            values[rounded] = values.get(rounded, 0) + 1
            if len(values) > _MAX_VALUES:
                entry[6] = None

    def lambda_failed(self, arn: str, *, throttled: bool) -> None:
        """The invoke never ran the function: throttled (counted), or Lambda itself failed (not counted)."""
        self.running[arn] = max(0, self.running.get(arn, 1) - 1)
        if throttled:
            self._entry(arn)[2] += 1

    # -- Kinesis -----------------------------------------------------------------------------------
    def kinesis(self, account: str, region: str, stream: str, operation: str, *, records: int, size: int, failed: int = 0) -> None:
        key = (account, region, stream, operation, int(time.time()) // 60 * 60)
        entry = self.kinesis_.get(key)
        if entry is None:
            entry = self.kinesis_[key] = [0, 0, 0, 0]
        entry[0] += 1
        entry[1] += records
        entry[2] += size
        entry[3] += failed

    def kinesis_read(self, log_name: str, records: int) -> None:
        """GetRecords from the shard log ``kinesis/<account>/<region>/<stream>/...`` (parsed at flush)."""
        key = (log_name, "", "", "GetRecords", int(time.time()) // 60 * 60)
        entry = self.kinesis_.get(key)
        if entry is None:
            entry = self.kinesis_[key] = [0, 0, 0, 0]
        entry[0] += 1
        entry[1] += records

    # -- any other engine -------------------------------------------------------------------------
    def metric(self, account: str, region: str, namespace: str, name: str, value: float, *, unit: str = "None",
               dimensions: tuple[tuple[str, str], ...] = ()) -> None:
        """One value of any metric (dimensions sorted by name), e.g. a Logs metric filter's."""
        key = (account, region, namespace, name, dimensions, unit, int(time.time()) // 60 * 60)
        entry = self.values.get(key)
        if entry is None:
            self.values[key] = [1.0, value, value, value]
            return
        entry[0] += 1
        entry[1] += value
        if value < entry[2]:
            entry[2] = value
        if value > entry[3]:
            entry[3] = value

    # -- draining ----------------------------------------------------------------------------------
    def drain(self) -> tuple[dict[tuple[str, int], list[Any]], dict[tuple[str, int], int], dict[tuple[str, str, str, str, int], list[float]]]:
        """Take what Lambda and Kinesis accumulated (``drain_values`` takes the rest)."""
        lambda_, self.lambda_ = self.lambda_, {}
        peaks, self.peaks = self.peaks, {}
        kinesis_, self.kinesis_ = self.kinesis_, {}
        return lambda_, peaks, kinesis_

    def drain_values(self) -> dict[tuple[str, str, str, str, tuple[tuple[str, str], ...], str, int], list[float]]:
        values, self.values = self.values, {}
        return values


FEED = Feed()
