"""The Lambda Runtime API (aws-contracts C.3), served on loopback to one environment per port.

Each environment gets its own listening socket on 127.0.0.1 (``AWS_LAMBDA_RUNTIME_API`` =
``127.0.0.1:<port>``): the port identifies the environment, which keeps every runtime client working
(awslambdaric's C client and ``http.client``, curl in a shell bootstrap, the Go/Rust/Node clients all
expect a bare ``host:port``). Requests are parsed by httptools in an asyncio Protocol; connections are
kept alive, and ``/next`` is answered by writing the event straight onto the parked connection.

A response posted with ``Lambda-Runtime-Function-Response-Mode: streaming`` (chunked) is handed on chunk
by chunk as it arrives (``on_stream_*``), its error, if any, in the trailers
``Lambda-Runtime-Function-Error-Type`` / ``-Body`` (base64), as AWS's Runtime API takes it.

The same port serves external extensions (``/2020-01-01/extension/...`` and the Telemetry API's
subscription) when the function has any: ``RuntimeEndpoint.extensions`` (extensions.py).

Only one invocation is outstanding per environment; a response or error for any other request id is
refused (400), and a second concurrent ``/next`` is refused (409), so another local process cannot
take over an environment that is in use.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httptools
import orjson

if TYPE_CHECKING:
    from nimbus.runtime.extensions import ExtensionHub

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # sync response payload limit (aws-contracts C.2)
_MAX_BODY_READ = MAX_RESPONSE_BYTES + 1024 * 1024  # bytes kept of an over-long body before giving up
_PREFIX = b"/2018-06-01/runtime/"
_EXTENSION_PREFIX = b"/2020-01-01/extension/"  # the Extensions API (extensions.py), same port
_TELEMETRY = b"/2022-07-01/telemetry"  # the Telemetry API's subscription (extensions.py)
_NEXT = b"/2018-06-01/runtime/invocation/next"
_INIT_ERROR = b"/2018-06-01/runtime/init/error"
_INVOCATION = b"/2018-06-01/runtime/invocation/"
_ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"
_ERROR_BODY_HEADER = b"lambda-runtime-function-error-body"
_RESPONSE_MODE_HEADER = b"lambda-runtime-function-response-mode"
MAX_STREAMED_BYTES = 20 * 1024 * 1024  # a streamed response's limit (AWS's default maximum)

_ACCEPTED = b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n'


def _status(code: int, reason: str, body: dict[str, str]) -> bytes:
    payload = orjson.dumps(body)
    return (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )


@dataclass(slots=True)
class PendingInvocation:
    """An event handed to the runtime: what ``/next`` sends."""

    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str
    client_context: str | None = None
    cognito_identity: str | None = None

    def next_response(self) -> bytes:
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            f"Lambda-Runtime-Aws-Request-Id: {self.request_id}\r\n"
            f"Lambda-Runtime-Deadline-Ms: {self.deadline_ms}\r\n"
            f"Lambda-Runtime-Invoked-Function-Arn: {self.function_arn}\r\n"
            f"Lambda-Runtime-Trace-Id: {self.trace_id}\r\n"
        )
        if self.client_context is not None:
            head += f"Lambda-Runtime-Client-Context: {self.client_context}\r\n"
        if self.cognito_identity is not None:
            head += f"Lambda-Runtime-Cognito-Identity: {self.cognito_identity}\r\n"
        head += f"Content-Length: {len(self.payload)}\r\n\r\n"
        return head.encode() + self.payload


class RuntimeEvents(Protocol):
    """What the environment hears from its runtime."""

    def on_ready(self) -> None: ...  # first /next: init is over
    def on_response(self, request_id: str, body: bytes, too_large: bool) -> None: ...
    def on_error(self, request_id: str, error_type: str | None, body: bytes) -> None: ...
    def on_init_error(self, error_type: str | None, body: bytes) -> None: ...
    def on_stream_begin(self, request_id: str, content_type: str | None) -> None: ...
    def on_stream_chunk(self, request_id: str, data: bytes) -> None: ...
    def on_stream_end(self, request_id: str, error_type: str | None, error_body: bytes | None) -> None: ...


class RuntimeEndpoint:
    """The Runtime API of one environment: its port, the parked ``/next`` and the invocation in flight."""

    def __init__(self, events: RuntimeEvents) -> None:
        self.events = events
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.ready = False
        self._waiter: _RuntimeProtocol | None = None
        self._queued: PendingInvocation | None = None
        self.in_flight: str | None = None
        self.extensions: ExtensionHub | None = None  # set when the function has external extensions

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _RuntimeProtocol(self), "127.0.0.1", 0, backlog=8)
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        if self._waiter is not None:
            self._waiter.close()
            self._waiter = None
        self._queued = None
        self.in_flight = None
        if self.extensions is not None:
            self.extensions.close()

    def dispatch(self, inv: PendingInvocation) -> None:
        """Hand an event to the runtime: now if it is parked in /next, else when it asks."""
        self.in_flight = inv.request_id
        waiter, self._waiter = self._waiter, None
        if waiter is not None and waiter.write(inv.next_response()):
            return
        self._queued = inv

    def finish(self) -> None:
        self.in_flight = None
        self._queued = None

    # -- called by the protocol --------------------------------------------------------------------
    def _next(self, proto: "_RuntimeProtocol") -> None:
        if not self.ready:
            self.ready = True
            self.events.on_ready()
        if self._queued is not None:
            inv, self._queued = self._queued, None
            proto.write(inv.next_response())
            return
        if self._waiter is not None and self._waiter is not proto and not self._waiter.closed:
            proto.write(_status(409, "Conflict", {"errorMessage": "another /next is pending", "errorType": "Runtime.Conflict"}))
            return
        self._waiter = proto

    def _lost(self, proto: "_RuntimeProtocol") -> None:
        if self._waiter is proto:
            self._waiter = None
        if self.extensions is not None:
            self.extensions.lost(proto)

    def _post(self, proto: "_RuntimeProtocol", path: bytes, headers: dict[bytes, bytes], body: bytes, too_large: bool) -> None:
        if path == _INIT_ERROR:
            proto.write(_ACCEPTED)
            et = headers.get(_ERROR_TYPE_HEADER)
            self.events.on_init_error(et.decode("latin-1") if et else None, body)
            return
        rest = path[len(_INVOCATION) :]
        request_id, _, kind = rest.partition(b"/")
        rid = request_id.decode("latin-1")
        if kind not in (b"response", b"error"):
            proto.write(_status(404, "Not Found", {"errorMessage": "unknown path", "errorType": "InvalidPath"}))
            return
        if rid != self.in_flight:
            proto.write(_status(400, "Bad Request", {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}))
            return
        self.in_flight = None
        if kind == b"response":
            if too_large:
                proto.write(
                    _status(413, "Request Entity Too Large", {"errorMessage": "Payload too large", "errorType": "RequestEntityTooLarge"})
                )
            else:
                proto.write(_ACCEPTED)
            self.events.on_response(rid, body, too_large)
        else:
            proto.write(_ACCEPTED)
            et = headers.get(_ERROR_TYPE_HEADER)
            self.events.on_error(rid, et.decode("latin-1") if et else None, body)


    def _stream_begin(self, proto: "_RuntimeProtocol", path: bytes, headers: dict[bytes, bytes]) -> str | None:
        """A streamed response starts (its headers are in): the request id to stream to, or None (refused)."""
        request_id, _, kind = path[len(_INVOCATION) :].partition(b"/")
        rid = request_id.decode("latin-1")
        if kind != b"response" or rid != self.in_flight:
            return None
        self.in_flight = None
        ct = headers.get(b"content-type")
        self.events.on_stream_begin(rid, ct.decode("latin-1") if ct else None)
        return rid

    def _stream_end(self, proto: "_RuntimeProtocol", rid: str, headers: dict[bytes, bytes]) -> None:
        proto.write(_ACCEPTED)
        et, eb = headers.get(_ERROR_TYPE_HEADER), headers.get(_ERROR_BODY_HEADER)
        body: bytes | None = None
        if eb:
            try:
                body = base64.b64decode(eb, validate=True)
            except (binascii.Error, ValueError):
                body = eb
        self.events.on_stream_end(rid, et.decode("latin-1") if et else None, body)


class _RuntimeProtocol(asyncio.Protocol):
    __slots__ = ("endpoint", "transport", "parser", "url", "headers", "body", "body_len", "closed", "keep_alive", "streaming")

    def __init__(self, endpoint: RuntimeEndpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []
        self.body_len = 0
        self.closed = False
        self.keep_alive = True
        self.streaming: str | None = None  # the request id of a streamed response in progress

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.endpoint._lost(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.write(_status(400, "Bad Request", {"errorMessage": "malformed request", "errorType": "BadRequest"}))
            self.close()

    def write(self, data: bytes) -> bool:
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        if not self.keep_alive:
            self.transport.close()
        return True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = []
        self.body_len = 0
        self.streaming = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        mode = self.headers.get(_RESPONSE_MODE_HEADER)
        if mode is not None and mode.lower() == b"streaming" and self.parser.get_method() == b"POST":
            path = self.url.split(b"?", 1)[0]
            if path.startswith(_INVOCATION) and path != _NEXT:
                self.streaming = self.endpoint._stream_begin(self, path, self.headers)

    def on_body(self, body: bytes) -> None:
        if self.streaming is not None:
            self.endpoint.events.on_stream_chunk(self.streaming, body)
            return
        self.body_len += len(body)
        if self.body_len <= _MAX_BODY_READ:
            self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        # a client that asked for Connection: close gets its answer, then the close (maybe later: /next)
        self.keep_alive = self.parser.should_keep_alive()
        if self.streaming is not None:
            rid, self.streaming = self.streaming, None
            self.endpoint._stream_end(self, rid, self.headers)
            return
        self._route(method, path)

    def _route(self, method: bytes, path: bytes) -> None:
        ep = self.endpoint
        if method == b"GET" and path == _NEXT:
            ep._next(self)
        elif method == b"POST" and path.startswith(_PREFIX):
            body = b"".join(self.body)
            ep._post(self, path, self.headers, body, self.body_len > MAX_RESPONSE_BYTES)
        elif path.startswith(_EXTENSION_PREFIX) and ep.extensions is not None:
            ep.extensions.handle(self, method, path, self.headers, b"".join(self.body))
        elif path == _TELEMETRY and ep.extensions is not None:
            ep.extensions.subscribe(self, method, self.headers, b"".join(self.body))
        else:
            self.write(_status(404, "Not Found", {"errorMessage": "unknown path", "errorType": "InvalidPath"}))
