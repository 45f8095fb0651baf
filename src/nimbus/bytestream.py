"""A streamed request body: chunks read on demand, so a 5 GB upload never sits in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable


class ByteStream:
    """Async reader over a request body. ``chunks()`` yields bytes until the body ends.

    ``length`` is the decoded length when known (Content-Length, or x-amz-decoded-content-length for
    aws-chunked bodies). ``trailers`` is filled with aws-chunked trailing headers once fully read.
    """

    def __init__(self, receive: Callable[[], Awaitable[bytes | None]], length: int | None = None) -> None:
        self._receive = receive
        self.length = length
        self.trailers: dict[str, str] = {}
        self._done = False

    @property
    def done(self) -> bool:
        """True once the whole body was read."""
        return self._done

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self._done:
            chunk = await self._receive()
            if chunk is None:
                self._done = True
                return
            if chunk:
                yield chunk

    async def read(self) -> bytes:
        parts = [c async for c in self.chunks()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ByteStream":
        sent = False

        async def receive() -> bytes | None:
            nonlocal sent
            if sent:
                return None
            sent = True
            return data

        return cls(receive, len(data))
