"""HTTP/2 with prior knowledge (h2c) on the one port, beside HTTP/1.1: the AWS SDK for JavaScript v3's Kinesis
client opens its connections with the HTTP/2 preface even to an http:// endpoint, and signs the request's
``:authority`` pseudo-header by that name. Driven here with the ``h2`` library as the client, over a plain
socket, against a real server."""

from __future__ import annotations

import json
import socket
from typing import Any

import h2.config
import h2.connection
import h2.events
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


class H2Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        stream = self.conn.get_next_available_stream_id()
        pseudo = [(":method", method), (":path", path), (":scheme", "http"), (":authority", f"127.0.0.1:{self.port}")]
        self.conn.send_headers(stream, pseudo + [(k.lower(), v) for k, v in headers.items()], end_stream=not body)
        if body:
            self.conn.send_data(stream, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        status, got, data = 0, {}, b""
        while True:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the connection"
            for event in self.conn.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    got = dict(event.headers)
                    status = int(got[":status"])
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    data += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    self.sock.sendall(self.conn.data_to_send())
                    return status, got, data
            self.sock.sendall(self.conn.data_to_send())

    def close(self) -> None:
        self.conn.close_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.sock.close()


def signed(port: int, target: str, body: dict[str, Any], *, sign_authority: bool) -> tuple[dict[str, str], bytes]:
    """Headers signed as an SDK signs them: with Host, or (JavaScript v3 over HTTP/2) with ``:authority``."""
    data = json.dumps(body).encode()
    authority = f"127.0.0.1:{port}"
    req = AWSRequest("POST", f"http://{authority}/", data=data,
                     headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    if sign_authority:
        req.headers[":authority"] = authority  # botocore signs every header it is given, under its own name
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kinesis", "us-east-1").add_auth(req)
    headers = {k: v for k, v in req.headers.items() if not k.startswith(":") and k.lower() != "host"}
    if sign_authority:
        assert ":authority;" in headers["Authorization"]
    return headers, data


def test_kinesis_over_h2c_with_prior_knowledge(nimbus_server: NimbusProcess) -> None:
    client = H2Client(nimbus_server.port)
    try:
        for sign_authority in (True, False):
            name = f"h2-{int(sign_authority)}"
            headers, data = signed(nimbus_server.port, "Kinesis_20131202.CreateStream", {"StreamName": name, "ShardCount": 1},
                                   sign_authority=sign_authority)
            status, got, body = client.request("POST", "/", headers, data)
            assert status == 200, body
            assert got["x-amzn-requestid"]
            # several requests on the one connection, as streams
            headers, data = signed(nimbus_server.port, "Kinesis_20131202.ListStreams", {}, sign_authority=sign_authority)
            status, _, body = client.request("POST", "/", headers, data)
            assert status == 200 and name in json.loads(body)["StreamNames"]
        headers, data = signed(nimbus_server.port, "Kinesis_20131202.ListStreams", {}, sign_authority=True)
        headers["Authorization"] = headers["Authorization"][:-4] + "0000"  # a wrong signature is still refused
        status, got, body = client.request("POST", "/", headers, data)
        assert status == 400 and json.loads(body)["__type"] == "InvalidSignatureException"
    finally:
        client.close()
    # HTTP/1.1 on the same port is untouched
    assert nimbus_server.client("kinesis").list_streams()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_preface_split_across_reads_is_still_http2(nimbus_server: NimbusProcess) -> None:
    sock = socket.create_connection(("127.0.0.1", nimbus_server.port), timeout=30)
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        first = conn.data_to_send()
        for i in range(0, 30, 5):  # the preface (24 bytes) and the SETTINGS frame, five bytes a write
            sock.sendall(first[i:i + 5])
        sock.sendall(first[30:])
        got = sock.recv(65536)
        events = conn.receive_data(got)
        assert any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events)  # an HTTP/2 server answered
    finally:
        sock.close()
