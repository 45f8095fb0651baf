"""HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 on the one port.

Some SDKs speak HTTP/2 to some services whatever the endpoint: the AWS SDK for JavaScript v3's Kinesis
client (for SubscribeToShard's event streams) opens every connection with the HTTP/2 preface, also to an
``http://`` endpoint, where it cannot negotiate with ALPN. An HTTP/1.1-only server answers that preface
with a parse error and the SDK reports "Protocol error".

``Http1Or2Protocol`` is uvicorn's protocol class for Nimbus: a connection whose first bytes are the
HTTP/2 preface is handed to uvicorn's HTTP/2 protocol (zttp); any other connection to uvicorn's httptools
HTTP/1.1 protocol, as before, which stays the fast path. The ASGI application sees the same scopes either
way (``http_version`` "2" or "1.1").

It also coalesces the writes of HTTP/1.1 connections (``CoalescingTransport``): what a response writes
during one turn of the event loop goes to the socket at the start of the next, in one ``write`` per
connection, after every request that was ready in this turn has written its own. A response's head and
body leave in one segment, and concurrent clients are woken once per batch instead of once per write:
on loopback the kernel's wake-up of a sleeping client costs more than the write itself.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("nimbus.edge")

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def http2_available() -> bool:
    try:
        import uvicorn.protocols.http.zttp_h2_impl  # noqa: F401
    except ImportError:
        return False
    return True


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # as uvicorn writes it
FLUSH_NOW_BYTES = 16 * 1024  # a larger response goes out at once: its size amortises the wake-up, and bodies streamed in chunks keep flowing


class _Flusher:
    """The event loop's one pending flush: the transports written to in this turn, in order."""

    __slots__ = ("dirty", "scheduled", "active")

    def __init__(self) -> None:
        self.dirty: list[CoalescingTransport] = []
        self.scheduled = False
        self.active = 0  # requests parsed and not yet answered, on every connection of the loop

    def run(self) -> None:
        # (a flush_held() before the scheduled run leaves that run nothing to do)
        self.scheduled = False
        dirty, self.dirty = self.dirty, []
        for transport in dirty:
            try:
                transport.flush()
            except Exception:  # one broken socket must not hold the others' responses
                log.exception("writing a response failed")
                transport.abort()


def flush_held() -> None:
    """Write what this event loop's connections hold now, before the caller starts work that takes a
    while (parsing a large body): responses batched in this turn must not wait for it."""
    flusher = _flushers.get(asyncio.get_running_loop())
    if flusher is not None and flusher.dirty:
        flusher.run()


_flushers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Flusher] = weakref.WeakKeyDictionary()


class CoalescingTransport:
    """A stream transport whose writes are held until the event loop's next turn (or 16 KiB), then
    written as one. Everything else is the wrapped transport's; ``close``, ``write_eof`` and
    ``set_protocol`` flush first, ``abort`` drops what is held."""

    __slots__ = ("_transport", "_loop", "_flusher", "_held", "_held_bytes")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        flusher = _flushers.get(loop)
        if flusher is None:
            flusher = _flushers[loop] = _Flusher()
        self._flusher = flusher
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        held = self._held
        if not held:
            flusher = self._flusher
            if len(data) == len(CONTINUE) and data == CONTINUE:
                # an interim "100 Continue": the client waits for it before it sends the body
                self._transport.write(data)
                return
            flusher.dirty.append(self)
            if not flusher.scheduled:
                flusher.scheduled = True
                self._loop.call_soon(flusher.run)
        held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_NOW_BYTES:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        held = self._held
        if not held:
            return
        data = held[0] if len(held) == 1 else b"".join(held)
        held.clear()
        self._held_bytes = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._held_bytes

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self._transport.set_protocol(protocol)

    def abort(self) -> None:
        self._held.clear()
        self._held_bytes = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class Http1Or2Protocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol, which hands a connection opening with the HTTP/2 preface
    over to uvicorn's HTTP/2 protocol (with the bytes read so far) before parsing anything."""

    _sniffing: bool = True
    _sniffed: bytes = b""
    _raw_transport: asyncio.Transport

    _counted: int = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw_transport = transport
        self._coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(self._coalescing)  # type: ignore[arg-type]

    # A response that completes while no other request waits anywhere goes out at once rather than at
    # the next turn: a lone client does not wait a turn for a batch that has nothing else to carry.
    def on_headers_complete(self) -> None:
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:  # a request to answer (not an upgrade handed over)
            self._counted += 1
            self._coalescing._flusher.active += 1

    def on_response_complete(self) -> None:
        if self._counted:
            self._counted -= 1
            flusher = self._coalescing._flusher
            flusher.active -= 1
            if not flusher.active:
                self._coalescing.flush()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._coalescing._flusher.active -= self._counted
            self._counted = 0
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._sniffing:
            sniffed = self._sniffed + data
            if len(sniffed) < len(HTTP2_PREFACE) and HTTP2_PREFACE.startswith(sniffed):
                self._sniffed = sniffed  # a preface cut short by the network: wait for the rest
                return
            self._sniffing = False
            self._sniffed = b""
            if sniffed.startswith(HTTP2_PREFACE) and self._switch_to_http2(sniffed):
                return
            data = sniffed
        super().data_received(data)

    def _switch_to_http2(self, initial: bytes) -> bool:
        try:
            from uvicorn.protocols.http.zttp_h2_impl import ZttpH2Protocol
        except ImportError:  # zttp missing: answer as HTTP/1.1 would (a 400)
            return False
        protocol: Any = ZttpH2Protocol(
            config=self.config, server_state=self.server_state, app_state=self.app_state, _loop=self.loop
        )
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        transport = self._raw_transport  # nothing written yet: HTTP/2 writes through the socket's own transport
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(initial)
        return True
