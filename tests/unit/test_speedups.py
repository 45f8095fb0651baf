"""nimbus._speedups (C) against the pure-Python code it stands in for: the same bytes on disk, the same
sequence numbers, the same parsed requests and the same errors. Each case runs once in this process (C)
and once in a child process where the extension cannot be imported (the Python fallbacks)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import nimbus

_speedups = pytest.importorskip("nimbus._speedups", reason="the C extension is built by `make setup`")

SCENARIO = textwrap.dedent(
    r'''
    import asyncio, base64, hashlib, json, sys
    from pathlib import Path
    if sys.argv[1] == "python":
        sys.modules["nimbus._speedups"] = None  # import fails: every caller takes its Python path
    from nimbus.storage.segments import SegmentLogStore
    from nimbus.services.kinesis.sequence import Encoder
    from nimbus.protocol.dispatch import ServiceProtocol
    from nimbus.protocol.http import HttpRequest
    from nimbus.errors import ServiceError
    import nimbus.storage.segments as segments
    out = {"c": segments._frames is not None}

    async def write(root):
        store = SegmentLogStore(Path(root), segment_bytes=20_000)
        log = store.open("kinesis/000000000000/us-east-1/s/shardId-000000000000")
        sizes = [0, 1, 7, 100, 4096, 5000, 3, 12_000, 64]
        for round_ in range(12):
            payloads = [bytes([round_ * 7 + i & 255]) * sizes[(round_ + i) % len(sizes)] for i in range(round_ * 5 + 1)]
            await log.append(payloads, timestamp_ms=1_700_000_000_000 + round_)
        await log.append([bytearray(b"a bytearray"), memoryview(b"a view")], timestamp_ms=1_700_000_000_100)
        await log.append([b"big" * 50_000, b"after the big one"], timestamp_ms=1_700_000_000_200)  # past a read chunk
        records = [(r.seq, r.timestamp_ms, r.payload) for r in log.read(0, limit=100_000)]
        reads = [  # where a read starts and stops: limits, byte budgets, mid-segment starts
            [(r.seq, len(r.payload), type(r).__name__) for r in log.read(start, limit=limit, max_bytes=budget)]
            for start, limit, budget in ((0, 5, None), (7, 1000, 0), (7, 1000, 4100), (30, 40, 20_000), (300, 3, None),
                                         (340, 10, None), (341, 10, 10), (10_000, 5, None))
        ]
        joined = [  # the same reads as one bytes object each (Firehose objects)
            [hashlib.sha256(j.data).hexdigest()] + list(j[1:])
            for start, limit, budget in ((0, 100_000, None), (7, 1000, 0), (30, 40, 20_000), (300, 100, 200_000), (10_000, 5, None))
            for j in (log.read_joined(start, limit, budget), log.read_joined(start, limit, budget, b"\n"))
        ]
        await store.aclose()
        files = sorted(p for p in Path(root).rglob("*") if p.is_file() and p.suffix == ".log")
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in files], hashlib.sha256(repr(records).encode()).hexdigest(), len(records), reads, joined

    out["log"] = asyncio.run(write(sys.argv[2]))
    enc = Encoder(1_700_000_000, 3)
    out["seq"] = [enc.range(first, n) for first, n in ((-1, 20), (0, 9), (5, 500), (2**40, 50), (2**64 - 100, 98))]

    out["packed"] = 0

    def parse(service, op, target, doc):
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        proto = ServiceProtocol(service)
        request = HttpRequest("POST", "/", "/", [], {"x-amz-target": target}, body)
        try:
            params = proto.parse(op, request)
        except ServiceError as e:
            return ["error", e.code, e.message]
        if type(params.get("Records")) is not list:  # scanned by the C codec path: the dicts it stands for
            out["packed"] += 1
            params["Records"] = list(params["Records"])
        return ["ok", json.loads(json.dumps(params, default=lambda b: base64.b64encode(b).decode() + "|bytes"))]

    b64 = lambda d: base64.b64encode(d).decode()
    firehose = [
        [{"Data": b64(b"x" * n)} for n in (0, 1, 2, 3, 100, 1000)],
        [{"Data": b64(b"a")}, None, {"Data": None}, {}, {"Data": b64(b"b")}],
        [{"Data": b64(b"a")}, {"Data": "***"}],
        [{"Data": b64(b"a")}, {"Data": "eA"}],
        [{"Data": b64(b"a")}, {"Data": "eA=="}, {"Data": 5}],
        [{"Data": b64(b"a")}, []],
        [{"Data": b64(b"a")}, {"Data": b64(b"b" * 1_024_001)}],
        [{"Data": b64(b"a")}, {"Other": 1}],
        [{"Data": b64(b"a")} for _ in range(501)],
        [{"Data": "eB=="}, {"Data": "eCE="}, {"Data": "ZW=="}],  # bits after the last byte
        [{"Data": "eA=\n"}], [{"Data": "eA==\n"}], [{"Data": "é" * 4}], [{"Data": "eA=a"}], [{"Data": "e==="}],
        [{"Data": b64(bytes(range(256)) * 3)}, {"Data": "+/+/"}, {"Data": ""}],  # past the inline limit, all 64
    ]
    out["firehose"] = [parse("firehose", "PutRecordBatch", "Firehose_20150804.PutRecordBatch", {"DeliveryStreamName": "s", "Records": r}) for r in firehose]
    kinesis = [
        [{"Data": b64(b"d%d" % i), "PartitionKey": "k%d" % i} for i in range(20)],
        [{"Data": b64(b"d"), "PartitionKey": "k", "ExplicitHashKey": "123"}],
        [{"Data": b64(b"d"), "PartitionKey": ""}],
        [{"Data": b64(b"d"), "PartitionKey": "k" * 257}],
        [{"Data": b64(b"d")}],
        [{"Data": b64(b"d"), "PartitionKey": 5}],
        [{"Data": b64(b"d"), "PartitionKey": "k", "ExplicitHashKey": "not a number"}],
        [{"Data": b64(b"d"), "PartitionKey": "k"}, None, {"PartitionKey": "k"}],
    ]
    out["kinesis"] = [parse("kinesis", "PutRecords", "Kinesis_20131202.PutRecords", {"StreamName": "s", "Records": r}) for r in kinesis]
    raw = [  # bodies as other clients write them, and bodies the scanner must hand to the general parser
        b'{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"ZGF0YQ=="},{"Data":"","PartitionKey":"k2"}]}',
        b' \n{ "Records" :\t[ { "Data" : "ZA==" , "PartitionKey" : "k" } ] , "StreamARN" : "arn:aws:kinesis:us-east-1:000000000000:stream/s" }\r\n',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"\\u0041"}]}',
        b'{"StreamName":"s","Records":[{"Data":"Z\\/==","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"\xc3\xa9"}]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k","Data":"ZQ=="}]}',
        b'{"StreamName":"s","StreamName":"t","Records":[{"Data":"ZA==","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"}],"Records":[{"Data":"ZQ==","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"}]} {}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"}],}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"},]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"}]',
        b'{"StreamName":null,"Records":[{"Data":"ZA==","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Other":"x","Records":[{"Data":"ZA==","PartitionKey":"k"}]}',
        b'{"StreamName":"bad name!","Records":[{"Data":"ZA==","PartitionKey":"k"}]}',
        b'{"StreamName":"' + b"s" * 129 + b'","Records":[{"Data":"ZA==","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"k"}],"StreamARN":5}',
        b'{"StreamName":"s","Records":[{"Data":"ZA=","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"ZA==","PartitionKey":"' + b"k" * 256 + b'"}]}',
        b'{"StreamName":"s","Records":[{"Data":"' + base64.b64encode(b"x" * 1_048_576) + b'","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"' + base64.b64encode(b"x" * 1_048_577) + b'","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[' + b",".join([b'{"Data":"ZA==","PartitionKey":"k"}'] * 501) + b']}',
        b'{"StreamName":"s","Records":[' + b",".join([b'{"Data":"ZA==","PartitionKey":"k"}'] * 500) + b']}',
        b'{"StreamName":"s","Records":[{"Data":"' + base64.b64encode(bytes(range(256)) * 4)[:-4] + b'Zh==","PartitionKey":"k"}]}',
        b'{"StreamName":"s","Records":[{"Data":"' + base64.b64encode(bytes(range(256)) * 4)[:-1] + b'\x00","PartitionKey":"k"}]}',
    ]
    out["raw"] = [parse("kinesis", "PutRecords", "Kinesis_20131202.PutRecords", body) for body in raw]
    out["raw_firehose"] = [parse("firehose", "PutRecordBatch", "Firehose_20150804.PutRecordBatch", body.replace(b'"StreamName"', b'"DeliveryStreamName"').replace(b',"PartitionKey":"k"', b"")) for body in raw]
    print(json.dumps(out))
    '''
)


def run_scenario(mode: str, root: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(Path(nimbus.__file__).resolve().parents[1]))
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO, mode, str(root)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_c_and_python_paths_agree(tmp_path: Path) -> None:
    c = run_scenario("c", tmp_path / "c")
    py = run_scenario("python", tmp_path / "py")
    assert c.pop("c") is True and py.pop("c") is False  # each child took the path it was meant to
    assert c["log"][2] == sum(i * 5 + 1 for i in range(12)) + 4
    reads = [len(r) for r in c["log"][3]]
    assert reads[0] == 5 and reads[1] == 1 and reads[-1] == 0 and reads[-2] == 1  # limit; budget 0 (and 10) still gives one; past the end
    codes = lambda outcomes: [o[1] if o[0] == "error" else None for o in outcomes]  # noqa: E731
    malformed, validation = "SerializationException", "ValidationException"  # model failures: ValidationException
    assert codes(c["firehose"]) == [None, validation, malformed, malformed, malformed, malformed, validation, validation, validation,
                                    None, malformed, malformed, malformed, malformed, malformed, None]
    assert codes(c["kinesis"]) == [None, None, validation, validation, None, malformed, validation, validation]
    assert c.pop("packed") >= 12 and py.pop("packed") == 0  # the plain batches were scanned in C
    assert c == py


def test_frames_hand_over_what_is_not_bytes() -> None:
    assert _speedups.frames([b"a", bytearray(b"b")], 0, 0, 0, 0, 4096) is None
    chunk, size, index_off, index = _speedups.frames([b"a" * 3000, b"b" * 3000, b"c"], 7, 9, 0, 0, 4096)
    assert size == len(chunk) == 3 * 24 + 6001
    assert index == [9, 6048] and index_off == 6048  # the first record starting 4,096 bytes past the last entry


def test_decode_and_check_stop_where_python_takes_over() -> None:
    items: list[Any] = [{"Data": base64.b64encode(b"one").decode()}, None, {"Data": "!!"}, {"Data": "dHdv"}]

    def decode(s: str, altchars: None, validate: bool) -> bytes:
        return base64.b64decode(s, altchars, validate)

    assert _speedups.decode_blob_member(items, "Data", decode) == 2
    assert items[0] == {"Data": b"one"} and items[2] == {"Data": "!!"} and items[3] == {"Data": "dHdv"}
    plan = (("Data", bytes, 0, 3, True), ("Key", str, 1, 2, False), ("Nested", None, 0, 0, False))
    assert _speedups.check_simple_structures([{"Data": b"abc"}, None, {"Data": b"", "Key": "k"}], plan) == -1
    for bad in ({"Data": b"abcd"}, {"Key": "k"}, {"Data": b"a", "Key": ""}, {"Data": "a"}, {"Data": b"a", "Nested": {}}, []):
        assert _speedups.check_simple_structures([{"Data": b"a"}, bad], plan) == 1, bad


def test_crc32_is_zlibs() -> None:
    import random
    import zlib

    rng = random.Random(7)
    data = rng.randbytes(300_000)
    for _ in range(3000):
        offset, length, seed = rng.randrange(64), rng.randrange(5000), rng.getrandbits(32)
        chunk = data[offset : offset + length]
        assert _speedups.crc32(chunk, seed) == zlib.crc32(chunk, seed), (offset, length)
    assert _speedups.crc32(data) == zlib.crc32(data)  # past the size where the GIL is released
    assert _speedups.crc32(memoryview(data)[5:70]) == zlib.crc32(data[5:70])
    assert _speedups.crc32(b"") == 0 and _speedups.crc32(b"", 123) == 123


@pytest.mark.parametrize("implementation", ["c", "python"])
def test_plain_payloads_are_records_pack(implementation: str) -> None:
    from nimbus.services.kinesis.api import plain_payloads_py
    from nimbus.services.kinesis.records import pack

    plain_payloads = _speedups.plain_payloads if implementation == "c" else plain_payloads_py
    entries: list[Any] = [
        {"Data": b"d" * n, "PartitionKey": key} for n, key in ((0, "k"), (5, "ключ"), (1000, "é" * 300), (3, "x" * 1024))
    ]
    entries.append({"Data": b"z", "PartitionKey": "p", "ExplicitHashKey": None})
    made = plain_payloads(entries, "Data", "PartitionKey", "ExplicitHashKey")
    assert made is not None
    payloads, total, largest = made
    assert payloads == [pack(e["PartitionKey"].encode(), e["Data"]) for e in entries]
    assert total == sum(len(e["Data"]) + len(e["PartitionKey"]) for e in entries)
    assert largest == max(len(p) for p in payloads) - 2
    for odd in (
        {"Data": b"d", "PartitionKey": "k", "ExplicitHashKey": "1"},  # routed by hash key: the general path
        {"Data": b"d"}, {"Data": b"d", "PartitionKey": None}, {"Data": b"d", "PartitionKey": 5},
        {"Data": "not bytes", "PartitionKey": "k"}, {"Data": b"d", "PartitionKey": "\ud800"},
        {"Data": b"d", "PartitionKey": "é" * 513},  # 1,026 bytes of UTF-8: over the 2-byte head's usual range
        None,
    ):
        assert plain_payloads([entries[0], odd], "Data", "PartitionKey", "ExplicitHashKey") is None, odd


def test_has_none_is_drop_nulls_guard() -> None:
    """drop_nulls rebuilds a document only when the C walk finds a None: the walk must find every None
    (to depth 64), and a deep document is handled in linear time."""
    speedups = pytest.importorskip("nimbus._speedups")
    from nimbus.protocol.json import drop_nulls

    def python_has_none(value: Any, depth: int = 0) -> bool:
        if value is None or depth > 64:
            return True
        if isinstance(value, dict):
            value = list(value.values())
        return isinstance(value, list) and any(python_has_none(v, depth + 1) for v in value)

    deep: Any = {"v": None}
    for _ in range(500):
        deep = {"d": [deep]}
    docs: list[Any] = [
        {}, {"a": 1}, {"a": None}, {"a": [1, None]}, {"a": [{"b": None}]}, {"a": [{"b": [{"c": "null"}]}]},
        {"a": {"b": {"c": None}}}, {"Records": [{"Data": b"x", "PartitionKey": "k"}] * 500}, [None], [[], {}],
        {"a": "None", "b": 0, "c": False, "d": b""},
    ]
    for doc in docs:
        assert speedups.has_none(doc) == python_has_none(doc), doc
    assert drop_nulls({"a": None, "b": [None, {"c": None, "d": 1}], "e": {"f": None}}) == {"b": [{"d": 1}], "e": {}}
    assert drop_nulls(docs[7]) is docs[7]  # no null: the same object, nothing rebuilt
    assert speedups.has_none(deep) and isinstance(drop_nulls(deep), dict)  # linear, no recursion error
