import base64
import json

import pytest

from nimbus.gateway import events
from nimbus.gateway.events import MalformedResponse, Request, map_v1, map_v2, v1_event, v2_event


def req(**kw):
    base = dict(
        method="GET", path="/items/42", raw_query="a=1&a=2&b=x%20y",
        headers=[("host", "abc.execute-api.localhost:4566"), ("user-agent", "curl/8"), ("x-multi", "1"), ("x-multi", "2"),
                 ("cookie", "c1=v1; c2=v2")],
        body=b"", source_ip="127.0.0.1", request_id="rid-1", domain_name="abc.execute-api.localhost", domain_prefix="abc",
        time_ms=1_583_348_638_390,
    )
    base.update(kw)
    return Request(**base)


def test_v1_event_fields():
    ev = v1_event(req(), resource_path="/items/{id}", resource_id="r1", path_params={"id": "42"}, stage="default",
                  stage_variables=None, api_id="abc", account_id="000000000000", binary_types=[])
    assert ev["resource"] == "/items/{id}" and ev["path"] == "/items/42" and ev["httpMethod"] == "GET"
    assert ev["headers"]["User-Agent"] == "curl/8" and ev["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert ev["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert ev["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert ev["pathParameters"] == {"id": "42"} and ev["stageVariables"] is None
    ctx = ev["requestContext"]
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["path"] == "/default/items/42"
    assert ctx["requestId"] == "rid-1" and ctx["stage"] == "default" and ctx["resourcePath"] == "/items/{id}"
    assert ctx["requestTime"] == "04/Mar/2020:19:03:58 +0000" and ctx["requestTimeEpoch"] == 1_583_348_638_390
    assert ev["body"] is None and ev["isBase64Encoded"] is False
    json.dumps(ev)


def test_v1_binary_body():
    raw = bytes(range(256))
    r = req(method="POST", body=raw, headers=[("content-type", "application/octet-stream")])
    ev = v1_event(r, resource_path="/", resource_id="r", path_params={}, stage="s", stage_variables={"k": "v"},
                  api_id="a", account_id="0", binary_types=["application/octet-stream"])
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == raw and ev["stageVariables"] == {"k": "v"}
    text = req(method="POST", body=b'{"x": 1}', headers=[("content-type", "application/json")])
    ev = v1_event(text, resource_path="/", resource_id="r", path_params={}, stage="s", stage_variables=None,
                  api_id="a", account_id="0", binary_types=["application/octet-stream"])
    assert ev["body"] == '{"x": 1}' and ev["isBase64Encoded"] is False


def test_v2_event_fields():
    ev = v2_event(req(), route_key="GET /items/{id}", raw_path="/items/42", path_params={"id": "42"}, stage="$default",
                  stage_variables=None, api_id="abc", account_id="000000000000")
    assert ev["version"] == "2.0" and ev["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert ev["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in ev["headers"]
    assert ev["headers"]["x-multi"] == "1,2" and ev["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert ev["requestContext"]["http"] == {"method": "GET", "path": "/items/42", "protocol": "HTTP/1.1",
                                            "sourceIp": "127.0.0.1", "userAgent": "curl/8"}
    assert "body" not in ev and ev["isBase64Encoded"] is False and "stageVariables" not in ev
    png = req(method="POST", body=b"\x89PNG\r\n", headers=[("content-type", "image/png")])
    ev = v2_event(png, route_key="$default", raw_path="/", path_params=None, stage="$default", stage_variables=None,
                  api_id="u", account_id="0")
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"\x89PNG\r\n"


def test_map_v1():
    r = map_v1(json.dumps({"statusCode": 201, "headers": {"X-A": "1", "Set-Cookie": "x"},
                           "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "hi"}).encode(),
               binary_types=[], accept=None)
    assert r.status == 201 and r.body == b"hi"
    # headers and multiValueHeaders are merged into one list; a pair in both is sent once
    assert [v for k, v in r.headers if k == "Set-Cookie"] == ["a=1", "b=2", "x"]
    r = map_v1(json.dumps({"statusCode": 200, "headers": {"X-B": "1"}, "multiValueHeaders": {"x-b": ["1", "2"]}}).encode(),
               binary_types=[], accept=None)
    assert [v for k, v in r.headers if k.lower() == "x-b"] == ["1", "2"]
    assert ("Content-Type", "application/json") in r.headers
    # the seed function's answer
    r = map_v1(b'{"statusCode": 200, "body": "\\"Done!\\""}', binary_types=[], accept=None)
    assert r.status == 200 and r.body == b'"Done!"'


@pytest.mark.parametrize("payload", [
    b'"just a string"', b'{"statusCode": "20O"}', b'{"statusCode": 200.5}', b'{"statusCode": 200, "body": {"a": 1}}', b"not json",
    b'{"statusCode": 200, "extra": 1}', b'{"body": "x"}', b'[1]',
])
def test_map_v1_malformed(payload):
    with pytest.raises(MalformedResponse):
        map_v1(payload, binary_types=[], accept=None)


def test_map_v1_base64_needs_binary_media_type():
    payload = json.dumps({"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\x00\x01").decode(),
                          "headers": {"Content-Type": "application/octet-stream"}}).encode()
    assert map_v1(payload, binary_types=["*/*"], accept=None).body == b"\x00\x01"
    assert map_v1(payload, binary_types=[], accept=None).body == base64.b64encode(b"\x00\x01")


def test_map_v2_inference():
    r = map_v2(b'"Hello from Lambda!"')
    assert r.status == 200 and r.body == b'"Hello from Lambda!"' and ("Content-Type", "application/json") in r.headers
    assert map_v2(b'{"message": "hi"}').body == b'{"message": "hi"}'
    r = map_v2(json.dumps({"statusCode": 404, "cookies": ["a=1", "b=2"], "body": "nope", "headers": {"content-type": "text/plain"}}).encode())
    assert r.status == 404 and r.body == b"nope" and r.headers.count(("Set-Cookie", "a=1")) == 1
    r = map_v2(json.dumps({"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"\xff").decode()}).encode())
    assert r.body == b"\xff"
    with pytest.raises(MalformedResponse):
        map_v2(b"{not json")
    with pytest.raises(MalformedResponse):
        map_v2(b'{"statusCode": "x"}')


def test_media_types():
    assert events.media_type_matches("image/png; q=1", ["image/*"])
    assert events.media_type_matches("text/html, image/png", ["image~1png"])
    assert not events.media_type_matches("text/plain", ["image/png"])
    assert events.is_text_type("application/vnd.api+json") and not events.is_text_type("application/octet-stream")
