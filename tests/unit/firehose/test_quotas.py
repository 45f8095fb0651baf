"""The per-stream token buckets (quotas.py) on a hand-driven clock."""

from __future__ import annotations

import pytest

from nimbus.config import ConfigError
from nimbus.services.firehose.quotas import StreamQuota, default_rates
from nimbus.services.firehose.streams import FirehoseSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_records_per_second() -> None:
    clock = Clock()
    q = StreamQuota(10, 10**9, clock)
    assert q.admit([b"x"] * 25, 25) == 10  # a full bucket holds one second's worth
    assert q.admit([b"x"], 1) == 0
    clock.now += 0.5
    assert q.admit([b"x"] * 25, 25) == 5  # refilled at the rate
    clock.now += 60
    assert q.admit([b"x"] * 25, 25) == 10  # never more than one second's worth


def test_bytes_per_second_and_order() -> None:
    clock = Clock()
    q = StreamQuota(10**6, 100, clock)
    payloads = [b"a" * 40, b"b" * 40, b"c" * 40, b"d" * 10]
    assert q.admit(payloads, 130) == 2  # a prefix: "d" would fit but comes after a refused record
    clock.now += 0.2  # 20 + 20 bytes
    assert q.admit([b"c" * 40], 40) == 1


def test_record_larger_than_the_bucket_passes_when_full_then_owes() -> None:
    clock = Clock()
    q = StreamQuota(10**6, 100, clock)
    assert q.admit([b"x" * 1000], 1000) == 1  # never refused forever
    clock.now += 5  # 500 of the 900 owed
    assert q.admit([b"y"], 1) == 0
    clock.now += 5
    assert q.admit([b"y"], 1) == 1


def test_defaults_and_settings() -> None:
    assert default_rates("us-east-1") == (500_000, 5 * 1024 * 1024)
    assert default_rates("eu-central-1") == (100_000, 1024 * 1024)
    s = FirehoseSettings.from_env({})
    assert not s.quotas and s.quota_records_per_s is None and s.kinesis_start == "TRIM_HORIZON"
    s = FirehoseSettings.from_env({"NIMBUS_FIREHOSE_QUOTAS": "on", "NIMBUS_FIREHOSE_QUOTA_BYTES_PER_S": "2048",
                                   "NIMBUS_FIREHOSE_KINESIS_START": "latest"})
    assert s.quotas and s.quota_bytes_per_s == 2048 and s.quota_records_per_s is None and s.kinesis_start == "LATEST"
    for bad in ({"NIMBUS_FIREHOSE_QUOTA_RECORDS_PER_S": "0"}, {"NIMBUS_FIREHOSE_QUOTA_BYTES_PER_S": "x"},
                {"NIMBUS_FIREHOSE_KINESIS_START": "AT_TIMESTAMP"}):
        with pytest.raises(ConfigError):
            FirehoseSettings.from_env(bad)
