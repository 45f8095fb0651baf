"""Bad RPC v2 CBOR bodies end as a modeled error, never as an exception escaping the codec: truncations,
flipped bytes and members of the wrong CBOR type, for CloudWatch's PutMetricData and GetMetricData."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from nimbus.errors import ServiceError
from nimbus.protocol.cbor import Tag, dumps
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest

PROTO = ServiceProtocol("cloudwatch")
WHEN = Tag(1, 1_800_000_000.5)
PUT = {"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.5, "Timestamp": WHEN, "Unit": "Count",
                                           "Dimensions": [{"Name": "a", "Value": "b"}], "Values": [1.0], "Counts": [2.0]}]}
GET = {"MetricDataQueries": [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": "A", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}],
       "StartTime": WHEN, "EndTime": WHEN}


def parse(operation: str, body: bytes) -> dict[str, Any] | None:
    request = HttpRequest("POST", f"/service/GraniteServiceVersion20100801/operation/{operation}", "/", [], {}, body)
    try:
        return PROTO.parse(operation, request, {})
    except ServiceError as e:
        assert e.code and e.status in (400, 413)
        return None


def test_valid_bodies_parse() -> None:
    put = parse("PutMetricData", dumps(PUT))
    assert put is not None and put["MetricData"][0]["Timestamp"] == dt.datetime.fromtimestamp(1_800_000_000.5, dt.timezone.utc)
    assert parse("GetMetricData", dumps(GET)) is not None


@pytest.mark.parametrize("operation,doc", [("PutMetricData", PUT), ("GetMetricData", GET)])
def test_mangled_bodies(operation: str, doc: dict[str, Any]) -> None:
    rng = random.Random(7)
    body = dumps(doc)
    for cut in range(len(body)):
        parse(operation, body[:cut])
    for _ in range(2000):
        mangled = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        parse(operation, bytes(mangled))


WRONG = ["text", 7, -1, 1.5, True, None, b"bytes", [], {}, [1, "x"], {"k": []}, Tag(1, "x"), Tag(99, 1)]


@pytest.mark.parametrize("value", WRONG, ids=repr)
def test_members_of_the_wrong_type(value: Any) -> None:
    for path in (("Namespace",), ("MetricData",), ("MetricData", 0, "Value"), ("MetricData", 0, "Timestamp"),
                 ("MetricData", 0, "Dimensions"), ("MetricData", 0, "Dimensions", 0), ("MetricData", 0, "Values", 0)):
        doc: Any = {"Namespace": "App", "MetricData": [dict(PUT["MetricData"][0], Dimensions=[{"Name": "a", "Value": "b"}], Values=[1.0])]}
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        parse("PutMetricData", dumps(doc))
