"""The HTTP/1.1 connections' write coalescing against a real server (tests/unit/edge/test_coalescing.py
shows the one write per response): a raw request gets its whole answer, pipelined requests on one
connection are answered in order, and many connections at once each get their own answers."""

from __future__ import annotations

import http.client
import json
import socket
from concurrent.futures import ThreadPoolExecutor

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


def _signed_describe(server: NimbusProcess, prefix: str) -> bytes:
    body = json.dumps({"logGroupNamePrefix": prefix}).encode()
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "logs", "us-east-1").add_auth(req)
    head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    return (f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: {len(body)}\r\n{head}\r\n").encode() + body


def _read_responses(sock: socket.socket, n: int) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    buf = b""
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(v) for k, _, v in (line.partition(b":") for line in lines[1:]) if k.strip().lower() == b"content-length")
        while len(buf) < length:
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
        out.append((status, buf[:length]))
        buf = buf[length:]
    return out


def test_a_raw_request_gets_its_whole_answer(nimbus_server: NimbusProcess) -> None:
    with socket.create_connection(("127.0.0.1", nimbus_server.port), timeout=30) as sock:
        sock.sendall(_signed_describe(nimbus_server, "coalesce"))
        [(status, body)] = _read_responses(sock, 1)
        assert status == 200
        assert json.loads(body) == {"logGroups": []}


def test_pipelined_requests_are_answered_in_order(nimbus_server: NimbusProcess) -> None:
    logs = nimbus_server.client("logs")
    for name in ("pipe-a", "pipe-b"):
        logs.create_log_group(logGroupName=name)
    with socket.create_connection(("127.0.0.1", nimbus_server.port), timeout=30) as sock:
        sock.sendall(_signed_describe(nimbus_server, "pipe-a") + _signed_describe(nimbus_server, "pipe-b")
                     + _signed_describe(nimbus_server, "pipe-none"))
        answers = _read_responses(sock, 3)
    assert [status for status, _ in answers] == [200, 200, 200]
    names = [[g["logGroupName"] for g in json.loads(body)["logGroups"]] for _, body in answers]
    assert names == [["pipe-a"], ["pipe-b"], []]


def test_many_connections_at_once_each_get_their_own_answers(nimbus_server: NimbusProcess) -> None:
    logs = nimbus_server.client("logs")
    for i in range(8):
        logs.create_log_group(logGroupName=f"many-{i}")

    def client(i: int) -> list[list[str]]:
        conn = http.client.HTTPConnection("127.0.0.1", nimbus_server.port, timeout=30)
        seen = []
        for _ in range(25):
            raw = _signed_describe(nimbus_server, f"many-{i}")
            head, _, body = raw.partition(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
            headers.pop("Host")
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            assert resp.status == 200
            seen.append([g["logGroupName"] for g in json.loads(resp.read())["logGroups"]])
        conn.close()
        return seen

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(client, [i % 8 for i in range(32)]))
    for i, seen in enumerate(results):
        assert seen == [[f"many-{i % 8}"]] * 25
