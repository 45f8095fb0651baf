"""Graceful shutdown with a request in flight: SIGTERM / SIGINT stop new connections, the request under way
finishes with its 200, its write is durable, and the server exits cleanly."""

from __future__ import annotations

import hashlib
import http.client
import signal
import socket
import time
from pathlib import Path

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


def signed_put(endpoint: str, path: str, body: bytes) -> dict[str, str]:
    req = AWSRequest(method="PUT", url=f"{endpoint}{path}", data=body,
                     headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), "Content-Length": str(len(body))})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def wait_for_log(server: NimbusProcess, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.logs():
        assert time.monotonic() < deadline, server.logs()[-3000:]
        time.sleep(0.05)


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_in_flight_request_finishes_and_is_durable(tmp_path: Path, sig: signal.Signals) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        server.client("s3").create_bucket(Bucket="drain")
        body = b"0123456789abcdef" * 65536  # 1 MiB
        headers = signed_put(server.endpoint, "/drain/in-flight", body)
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        head = f"PUT /drain/in-flight HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall((head + "Expect: 100-continue\r\n\r\n").encode())
        got = b""
        while b"\r\n\r\n" not in got:  # the server has the request (authenticated) and asks for the body
            got += sock.recv(4096)
        assert got.startswith(b"HTTP/1.1 100"), got
        sock.sendall(body[: len(body) // 2])
        assert server.proc is not None
        server.proc.send_signal(sig)
        wait_for_log(server, "Shutting down")  # uvicorn has begun its graceful shutdown
        assert refuses_connections(server.port)  # no new connections once shutdown has begun
        sock.sendall(body[len(body) // 2 :])
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert resp.status == 200, resp.read()
        assert resp.getheader("ETag") == f'"{hashlib.md5(body).hexdigest()}"'
        resp.read()
        sock.close()
        # uvicorn re-raises the signal after a clean shutdown; `nimbus serve` turns SIGINT's into exit status 130
        assert server.proc.wait(30) in (0, -sig, 128 + sig)
        server.stop()
        assert "level=info logger=nimbus.server stopped" in server.logs()
        server.start()
        got = server.client("s3").get_object(Bucket="drain", Key="in-flight")["Body"].read()
        assert got == body
    finally:
        server.stop()
