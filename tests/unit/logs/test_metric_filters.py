"""Metric filter values on in-memory storage and a settable clock: values per match, dimensions, and the
default value once per minute without a match."""

from __future__ import annotations

import asyncio

from nimbus.services.logs.groups import LogGroups
from nimbus.services.logs.metric_filters import VALUE, MetricFilters
from nimbus.storage.memory import MemoryLogStore, MemoryMetadataStore

A, R = "000000000000", "us-east-1"


def test_values_dimensions_and_default_once_a_minute() -> None:
    now = [1_700_000_000.0]
    db = MemoryMetadataStore()
    engine = LogGroups(db, MemoryLogStore(), clock_time=lambda: now[0])
    filters = MetricFilters(engine, db, clock_time=lambda: now[0])
    engine.listeners.append(filters)
    engine.create_group(A, R, "g")
    engine.create_stream(A, R, "g", "s")
    filters.put(A, R, "g", "errors", pattern="ERROR", transformations=[
        {"metricName": "Errors", "metricNamespace": "Unit", "metricValue": "1", "defaultValue": 0.5}])
    filters.put(A, R, "g", "sizes", pattern="[verb, code, size]", transformations=[
        {"metricName": "Size", "metricNamespace": "Unit", "metricValue": "$size", "dimensions": {"Code": "$code"}}])

    async def put(*messages: str) -> None:
        ms = int(now[0] * 1000)
        await engine.put_events(A, R, "g", "s", [{"timestamp": ms, "message": m} for m in messages])

    async def main() -> None:
        await put("GET 200 10", "GET 404 5", "GET 200 7")
        assert VALUE.value("Unit", "Size", "Code=200") == 17 and VALUE.value("Unit", "Size", "Code=404") == 5
        assert VALUE.value("Unit", "Errors", "") == 0.5  # no ERROR this minute: the default, once
        await put("INFO fine")
        assert VALUE.value("Unit", "Errors", "") == 0.5
        now[0] += 60
        await put("ERROR x", "ERROR y")
        assert VALUE.value("Unit", "Errors", "") == 2.5
        await put("INFO fine")  # a match happened this minute: no default
        assert VALUE.value("Unit", "Errors", "") == 2.5
        now[0] += 60
        await put("INFO again")
        assert VALUE.value("Unit", "Errors", "") == 3.0

    asyncio.run(main())
    matches = MetricFilters.test("[verb, code = 4*, size]", ["GET 200 1", "GET 404 2"])
    assert matches == [{"eventNumber": 2, "eventMessage": "GET 404 2", "extractedValues": {"$verb": "GET", "$code": "404", "$size": "2"}}]
