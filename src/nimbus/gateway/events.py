"""Proxy events in, HTTP responses out: payload format 1.0 (REST APIs) and 2.0 (HTTP APIs and
function URLs), aws-contracts.md D.2-D.4 and C.4.

Everything here is pure: ``Request`` holds what the gateway read off the wire, the ``*_event``
functions build the JSON document the function receives, and ``map_v1`` / ``map_v2`` turn the
function's response payload into a ``Response`` or raise ``MalformedResponse`` (API Gateway's
"Malformed Lambda proxy response"). The status codes of failures are decided by the caller.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Content types whose bodies payload 2.0 passes as text; everything else is base64-encoded.
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/yaml",
               "application/x-www-form-urlencoded", "application/graphql", "application/ld+json")

V1_KEYS = frozenset(("statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"))


class MalformedResponse(Exception):
    """The function answered something API Gateway cannot map to HTTP."""


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-encoded path after the stage (REST) or as the route sees it, e.g. "/items/42"
    raw_query: str  # without "?"
    headers: list[tuple[str, str]]  # lower-case names in wire order
    body: bytes
    source_ip: str
    request_id: str
    domain_name: str
    domain_prefix: str
    protocol: str = "HTTP/1.1"
    time_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    domain_path: str | None = None  # a custom domain name's request: the path as sent (base path included)

    def header(self, name: str) -> str | None:
        value = None
        for k, v in self.headers:
            if k == name:
                value = v if value is None else f"{value},{v}"
        return value


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stream: AsyncIterator[bytes] | None = None  # a streamed body (function URLs in RESPONSE_STREAM mode), after ``body``


def request_time(ms: int) -> str:
    """``12/Mar/2020:19:03:58 +0000``, the requestContext time format."""
    t = time.gmtime(ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def title_case(name: str) -> str:
    """HTTP/1.1 clients send ``Content-Type``; the server only sees ``content-type`` (uvicorn lower-cases
    names), so payload 1.0 gets the conventional spelling back (docs/services/apigateway.md)."""
    return "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def parse_query(raw: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        out.append((unquote(k), unquote(v)))
    return out


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def media_type_matches(content_type: str | None, patterns: list[str]) -> bool:
    """Does ``content_type`` (or an Accept list) match a binaryMediaTypes entry (``*/*``, ``image/*``)?"""
    if not patterns:
        return False
    for candidate in (content_type or "").split(","):
        mt = media_type(candidate)
        if not mt:
            continue
        major = mt.split("/", 1)[0]
        for p in patterns:
            p = p.strip().lower().replace("~1", "/")
            if p in ("*/*", mt) or (p.endswith("/*") and p[:-2] == major):
                return True
    return False


def is_text_type(content_type: str | None) -> bool:
    mt = media_type(content_type)
    return not mt or mt.startswith("text/") or mt in _TEXT_TYPES or mt.endswith(("+json", "+xml"))


def _body_v1(req: Request, binary_types: list[str]) -> tuple[str | None, bool]:
    if not req.body:
        return None, False
    if not media_type_matches(req.header("content-type"), binary_types):
        try:
            return req.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # AWS would mangle it into text; we hand the bytes over intact instead
    return base64.b64encode(req.body).decode("ascii"), True


def _body_v2(req: Request) -> tuple[str | None, bool]:
    if not req.body:
        return None, False
    if is_text_type(req.header("content-type")):
        try:
            return req.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(req.body).decode("ascii"), True


# --- payload 1.0 --------------------------------------------------------------------------------


def v1_event(
    req: Request,
    *,
    resource_path: str,
    resource_id: str,
    path_params: dict[str, str],
    stage: str,
    stage_variables: dict[str, str] | None,
    api_id: str,
    account_id: str,
    binary_types: list[str],
    identity: dict[str, Any] | None = None,
    decode_path: bool = False,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """REST APIs pass ``path`` (and ``requestContext.path``) percent-encoded as the client sent it;
    HTTP APIs decode it (``decode_path``). Path parameters are decoded on both."""
    headers: dict[str, str] = {}
    mv_headers: dict[str, list[str]] = {}
    for k, v in req.headers:
        name = title_case(k)
        headers[name] = v
        mv_headers.setdefault(name, []).append(v)
    query: dict[str, str] = {}
    mv_query: dict[str, list[str]] = {}
    for k, v in parse_query(req.raw_query):
        query[k] = v
        mv_query.setdefault(k, []).append(v)
    body, b64 = _body_v1(req, binary_types)
    ident: dict[str, Any] = {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": req.source_ip,
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": req.header("user-agent"),
        "user": None,
    }
    if identity:
        ident.update(identity)
    path = unquote(req.path) if decode_path else req.path
    context: dict[str, Any] = {
        "resourceId": resource_id,
        "resourcePath": resource_path,
        "httpMethod": req.method,
        "extendedRequestId": req.request_id,
        "requestTime": request_time(req.time_ms),
        "path": f"/{stage}{path}" if req.domain_path is None else req.domain_path,
        "accountId": account_id,
        "protocol": req.protocol,
        "stage": stage,
        "domainPrefix": req.domain_prefix,
        "requestTimeEpoch": req.time_ms,
        "requestId": req.request_id,
        "identity": ident,
        "domainName": req.domain_name,
        "apiId": api_id,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": resource_path,
        "path": path if req.domain_path is None else req.domain_path,
        "httpMethod": req.method,
        "headers": headers or None,
        "multiValueHeaders": mv_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": mv_query or None,
        "pathParameters": path_params or None,
        "stageVariables": stage_variables or None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": b64,
    }


def _load(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise MalformedResponse("the function response is not JSON") from e


def _status(value: Any) -> int:
    # A numeric string is accepted, as API Gateway does (AWS's own blueprints answer statusCode: '200').
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not (100 <= value <= 599):
        raise MalformedResponse(f"statusCode must be an integer HTTP status, got {value!r}")
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResponse(f"header values must be strings, got {type(value).__name__}")


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _checked(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header names must be HTTP tokens and values free of control characters: a function cannot
    inject headers or make the server drop the connection; AWS answers such a response as malformed."""
    for name, value in headers:
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise MalformedResponse(f"invalid header name {name!r}")
        if _HEADER_VALUE_BAD.search(value):
            raise MalformedResponse(f"invalid value for header {name}")
    return headers


def _decode_body(body: Any, b64: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    if not isinstance(b64, bool):
        raise MalformedResponse("isBase64Encoded must be a boolean")
    if b64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as e:
            raise MalformedResponse("body is not valid base64") from e
    return body.encode("utf-8")


def map_v1(payload: bytes, *, binary_types: list[str], accept: str | None) -> Response:
    """Payload 1.0 response -> HTTP (D.3). A base64 body is decoded only when the API's
    binaryMediaTypes match the request's Accept or the response's Content-Type, as AWS does;
    otherwise the base64 text itself is returned."""
    doc = _load(payload)
    if not isinstance(doc, dict):
        raise MalformedResponse("the function response is not a JSON object")
    unknown = set(doc) - V1_KEYS
    if unknown:
        raise MalformedResponse(f"unexpected keys {sorted(unknown)}")
    status = _status(doc.get("statusCode"))
    headers_in = doc.get("headers") or {}
    mv_in = doc.get("multiValueHeaders") or {}
    if not isinstance(headers_in, dict) or not isinstance(mv_in, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    # Both maps are merged into one list; a name/value pair present in both is sent once (D.3).
    headers: list[tuple[str, str]] = []
    for k, values in mv_in.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        headers.extend((k, _scalar(v)) for v in values)
    multi = {(k.lower(), v) for k, v in headers}
    for k, v in headers_in.items():
        value = _scalar(v)
        if (k.lower(), value) not in multi:
            headers.append((k, value))
    b64 = doc.get("isBase64Encoded", False)
    body_text = doc.get("body")
    if body_text is not None and not isinstance(body_text, str):
        raise MalformedResponse("body must be a string")
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    if b64 is True and not (media_type_matches(accept, binary_types) or media_type_matches(content_type, binary_types)):
        b64 = False
    body = _decode_body(body_text, b64)
    if content_type is None:
        headers.append(("Content-Type", "application/json"))
    return Response(status, _checked(headers), body)


# --- payload 2.0 (HTTP APIs and function URLs) ----------------------------------------------------


def v2_event(
    req: Request,
    *,
    route_key: str,
    raw_path: str,
    path_params: dict[str, str] | None,
    stage: str,
    stage_variables: dict[str, str] | None,
    api_id: str,
    account_id: str,
    authorizer: dict[str, Any] | None = None,
    decode_path: bool = False,
) -> dict[str, Any]:
    """Function URLs pass ``rawPath`` percent-encoded as the client sent it; HTTP APIs decode it
    (``decode_path``). ``requestContext.http.path`` is decoded on both."""
    path = unquote(raw_path)
    if decode_path:
        raw_path = path
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for k, v in req.headers:
        if k == "cookie":
            cookies.extend(c.strip() for c in v.split(";") if c.strip())
            continue
        headers[k] = f"{headers[k]},{v}" if k in headers else v
    query: dict[str, str] = {}
    for k, v in parse_query(req.raw_query):
        query[k] = f"{query[k]},{v}" if k in query else v
    body, b64 = _body_v2(req)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": req.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": req.domain_name,
        "domainPrefix": req.domain_prefix,
        "http": {
            "method": req.method,
            "path": path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": req.header("user-agent") or "",
        },
        "requestId": req.request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": request_time(req.time_ms),
        "timeEpoch": req.time_ms,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    if path_params:
        event["pathParameters"] = path_params
    if stage_variables:
        event["stageVariables"] = stage_variables
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = b64
    return event


def map_v2(payload: bytes) -> Response:
    """Payload 2.0 response -> HTTP (D.4): an object with ``statusCode`` is a structured response;
    any other JSON value is, as JSON, the body of a 200 ``application/json`` response (a bare string
    keeps its quotes, as in the function URL guide's "Hello, world!" example)."""
    doc = _load(payload)
    if not isinstance(doc, dict) or "statusCode" not in doc:
        return Response(200, [("Content-Type", "application/json")], payload.strip())
    status = _status(doc["statusCode"])
    headers_in = doc.get("headers") or {}
    if not isinstance(headers_in, dict):
        raise MalformedResponse("headers must be an object")
    headers = [(k, _scalar(v)) for k, v in headers_in.items()]
    mv_in = doc.get("multiValueHeaders") or {}
    if isinstance(mv_in, dict):
        for k, values in mv_in.items():
            if isinstance(values, list):
                headers.extend((k, _scalar(v)) for v in values)
    cookies = doc.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies must be a list")
    headers.extend(("Set-Cookie", _scalar(c)) for c in cookies)
    body = _decode_body(doc.get("body"), doc.get("isBase64Encoded", False))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Response(status, _checked(headers), body)
