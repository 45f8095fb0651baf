"""AWS event-stream framing (``application/vnd.amazon.eventstream``): the binary messages botocore's
``EventStream`` reads (Kinesis SubscribeToShard, Lambda InvokeWithResponseStream).

One message::

    [u32 total length][u32 headers length][u32 CRC32 of the 8 bytes before]
    headers: [u8 name length][name][u8 type = 7 (string)][u16 value length][value] ...
    payload
    [u32 CRC32 of everything before]

All integers are big-endian. A response stream starts with an ``initial-response`` event (JSON
protocols) carrying the output's non-stream members, then one message per event.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from nimbus.errors import ServiceError

_PRELUDE = struct.Struct(">II")
_U32 = struct.Struct(">I")
_STRING = 7


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for name, value in headers:
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        out += bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + len(raw_value).to_bytes(2, "big") + raw_value
    return bytes(out)


def encode_message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    raw_headers = encode_headers(headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(raw_headers))
    head = prelude + _U32.pack(zlib.crc32(prelude)) + raw_headers + payload
    return head + _U32.pack(zlib.crc32(head))


def event_message(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    return encode_message(
        [(":event-type", event_type), (":content-type", content_type), (":message-type", "event")], payload
    )


def exception_message(code: str, payload: bytes, content_type: str = "application/json") -> bytes:
    return encode_message(
        [(":exception-type", code), (":content-type", content_type), (":message-type", "exception")], payload
    )


def decode_messages(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Parse concatenated messages (tests and tools); raises ValueError on a bad CRC or length."""
    out: list[tuple[dict[str, str], bytes]] = []
    pos = 0
    while pos < len(data):
        total, hlen = _PRELUDE.unpack_from(data, pos)
        if _U32.unpack_from(data, pos + 8)[0] != zlib.crc32(data[pos : pos + 8]):
            raise ValueError("bad prelude CRC")
        end = pos + total
        if _U32.unpack_from(data, end - 4)[0] != zlib.crc32(data[pos : end - 4]):
            raise ValueError("bad message CRC")
        headers: dict[str, str] = {}
        h = pos + 12
        while h < pos + 12 + hlen:
            n = data[h]
            name = data[h + 1 : h + 1 + n].decode()
            h += 1 + n
            kind = data[h]
            if kind != _STRING:
                raise ValueError(f"unsupported header type {kind}")
            vlen = int.from_bytes(data[h + 1 : h + 3], "big")
            headers[name] = data[h + 3 : h + 3 + vlen].decode()
            h += 3 + vlen
        out.append((headers, data[pos + 12 + hlen : end - 4]))
        pos = end
    return out


def service_error(exc: BaseException) -> tuple[str, bytes] | None:
    """A ServiceError as the ``exception`` message that ends a stream; anything else propagates."""
    if isinstance(exc, ServiceError):
        return exc.code, orjson.dumps({"message": exc.message})
    return None


async def event_stream(
    events: AsyncIterator[dict[str, Any]],
    message: Callable[[str, Any], bytes],
    *,
    initial: bytes | None = None,
    write_error: Callable[[BaseException], tuple[str, bytes] | None] = service_error,
) -> AsyncIterator[bytes]:
    """Frame each ``{EventName: payload}`` the service yields (``message(name, payload)``: one whole
    message), after an ``initial-response`` event when ``initial`` is given (JSON protocols: the output's
    other members; rest protocols send them as headers). An exception that ``write_error`` maps becomes a
    final ``exception`` message, else it propagates. The service's iterator is closed either way."""
    if initial is not None:
        yield event_message("initial-response", initial)
    try:
        async for event in events:
            for name, payload in event.items():
                yield message(name, payload)
    except Exception as exc:
        mapped = write_error(exc)
        if mapped is None:
            raise
        code, body = mapped
        yield exception_message(code, body)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
