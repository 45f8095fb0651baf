"""lifecycle.py: which rule expires an object and when (the first midnight UTC N days on)."""

from __future__ import annotations

import datetime as dt

from nimbus.services.s3 import lifecycle
from nimbus.services.s3.objects import S3Object

UTC = dt.timezone.utc
NOON = dt.datetime(2026, 3, 1, 12, 30, tzinfo=UTC).timestamp()


def obj(key: str, *, size: int = 10, tags: dict[str, str] | None = None) -> S3Object:
    return S3Object("b", key, size, '"e"', NOON, (), tags=tags or {})


RULES = lifecycle.validate({"Rules": [
    {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}},
    {"ID": "big", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 100}, "Expiration": {"Days": 10}},
    {"ID": "tagged", "Status": "Enabled", "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "k", "Value": "v"}]}},
     "Expiration": {"Date": dt.datetime(2026, 6, 1, tzinfo=UTC)}},
    {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}},
]})


def test_days_round_up_to_midnight_utc() -> None:
    found = lifecycle.expiry(RULES, obj("tmp/a"))
    assert found is not None and found.rule_id == "tmp"
    assert dt.datetime.fromtimestamp(found.at, UTC) == dt.datetime(2026, 3, 3, tzinfo=UTC)
    assert lifecycle.expiration_header(found) == 'expiry-date="Tue, 03 Mar 2026 00:00:00 GMT", rule-id="tmp"'


def test_filters() -> None:
    assert lifecycle.expiry(RULES, obj("other")) is None  # the disabled rule does not count
    assert lifecycle.expiry(RULES, obj("other", size=101)).rule_id == "big"  # type: ignore[union-attr]
    assert lifecycle.expiry(RULES, obj("t/x")) is None
    assert lifecycle.expiry(RULES, obj("t/x", tags={"k": "v"})).rule_id == "tagged"  # type: ignore[union-attr]


def test_dates_round_trip_through_storage() -> None:
    wire = lifecycle.to_wire(RULES)
    assert wire[2]["Expiration"]["Date"] == dt.datetime(2026, 6, 1, tzinfo=UTC)


def test_abort_after() -> None:
    at = lifecycle.abort_after(lifecycle.validate({"Rules": [{"Status": "Enabled", "Filter": {"Prefix": "up/"},
                                                              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]}),
                               "up/k", NOON)
    assert at is not None and dt.datetime.fromtimestamp(at, UTC) == dt.datetime(2026, 3, 4, tzinfo=UTC)
