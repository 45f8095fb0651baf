"""AWS JSON 1.1 carried as CBOR (``application/x-amz-cbor-1.1``): what the AWS SDK for Java sends to Kinesis.

Same operations, targets and shapes as JSON 1.1; only the encoding differs: blobs are CBOR byte strings
(no base64), timestamps are tag 1 around epoch **milliseconds** (the Java SDK's convention), errors are a
CBOR map ``{"__type", "message"}``. A minimal RFC 8949 codec for the types those documents use
(integers, byte and text strings, arrays, maps, tags, floats, true/false/null, indefinite lengths).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from nimbus.errors import SerializationError, ServiceError
from nimbus.protocol.http import HttpResponse

CONTENT_TYPE = "application/x-amz-cbor-1.1"
_UTC = dt.timezone.utc
_MS_THRESHOLD = 100_000_000_000  # a tag-1 number above this is milliseconds (year 5138 in seconds)


class CborError(ValueError):
    pass


class Tag:
    __slots__ = ("tag", "value")

    def __init__(self, tag: int, value: Any) -> None:
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self) -> str:
        return f"Tag({self.tag}, {self.value!r})"


_BREAK = object()


# ---------------------------------------------------------------------------------------------- decode


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise CborError("truncated CBOR data")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int.from_bytes(self.take(2), "big")
        if info == 26:
            return int.from_bytes(self.take(4), "big")
        if info == 27:
            return int.from_bytes(self.take(8), "big")
        if info == 31:
            return None  # indefinite length
        raise CborError(f"reserved additional information {info}")

    def item(self) -> Any:
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 31
        if major == 7:
            return self._simple(info)
        arg = self.argument(info)
        if major == 0:
            if arg is None:
                raise CborError("indefinite integer")
            return arg
        if major == 1:
            if arg is None:
                raise CborError("indefinite integer")
            return -1 - arg
        if major in (2, 3):
            if arg is None:
                chunks = []
                while True:
                    chunk = self.item()
                    if chunk is _BREAK:
                        break
                    chunks.append(chunk)
                raw = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
            else:
                raw = self.take(arg)
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CborError("invalid UTF-8 text") from exc
        if major == 4:
            out: list[Any] = []
            if arg is None:
                while (x := self.item()) is not _BREAK:
                    out.append(x)
            else:
                for _ in range(arg):
                    out.append(self.item())
            return out
        if major == 5:
            result: dict[Any, Any] = {}
            while arg is None or len(result) < arg:
                key = self.item()
                if key is _BREAK:
                    if arg is None:
                        break
                    raise CborError("unexpected break")
                result[key] = self.item()
            return result
        if major == 6:
            if arg is None:
                raise CborError("indefinite tag")
            value = self.item()
            if arg == 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
                return _from_epoch(value)
            return Tag(arg, value)
        raise CborError(f"bad major type {major}")

    def _simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return struct.unpack(">e", self.take(2))[0]
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        if info == 31:
            return _BREAK
        if info == 24:
            self.take(1)
            return None
        if info < 20:
            return None
        raise CborError(f"unsupported simple value {info}")


def _from_epoch(value: float) -> dt.datetime:
    seconds = value / 1000 if abs(value) >= _MS_THRESHOLD else value
    return dt.datetime.fromtimestamp(seconds, _UTC)


def loads(data: bytes) -> Any:
    reader = _Reader(data)
    value = reader.item()
    if value is _BREAK:
        raise CborError("unexpected break")
    if reader.pos != len(data):
        raise CborError("trailing bytes after the CBOR item")
    return value


# ---------------------------------------------------------------------------------------------- encode


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 0x100:
        return bytes([major << 5 | 24, n])
    if n < 0x10000:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes([major << 5 | 26]) + n.to_bytes(4, "big")
    return bytes([major << 5 | 27]) + n.to_bytes(8, "big")


def _encode(value: Any, out: bytearray) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        out += _head(0, value) if value >= 0 else _head(1, -1 - value)
    elif isinstance(value, float):
        out.append(0xFB)
        out += struct.pack(">d", value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out += _head(3, len(raw))
        out += raw
    elif isinstance(value, (bytes, bytearray, memoryview)):
        out += _head(2, len(value))
        out += value
    elif isinstance(value, dict):
        out += _head(5, len(value))
        for k, v in value.items():
            _encode(k, out)
            _encode(v, out)
    elif isinstance(value, (list, tuple)):
        out += _head(4, len(value))
        for v in value:
            _encode(v, out)
    elif isinstance(value, Tag):
        out += _head(6, value.tag)
        _encode(value.value, out)
    elif isinstance(value, dt.datetime):
        _encode(timestamp_tag(value), out)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def dumps(value: Any) -> bytes:
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def timestamp_tag(value: Any) -> Tag:
    """A timestamp (datetime or epoch seconds) as tag 1 around epoch milliseconds."""
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=_UTC)
        seconds = when.timestamp()
    else:
        seconds = float(value)
    return Tag(1, int(round(seconds * 1000)))


# ---------------------------------------------------------------------------------------------- codec

Convert = Callable[[Any], Any]


class CborCodec:
    """Shape-driven CBOR reading and writing for a JSON-protocol service model."""

    def __init__(self, malformed_code: str) -> None:
        self.malformed = malformed_code
        self._writers: dict[str, Convert] = {}

    def parse(self, operation: OperationModel, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        try:
            doc = loads(body)
        except (CborError, IndexError, struct.error, TypeError, ValueError, OverflowError, OSError, RecursionError) as exc:
            # TypeError: a map key that cannot be hashed (a tag, a list); Overflow/OS/ValueError: an epoch
            # timestamp out of range; RecursionError: nesting deeper than Python's stack
            raise SerializationError(f"Could not parse request body as CBOR: {exc}", code=self.malformed) from exc
        if not isinstance(doc, dict):
            raise SerializationError("Could not parse request body: expected a CBOR map", code=self.malformed)
        shape = operation.input_shape
        result: dict[str, Any] = self._read(shape, doc) if shape is not None else doc
        return result

    def _read(self, shape: Shape, value: Any) -> Any:
        """Untagged epoch numbers in timestamp members become datetimes; None members are dropped."""
        kind = shape.type_name
        if kind == "timestamp" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return _from_epoch(value)
        if isinstance(shape, StructureShape) and isinstance(value, dict):
            out = {}
            for name, member in shape.members.items():
                item = value.get(member.serialization.get("name", name))
                if item is not None:
                    out[name] = self._read(member, item)
            return out
        if isinstance(shape, ListShape) and isinstance(value, list):
            return [self._read(shape.member, v) for v in value if v is not None]
        if isinstance(shape, MapShape) and isinstance(value, dict):
            return {k: self._read(shape.value, v) for k, v in value.items() if v is not None}
        return value

    def _write(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "timestamp":
            return timestamp_tag(value)
        if kind == "blob":
            return value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if isinstance(shape, StructureShape) and isinstance(value, dict):
            out = {}
            for name, member in shape.members.items():
                item = value.get(name)
                if item is not None:
                    out[member.serialization.get("name", name)] = self._write(member, item)
            return out
        if isinstance(shape, ListShape) and isinstance(value, list):
            return [self._write(shape.member, v) for v in value if v is not None]
        if isinstance(shape, MapShape) and isinstance(value, dict):
            return {k: self._write(shape.value, v) for k, v in value.items() if v is not None}
        return value

    def serialize(self, operation: OperationModel, output: dict[str, Any] | None, request_id: str) -> HttpResponse:
        shape = operation.output_shape
        doc = self._write(shape, output or {}) if shape is not None else {}
        return HttpResponse(
            status=200,
            headers=[("x-amzn-RequestId", request_id), ("Content-Type", CONTENT_TYPE)],
            body=dumps(doc),
        )


def serialize_error(error: ServiceError, request_id: str, *, head: bool = False) -> HttpResponse:
    doc: dict[str, Any] = {"__type": error.code, "message": error.message}
    for name, value in error.fields.items():
        if value is not None and isinstance(value, (str, int, float, bool)):
            doc[name] = value
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code), ("Content-Type", CONTENT_TYPE)]
    headers += list(error.headers.items())
    return HttpResponse(status=error.status, headers=headers, body=b"" if head else dumps(doc))
