"""Numeric min/max constraints read like AWS's messages, for each bound and both protocols' codes."""

from __future__ import annotations

import pytest

from nimbus.errors import ValidationError
from nimbus.protocol.dispatch import ServiceProtocol

from .test_codec import json_request

KINESIS = ServiceProtocol("kinesis")
FIREHOSE = ServiceProtocol("firehose")


@pytest.mark.parametrize(("limit", "text"), [
    (10001, "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"),
    (0, "Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"),
])
def test_kinesis_get_records_limit_bounds(limit: int, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        KINESIS.parse("GetRecords", json_request("Kinesis_20131202.GetRecords", {"ShardIterator": "x" * 10, "Limit": limit}))
    assert caught.value.code == "ValidationException"
    assert caught.value.message == f"1 validation error detected: {text}"


def test_firehose_bounds_use_the_framework_code() -> None:
    with pytest.raises(ValidationError) as caught:
        FIREHOSE.parse("ListDeliveryStreams", json_request("Firehose_20150804.ListDeliveryStreams", {"Limit": 10001}))
    assert caught.value.code == "ValidationException"  # as AWS answers a model constraint (its own rules: InvalidArgumentException)
    assert caught.value.message == ("1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
                                    "Member must have value less than or equal to 10000")


def test_in_bounds_values_pass() -> None:
    params = KINESIS.parse("GetRecords", json_request("Kinesis_20131202.GetRecords", {"ShardIterator": "x" * 10, "Limit": 10000}))
    assert params["Limit"] == 10000
