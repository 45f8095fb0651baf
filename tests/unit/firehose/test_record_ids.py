"""PutRecordBatch's RequestResponses built as a JSON fragment: byte for byte what the JSON writer makes
of the list of dicts, whatever the block boundaries."""

from __future__ import annotations

import random

import orjson

from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.services.firehose.api import record_ids_fragment
from nimbus.services.firehose.streams import _id_base


def test_fragment_equals_the_writer_output() -> None:
    proto = ServiceProtocol("firehose")
    rnd = random.Random(3)
    cases = [(0, 1), (0, 500), (999, 1), (999, 2), (998, 500), (1000, 1000), (1, 2500), (10**12 - 3, 7)]
    cases += [(rnd.randrange(10**15), rnd.randint(1, 1200)) for _ in range(200)]
    for first, count in cases:
        base = _id_base(f"{rnd.getrandbits(64):016x}")
        expected = [{"RecordId": str(base + s)} for s in range(first, first + count)]
        fragment = record_ids_fragment(base, first, count)
        assert orjson.loads(orjson.dumps(fragment)) == expected
        out = {"FailedPutCount": 0, "Encrypted": False}
        generic = proto.serialize("PutRecordBatch", {**out, "RequestResponses": expected}, "rid").body
        fast = proto.serialize("PutRecordBatch", {**out, "RequestResponses": fragment}, "rid").body
        assert fast == generic
