"""The CBOR codec against botocore's own CBOR serializer and parser (independent implementations)."""

import datetime as dt
import io

import pytest
from botocore.parsers import BaseCBORParser
from botocore.serialize import RpcV2CBORSerializer

from nimbus.protocol import cbor
from nimbus.protocol.models import load_service_model


def botocore_decode(data: bytes):  # type: ignore[no-untyped-def]
    parser = BaseCBORParser()
    return parser.parse_data_item(io.BufferedReader(io.BytesIO(data)))


@pytest.mark.parametrize(
    "value",
    [0, 23, 24, 255, 256, 65536, 2**32, 2**63, -1, -24, -25, -(2**40), 1.5, -0.25, "", "h\u00e9llo", "x" * 300,
     b"", b"\x00\xff" * 200, [], [1, "a", b"b"], {"a": {"b": [True, False, None]}}, {"k": 2**20}],
)
def test_round_trip_and_botocore_agrees(value) -> None:  # type: ignore[no-untyped-def]
    encoded = cbor.dumps(value)
    assert cbor.loads(encoded) == value
    assert botocore_decode(encoded) == value


def test_timestamps_are_tag_1_milliseconds() -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=dt.timezone.utc)
    encoded = cbor.dumps({"t": cbor.timestamp_tag(when)})
    assert cbor.loads(encoded) == {"t": when}
    # seconds (botocore rpc-v2 style) are recognised too
    assert cbor.loads(cbor.dumps(cbor.Tag(1, when.timestamp()))) == when


def test_reads_what_botocore_serialises_for_kinesis_inputs() -> None:
    model = load_service_model("kinesis")
    op = model.operation_model("PutRecords")
    params = {"StreamName": "s", "Records": [{"Data": b"\x01\x02", "PartitionKey": "k"}, {"Data": b"", "PartitionKey": "q", "ExplicitHashKey": "5"}]}
    body = RpcV2CBORSerializer()._serialize_body_params(params, op.input_shape)
    codec = cbor.CborCodec("SerializationException")
    assert codec.parse(op, body) == params
    op = model.operation_model("GetShardIterator")
    when = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    body = RpcV2CBORSerializer()._serialize_body_params(
        {"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": when}, op.input_shape
    )
    assert codec.parse(op, body)["Timestamp"] == when


def test_indefinite_lengths_and_errors() -> None:
    # indefinite map {"a": [1, 2]} with an indefinite array and chunked text
    data = bytes([0xBF, 0x7F, 0x61, ord("a"), 0xFF, 0x9F, 0x01, 0x02, 0xFF, 0xFF])
    assert cbor.loads(data) == {"a": [1, 2]}
    for bad in (b"", b"\x1c", bytes([0x62, 0x61]), cbor.dumps(1) + b"\x00"):
        with pytest.raises((cbor.CborError, IndexError)):
            cbor.loads(bad)


def test_outputs_write_blobs_raw_and_timestamps_tagged() -> None:
    model = load_service_model("kinesis")
    op = model.operation_model("GetRecords")
    codec = cbor.CborCodec("SerializationException")
    resp = codec.serialize(op, {"Records": [{"SequenceNumber": "1", "ApproximateArrivalTimestamp": 1700000000.5, "Data": b"\x00hi", "PartitionKey": "k"}], "MillisBehindLatest": 0}, "rid")
    rec = cbor.loads(resp.body)["Records"][0]
    assert rec["Data"] == b"\x00hi" and rec["PartitionKey"] == "k"
    assert cbor.dumps(cbor.Tag(1, 1700000000500)) in resp.body  # the Java SDK's epoch milliseconds
    raw = cbor.loads(resp.body)["Records"][0]["ApproximateArrivalTimestamp"]
    assert raw == dt.datetime.fromtimestamp(1700000000.5, dt.timezone.utc)
