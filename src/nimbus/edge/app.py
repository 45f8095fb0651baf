"""The ASGI entry point: one port for every AWS API, the HTTP triggers and Nimbus's own endpoints.

Order of routing: ``/_nimbus/*`` (health, metrics), mounted sub-apps (gateway, runtime API,
console) that claim a request by host or path, then the AWS APIs: identify the service, verify
SigV4, let the service's codec find and parse the operation, call the service, serialize.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import orjson
from botocore import xform_name

from nimbus import __version__
from nimbus.bytestream import ByteStream
from nimbus import sigv4
from nimbus.edge.h2c import flush_held
from nimbus.edge.identify import identify, split_host, virtual_bucket, wire_protocol
from nimbus.errors import InternalFailure, NotImplementedOperation, ServiceError
from nimbus.metrics import REGISTRY
from nimbus.protocol import errors as wire_errors
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.base import RequestContext

if TYPE_CHECKING:
    from nimbus.server import Nimbus

_getrandbits = random.Random().getrandbits
log = logging.getLogger("nimbus.edge")
access_log = logging.getLogger("nimbus.access")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# A mount claims a request (returns True) by looking at scope + lower-cased headers.
Matcher = Callable[[Scope, dict[str, str]], bool]

MAX_BUFFERED_BODY = 64 * 1024 * 1024
LARGE_BODY = 16 * 1024  # a buffered body this large takes long enough to parse that held responses go out first

_sha256 = hashlib.sha256
_STATUS_TEXT = {code: str(code) for code in (200, 201, 202, 204, 206, 301, 304, 400, 403, 404, 409, 412, 500, 501)}

REQUESTS = REGISTRY.counter("nimbus_requests_total", "AWS API requests", ["service", "operation", "status"])
LATENCY = REGISTRY.histogram("nimbus_request_duration_seconds", "AWS API request latency", ["service", "operation"])


def _post_bucket(scope: Scope, headers: dict[str, str]) -> str | None:
    """The bucket an S3 POST Object form addresses: ``/bucket`` path-style, or a virtual-hosted bucket's ``/``."""
    path = scope["path"]
    hostname = split_host(headers.get("host", ""))
    hosted = virtual_bucket(hostname) if hostname else None
    if hosted is not None:
        return hosted if path in ("", "/") else None
    name = path.strip("/")
    return name if name and "/" not in name else None


def _headers(scope: Scope) -> dict[str, str]:
    raw = scope["headers"]
    out = {k.lower().decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(out) == len(raw):
        return out
    out = {}  # a repeated header: join its values with "," (RFC 9110 5.3)
    for k, v in raw:
        name = k.lower().decode("latin-1")
        val = v.decode("latin-1")
        out[name] = f"{out[name]},{val}" if name in out else val
    return out


_UUID_VERSION_BITS = (0x4 << 76) | (0x2 << 62)
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))


def _request_id() -> str:
    """A random (version 4) UUID string; request ids need to be unique, not secret, so the fast
    PRNG will do (no syscall, no uuid.UUID object)."""
    x = "%032x" % ((_getrandbits(128) & _UUID_CLEAR) | _UUID_VERSION_BITS)
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _parse_query(raw: str) -> list[tuple[str, str]]:
    if not raw:
        return []
    out = []
    for part in raw.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        out.append((unquote(k), unquote(v)))
    return out


class LazyGateway:
    """The gateway (``nimbus.gateway.app``, ~50 ms of imports) loaded off the way to ready: the server
    imports it in the background right after start-up, and the first request that needs it (a trigger
    request, or any request while custom domains are not yet known) loads it if that has not happened yet.
    Once loaded, the gateway's own matcher replaces this one among the edge's mounts."""

    def __init__(self, edge: "EdgeApp", core: "Nimbus") -> None:
        self.edge = edge
        self.core = core
        self.app: Any = None
        self._ws_claims: Matcher | None = None
        # TestInvokeMethod's runner, for the control plane (which may not import the gateway)
        core.provide(METHOD_TESTER, lambda: self.load().test_invoke_method)

    def load(self) -> Any:
        app = self.app
        if app is None:
            from nimbus.gateway.app import build, claims

            app = self.app = build(self.core)
            self._ws_claims = claims
            mounts = self.edge.mounts
            for i, (matcher, mounted) in enumerate(mounts):
                if mounted is self:
                    mounts[i] = (app.claims, app)
            self.edge.websocket_mount = (claims, app)
        return app

    def claims(self, scope: Scope, headers: dict[str, str]) -> bool:
        return bool(self.load().claims(scope, headers))

    def claims_websocket(self, scope: Scope, headers: dict[str, str]) -> bool:
        self.load()
        assert self._ws_claims is not None
        return self._ws_claims(scope, headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.load()(scope, receive, send)


METHOD_TESTER = "gateway.method-tester"  # nimbus.services.apigateway.engine.METHOD_TESTER (not imported: heavy)


class EdgeApp:
    def __init__(self, core: "Nimbus") -> None:
        self.core = core
        self.mounts: list[tuple[Matcher, ASGIApp]] = []
        self.internal_mounts: list[tuple[Matcher, ASGIApp]] = []
        self._protocols: dict[str, Any] = {}
        self._handlers: dict[tuple[str, str], Callable[[RequestContext, dict[str, Any]], Awaitable[Any]]] = {}
        self._authorizer: Any = None  # IAM enforcement (--iam enforce), built on first use
        # HTTP triggers (execute-api and lambda-url hosts, custom domains) and API Gateway WebSocket APIs
        self.gateway = LazyGateway(self, core)
        self.mount(self.gateway.claims, self.gateway)
        self.websocket_mount: tuple[Matcher, ASGIApp] = (self.gateway.claims_websocket, self.gateway)
        from nimbus.services.s3.post import PostUploads  # S3 POST Object (browser forms): no Authorization header

        posts = PostUploads(core, _post_bucket)
        self.mount(posts.matches, posts)
        from nimbus.services.s3.website import Website  # static websites: <bucket>.s3-website.localhost, unsigned GETs

        self.mount(Website.matches, Website(core, self._authorize))

    def mount(self, matcher: Matcher, app: ASGIApp, *, internal: bool = False) -> None:
        """``internal``: the app only claims ``/_nimbus/`` paths, so AWS API requests never ask its matcher."""
        (self.internal_mounts if internal else self.mounts).append((matcher, app))

    def protocol(self, service: str) -> Any:
        p = self._protocols.get(service)
        if p is None:
            from nimbus.protocol.dispatch import ServiceProtocol

            p = self._protocols[service] = ServiceProtocol(service)
        return p

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "websocket":  # API Gateway WebSocket APIs; any other upgrade is refused (403)
            ws = self.websocket_mount
            if ws is not None and ws[0](scope, _headers(scope)):
                await ws[1](scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http":
            return
        path: str = scope["path"]
        if path.startswith("/_nimbus/"):
            await self._internal(scope, receive, send)
            return
        headers = _headers(scope)
        if scope.get("http_version") == "2" and "host" in headers:
            # HTTP/2's :authority arrives as Host; SDKs that sign over HTTP/2 (JavaScript v3) sign it by its own name
            headers.setdefault(":authority", headers["host"])
        for matcher, app in self.mounts:
            if matcher(scope, headers):
                await app(scope, receive, send)
                return
        await self._aws(scope, receive, send, headers)

    # --- lifespan ---------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.core.start()
                except Exception as e:  # noqa: BLE001 - report to the server and stop
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.core.stop()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    # --- /_nimbus/ ----------------------------------------------------------------------------

    async def _internal(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path == "/_nimbus/health":
            body = orjson.dumps(self.core.health())
            await _respond(send, 200 if self.core.ready else 503, [(b"content-type", b"application/json")], body)
        elif path == "/_nimbus/metrics":
            body = REGISTRY.render().encode()
            await _respond(send, 200, [(b"content-type", b"text/plain; version=0.0.4")], body)
        else:
            for matcher, app in (*self.internal_mounts, *self.mounts):
                if matcher(scope, {}):
                    await app(scope, receive, send)
                    return
            await _respond(send, 404, [(b"content-type", b"application/json")], b'{"message":"Not Found"}')

    # --- AWS APIs -----------------------------------------------------------------------------

    async def _aws(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        started = time.perf_counter()
        request_id = _request_id()
        method: str = scope["method"]
        raw_path_b = scope.get("raw_path")
        raw_path = raw_path_b.decode("latin-1") if raw_path_b else quote(scope["path"])
        if "?" in raw_path:
            raw_path = raw_path.split("?", 1)[0]
        raw_query = scope["query_string"].decode("latin-1")
        query = _parse_query(raw_query)
        host = headers.get("host", "")
        ident = identify(headers, query, scope["path"], split_host(host))
        service = ident.service
        if method == "OPTIONS" and service == "s3":
            # A browser's CORS preflight is unsigned by design: S3 answers it from the bucket's CORS rules alone.
            # OPTIONS is no S3 operation, so this path reaches no handler and skips no signature check.
            await self._s3_preflight(scope, send, headers, ident.bucket, request_id)
            return
        operation = "-"
        protocol_name = wire_protocol(service, headers, query, scope["path"])
        proto = None
        settings = self.core.settings
        content_type = headers.get("content-type")
        cbor = protocol_name == "json" and content_type is not None and content_type.startswith("application/x-amz-cbor")
        unread: ByteStream | None = None
        body_pending = headers.get("content-length", "0") not in ("", "0") or "chunked" in headers.get("transfer-encoding", "")
        try:
            if service is None:
                if ident.signing_service is not None:
                    raise NotImplementedOperation(
                        f"The service '{ident.signing_service}' is not implemented by Nimbus.", code="NotImplemented"
                    )
                raise sigv4.AuthError("missing", "Missing Authentication Token")
            proto = self._protocols.get(service) or self.protocol(service)
            if proto.protocol != protocol_name:  # a model served over several protocols (CloudWatch)
                proto = proto.for_wire(protocol_name)
            path = scope["path"]
            route_raw = raw_path
            if ident.bucket is not None:
                # virtual-hosted S3: route as the path-style request it is equivalent to
                path = "/" + ident.bucket + (path if path != "/" else "")
                route_raw = "/" + quote(ident.bucket) + (raw_path if raw_path != "/" else "")
            # find the operation
            path_params: dict[str, str] | None = None
            if protocol_name == "json":
                if method != "POST":
                    raise ServiceError("Only POST is supported for this service.", code="UnknownOperationException", status=404)
                target = ident.target or ""
                op = proto.operation_for_target(target) if target else None
                if op is None:
                    name = target.split(".", 1)[-1] if target else "(no X-Amz-Target)"
                    raise ServiceError(f"Operation {name} is not supported by Nimbus.", code="UnknownOperationException", status=400)
            elif protocol_name == "query":
                op = None  # its Action parameter, read with the body below
            else:
                found = proto.match_rest(method, path, query, headers, raw_path=route_raw)
                if found is None:
                    raise ServiceError(
                        f"No operation of {service} matches {method} {scope['path']}.",
                        code="UnknownOperationException" if protocol_name != "rest-xml" else "MethodNotAllowed",
                        status=404 if protocol_name != "rest-xml" else 405,
                    )
                op, path_params = found
            operation = op
            # body + auth
            body: bytes | ByteStream
            identity: sigv4.Identity | None = None
            # A streaming body is checked against the hash the client declares in x-amz-content-sha256 (S3,
            # aws-chunked). A client that declares none signed the body's real hash (botocore does so for
            # Lambda's InvokeAsync): such a body is read and hashed like any other.
            if op is not None and proto.is_streaming_input(op) and (service == "s3" or "x-amz-content-sha256" in headers):
                identity = self._authenticate(method, raw_path, raw_query, headers, None, route_raw, ident.authorization,
                                              anonymous=service == "s3" and settings.iam == "enforce")
                if body_pending and headers.get("expect", "").lower() == "100-continue":
                    _continue_now(receive)
                body = self._stream_body(receive, headers, identity)
                unread = body
            else:
                declared = headers.get("content-length")
                if declared is not None and len(declared) > 7 and declared.isdigit() and int(declared) > MAX_BUFFERED_BODY:
                    # refused before reading: a client must not hold the server waiting for a body it may not send
                    raise ServiceError("Request entity too large", code="RequestEntityTooLargeException", status=413)
                hasher = _sha256() if settings.auth else None
                raw = await _read_body(receive, hasher)
                body_pending = False
                if len(raw) > LARGE_BODY:  # parsing it takes a while: let the responses held in this turn go first
                    flush_held()
                if hasher is not None:
                    identity = self._authenticate(
                        method, raw_path, raw_query, headers, hasher.hexdigest(), route_raw, ident.authorization,
                        anonymous=service == "s3" and settings.iam == "enforce",
                    )
                body = _decode_buffered(raw, headers, identity)
            if identity is not None:
                region = identity.region
                creds = identity.credentials
                account_id = creds.account_id
                access_key: str | None = creds.access_key_id
            else:
                region = ident.scope.region if ident.scope else settings.default_region
                account_id = settings.account_id
                access_key = None
            req = HttpRequest(method, path, raw_path if ident.bucket is None else route_raw, query, headers, body, host)
            if op is None:  # the query protocol: the operation is the Action parameter
                op, path_params = proto.operation_for_action(req)
                operation = op
            params = proto.parse(op, req, path_params)
            if settings.iam == "enforce" and settings.auth:
                client = scope.get("client")
                self._authorize().check(
                    identity.credentials if identity is not None else None, service, op, params, region=region, method=method,
                    path=path, source_ip=client[0] if client else None, account_id=account_id,
                )
            handler = self._handler(service, op)
            ctx = RequestContext(
                request_id,
                service,
                op,
                region,
                account_id,
                access_key,
                f"{scope.get('scheme', 'http')}://{host}" if host else settings.endpoint_url,
                headers,
                {"request": req, "identity": identity},
            )
            output = await handler(ctx, params)
            resp: HttpResponse = proto.serialize(op, output, request_id, cbor=cbor)
        except sigv4.AuthError as e:
            err = sigv4.auth_error_for(e, protocol_name)
            resp = self._error(proto, service, err, request_id, operation, method, cbor=cbor,
                               xml=_xml_errors(proto, headers, query, ident.signing_service))
        except ServiceError as e:
            resp = self._error(proto, service, e, request_id, operation, method, cbor=cbor,
                               xml=_xml_errors(proto, headers, query, ident.signing_service))
        except Exception:  # noqa: BLE001 - never a stack trace on the wire
            log.exception("unhandled error request_id=%s service=%s operation=%s", request_id, service, operation)
            resp = self._error(proto, service, InternalFailure("An internal error occurred."), request_id, operation, method, cbor=cbor)
        if service == "s3" and "origin" in headers:
            resp.headers.extend(self._s3_cors(scope["path"], ident.bucket, method, headers["origin"]))
        if body_pending and (unread is None or not unread.done):
            # The handler answered without reading the whole body (an error, or a client waiting for
            # "100 Continue" that never came): the rest of the body must not be parsed as the next request.
            resp.headers.append(("Connection", "close"))
        status = resp.status
        await _send_response(send, resp, head=method == "HEAD", receive=receive if unread is None or unread.done else None)
        elapsed = time.perf_counter() - started
        labels = (service or "unknown", operation)
        REQUESTS.inc(*labels, _STATUS_TEXT.get(status) or str(status))
        LATENCY.observe(elapsed, *labels)
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug(
                "request_id=%s service=%s operation=%s status=%d ms=%.2f", request_id, service, operation, status, elapsed * 1000
            )

    async def _s3_preflight(self, scope: Scope, send: Send, headers: dict[str, str], bucket: str | None, request_id: str) -> None:
        path = scope["path"] if bucket is None else f"/{bucket}{scope['path']}"
        name, _, key = path.lstrip("/").partition("/")
        try:
            found = self.core.api("s3").cors_preflight(self.core.settings.account_id, name, key, headers)
            resp = HttpResponse(200, [*found, ("x-amz-request-id", request_id), ("x-amz-id-2", wire_errors.host_id(request_id))], b"")
        except ServiceError as e:
            resp = self._error(self._protocols.get("s3") or self.protocol("s3"), "s3", e, request_id, "-", "OPTIONS")
        await _send_response(send, resp)
        REQUESTS.inc("s3", "OPTIONS", _STATUS_TEXT.get(resp.status) or str(resp.status))

    def _s3_cors(self, path: str, bucket: str | None, method: str, origin: str) -> list[tuple[str, str]]:
        """The Access-Control-* headers S3 adds to a request carrying Origin (presigned PUTs from a browser)."""
        name = bucket if bucket is not None else path.lstrip("/").partition("/")[0]
        try:
            found: list[tuple[str, str]] = self.core.api("s3").cors_headers(self.core.settings.account_id, name, method, origin)
            return found
        except Exception:  # noqa: BLE001 - never fails the request it decorates
            log.exception("s3 cors headers failed")
            return []

    def _authorize(self) -> Any:
        if self._authorizer is None:
            from nimbus.services.iam.authorize import Authorizer

            self._authorizer = Authorizer(self.core.api("iam").engine, self._resource_policy)
        return self._authorizer

    def _resource_policy(self, service: str, account: str, region: str, params: dict[str, Any]) -> tuple[str, bool] | None:
        """A request's resource-based policy for IAM enforcement: a Lambda function's permissions (AddPermission),
        a Kinesis stream's or consumer's (PutResourcePolicy), or the bucket policy of an S3 request and whether its public grants are ignored (the bucket's public
        access block: RestrictPublicBuckets, on by default for new buckets as on S3)."""
        if service == "lambda" and params.get("FunctionName"):
            engine = self.core.api("lambda").engine
            try:
                ref = engine.parse_ref(str(params["FunctionName"]), params.get("Qualifier"), region, account)
                statements = engine.functions.policy_statements(ref)
            except ServiceError:  # no such function: the operation answers that itself
                return None
            return (orjson.dumps({"Version": "2012-10-17", "Statement": statements}).decode(), False) if statements else None
        if service == "kinesis":
            text = self.core.api("kinesis").resource_policy(account, region, params)
            return (text, False) if text and text != "{}" else None
        if service != "s3" or not params.get("Bucket"):
            return None
        from nimbus.services.s3 import settings as s3_settings

        bucket = self.core.api("s3").engine.buckets.lookup(account, params["Bucket"])
        if bucket is None:
            return None
        text = bucket.settings.get(s3_settings.POLICY)
        if not text:
            return None
        block = bucket.settings.get(s3_settings.PUBLIC_ACCESS_BLOCK)
        if block == s3_settings.DELETED:
            restrict = False
        else:
            restrict = bool((block or s3_settings.DEFAULT_PUBLIC_ACCESS_BLOCK).get("RestrictPublicBuckets"))
        return str(text), restrict

    def _handler(self, service: str, operation: str) -> Callable[[RequestContext, dict[str, Any]], Awaitable[Any]]:
        """The service's method for an operation (looked up once per operation; the Api objects live as
        long as the server)."""
        key = (service, operation)
        handler = self._handlers.get(key)
        if handler is None:
            api = self.core.api(service) if self.core.serves(service) else None
            handler = getattr(api, xform_name(operation), None)
            if handler is None:
                raise NotImplementedOperation(f"The operation {operation} of {service} is not implemented by Nimbus yet.")
            self._handlers[key] = handler
            gc.freeze()  # the service's model and engine just loaded: keep them out of every later collection
        return handler  # type: ignore[no-any-return]

    def _authenticate(
        self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body_sha256: str | None,
        resource_path: str | None = None, authorization: sigv4.Authorization | None = None, *, anonymous: bool = False,
    ) -> sigv4.Identity | None:
        """The request's signer; None with auth off, or for an unsigned request where ``anonymous`` callers may
        ask (S3 under --iam enforce: a bucket policy may allow them)."""
        if not self.core.settings.auth:
            return None
        if anonymous and "authorization" not in headers and "Signature=" not in raw_query and "X-Amz-Credential=" not in raw_query:
            return None
        return sigv4.verify(
            self.core.credentials,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body_sha256=body_sha256,
            resource_path=resource_path,
            default_region=self.core.settings.default_region,
            authorization=authorization,
        )

    def _stream_body(self, receive: Receive, headers: dict[str, str], identity: sigv4.Identity | None) -> ByteStream:
        payload_hash = identity.payload_hash if identity else headers.get("x-amz-content-sha256", sigv4.UNSIGNED)
        chunked = payload_hash.startswith("STREAMING-") or "aws-chunked" in headers.get("content-encoding", "")
        decoder = (
            sigv4.ChunkedDecoder(identity, signed=payload_hash in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER))
            if chunked
            else None
        )
        verify_hash = hashlib.sha256() if (len(payload_hash) == 64 and decoder is None) else None
        length: int | None = None
        cl = headers.get("x-amz-decoded-content-length") if chunked else headers.get("content-length")
        if cl is not None and cl.isdigit():
            length = int(cl)
        declared = length if decoder is not None else None  # what the decoded aws-chunked body must add up to
        decoded = 0
        finished = False
        stream: ByteStream

        async def next_chunk() -> bytes | None:
            nonlocal finished, decoded
            while not finished:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ServiceError("The client disconnected before the body was complete.", code="IncompleteBody")
                data: bytes = message.get("body", b"")
                more = message.get("more_body", False)
                try:
                    out = decoder.feed(data) if decoder is not None else data
                    if not more:
                        finished = True
                        if decoder is not None:
                            stream.trailers.update(decoder.finish())
                except sigv4.AuthError as e:
                    raise sigv4.auth_error_for(e, "rest-xml") from e
                if declared is not None:
                    decoded += len(out)
                    if finished and decoded != declared:
                        raise _decoded_length_mismatch(declared, decoded)
                if verify_hash is not None:
                    verify_hash.update(out)
                    if finished and verify_hash.hexdigest() != payload_hash.lower():
                        raise ServiceError(
                            "The provided 'x-amz-content-sha256' header does not match what was computed.",
                            code="XAmzContentSHA256Mismatch",
                            status=400,
                        )
                if out:
                    return out
            return None

        stream = ByteStream(next_chunk, length)
        return stream

    def _error(
        self, proto: Any, service: str | None, err: ServiceError, request_id: str, operation: str, method: str, *, cbor: bool = False,
        xml: bool = False,
    ) -> HttpResponse:
        if proto is None:
            # an unknown service has no codec: answer in the error format its SDK parses (the query protocol's
            # XML for query and non-S3 rest-xml services, else JSON)
            return wire_errors.serialize_error("query" if xml else "json", err, request_id)
        try:
            resp: HttpResponse = proto.serialize_error(
                err, request_id, operation if operation != "-" else None, head=method == "HEAD", cbor=cbor
            )
            return resp
        except Exception:  # noqa: BLE001
            log.exception("error serializer failed")
            return HttpResponse(500, [("x-amzn-RequestId", request_id)], b"")


# Signing names of the rest-xml services Nimbus does not serve (S3 Control signs as "s3"), from botocore's models:
# S3 Express (directory buckets, signed "s3express"), Outposts S3, Object Lambda, Route 53, CloudFront. Their
# clients parse XML errors only.
_REST_XML_SIGNING_NAMES = frozenset(("route53", "cloudfront", "s3express", "s3-outposts", "s3-object-lambda"))


def _xml_errors(proto: Any, headers: dict[str, str], query: list[tuple[str, str]], signing_service: str | None) -> bool:
    """A request without a codec (an unknown service) whose SDK parses XML errors: the query protocol (a form body
    or ?Action=) or a rest-xml service (by the signing name of its credential scope)."""
    if proto is not None:
        return False
    if signing_service in _REST_XML_SIGNING_NAMES:
        return True
    return headers.get("content-type", "").startswith("application/x-www-form-urlencoded") or any(k == "Action" for k, _ in query)


def _continue_now(receive: Receive) -> None:
    """Answer ``Expect: 100-continue`` as soon as the request is authenticated, not when the service first
    reads the body: the client (botocore's PutObject and UploadPart wait for it) then sends the body while
    the codec and the service do their work before reading it. uvicorn sends the interim response on the
    first ``receive()``; this does the same earlier, through the cycle ``receive`` belongs to. With another
    server (no such cycle) nothing changes."""
    cycle = getattr(receive, "__self__", None)
    if cycle is None or getattr(cycle, "waiting_for_100_continue", False) is not True:
        return
    transport = getattr(cycle, "transport", None)
    if transport is None or transport.is_closing():
        return
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    cycle.waiting_for_100_continue = False


async def _read_body(receive: Receive, hasher: Any = None) -> bytes:
    """The whole body; ``hasher`` (SigV4's SHA-256) fed each chunk as it arrives, so that hashing a large
    body overlaps with the client still sending it instead of following it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ServiceError("The client disconnected before the body was complete.", code="IncompleteBody")
        data = message.get("body", b"")
        if data:
            size += len(data)
            if size > MAX_BUFFERED_BODY:
                raise ServiceError("Request entity too large", code="RequestEntityTooLargeException", status=413)
            chunks.append(data)
            if hasher is not None:
                if len(data) > LARGE_BODY:  # hashing it takes a while: the responses held in this turn go first
                    flush_held()
                hasher.update(data)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _decode_buffered(raw: bytes, headers: dict[str, str], identity: sigv4.Identity | None) -> bytes:
    """A fully-read body that is aws-chunked (a non-streaming S3 operation) gets decoded here."""
    payload_hash = identity.payload_hash if identity else headers.get("x-amz-content-sha256", "")
    if not (payload_hash.startswith("STREAMING-") or "aws-chunked" in headers.get("content-encoding", "")):
        return raw
    decoder = sigv4.ChunkedDecoder(identity, signed=payload_hash in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER))
    try:
        out = decoder.feed(raw)
        decoder.finish()
    except sigv4.AuthError as e:
        raise sigv4.auth_error_for(e, "rest-xml") from e
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.isdigit() and int(declared) != len(out):
        raise _decoded_length_mismatch(int(declared), len(out))
    return out


def _decoded_length_mismatch(declared: int, decoded: int) -> ServiceError:
    """An aws-chunked body whose data does not add up to its x-amz-decoded-content-length (S3: IncompleteBody, 400,
    with both counts)."""
    return ServiceError(
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
        code="IncompleteBody",
        status=400,
        NumberBytesExpected=declared,
        NumberBytesProvided=decoded,
    )


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _watch_disconnect(receive: Receive, gone: list[bool]) -> None:
    """Set ``gone[0]`` when the client disconnects (the request body already read, the next ``receive()``
    answers ``http.disconnect`` only then)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            gone[0] = True
            return


async def _send_response(send: Send, resp: HttpResponse, *, head: bool = False, receive: Receive | None = None) -> None:
    headers = [(k.encode("latin-1"), (v if v.__class__ is str else str(v)).encode("latin-1")) for k, v in resp.headers]
    body = resp.body
    if isinstance(body, (bytes, bytearray)):
        for k, _ in headers:
            if len(k) == 14 and k.lower() == b"content-length":
                break
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else bytes(body)})
        return
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    # A streamed body stops when its client goes (the server's send() then drops chunks silently): a
    # SubscribeToShard stream would otherwise run its five minutes for nobody, and hold up a shutdown.
    gone = [False]
    watcher = asyncio.ensure_future(_watch_disconnect(receive, gone)) if receive is not None else None
    try:
        async for chunk in body:
            if head:
                continue
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if gone[0]:
                break
    finally:
        if watcher is not None:
            watcher.cancel()
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()
    await send({"type": "http.response.body", "body": b""})
