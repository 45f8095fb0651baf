"""PutRecords' fast path answers with Records already serialised: byte for byte the writer's output."""

from __future__ import annotations

from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.services.kinesis.api import put_records_fragment
from nimbus.services.kinesis.sequence import Encoder


def test_fragment_equals_the_writer_output() -> None:
    proto = ServiceProtocol("kinesis")
    for count, shard in ((1, "shardId-000000000000"), (500, "shardId-000000000007")):
        numbers = Encoder(1700000000, 7).range(12345, count)
        generic = proto.serialize("PutRecords", {
            "FailedRecordCount": 0, "Records": [{"SequenceNumber": n, "ShardId": shard} for n in numbers], "EncryptionType": "NONE",
        }, "rid").body
        fast = proto.serialize("PutRecords", {
            "FailedRecordCount": 0, "Records": put_records_fragment(shard, numbers), "EncryptionType": "NONE",
        }, "rid").body
        assert fast == generic
