"""A member a service already serialised (``orjson.Fragment``) goes out untouched, byte for byte what
the writer would have produced, and botocore parses it the same."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.services.kinesis.api import _records_fragment


def _records() -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = [
        {
            "SequenceNumber": "4959%052d" % i,
            "ApproximateArrivalTimestamp": 1700000000.125 + i,
            "Data": bytes(range(i % 256)),
            "PartitionKey": 'pk-é"\\%d' % i,
        }
        for i in range(300)
    ]
    recs[5]["EncryptionType"] = "KMS"
    return recs


def test_fragment_passes_through_the_json_writer() -> None:
    proto = ServiceProtocol("kinesis")
    fragment = orjson.Fragment(b'[{"SequenceNumber":"1","Data":"eA==","PartitionKey":"k"}]')
    body = proto.serialize("GetRecords", {"Records": fragment, "MillisBehindLatest": 3}, "rid").body
    assert body == b'{"Records":[{"SequenceNumber":"1","Data":"eA==","PartitionKey":"k"}],"MillisBehindLatest":3}'


def test_kinesis_records_fragment_is_byte_identical_to_the_writer() -> None:
    proto = ServiceProtocol("kinesis")
    out = {"MillisBehindLatest": 0, "NextShardIterator": "it"}
    generic = proto.serialize("GetRecords", {"Records": _records(), **out}, "rid").body
    fragment = proto.serialize("GetRecords", {"Records": _records_fragment(_records()), **out}, "rid").body
    assert fragment == generic
    assert orjson.loads(fragment)["Records"][7]["Data"] == "AAECAwQFBg=="


def test_botocore_parses_the_fragment_like_the_writer_output() -> None:
    import botocore.session
    from botocore.parsers import create_parser

    proto = ServiceProtocol("kinesis")
    model = botocore.session.get_session().get_service_model("kinesis").operation_model("GetRecords")
    parser = create_parser("json")

    def parse(records: Any) -> Any:
        resp = proto.serialize("GetRecords", {"Records": records, "MillisBehindLatest": 0}, "rid")
        return parser.parse({"body": resp.body, "headers": dict(resp.headers), "status_code": 200}, model.output_shape)

    generic, fragment = parse(_records()), parse(_records_fragment(_records()))
    generic.pop("ResponseMetadata", None)
    fragment.pop("ResponseMetadata", None)
    assert fragment == generic
    assert fragment["Records"][3]["Data"] == bytes(range(3))
    assert copy.deepcopy(fragment)["Records"][5]["EncryptionType"] == "KMS"


def test_dump_json_stripped_matches_strip_none() -> None:
    from nimbus.protocol.json import dump_json, dump_json_stripped, strip_none

    docs: list[Any] = [
        {"Records": [{"SequenceNumber": "1", "ShardId": "s"}] * 3, "FailedRecordCount": 0},
        {"Records": [{"SequenceNumber": "1", "ErrorCode": None}], "EncryptionType": None},
        {"A": "null", "B": {"C": [None, {"D": None, "E": "x"}]}, "F": b"blob"},
        {"A": float("nan"), "B": []},
        {},
    ]
    for doc in docs:
        assert dump_json_stripped(doc) == dump_json(strip_none(doc))
