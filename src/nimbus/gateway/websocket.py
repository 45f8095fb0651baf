"""WebSocket APIs (API Gateway v2, ProtocolType WEBSOCKET) served on the edge's port, and their
``@connections`` management API (docs/services/apigateway.md, "WebSocket APIs"):

    ws://{api-id}.execute-api.localhost:4566/{stage}                 the API's endpoint + stage
    ws://127.0.0.1:4566/_aws/execute-api/{api-id}/{stage}           the same without DNS
    POST|GET|DELETE http://…/{stage}/@connections/{connectionId}    PostToConnection, GetConnection, DeleteConnection

A connection runs ``$connect`` before it is accepted (a function error refuses it with 500, a
non-2xx ``statusCode`` with 403), each message is routed by the API's RouteSelectionExpression (else
``$default``) to its integration in a task of its own, and ``$disconnect`` runs once it is closed.
Connections live in memory: a restart closes them (the API definitions are stored).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from nimbus.errors import ServiceError
from nimbus.gateway import auth, events
from nimbus.gateway.auth import GatewayError
from nimbus.protocol.http import HttpRequest
from nimbus.services.apigateway.authorizers import IdentityRequest
from nimbus.services.apigateway.httpapis import lambda_uri_function
from nimbus.services.apigateway import schema
from nimbus.services.apigateway.wsapis import mock_reply, select_route

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# AWS's WebSocket API quotas: a connection idle for 10 minutes is closed, and any after 2 hours.
# Configurable for local work and tests (NIMBUS_WEBSOCKET_IDLE_TIMEOUT_S, NIMBUS_WEBSOCKET_MAX_CONNECTION_S).
IDLE_TIMEOUT_S = 600.0
MAX_CONNECTION_S = 7200.0
MAX_MESSAGE_BYTES = 128 * 1024  # message payload (and PostToConnection Data) limit
GOING_AWAY = 1001
MANAGEMENT = "apigatewaymanagementapi"
CONNECTIONS_PREFIX = "@connections"


def _setting(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def new_connection_id() -> str:
    """AWS's ids are 16 characters of base64 ending in ``=`` (``L0SM9cOFvHcCIhw=``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode()[:15].replace("/", "A").replace("+", "B") + "="


@dataclass(slots=True)
class Connection:
    connection_id: str
    api_id: str
    stage: str
    send: Send
    connected_at_ms: int
    source_ip: str
    user_agent: str | None
    authorizer: dict[str, Any] | None = None  # the $connect authorizer's context, passed to every route (as AWS)
    identity: dict[str, Any] = field(default_factory=dict)  # AWS_IAM caller fields for requestContext.identity
    last_active: float = field(default_factory=time.time)
    closed: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def send_frame(self, data: str | bytes) -> bool:
        if self.closed:
            return False
        message: dict[str, Any] = {"type": "websocket.send", "text": data} if isinstance(data, str) else {"type": "websocket.send", "bytes": data}
        async with self.lock:
            try:
                await self.send(message)
            except Exception:  # noqa: BLE001 - the client went away meanwhile
                self.closed = True
                return False
        self.last_active = time.time()
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        async with self.lock:
            try:
                await self.send({"type": "websocket.close", "code": code, "reason": reason})
            except Exception:  # noqa: BLE001
                pass


class WebSocketApis:
    """The gateway's WebSocket half. ``invoke(function_arn, event, request_id, timeout_ms)`` is the
    gateway's one invoke path (raises GatewayError when Lambda refuses or times out);
    ``permitted(function_arn, source_arn)`` its resource-policy check."""

    def __init__(self, core: Any, engine: Callable[[], Any], invoke: Callable[..., Awaitable[Any]],
                 permitted: Callable[[str, str], bool], authorize: Callable[..., Awaitable[Any]]) -> None:
        self.core = core
        self._authorize = authorize  # the gateway's Lambda authorizers (HTTP API flavour), for $connect
        self._engine = engine
        self._invoke = invoke
        self._permitted = permitted
        self.connections: dict[str, Connection] = {}
        self.idle_timeout_s = _setting("NIMBUS_WEBSOCKET_IDLE_TIMEOUT_S", IDLE_TIMEOUT_S)
        self.max_connection_s = _setting("NIMBUS_WEBSOCKET_MAX_CONNECTION_S", MAX_CONNECTION_S)

    def domain_name(self, api_id: str) -> str:
        """``requestContext.domainName``: chosen so that ``http://{domainName}/{stage}``, the callback URL
        functions build (with https on AWS), reaches this server from a function without DNS: the
        endpoint functions get as AWS_ENDPOINT_URL, then the API's path form."""
        netloc = urlsplit(self.core.settings.endpoint_url).netloc
        return f"{netloc}/_aws/execute-api/{api_id}"

    # --- serving a connection ------------------------------------------------------------------

    async def serve(self, scope: Scope, receive: Receive, send: Send, api_id: str, rest: str, headers: dict[str, str]) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        stage_name = rest.strip("/").split("/", 1)[0]
        doc = self._engine().http.serving(api_id)
        stage = (doc or {}).get("stages", {}).get(stage_name) if doc and doc.get("ProtocolType") == "WEBSOCKET" else None
        view = self._engine().http.stage_view(doc, stage) if stage is not None else None
        if view is None or rest.strip("/") != stage_name:
            await _reject(scope, send, 403, "Forbidden")
            return
        _, routes, integrations = view
        by_key = {r["RouteKey"]: r for r in routes.values()}
        client = scope.get("client") or ("127.0.0.1", 0)
        conn = Connection(new_connection_id(), api_id, stage_name, send, int(time.time() * 1000), client[0], headers.get("user-agent"))
        ctx = _Context(self, doc, stage, integrations, conn)
        subprotocol: str | None = None
        route = by_key.get("$connect")
        if route is not None:
            refused = await self._authorize_connect(scope, route, doc, stage, ctx, headers)
            if refused is not None:
                await _reject(scope, send, refused.status, refused.message or "Forbidden")
                return
        if route is not None:
            request_id = str(uuid.uuid4())
            event = ctx.event(route["RouteKey"], "CONNECT", request_id)
            event.update(_headers_and_query(scope, headers))
            try:
                payload = await ctx.run(route, event, request_id)
            except GatewayError:
                await _reject(scope, send, 500, "Internal server error")
                return
            status, resp_headers = _connect_status(payload)
            if not 200 <= status < 300:
                await _reject(scope, send, 403, "Forbidden")
                return
            subprotocol = resp_headers.get("sec-websocket-protocol")
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        self.connections[conn.connection_id] = conn
        log.info("websocket connected api=%s stage=%s connection=%s", api_id, stage_name, conn.connection_id)
        try:
            code, reason = await self._pump(conn, ctx, by_key, receive)
        finally:
            conn.closed = True
            self.connections.pop(conn.connection_id, None)
        route = by_key.get("$disconnect")
        if route is not None:
            request_id = str(uuid.uuid4())
            event = ctx.event(route["RouteKey"], "DISCONNECT", request_id)
            event["requestContext"]["disconnectStatusCode"] = code
            event["requestContext"]["disconnectReason"] = reason
            event["headers"] = {"Host": headers.get("host", ""), "X-Forwarded-For": client[0]}
            event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
            try:
                await ctx.run(route, event, request_id)
            except GatewayError:
                log.info("websocket $disconnect failed api=%s connection=%s", api_id, conn.connection_id)

    async def _authorize_connect(self, scope: Scope, route: dict[str, Any], doc: dict[str, Any], stage: dict[str, Any],
                                 ctx: "_Context", headers: dict[str, str]) -> GatewayError | None:
        """$connect's AuthorizationType: AWS_IAM (the upgrade request signed as execute-api) or CUSTOM (a
        REQUEST Lambda authorizer; ``route.request.header.X`` / ``route.request.querystring.X`` identity
        sources). None when the connection may proceed, else the refusal (401, 403 or 500)."""
        conn = ctx.conn
        kind = route.get("AuthorizationType") or "NONE"
        if kind == "AWS_IAM":
            raw_path_b = scope.get("raw_path")
            raw_path = (raw_path_b.decode("latin-1") if raw_path_b else scope["path"]).split("?", 1)[0]
            try:
                creds = auth.verify_iam(self.core.credentials, service="execute-api", method="GET", raw_path=raw_path,
                                        raw_query=scope.get("query_string", b"").decode("latin-1"), headers=headers, body=b"")
            except GatewayError as e:
                return e
            conn.identity = {"accessKey": creds.access_key_id, "accountId": creds.account_id}
            return None
        if kind != "CUSTOM":
            return None
        authz = (doc.get("authorizers") or {}).get(route.get("AuthorizerId") or "")
        if authz is None:
            return GatewayError(500, "Internal Server Error")
        # WebSocket identity sources read the connect request like an HTTP API's $request ones
        sources = [str(x).strip().replace("route.request.", "$request.", 1) for x in authz.get("IdentitySource") or []]
        as_http = {**authz, "IdentitySource": sources, "AuthorizerPayloadFormatVersion": "1.0", "EnableSimpleResponses": False,
                   "AuthorizerResultTtlInSeconds": 0}  # WebSocket authorizer results are not cached
        query = {k: v for k, v in events.parse_query(scope.get("query_string", b"").decode("latin-1"))}
        stage_vars = stage.get("StageVariables") or {}
        request_id = str(uuid.uuid4())
        ident = IdentityRequest(headers, query, stage_vars, {"connectionId": conn.connection_id, "routeKey": "$connect",
                                                            "stage": conn.stage, "apiId": conn.api_id, "requestId": request_id,
                                                            "identity.sourceIp": conn.source_ip})

        def event() -> dict[str, Any]:
            ev = ctx.event("$connect", "CONNECT", request_id)
            ev.pop("isBase64Encoded", None)
            ev.update(_headers_and_query(scope, headers))
            return ev

        arn = f"arn:aws:execute-api:{doc['region']}:{doc['account']}:{conn.api_id}/{conn.stage}/$connect"
        try:
            grant, latency = await self._authorize(as_http, doc=doc, api_id=conn.api_id, stage=conn.stage, arn=arn, ident=ident,
                                                   event_v1=event, event_v2=event)
        except GatewayError as e:
            return e
        conn.authorizer = {**grant.context, "principalId": grant.principal_id, "integrationLatency": latency}
        return None

    async def _pump(self, conn: Connection, ctx: "_Context", by_key: dict[str, Any], receive: Receive) -> tuple[int, str]:
        """Read frames until the client closes (its code and reason) or a timeout closes it (1001)."""
        deadline = time.monotonic() + self.max_connection_s
        while True:
            idle_left = conn.last_active + self.idle_timeout_s - time.time()
            timeout = max(0.0, min(idle_left, deadline - time.monotonic()))
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except asyncio.TimeoutError:
                if conn.last_active + self.idle_timeout_s - time.time() > 0 and time.monotonic() < deadline:
                    continue  # frames went out meanwhile (PostToConnection): not idle
                await conn.close(GOING_AWAY, "Going away")
                return GOING_AWAY, "Going away"
            kind = message["type"]
            if kind == "websocket.disconnect":
                return int(message.get("code") or 1005), str(message.get("reason") or "")
            if kind != "websocket.receive":
                continue
            conn.last_active = time.time()
            data: str | bytes = message["text"] if message.get("text") is not None else (message.get("bytes") or b"")
            task = asyncio.ensure_future(ctx.message(by_key, data))
            conn.tasks.add(task)
            task.add_done_callback(conn.tasks.discard)

    # --- the @connections management API -------------------------------------------------------

    async def manage(self, api_id: str, stage: str, method: str, raw_path: str, mgmt_raw_path: str, raw_query: str,
                     headers: dict[str, str], body: bytes, request_id: str) -> events.Response:
        """PostToConnection / GetConnection / DeleteConnection, parsed and answered by the
        ``apigatewaymanagementapi`` model's codec (rest-json), signed as ``execute-api``."""
        proto = self.core.app.protocol(MANAGEMENT)
        op: str | None = None
        try:
            settings = self.core.settings
            if settings.auth:
                try:
                    creds = auth.verify_iam(self.core.credentials, service="execute-api", method=method, raw_path=raw_path,
                                            raw_query=raw_query, headers=headers, body=body)
                except GatewayError as e:
                    raise ServiceError(e.message or "Forbidden", code="ForbiddenException", status=403) from e
                if settings.iam == "enforce":
                    arn = f"arn:aws:execute-api:{settings.default_region}:{creds.account_id}:{api_id}/{stage}/{method}/{unquote(mgmt_raw_path).lstrip('/')}"
                    self.core.app._authorize().check(creds, "execute-api", "ManageConnections", {}, region=settings.default_region,
                                                     resources=[arn])
            query = events.parse_query(raw_query)
            found = proto.match_rest(method, unquote(mgmt_raw_path), query, headers, raw_path=mgmt_raw_path)
            if found is None:
                raise ServiceError(f"No operation of {MANAGEMENT} matches {method} {mgmt_raw_path}.", code="ForbiddenException", status=403)
            op, path_params = found
            req = HttpRequest(method, unquote(mgmt_raw_path), mgmt_raw_path, query, headers, body, headers.get("host", ""))
            params = proto.parse(op, req, path_params)
            conn = self.connections.get(params["ConnectionId"])
            if conn is None or conn.closed or conn.api_id != api_id or conn.stage != stage:
                raise ServiceError("", code="GoneException", status=410)
            out: dict[str, Any] = {}
            if op == "PostToConnection":
                data: bytes = params["Data"]
                if len(data) > MAX_MESSAGE_BYTES:
                    raise ServiceError("Message too long", code="PayloadTooLargeException", status=413)
                try:
                    frame: str | bytes = data.decode("utf-8")
                except UnicodeDecodeError:
                    frame = data
                if not await conn.send_frame(frame):
                    raise ServiceError("", code="GoneException", status=410)
            elif op == "GetConnection":
                identity = {"SourceIp": conn.source_ip}
                if conn.user_agent is not None:
                    identity["UserAgent"] = conn.user_agent
                out = {"ConnectedAt": datetime.datetime.fromtimestamp(conn.connected_at_ms / 1000, datetime.timezone.utc),
                       "Identity": identity,
                       "LastActiveAt": datetime.datetime.fromtimestamp(conn.last_active, datetime.timezone.utc)}
            else:  # DeleteConnection
                await conn.close(1000, "")
            resp = proto.serialize(op, out, request_id)
        except ServiceError as e:
            resp = proto.serialize_error(e, request_id, op)
        body_out = resp.body if isinstance(resp.body, (bytes, bytearray)) else b""
        return events.Response(resp.status, [(k, str(v)) for k, v in resp.headers], bytes(body_out))


class _Context:
    """One connection's view of its API: builds events, runs integrations, answers messages."""

    def __init__(self, apis: WebSocketApis, doc: dict[str, Any], stage: dict[str, Any], integrations: dict[str, Any],
                 conn: Connection) -> None:
        self.apis = apis
        self.doc = doc
        self.stage = stage
        self.integrations = integrations
        self.conn = conn

    def event(self, route_key: str, event_type: str, request_id: str) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        conn = self.conn
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id[:8] + "AAAA=",
            "requestTime": events.request_time(now_ms),
            "messageDirection": "IN",
            "stage": conn.stage,
            "connectedAt": conn.connected_at_ms,
            "requestTimeEpoch": now_ms,
            "identity": {**conn.identity, "sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": request_id,
            "domainName": self.apis.domain_name(conn.api_id),
            "connectionId": conn.connection_id,
            "apiId": conn.api_id,
        }
        if conn.authorizer is not None:
            context["authorizer"] = dict(conn.authorizer)
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        variables = self.stage.get("StageVariables") or {}
        if variables:
            event["stageVariables"] = dict(variables)
        return event

    async def run(self, route: dict[str, Any], event: dict[str, Any], request_id: str) -> bytes | None:
        """The route's integration: a Lambda proxy's response payload, None for MOCK or no integration.
        GatewayError when the function fails, Lambda refuses, or the API may not invoke it."""
        target = route.get("Target") or ""
        integ = self.integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        if integ is None or integ["IntegrationType"] == "MOCK":
            return None
        fn_arn = lambda_uri_function(integ.get("IntegrationUri") or "")
        internal = GatewayError(500, "Internal server error")
        if fn_arn is None:
            raise internal
        doc = self.doc
        source_arn = f"arn:aws:execute-api:{doc['region']}:{doc['account']}:{self.conn.api_id}/{self.conn.stage}/{route['RouteKey']}"
        if not self.apis._permitted(fn_arn, source_arn):
            log.info("websocket: Invalid permissions on Lambda function api=%s function=%s", self.conn.api_id, fn_arn)
            raise internal
        result = await self.apis._invoke(fn_arn, event, request_id, int(integ.get("TimeoutInMillis") or 29_000))
        if result.function_error:
            raise internal
        return bytes(result.payload)

    async def message(self, by_key: dict[str, Any], data: str | bytes) -> None:
        conn = self.conn
        request_id = str(uuid.uuid4())
        parsed: Any = None
        if isinstance(data, str):
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
        key = select_route(self.doc.get("RouteSelectionExpression") or "", parsed) if parsed is not None else None
        route = by_key.get(key) if key is not None and key not in ("$connect", "$disconnect") else None
        route = route or by_key.get("$default")
        if route is None:  # no route and no $default: AWS's error frame
            await conn.send_frame(_error_frame("Forbidden", conn.connection_id, request_id))
            return
        if route.get("ModelSelectionExpression") and route.get("RequestModels") and not _conforms(self.doc, route, parsed, data):
            await conn.send_frame(_error_frame("Invalid request body", conn.connection_id, request_id))
            return
        event = self.event(route["RouteKey"], "MESSAGE", request_id)
        event["requestContext"]["messageId"] = base64.b64encode(secrets.token_bytes(12)).decode()[:15] + "="
        if isinstance(data, bytes):
            event["body"] = base64.b64encode(data).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = data
        try:
            payload = await self.run(route, event, request_id)
        except GatewayError:
            await conn.send_frame(_error_frame("Internal server error", conn.connection_id, request_id))
            return
        if not route.get("responses"):
            return  # one-way: AWS passes the integration's answer back only with a route response
        if payload is None:  # MOCK (or no integration): its $default integration response's template, if any
            target = route.get("Target") or ""
            integ = self.integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
            mocked = mock_reply(integ) if integ is not None and integ["IntegrationType"] == "MOCK" else None
            if mocked is not None:
                await conn.send_frame(mocked)
            return
        reply = _reply(payload)
        if reply is not None:
            await conn.send_frame(reply)


def _conforms(doc: dict[str, Any], route: dict[str, Any], parsed: Any, data: str | bytes) -> bool:
    """A message against its route's request model: the ``RequestModels`` entry the route's
    ``ModelSelectionExpression`` selects (``\\$default`` is the literal key), else ``$default``; no such
    entry (or model) fails, as AWS documents."""
    models = route.get("RequestModels") or {}
    key = select_route(str(route["ModelSelectionExpression"]).replace("\\$", "$"), parsed) or "$default"
    by_name = {m["Name"]: m for m in (doc.get("models") or {}).values()}
    model = by_name.get(models.get(key) or models.get("$default") or "")
    if model is None:
        return False
    if not model.get("Schema"):
        return True
    if isinstance(data, bytes) or parsed is None:
        return False  # not JSON
    try:
        root = orjson.loads(model["Schema"])
    except orjson.JSONDecodeError:
        return True

    def resolve(name: str) -> dict[str, Any] | None:
        target = by_name.get(name)
        try:
            found = orjson.loads(target["Schema"]) if target is not None and target.get("Schema") else None
        except orjson.JSONDecodeError:
            return None
        return found if isinstance(found, dict) else None

    return not (isinstance(root, dict) and schema.validate(parsed, root, resolve))


def _reply(payload: bytes) -> str | bytes | None:
    """A Lambda proxy's answer as the frame a two-way route sends: ``body`` of an object that has one
    (decoded when ``isBase64Encoded``), else the returned JSON itself."""
    try:
        value = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", "replace")
    if isinstance(value, dict) and ("body" in value or "statusCode" in value):
        body = value.get("body")
        if body is None:
            return None
        if value.get("isBase64Encoded") and isinstance(body, str):
            try:
                return base64.b64decode(body)
            except ValueError:
                return body
        return body if isinstance(body, str) else orjson.dumps(body).decode()
    if value is None:
        return None
    return payload.decode("utf-8", "replace")


def _error_frame(message: str, connection_id: str, request_id: str) -> str:
    return orjson.dumps({"message": message, "connectionId": connection_id, "requestId": request_id}).decode()


def _connect_status(payload: bytes | None) -> tuple[int, dict[str, str]]:
    """$connect's answer: its statusCode (200 when it returns nothing, or no integration ran) and headers."""
    if payload is None:
        return 200, {}
    try:
        value = orjson.loads(payload) if payload else None
    except orjson.JSONDecodeError:
        return 200, {}
    if not isinstance(value, dict):
        return 200, {}
    try:
        status = int(value.get("statusCode", 200))
    except (TypeError, ValueError):
        return 500, {}
    headers = value.get("headers") if isinstance(value.get("headers"), dict) else {}
    return status, {str(k).lower(): str(v) for k, v in headers.items()}


def _headers_and_query(scope: Scope, headers: dict[str, str]) -> dict[str, Any]:
    """The CONNECT event's request fields: headers (Title-Case, as payload 1.0) and the query string."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in scope["headers"]:
        name = events.title_case(k.decode("latin-1").lower())
        value = v.decode("latin-1")
        single[name] = value
        multi.setdefault(name, []).append(value)
    out: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    query = events.parse_query(scope.get("query_string", b"").decode("latin-1"))
    if query:
        q: dict[str, str] = {}
        mq: dict[str, list[str]] = {}
        for k, v in query:
            q[k] = v
            mq.setdefault(k, []).append(v)
        out["queryStringParameters"] = q
        out["multiValueQueryStringParameters"] = mq
    return out


async def _reject(scope: Scope, send: Send, status: int, message: str) -> None:
    """Refuse the upgrade with an HTTP status and API Gateway's JSON body (a bare 403 from servers
    without the ASGI ``websocket.http.response`` extension)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = orjson.dumps({"message": message})
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})
