"""Drive real botocore clients against the codec without a network: ``before-send`` hands us the
prepared request and takes our HttpResponse back, so every botocore handler (checksums, S3 key
quoting, idempotency tokens, custom parsers) runs exactly as it does against a server."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.model import Shape
from botocore.response import StreamingBody

from nimbus.bytestream import ByteStream
from nimbus.protocol.dispatch import ServiceProtocol
from nimbus.protocol.http import HttpRequest, HttpResponse

ENDPOINT = "http://127.0.0.1:4566"
UTC = dt.timezone.utc
SAMPLE_TIME = dt.datetime(2024, 5, 1, 13, 42, 7, tzinfo=UTC)
S3_KEY = "dir/sub dir/ünïcode %2F+~!.txt"

_session = botocore.session.get_session()
_clients: dict[str, Any] = {}


_protocols: dict[str, ServiceProtocol] = {}


def protocol(service: str) -> ServiceProtocol:
    """Nimbus's codec for a botocore model, built once per test session."""
    if service not in _protocols:
        _protocols[service] = ServiceProtocol(service)
    return _protocols[service]


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = _session.create_client(
            service,
            region_name="us-east-1",
            endpoint_url=ENDPOINT,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(
                s3={"addressing_style": "path"},
                inject_host_prefix=False,
                retries={"total_max_attempts": 1},
                request_checksum_calculation="when_required",
            ),
        )
    return _clients[service]


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)

    def read(self, amt: int | None = None, **_: Any) -> bytes:
        return self._io.read() if amt is None else self._io.read(amt)

    def stream(self, **_: Any) -> Any:
        yield self._io.read()


def to_http_request(prepared: Any) -> HttpRequest:
    split = urlsplit(prepared.url)
    body = prepared.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in prepared.headers.items()}
    return HttpRequest(
        method=prepared.method,
        path=unquote(split.path) or "/",
        raw_path=split.path or "/",
        query=parse_qsl(split.query, keep_blank_values=True),
        headers=headers,
        body=bytes(body),
        host=split.netloc,
    )


def _body_bytes(response: HttpResponse) -> bytes:
    if isinstance(response.body, bytes):
        return response.body
    import asyncio

    async def collect() -> bytes:
        return b"".join([c async for c in response.body])  # type: ignore[union-attr]

    return asyncio.run(collect())


def call(service: str, operation_py: str, params: dict[str, Any], respond: Any) -> tuple[Any, HttpRequest]:
    """Call ``client.<operation_py>(**params)``; ``respond(HttpRequest) -> HttpResponse`` answers it."""
    c = client(service)
    seen: list[HttpRequest] = []

    def before_send(request: Any, **_: Any) -> AWSResponse:
        http = to_http_request(request)
        seen.append(http)
        answer: HttpResponse = respond(http)
        headers: dict[str, str] = {}
        for name, value in answer.headers:
            headers[name] = value
        return AWSResponse(request.url, answer.status, headers, _Raw(_body_bytes(answer)))

    event = f"before-send.{c.meta.service_model.service_id.hyphenize()}"
    c.meta.events.register(event, before_send, unique_id="nimbus-test")
    try:
        result = getattr(c, operation_py)(**params)
    finally:
        c.meta.events.unregister(event, unique_id="nimbus-test")
    return result, seen[0] if seen else None  # type: ignore[return-value]


# -- example values ---------------------------------------------------------------------------------

# Members botocore fills in or rewrites itself, so the request never carries what we passed.
CLIENT_MANAGED = {
    "ContentMD5", "ChecksumAlgorithm", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256",
    "ChecksumCRC64NVME", "ChecksumSHA512", "ChecksumMD5", "ChecksumXXHASH64", "ChecksumXXHASH3",
    "ChecksumXXHASH128", "SSECustomerKey", "SSECustomerKeyMD5", "CopySourceSSECustomerKey",
    "CopySourceSSECustomerKeyMD5", "ContentLength", "Expires",
}


def example(shape: Shape, *, depth: int = 0, location: str | None = None, name: str = "", output: bool = False) -> Any:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if shape.is_document_type:
            return {"doc": [1, "two"]}
        out: dict[str, Any] = {}
        required = set(shape.required_members)
        for member_name, member in shape.members.items():
            if member_name in CLIENT_MANAGED or member.serialization.get("eventstream"):
                continue
            if shape._shape_model["members"][member_name].get("deprecated"):
                continue
            if member.serialization.get("location") == "statusCode":
                if output:
                    out[member_name] = 200
                continue
            if member_name not in required and depth > 3:
                continue
            if member.serialization.get("hostLabel"):
                out[member_name] = "route"
                continue
            out[member_name] = example(
                member, depth=depth + 1, location=member.serialization.get("location"), name=member_name, output=output
            )
            if meta.get("union"):
                break
        return out
    if kind == "list":
        item = example(shape.member, depth=depth + 1, location=location, name=name, output=output)
        count = max(1, int(meta.get("min", 1)))
        return [item] * min(count, 2)
    if kind == "map":
        key = "meta-key" if location == "headers" else "key1"
        value_location = "header" if location == "headers" else None
        return {key: example(shape.value, depth=depth + 1, location=value_location, name=name, output=output)}
    if kind == "string":
        if shape.enum:
            return shape.enum[0]
        if shape.serialization.get("jsonvalue"):
            return {"k": "v"}
        if name == "Bucket" and location == "uri":
            return "my-bucket"
        if name == "Key" and location == "uri":
            return S3_KEY
        if name == "CopySource":
            return "src-bucket/src-key"
        lo = int(meta.get("min", 0))
        hi = int(meta.get("max", 64))
        base = "value-1" if location in ("uri", "header", "headers") else "välue 1/é"
        text = (base * (1 + lo // len(base)))[: max(lo, min(len(base), hi))]
        return text
    if kind in ("integer", "long"):
        lo, hi = meta.get("min"), meta.get("max")
        value = 2
        if lo is not None:
            value = max(value, int(lo))
        if hi is not None:
            value = min(value, int(hi))
        return value
    if kind in ("float", "double"):
        lo, hi = meta.get("min"), meta.get("max")
        value = 1.5
        if lo is not None:
            value = max(value, float(lo))
        if hi is not None:
            value = min(value, float(hi))
        return value
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return SAMPLE_TIME
    if kind == "blob":
        return b"\x00\xffblob-data"
    raise AssertionError(f"unexpected shape type {kind}")


def normalise(value: Any) -> Any:
    if isinstance(value, StreamingBody):
        return value.read()
    if isinstance(value, ByteStream):
        import asyncio

        return asyncio.run(value.read())
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        return value
    return value


def assert_contains(expected: Any, actual: Any, path: str = "") -> None:
    """``actual`` has everything ``expected`` has (extras allowed: client-managed members)."""
    actual = normalise(actual)
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected dict, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing; got keys {sorted(actual)}"
            assert_contains(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r} != {expected!r}"
        for index, (e, a) in enumerate(zip(expected, actual)):
            assert_contains(e, a, f"{path}[{index}]")
    elif isinstance(expected, bytes) and isinstance(actual, str):
        assert expected == actual.encode(), f"{path}: {actual!r} != {expected!r}"
    elif isinstance(expected, float):
        assert abs(expected - actual) < 1e-6, f"{path}: {actual!r} != {expected!r}"
    else:
        assert expected == actual, f"{path}: {actual!r} != {expected!r}"
