"""Lists of structures take a fused path (one loop, simple members checked inline, a lone blob member
decoded inline): the results and every message must be those of the general path."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from nimbus.errors import SerializationError, ValidationError
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest
from nimbus.protocol.json import strip_none

FIREHOSE = ServiceProtocol("firehose")
KINESIS = ServiceProtocol("kinesis")


def put_batch(records: Any) -> dict[str, Any]:
    body = orjson.dumps({"DeliveryStreamName": "s", "Records": records})
    request = HttpRequest("POST", "/", "/", [], {"x-amz-target": "Firehose_20150804.PutRecordBatch"}, body)
    return FIREHOSE.parse("PutRecordBatch", request)


def test_blobs_decoded_in_place_and_none_kept() -> None:
    data = [b"", b"\x00\xff", b"x" * 1000]
    params = put_batch([{"Data": base64.b64encode(d).decode()} for d in data])
    assert params["Records"] == [{"Data": d} for d in data]


@pytest.mark.parametrize("records", [[{"Data": "eA=="}, {"Data": "***"}], [{"Data": "eA=="}, []], [{"Data": 5}], "x"])
def test_malformed_items(records: Any) -> None:
    with pytest.raises(SerializationError) as caught:
        put_batch(records)
    assert caught.value.code == "SerializationException"


def test_constraints_and_missing_members_with_paths() -> None:
    big = base64.b64encode(b"x" * 1_024_001).decode()
    with pytest.raises(ValidationError) as caught:
        put_batch([{"Data": "eA=="}, {}, {"Data": big}])
    message = caught.value.message
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null" in message
    assert ("Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at 'records.3.member.data' failed to satisfy "
            "constraint: Member must have length less than or equal to 1024000") in message
    with pytest.raises(ValidationError) as empty:
        put_batch([])
    assert "at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1" in empty.value.message


def test_kinesis_members_inline_and_checked() -> None:
    body = {"StreamName": "s", "Records": [
        {"Data": "eA==", "PartitionKey": "k" * 257}, {"Data": "eA==", "PartitionKey": "p", "ExplicitHashKey": "x1"},
        {"Data": "eA==", "PartitionKey": 7},
    ]}
    request = HttpRequest("POST", "/", "/", [], {"x-amz-target": "Kinesis_20131202.PutRecords"}, orjson.dumps(body))
    with pytest.raises(SerializationError):
        KINESIS.parse("PutRecords", request)
    body["Records"] = body["Records"][:2]
    request = HttpRequest("POST", "/", "/", [], {"x-amz-target": "Kinesis_20131202.PutRecords"}, orjson.dumps(body))
    with pytest.raises(ValidationError) as caught:
        KINESIS.parse("PutRecords", request)
    message = caught.value.message
    assert message.startswith("2 validation errors detected: ")
    assert "at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256" in message
    assert "Value 'x1' at 'records.2.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern" in message


def test_strip_none_lists_of_structures() -> None:
    flat = [{"RecordId": "a"}, {"RecordId": "b"}]
    assert strip_none(flat) is flat
    assert strip_none([{"a": 1}, {"a": None}]) == [{"a": 1}, {}]
    assert strip_none([{"a": 1}, None]) == [{"a": 1}]
    assert strip_none([{"a": [1, None]}]) == [{"a": [1]}]
    nested = [{"a": {"b": 1}}]
    assert strip_none(nested) is nested


def _reference(text: str) -> bytes | None:
    import binascii

    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def test_base64_accepts_and_decodes_exactly_what_binascii_strict_does() -> None:
    """The SIMD decoder (pybase64) refuses a few strings binascii's strict mode accepts ('AAAA=');
    those fall back to binascii, so the set accepted and the bytes are binascii's, record by record."""
    import itertools
    import random

    from nimbus.protocol.json import _strict_a2b

    rnd = random.Random(7)
    alphabet = "AQ/+=9 \n\x00é-_"
    samples = ["".join(t) for n in range(7) for t in itertools.product("AQ/=", repeat=n)]
    for _ in range(20_000):
        text = base64.b64encode(rnd.randbytes(rnd.randint(0, 40))).decode()
        if rnd.random() < 0.6 and text:
            k = rnd.randrange(len(text))
            text = text[:k] + rnd.choice(alphabet) + text[k + rnd.randint(0, 2):]
        samples.append(text)
    samples += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))) for _ in range(20_000)]
    for text in samples:
        expected = _reference(text)
        try:
            got: bytes | None = _strict_a2b(text)
        except Exception:  # noqa: BLE001 - compared below
            got = None
        assert got == expected, text
        # the same through the fused list reader (Firehose PutRecordBatch) and the lone-blob reader (PutRecord)
        if expected is None:
            with pytest.raises(SerializationError):
                put_batch([{"Data": "eA=="}, {"Data": text}])
        else:
            assert put_batch([{"Data": "eA=="}, {"Data": text}])["Records"][1]["Data"] == expected


def _outcome(validator: Any, shape: Any, params: dict[str, Any]) -> tuple[str, str]:
    try:
        validator.validate(shape, params)
    except (ValidationError, SerializationError) as exc:
        return type(exc).__name__, f"{exc.code}: {exc.message}"
    return "ok", ""


def test_unrolled_fast_pass_answers_as_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated fast pass (Kinesis PutRecords entries) against the per-member loop it unrolls, on
    random batches of good and bad entries: the same outcome and the same messages."""
    import random

    from nimbus.protocol import validate as validate_module
    from nimbus.protocol.validate import Validator

    shape = KINESIS.operation_model("PutRecords").input_shape
    fast = Validator(KINESIS.codes)
    assert fast.check_for(shape.members["Records"]).__name__ == "check_structures_fast"
    monkeypatch.setattr(validate_module, "_fast_structures", lambda plan, required: None)
    loop = Validator(KINESIS.codes)
    assert loop.check_for(shape.members["Records"]).__name__ == "check_structures"
    rnd = random.Random(11)
    values = [b"x", b"", b"y" * 10, "str", 5, None, "k", "k" * 256, "k" * 257, "", "0", "12", "x1", [], {}]

    def entry() -> Any:
        if rnd.random() < 0.05:
            return rnd.choice([None, "x", 3, []])
        out = {"Data": b"d", "PartitionKey": "pk"}
        for name in ("Data", "PartitionKey", "ExplicitHashKey", "Other"):
            r = rnd.random()
            if r < 0.15:
                out.pop(name, None)
            elif r < 0.3:
                out[name] = rnd.choice(values)
        return out

    for _ in range(3000):
        records = [entry() for _ in range(rnd.randint(0, 6))]
        params = {"StreamName": "s", "Records": records}
        assert _outcome(fast, shape, params) == _outcome(loop, shape, params), records
