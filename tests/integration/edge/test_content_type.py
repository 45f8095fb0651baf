"""JSON-protocol requests are read by their Content-Type, as AWS routes them: the JSON media types (either
protocol version, application/json) and CBOR are read; anything else (a form post, octet-stream) is an
UnknownOperationException in the protocol's error format, and nothing is done."""

from __future__ import annotations

import json

import pytest

from nimbus.protocol.dispatch import is_json
from tests.conftest import NimbusProcess
from tests.integration.edge.test_edge import raw


@pytest.mark.parametrize("content_type", ["application/x-amz-json-1.1", "application/x-amz-json-1.0",
                                          "application/json", "application/x-amz-json-1.1; charset=utf-8"])
def test_json_media_types_are_read(nimbus_server: NimbusProcess, content_type: str) -> None:
    headers = {"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": content_type}
    status, _, body = raw(nimbus_server, "POST", "/", b"{}", headers, sign="kinesis")
    assert status == 200, body
    assert "StreamNames" in json.loads(body)


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "application/octet-stream", "text/plain"])
def test_other_media_types_are_refused_and_do_nothing(nimbus_server: NimbusProcess, content_type: str) -> None:
    name = "ct-" + content_type.split("/")[1][:8].replace("-", "")
    body = json.dumps({"StreamName": name, "ShardCount": 1}).encode()
    headers = {"X-Amz-Target": "Kinesis_20131202.CreateStream", "Content-Type": content_type}
    status, resp_headers, out = raw(nimbus_server, "POST", "/", body, headers, sign="kinesis")
    assert status == 400
    doc = json.loads(out)
    assert doc["__type"] == "UnknownOperationException" and content_type in doc["message"]
    assert resp_headers["x-amzn-requestid"]
    assert name not in nimbus_server.client("kinesis").list_streams()["StreamNames"]


def test_a_request_without_a_content_type_is_read_as_json() -> None:
    # (urllib always sends one; this is the rule the codec applies)
    assert is_json({}) and is_json({"content-type": "Application/JSON"})
    assert not is_json({"content-type": "application/x-www-form-urlencoded"})
