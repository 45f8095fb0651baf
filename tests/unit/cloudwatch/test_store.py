"""MetricStore, statistics, periods and metric math on the in-memory metadata store."""

from __future__ import annotations

import math

import pytest

from nimbus.services.cloudwatch import expressions, queries
from nimbus.services.cloudwatch.statistics import Stats
from nimbus.services.cloudwatch.store import MINUTE_RETENTION_S, SECOND_RETENTION_S, Metric, MetricStore
from nimbus.storage.memory import MemoryMetadataStore

T0 = 1_800_000_000 // 60 * 60


def stats(*values: float) -> Stats:
    out = Stats()
    for v in values:
        out.add_value(v)
    return out


def store_with(points: dict[tuple[Metric, int, int, str], Stats], now: float = T0) -> MetricStore:
    store = MetricStore(MemoryMetadataStore())
    store.add("1", "r", points, now=now)
    return store


def test_statistics_of_one_bucket() -> None:
    s = stats(1, 2, 3, 4)
    assert [s.statistic(n) for n in ("SampleCount", "Sum", "Average", "Minimum", "Maximum")] == [4, 10, 2.5, 1, 4]
    assert s.statistic("p50") == 2 and s.statistic("p100") == 4 and s.statistic("p99.9") == 4
    s.add_set(2, 10, 0, 9)
    assert s.statistic("p50") is None and s.statistic("Maximum") == 9 and s.statistic("SampleCount") == 6


def test_adds_merge_into_buckets_and_periods() -> None:
    m = Metric.of("App", "Hits", [{"Name": "b", "Value": "2"}, {"Name": "a", "Value": "1"}])
    assert m.dimensions == (("a", "1"), ("b", "2"))
    store = store_with({(m, 60, T0, "Count"): stats(1, 2), (m, 60, T0 + 60, "Count"): stats(5), (m, 60, T0 + 120, "Bytes"): stats(7)})
    store.add("1", "r", {(m, 60, T0, "Count"): stats(3)}, now=T0)
    window = queries.Window.of(T0, T0 + 180, 60)
    assert queries.series(store, "1", "r", m, window, stat="Sum", unit=None) == {T0: 6, T0 + 60: 5, T0 + 120: 7}
    assert queries.series(store, "1", "r", m, window, stat="Sum", unit="Count") == {T0: 6, T0 + 60: 5}
    whole = queries.Window.of(T0, T0 + 180, 180)
    assert queries.series(store, "1", "r", m, whole, stat="SampleCount", unit=None) == {T0: 5}
    # periods start at StartTime floored to the minute
    shifted = queries.Window.of(T0 + 30, T0 + 150, 120)
    assert queries.series(store, "1", "r", m, shifted, stat="Sum", unit=None) == {T0: 11, T0 + 120: 7}
    # other accounts and regions see nothing
    assert queries.series(store, "2", "r", m, window, stat="Sum", unit=None) == {}
    assert [metric for metric, _ in store.metrics("1", "r", "App")] == [m]


def test_retention_sweep() -> None:
    m = Metric.of("App", "Old", ())
    now = T0 + MINUTE_RETENTION_S + 600
    store = store_with({(m, 60, T0, "None"): stats(1), (m, 60, now - 60, "None"): stats(2),
                        (m, 1, now - SECOND_RETENTION_S - 10, "None"): stats(3), (m, 1, now - 5, "None"): stats(4)}, now=now)
    assert store.sweep(now=now) == 2
    assert [b for b, _ in store.buckets("1", "r", m, 60, 0, int(now) + 60)] == [now - 60]
    assert [b for b, _ in store.buckets("1", "r", m, 1, 0, int(now) + 60)] == [now - 5]


def test_metric_math() -> None:
    a, b = {1: 1.0, 2: 2.0, 3: 3.0}, {1: 10.0, 2: 20.0}
    values: dict[str, expressions.Value] = {"a": a, "b": b}

    def run(text: str) -> expressions.Value:
        return expressions.evaluate(text, values, {"a": "A", "b": "B"}, ["a", "b"])

    assert run("a + b") == {1: 11.0, 2: 22.0}
    assert run("(a + 1) * 2 - -1") == {1: 5.0, 2: 7.0, 3: 9.0}
    assert run("2 ^ 3 ^ 2") == 512.0
    assert run("SUM(METRICS())") == {1: 11.0, 2: 22.0, 3: 3.0}
    assert run("AVG(METRICS('B'))") == {1: 10.0, 2: 20.0}
    assert run("MAX(a)") == 3.0 and run("MIN(b)") == 10.0
    assert math.isnan(run("1 / 0"))  # type: ignore[arg-type]
    assert expressions.evaluate("FILL(b, 0) + 1", values, {}, ["a", "b"], [1, 2, 3]) == {1: 11.0, 2: 21.0, 3: 1.0}
    for bad in ("a +", "nope", "RATE(a)", "a b"):
        with pytest.raises(expressions.ExpressionError):
            run(bad)
