"""The C scanner for record-batch bodies (``JsonCodec.scan``) never takes a body the general parser would
answer differently: for thousands of seeded mutations of valid Kinesis PutRecords and Firehose
PutRecordBatch bodies (bytes deleted, duplicated, replaced, JSON tokens spliced in), whenever the scanner
takes a body, the general parser must accept it too, validation must pass, and the records must be the
same (data, partition key, order) as the ones the general parser makes."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from nimbus.errors import ServiceError
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.json import PackedRecords

pytest.importorskip("nimbus._speedups", reason="the C extension is built by `make setup`")

TOKENS = [b'"', b"\\", b",", b":", b"{", b"}", b"[", b"]", b" ", b"\n", b"=", b"==", b"A", b"/", b"+", b"null",
          b"1", b"\\u0041", b"\xc3\xa9", b"\x00", b'"Data"', b'"PartitionKey"', b'"StreamName"', b'"Records"',
          b'"ExplicitHashKey"', b'"DeliveryStreamName"']


def bodies(seed: int, firehose: bool, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n = rng.randint(1, 6)
        records = []
        for i in range(n):
            record: dict[str, Any] = {"Data": base64.b64encode(rng.randbytes(rng.choice([0, 1, 2, 3, 50, 400, 600]))).decode()}
            if not firehose:
                record["PartitionKey"] = rng.choice(["k", f"pk-{i}", "a b", "x" * 256])
            records.append(record)
        doc = {"DeliveryStreamName" if firehose else "StreamName": rng.choice(["s", "bench-1", "a.b_c"]), "Records": records}
        body = bytearray(json.dumps(doc, separators=rng.choice([(",", ":"), (", ", ": ")])).encode())
        for _ in range(rng.randint(0, 3)):
            if not body:
                break
            at = rng.randrange(len(body))
            op = rng.random()
            if op < 0.3:
                del body[at : at + rng.randint(1, 3)]
            elif op < 0.6:
                body[at:at] = rng.choice(TOKENS)
            elif op < 0.8:
                body[at] = rng.randrange(256)
            else:
                body[at:at] = body[at : at + rng.randint(1, 20)]
        out.append(bytes(body))
    return out


def general(proto: ServiceProtocol, operation: str, body: bytes) -> Any:
    model = proto.operation_model(operation)
    try:
        params = proto._json.parse(model, body)  # type: ignore[union-attr]
        proto.validator.validate(model.input_shape, params)
    except ServiceError as e:
        return ("error", e.code)
    return ("ok", params)


@pytest.mark.parametrize("service,operation,firehose", [("kinesis", "PutRecords", False), ("firehose", "PutRecordBatch", True)])
def test_the_scanner_takes_only_what_the_general_parser_accepts_alike(service: str, operation: str, firehose: bool) -> None:
    proto = ServiceProtocol(service)
    model = proto.operation_model(operation)
    taken = 0
    for i, body in enumerate(bodies(20261127 + firehose, firehose, 4000)):
        scanned = proto._json.scan(model, body)  # type: ignore[union-attr]
        if scanned is None:
            continue
        params, stand_in = scanned
        try:
            proto.validator.validate(model.input_shape, stand_in)
        except ServiceError:
            continue  # the dispatcher sends this body to the general parser
        taken += 1
        outcome = general(proto, operation, body)
        assert outcome[0] == "ok", (i, body[:200], outcome)
        expected = outcome[1]
        records = params.pop("Records")
        assert type(records) is PackedRecords
        assert records.entries() == expected.pop("Records"), (i, body[:200])
        assert params == expected, (i, body[:200])
        assert records.total == sum(len(r["Data"]) + len(r.get("PartitionKey", "")) for r in records.entries())
    assert taken > 500  # most mutations break a body, but plenty of plain ones are left to compare
