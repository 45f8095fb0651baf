"""HTTP/2 with prior knowledge (h2c) beside HTTP/1.1 on the one port.

Some SDKs speak HTTP/2 to some services whatever the endpoint: the AWS SDK for JavaScript v3's Kinesis
client (for SubscribeToShard's event streams) opens every connection with the HTTP/2 preface, also to an
``http://`` endpoint, where it cannot negotiate with ALPN. An HTTP/1.1-only server answers that preface
with a parse error and the SDK reports "Protocol error".

``Http1Or2Protocol`` is uvicorn's protocol class for Nimbus: a connection whose first bytes are the
HTTP/2 preface is handed to uvicorn's HTTP/2 protocol (zttp); any other connection to uvicorn's httptools
HTTP/1.1 protocol, as before, which stays the fast path. The ASGI application sees the same scopes either
way (``http_version`` "2" or "1.1").
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def http2_available() -> bool:
    try:
        import uvicorn.protocols.http.zttp_h2_impl  # noqa: F401
    except ImportError:
        return False
    return True


class Http1Or2Protocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol, which hands a connection opening with the HTTP/2 preface
    over to uvicorn's HTTP/2 protocol (with the bytes read so far) before parsing anything."""

    _sniffing: bool = True
    _sniffed: bytes = b""

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
        transport: asyncio.Transport = self.transport
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(initial)
        return True
