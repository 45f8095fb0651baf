"""The HTTP request/response values that pass between the edge and the codecs.

The edge builds an ``HttpRequest`` from ASGI; codecs turn it into an operation input, and turn an
operation output (or a ServiceError) into an ``HttpResponse`` that the edge writes back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Union

from nimbus.bytestream import ByteStream

Body = Union[bytes, ByteStream]


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str  # percent-decoded path, e.g. "/2015-03-31/functions/my fn"
    raw_path: str  # as sent on the wire (still percent-encoded), used by SigV4 and greedy labels
    query: list[tuple[str, str]]  # decoded (name, value) pairs in wire order; "?uploads" gives ("uploads", "")
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ","
    body: Body = b""
    host: str = ""

    def query_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.query}


@dataclass(slots=True)
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    # bytes, or an async iterator of chunks for streamed payloads (S3 GetObject)
    body: bytes | AsyncIterator[bytes] = b""
