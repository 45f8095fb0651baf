"""WebSocket API pieces that need no server: route selection, $connect answers, two-way replies."""

from __future__ import annotations

import pytest

from nimbus.gateway.websocket import _connect_status, _reply, new_connection_id
from nimbus.services.apigateway.errors import BadRequestException
from nimbus.services.apigateway.wsapis import check_route_key, check_selection_expression, select_route


def test_select_route_reads_the_body_path() -> None:
    assert select_route("$request.body.action", {"action": "send"}) == "send"
    assert select_route("${request.body.action}", {"action": "send"}) == "send"
    assert select_route("$request.body.msg.kind", {"msg": {"kind": "chat"}}) == "chat"
    assert select_route("$request.body.action", {"other": 1}) is None
    assert select_route("$request.body.action", {"action": {"nested": 1}}) is None
    assert select_route("$request.body.action", [1, 2]) is None
    assert select_route("$request.body.n", {"n": 3}) == "3"
    assert select_route("$request.body.b", {"b": True}) == "true"
    assert select_route("fixed", {"action": "x"}) == "fixed"


def test_expressions_and_route_keys_checked() -> None:
    assert check_selection_expression("$request.body.action") == "$request.body.action"
    with pytest.raises(BadRequestException):
        check_selection_expression("$request.header.x")
    for key in ("$connect", "$disconnect", "$default", "sendMessage"):
        check_route_key(key)
    for bad in ("", "$other", "x" * 129):
        with pytest.raises(BadRequestException):
            check_route_key(bad)


def test_connect_status() -> None:
    assert _connect_status(None) == (200, {})
    assert _connect_status(b"null") == (200, {})
    assert _connect_status(b'{"statusCode": 401}') == (401, {})
    assert _connect_status(b'{"statusCode": "200", "headers": {"Sec-WebSocket-Protocol": "chat"}}') == (200, {"sec-websocket-protocol": "chat"})


def test_reply_is_the_body_of_a_proxy_answer() -> None:
    assert _reply(b'{"statusCode": 200, "body": "hi"}') == "hi"
    assert _reply(b'{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}') == b"hi"
    assert _reply(b'{"statusCode": 200}') is None
    assert _reply(b'{"hello": "world"}') == '{"hello": "world"}'
    assert _reply(b"null") is None


def test_connection_ids_look_like_aws() -> None:
    ids = {new_connection_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and i.endswith("=") and not i.endswith("==") and "/" not in i and "+" not in i for i in ids)
