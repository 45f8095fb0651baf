"""The HTTP trigger data plane, mounted on the edge's port (docs/services/apigateway.md):

    http://{api-id}.execute-api.localhost:4566/{stage}/{path}          REST APIs (stage in the path)
    http://{api-id}.execute-api.localhost:4566/{path}                  HTTP APIs ($default stage)
    http://127.0.0.1:4566/_aws/execute-api/{api-id}/{stage}/{path}     the same without DNS
    ws://{api-id}.execute-api.localhost:4566/{stage}                   WebSocket APIs (gateway/websocket.py)
    http://{url-id}.lambda-url.{region}.localhost:4566/{path}          function URLs
    http://127.0.0.1:4566/_aws/lambda-url/{url-id}/{path}              the same without DNS

A request is matched to a route, authorized (API key, IAM, CORS), turned into a proxy event, run
through the one invoke path (component "lambda.engine") and mapped back to HTTP. Nothing here
calls Nimbus over HTTP.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from types import SimpleNamespace
from typing import Any

import orjson

from nimbus.errors import ServiceError
from nimbus.gateway import auth, events, validation
from nimbus.gateway.auth import GatewayError
from nimbus.gateway.authorizer import Authorizers, method_arn
from nimbus.gateway.match import HttpRouter, RestRouter
from nimbus.gateway.websocket import CONNECTIONS_PREFIX, WebSocketApis
from nimbus.metrics import REGISTRY
from nimbus.services.apigateway.engine import METHOD_TESTER, ApiGatewayEngine, engine_of
from nimbus.services.apigateway import gatewayresponses, routingrules
from nimbus.services.apigateway.authorizers import IdentityRequest
from nimbus.services.apigateway.httpapis import lambda_uri_function

log = logging.getLogger(__name__)

HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response"  # a streamed function URL answer with a prelude

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

EXECUTE_API_PREFIX = "/_aws/execute-api/"
LAMBDA_URL_PREFIX = "/_aws/lambda-url/"
MAX_REST_PAYLOAD = 10 * 1024 * 1024  # D.1
MAX_URL_PAYLOAD = 6 * 1024 * 1024  # C.2 sync payload
HTTP_API_TIMEOUT_MS = 30_000
PERMISSION_CACHE_S = 2.0

REQUESTS = REGISTRY.counter("nimbus_gateway_requests_total", "HTTP trigger requests", ["kind", "status"])
LATENCY = REGISTRY.histogram("nimbus_gateway_request_duration_seconds", "HTTP trigger latency", ["kind"])


def _hostname(headers: dict[str, str]) -> str:
    host = headers.get("host", "")
    if host.startswith("["):
        return host
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


def claims(scope: Scope, headers: dict[str, str]) -> bool:
    """The edge's matcher: execute-api and lambda-url hosts, and the two path forms."""
    path: str = scope.get("path", "")
    if path.startswith(EXECUTE_API_PREFIX) or path.startswith(LAMBDA_URL_PREFIX):
        return True
    host = _hostname(headers)
    return ".execute-api." in host or ".lambda-url." in host


class GatewayApp:
    """ASGI app; the engines are looked up on first request so that mounting costs nothing."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self._engine: ApiGatewayEngine | None = None
        self._lambda: Any = None
        self._meter: auth.UsageMeter | None = None
        self._rest_routers: dict[tuple[str, str], tuple[int, RestRouter | None, Any]] = {}
        self._http_routers: dict[tuple[str, str], tuple[int, HttpRouter]] = {}
        self._allowed: dict[tuple[str, str], float] = {}
        self._authorizers: Authorizers | None = None
        self._websockets: WebSocketApis | None = None
        self._domain_hosts: dict[str, dict[str, Any]] | None = None  # the engine's live host -> domain map

    @property
    def websockets(self) -> WebSocketApis:
        if self._websockets is None:
            internal = GatewayError(500, "Internal server error")

            async def invoke(fn: str, event: dict[str, Any], request_id: str, timeout_ms: int) -> Any:
                return await self._invoke(fn, event, request_id, timeout_ms, on_timeout=internal, on_reject=internal)

            self._websockets = WebSocketApis(self.core, lambda: self.engine, invoke,
                                             lambda fn, arn: self._check_permission(fn, arn, "apigateway.amazonaws.com"),
                                             lambda *a, **kw: self.authorizers.http(*a, **kw))
        return self._websockets

    @property
    def authorizers(self) -> Authorizers:
        if self._authorizers is None:
            self._authorizers = Authorizers(self._invoke, self._check_permission, self.engine.authorizer_cache)
        return self._authorizers

    @property
    def engine(self) -> ApiGatewayEngine:
        if self._engine is None:
            self._engine = engine_of(self.core)
        return self._engine

    @property
    def meter(self) -> auth.UsageMeter:
        """Usage-plan counters; quotas persist in the metadata store (write-behind), flushed at shutdown."""
        if self._meter is None:
            self._meter = self.core.component("gateway.usage-meter", lambda: auth.UsageMeter(self.core.storage.metadata))
        return self._meter

    @property
    def lambda_engine(self) -> Any:
        if self._lambda is None:
            from nimbus.services.lambda_.invoke import lambda_engine

            self._lambda = lambda_engine(self.core)
        return self._lambda

    def claims(self, scope: Scope, headers: dict[str, str]) -> bool:
        """``claims``, and a Host that is a custom domain name (one dict lookup: the names live in memory)."""
        path: str = scope.get("path", "")
        if path.startswith(EXECUTE_API_PREFIX) or path.startswith(LAMBDA_URL_PREFIX):
            return True
        host = _hostname(headers)
        if ".execute-api." in host or ".lambda-url." in host:
            return True
        hosts = self._domain_hosts
        if hosts is None:
            hosts = self._domain_hosts = self.engine.domains.hosts
        return host in hosts if hosts else False

    # --- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        started = time.perf_counter()
        headers_list = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for k, v in headers_list:
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        raw_path_b = scope.get("raw_path")
        raw_path = (raw_path_b.decode("latin-1") if raw_path_b else scope["path"]).split("?", 1)[0]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        method: str = scope["method"]
        request_id = str(uuid.uuid4())
        kind = "url"
        extra_headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
        try:
            body = await _read_body(receive, MAX_REST_PAYLOAD)
            hostname = _hostname(headers)
            client = scope.get("client") or ("127.0.0.1", 0)
            headers_list = _with_proxy_headers(headers_list, headers, client[0], scope)
            if raw_path.startswith(LAMBDA_URL_PREFIX) or ".lambda-url." in hostname:
                if raw_path.startswith(LAMBDA_URL_PREFIX):
                    url_id, _, rest = raw_path[len(LAMBDA_URL_PREFIX):].partition("/")
                    domain = f"{url_id}.lambda-url.{self.core.settings.default_region}.localhost"
                else:
                    url_id, rest, domain = hostname.split(".", 1)[0], raw_path.lstrip("/"), hostname
                req = events.Request(method, "/" + rest, raw_query, headers_list, body, client[0], request_id, domain, url_id)
                resp = await self._function_url(url_id, req, raw_path, headers)
            elif not raw_path.startswith(EXECUTE_API_PREFIX) and ".execute-api." not in hostname:
                kind = "domain"  # a custom domain name (the edge claimed its Host)
                extra_headers.append(("x-amz-apigw-id", request_id[:8] + "AAAA="))
                resp = await self._custom_domain(hostname, method, raw_path, raw_query, headers_list, headers, body, client[0], request_id)
            else:
                if raw_path.startswith(EXECUTE_API_PREFIX):
                    api_id, _, rest = raw_path[len(EXECUTE_API_PREFIX):].partition("/")
                    domain = f"{api_id}.execute-api.localhost"
                else:
                    api_id, rest, domain = hostname.split(".", 1)[0], raw_path.lstrip("/"), hostname
                stage_name, _, tail = rest.partition("/")
                if tail[:3].upper() == "%40":  # an SDK that percent-encodes the path's "@"
                    tail = "@" + tail[3:]
                if tail.startswith(CONNECTIONS_PREFIX + "/") and (self.engine.http.serving(api_id) or {}).get("ProtocolType") == "WEBSOCKET":
                    kind = "ws-manage"
                    resp = await self.websockets.manage(api_id, stage_name, method, raw_path, "/" + tail, raw_query, headers, body,
                                                        request_id)
                elif self.engine.http.serving(api_id) is not None:
                    kind = "http"
                    req = events.Request(method, "/" + rest, raw_query, headers_list, body, client[0], request_id, domain, api_id)
                    resp = await self._http_api(api_id, req, raw_path, headers)
                else:
                    kind = "rest"
                    extra_headers.append(("x-amz-apigw-id", request_id[:8] + "AAAA="))
                    stage, _, path = rest.partition("/")
                    req = events.Request(method, "/" + path, raw_query, headers_list, body, client[0], request_id, domain, api_id)
                    try:
                        resp = await self._rest_api(api_id, stage, req, raw_path, headers)
                    except GatewayError as e:
                        resp = self._rest_error(api_id, stage, req, e)
        except GatewayError as e:
            resp = events.Response(e.status, [("Content-Type", "application/json")] + e.headers, e.body() if e.message is not None or e.raw is not None else b"")
            if e.error_type:
                resp.headers.append(("x-amzn-ErrorType", e.error_type))
        except Exception:  # noqa: BLE001 - never a stack trace on the wire
            log.exception("gateway failure request_id=%s", request_id)
            resp = events.Response(500, [("Content-Type", "application/json")], b'{"message":"Internal server error"}')
        await _send(send, resp, extra_headers, head=method == "HEAD")
        REQUESTS.inc(kind, str(resp.status))
        LATENCY.observe(time.perf_counter() - started, kind)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade to an API's endpoint + ``/{stage}`` (host or path form)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope.get("path", "")
        if path.startswith(EXECUTE_API_PREFIX):
            api_id, _, rest = path[len(EXECUTE_API_PREFIX):].partition("/")
        elif ".execute-api." in _hostname(headers):
            api_id, rest = _hostname(headers).split(".", 1)[0], path.lstrip("/")
        else:
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            await self.websockets.serve(scope, receive, send, api_id, rest, headers)
        except Exception:  # noqa: BLE001 - never a stack trace to the client
            log.exception("websocket failure api=%s", api_id)

    # --- invoke --------------------------------------------------------------------------------

    async def _invoke(self, function_arn: str, event: dict[str, Any], request_id: str, timeout_ms: int | None,
                      on_timeout: GatewayError, on_reject: GatewayError) -> Any:
        payload = orjson.dumps(event)
        call = self.lambda_engine.invoke(function_arn, payload, request_id=request_id)
        try:
            if timeout_ms is None:
                return await call
            task = asyncio.ensure_future(call)
            try:
                # shielded: the invocation runs to its own end, the caller stops waiting (D.1)
                return await asyncio.wait_for(asyncio.shield(task), timeout_ms / 1000)
            except asyncio.TimeoutError:
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                raise on_timeout from None
        except ServiceError as e:
            log.info("gateway invoke rejected function=%s code=%s", function_arn, e.code)
            if e.code == "TooManyRequestsException" and on_reject.status == 429:
                raise on_reject from e
            if on_reject.status == 429:
                raise GatewayError(502, "Internal Server Error", key="Message") from e
            raise on_reject from e

    def _permitted(self, function_arn: str, check: Callable[[dict[str, Any]], bool]) -> bool:
        """Does the function's resource policy let this trigger invoke it? (D.3: else 500)."""
        try:
            ref = self.lambda_engine.parse_ref(function_arn, None, None, None)
            statements = self.lambda_engine.functions.policy_statements(ref)
        except ServiceError:
            return False
        return any(check(s) for s in statements)

    def _check_permission(self, function_arn: str, source_arn: str, service: str) -> bool:
        k = (function_arn, source_arn)
        now = time.monotonic()
        if self._allowed.get(k, 0.0) > now:
            return True

        def check(s: dict[str, Any]) -> bool:
            if s.get("Effect", "Allow") != "Allow":
                return False
            principal = s.get("Principal")
            if principal != "*" and not (isinstance(principal, dict) and principal.get("Service") in (service, "*")):
                return False
            actions = s.get("Action")
            actions = actions if isinstance(actions, list) else [actions]
            if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
                return False
            pattern = ((s.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn")
            return pattern is None or fnmatch.fnmatchcase(source_arn, pattern)

        ok = self._permitted(function_arn, check)
        if ok:
            self._allowed[k] = now + PERMISSION_CACHE_S
        return ok

    # --- REST APIs -----------------------------------------------------------------------------

    def _rest_stage(self, api_id: str, stage: str) -> tuple[RestRouter | None, Any]:
        gen = self.engine.rest.generation
        hit = self._rest_routers.get((api_id, stage))
        if hit is not None and hit[0] == gen:
            return hit[1], hit[2]
        view = self.engine.rest.stage_view(api_id, stage)
        router = RestRouter(view.resources) if view is not None else None
        self._rest_routers[(api_id, stage)] = (gen, router, view)
        return router, view

    def _rest_error(self, api_id: str, stage: str, req: events.Request, e: GatewayError) -> events.Response:
        """An error the gateway raised itself for a REST API, through the API's customized gateway
        responses when the stage's deployment has any (else ``e`` goes on as it is)."""
        _, view = self._rest_stage(api_id, stage)
        found = gateway_response(view, e, req, stage, api_id) if view is not None and view.gateway_responses else None
        if found is None:
            raise e
        return found

    async def _custom_domain(self, hostname: str, method: str, raw_path: str, raw_query: str, headers_list: list[tuple[str, str]],
                             headers: dict[str, str], body: bytes, client_ip: str, request_id: str) -> events.Response:
        """A request to a custom domain name: its routing rules and/or base path mappings (the domain's
        routingMode) pick the API and stage (a mapping without a stage takes it from the path's next
        segment); the base path is stripped (for a rule, with StripBasePath)."""
        doc = self.engine.domains.hosts.get(hostname)
        found = routingrules.route(doc, raw_path, headers) if doc is not None else None
        if found is None:
            raise auth.forbidden()
        mapping, rest = found
        api_id = mapping["restApiId"]
        stage = mapping.get("stage")
        if mapping.get("kind") == "http":  # an apigatewayv2 API mapping to an HTTP API
            req = events.Request(method, rest, raw_query, headers_list, body, client_ip, request_id, hostname, hostname.split(".", 1)[0])
            return await self._http_api(api_id, req, raw_path, headers, mapped_stage=stage or "$default")
        if not stage:
            stage, _, tail = rest.lstrip("/").partition("/")
            rest = "/" + tail
        req = events.Request(method, rest, raw_query, headers_list, body, client_ip, request_id, hostname, hostname.split(".", 1)[0],
                             domain_path=raw_path)
        try:
            return await self._rest_api(api_id, stage, req, raw_path, headers)
        except GatewayError as e:
            return self._rest_error(api_id, stage, req, e)

    async def _rest_api(self, api_id: str, stage: str, req: events.Request, raw_path: str, headers: dict[str, str]) -> events.Response:
        router, view = self._rest_stage(api_id, stage)
        if router is None or view is None:
            raise auth.forbidden()  # unknown API or stage
        found = router.match(req.method, req.path)
        if found is None:
            raise auth.missing_token()
        method = found.method
        api = view.api
        identity: dict[str, Any] = {}
        authorizer_ctx: dict[str, Any] | None = None
        usage_key: str | None = None
        stage_vars = view.stage.get("variables") or {}
        resource = found.resource
        auth_type = method.get("authorizationType")
        if auth_type == "AWS_IAM":
            creds = auth.verify_iam(self.core.credentials, service="execute-api", method=req.method, raw_path=raw_path,
                                    raw_query=req.raw_query, headers=headers, body=req.body)
            self._enforce_invoke(creds, f"{api_id}/{stage}/{req.method}/{req.path.lstrip('/')}")
            identity.update(auth.v1_identity(creds))
        elif auth_type in ("CUSTOM", "COGNITO_USER_POOLS"):
            authz = view.authorizers.get(method.get("authorizerId") or "")
            if authz is None:
                raise GatewayError(500, None, error_type="AuthorizerConfigurationException", raw=b'{"message":null}')
            binary_types = api.get("binaryMediaTypes") or []

            def request_event() -> dict[str, Any]:
                ev = events.v1_event(req, resource_path=resource["path"], resource_id=resource["id"], path_params=found.path_params,
                                     stage=stage, stage_variables=stage_vars, api_id=api_id, account_id=api["account"],
                                     binary_types=binary_types)
                ev.pop("body", None)
                ev.pop("isBase64Encoded", None)
                return ev

            grant, latency = await self.authorizers.rest(
                authz, api=api, api_id=api_id, stage=stage, deployment_id=str(view.stage.get("deploymentId")),
                arn=method_arn(api["region"], api["account"], api_id, stage, req.method, req.path),
                ident=_identity_request(req, headers, stage_vars, {"stage": stage, "httpMethod": req.method,
                                                                    "resourcePath": resource["path"], "apiId": api_id}),
                request_event=request_event,
            )
            authorizer_ctx = {**grant.context, "principalId": grant.principal_id, "integrationLatency": latency}
            usage_key = grant.usage_key
        if method.get("apiKeyRequired"):
            # apiKeySource AUTHORIZER: the key is the authorizer's usageIdentifierKey, not a header
            key_value = usage_key if api.get("apiKeySource") == "AUTHORIZER" else headers.get("x-api-key")
            key = self.engine.rest.key_by_value(key_value) if key_value else None
            if key is None or not key.get("enabled"):
                raise GatewayError(403, "Forbidden", error_type="ForbiddenException", response_type="INVALID_API_KEY")
            plans = self.engine.rest.plans_for(key["id"], api_id, stage)
            if not plans:
                raise GatewayError(403, "Forbidden", error_type="ForbiddenException", response_type="INVALID_API_KEY")
            for plan in plans:
                self.meter.check(plan, key["id"])
            identity.update({"apiKey": key["value"], "apiKeyId": key["id"]})
        if method.get("requestValidatorId"):
            validation.check(view, method, req, found.path_params)
        integ = method.get("methodIntegration")
        if integ is None:
            raise _config_error()
        if integ["type"] == "MOCK":
            return _mock(integ)
        if integ["type"] != "AWS_PROXY":
            raise _config_error()
        uri = _substitute(integ.get("uri", ""), stage_vars)
        fn_arn = lambda_uri_function(uri)
        if fn_arn is None:
            raise _config_error()
        source_arn = f"arn:aws:execute-api:{api['region']}:{api['account']}:{api_id}/{stage}/{req.method}{resource['path'] if resource['path'] != '/' else '/'}"
        if not self._check_permission(fn_arn, source_arn, "apigateway.amazonaws.com"):
            log.info("gateway: Invalid permissions on Lambda function api=%s function=%s", api_id, fn_arn)
            raise _config_error()
        binary = api.get("binaryMediaTypes") or []
        event = events.v1_event(
            req,
            resource_path=resource["path"],
            resource_id=resource["id"],
            path_params=found.path_params,
            stage=stage,
            stage_variables=stage_vars,
            api_id=api_id,
            account_id=api["account"],
            binary_types=binary,
            identity=identity,
            authorizer=authorizer_ctx,
        )
        result = await self._invoke(
            fn_arn, event, req.request_id, int(integ.get("timeoutInMillis") or 29_000),
            on_timeout=GatewayError(504, "Endpoint request timed out", error_type="IntegrationTimeout"),
            on_reject=GatewayError(500, "Internal server error", error_type="InternalServerErrorException",
                                   response_type="INTEGRATION_FAILURE"),
        )
        if result.function_error:
            raise GatewayError(502, "Internal server error", error_type="InternalServerErrorException")
        try:
            return events.map_v1(result.payload, binary_types=binary, accept=headers.get("accept"))
        except events.MalformedResponse as e:
            log.info("gateway: Malformed Lambda proxy response api=%s reason=%s", api_id, e)
            raise GatewayError(502, "Internal server error", error_type="InternalServerErrorException") from e

    # --- TestInvokeMethod (the console's Test button) -------------------------------------------

    async def test_invoke_method(self, api: dict[str, Any], resource: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """Run a method's integration as the gateway would, from the API's current (undeployed) resources,
        without authorization, API keys or the invoke-permission check, as AWS's test does. Stage
        ``test-invoke-stage``; an ``ANY`` method is tried as GET."""
        started = time.perf_counter()
        verb = params["httpMethod"].upper()
        method = resource["resourceMethods"][verb]
        req_method = "GET" if verb == "ANY" else verb
        path_q = params.get("pathWithQueryString") or resource["path"]
        path, _, raw_query = path_q.partition("?")
        headers_list = [(k.lower(), str(v)) for k, v in (params.get("headers") or {}).items()]
        for k, values in (params.get("multiValueHeaders") or {}).items():
            headers_list.extend((k.lower(), str(v)) for v in values if (k.lower(), str(v)) not in headers_list)
        request_id = str(uuid.uuid4())
        stage = "test-invoke-stage"
        stage_vars = params.get("stageVariables") or {}
        found = RestRouter([resource]).match(req_method, path)
        path_params = found.path_params if found is not None else {}
        req = events.Request(req_method, path, raw_query, headers_list, (params.get("body") or "").encode(), "test-invoke-source-ip",
                             request_id, f"{api['id']}.execute-api.localhost", api["id"])
        stamp = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())
        log_lines = [f"Execution log for request {request_id}",
                     f"{stamp} : Starting execution for request: {request_id}",
                     f"{stamp} : HTTP Method: {req_method}, Resource Path: {path}",
                     f"{stamp} : Method request path: {orjson.dumps(path_params).decode()}",
                     f"{stamp} : Method request query string: {orjson.dumps(dict(events.parse_query(raw_query))).decode()}"]
        integ = method.get("methodIntegration")
        try:
            if method.get("requestValidatorId"):  # validated as served, with the API's current validators and models
                current = SimpleNamespace(validators=api.get("requestValidators") or {}, models=api.get("models") or {})
                try:
                    validation.check(current, method, req, path_params)
                except GatewayError as e:
                    log_lines.append(f"{stamp} : Request validation failed: {e.message}")
                    raise
            if integ is None:
                raise GatewayError(500, "Internal server error", error_type="InternalServerErrorException")
            if integ["type"] == "MOCK":
                resp = _mock(integ)
            elif integ["type"] == "AWS_PROXY" and lambda_uri_function(_substitute(integ.get("uri", ""), stage_vars)):
                fn_arn = lambda_uri_function(_substitute(integ.get("uri", ""), stage_vars)) or ""
                binary = api.get("binaryMediaTypes") or []
                event = events.v1_event(req, resource_path=resource["path"], resource_id=resource["id"], path_params=path_params,
                                        stage=stage, stage_variables=stage_vars, api_id=api["id"], account_id=api["account"],
                                        binary_types=binary)
                log_lines.append(f"{stamp} : Endpoint request URI: {integ.get('uri')}")
                log_lines.append(f"{stamp} : Endpoint request body after transformations: {orjson.dumps(event).decode()}")
                failure = GatewayError(502, "Internal server error", error_type="InternalServerErrorException")
                result = await self._invoke(fn_arn, event, request_id, int(integ.get("timeoutInMillis") or 29_000),
                                            on_timeout=GatewayError(504, "Endpoint request timed out", error_type="IntegrationTimeout"),
                                            on_reject=GatewayError(500, "Internal server error", error_type="InternalServerErrorException"))
                log_lines.append(f"{stamp} : Endpoint response body before transformations: {result.payload.decode('utf-8', 'replace')}")
                if result.function_error:
                    log_lines.append(f"{stamp} : Lambda execution failed with status 200 due to customer function error")
                    raise failure
                try:
                    resp = events.map_v1(result.payload, binary_types=binary, accept=req.header("accept"))
                except events.MalformedResponse as e:
                    log_lines.append(f"{stamp} : Execution failed due to configuration error: Malformed Lambda proxy response")
                    raise failure from e
            else:
                log_lines.append(f"{stamp} : Execution failed: integration type {integ['type']} is not served by Nimbus")
                raise GatewayError(500, "Internal server error", error_type="InternalServerErrorException")
        except GatewayError as e:
            resp = events.Response(e.status, [("Content-Type", "application/json")], e.body() if e.message is not None or e.raw is not None else b"")
        log_lines.append(f"{stamp} : Method completed with status: {resp.status}")
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for k, v in resp.headers:
            single[k] = v
            multi.setdefault(k, []).append(v)
        return {"status": resp.status, "body": resp.body.decode("utf-8", "replace"), "headers": single, "multiValueHeaders": multi,
                "log": "\n".join(log_lines), "latency": int((time.perf_counter() - started) * 1000)}

    # --- HTTP APIs -----------------------------------------------------------------------------

    def _http_router(self, api_id: str, deployment_id: str, routes: dict[str, Any]) -> HttpRouter:
        gen = self.engine.http.generation
        hit = self._http_routers.get((api_id, deployment_id))
        if hit is not None and hit[0] == gen:
            return hit[1]
        if hit is None and len(self._http_routers) > 4096:
            self._http_routers.clear()
        router = HttpRouter(list(routes.values()))
        self._http_routers[(api_id, deployment_id)] = (gen, router)
        return router

    async def _http_api(self, api_id: str, req: events.Request, raw_path: str, headers: dict[str, str],
                        mapped_stage: str | None = None) -> events.Response:
        """``mapped_stage``: a custom domain's API mapping names the stage (the path is the stage's)."""
        not_found = GatewayError(404, "Not Found", error_type="NotFoundException")
        doc = self.engine.http.serving(api_id)
        if doc is None:
            raise not_found
        if doc.get("ProtocolType") == "WEBSOCKET":  # a plain HTTP request to a WebSocket API
            raise auth.forbidden()
        first, _, rest = req.path.lstrip("/").partition("/")
        stages = doc["stages"]
        if mapped_stage is not None:
            if mapped_stage not in stages:
                raise not_found
            stage_name, path = mapped_stage, req.path
        elif first and first in stages and first != "$default":
            stage_name, path = first, "/" + rest
        elif "$default" in stages:
            stage_name, path = "$default", req.path
        else:
            raise not_found
        stage = stages[stage_name]
        cors = doc.get("CorsConfiguration")
        pre = auth.preflight(cors, req.method, headers)
        if pre is not None:
            return events.Response(pre[0] if pre[1] else 204, pre[1], b"")
        view = self.engine.http.stage_view(doc, stage)  # the stage's deployment, not the working routes
        if view is None:
            raise not_found
        deployment_id, routes, integrations = view
        found = self._http_router(api_id, deployment_id, routes).match(req.method, path)
        if found is None:
            raise not_found
        route = found.route
        authorizer = None
        if route.get("AuthorizationType") == "AWS_IAM":
            creds = auth.verify_iam(self.core.credentials, service="execute-api", method=req.method, raw_path=raw_path,
                                    raw_query=req.raw_query, headers=headers, body=req.body)
            self._enforce_invoke(creds, f"{api_id}/{stage_name}/{req.method}/{path.lstrip('/')}")
            authorizer = auth.v2_iam_authorizer(creds)
        stage_vars = stage.get("StageVariables") or {}
        route_path = route["RouteKey"].partition(" ")[2] or "/"
        lambda_ctx: dict[str, Any] | None = None
        auth_latency = 0
        if route.get("AuthorizationType") in ("CUSTOM", "JWT"):
            authz = (doc.get("authorizers") or {}).get(route.get("AuthorizerId") or "")
            if authz is None:
                raise GatewayError(500, "Internal Server Error", error_type="AuthorizerConfigurationException")
            auth_req = events.Request(req.method, path, req.raw_query, req.headers, req.body, req.source_ip, req.request_id,
                                      req.domain_name, req.domain_prefix, req.protocol, req.time_ms)

            def event_v1() -> dict[str, Any]:
                ev = events.v1_event(auth_req, resource_path=route_path if route["RouteKey"] != "$default" else "$default",
                                     resource_id=route["RouteId"], path_params=found.path_params, stage=stage_name,
                                     stage_variables=stage_vars, api_id=api_id, account_id=doc["account"], binary_types=[],
                                     decode_path=True)
                ev.pop("body", None)
                ev.pop("isBase64Encoded", None)
                return ev

            def event_v2() -> dict[str, Any]:
                ev = events.v2_event(auth_req, route_key=route["RouteKey"], raw_path=auth_req.path, path_params=found.path_params,
                                     stage=stage_name, stage_variables=stage_vars, api_id=api_id, account_id=doc["account"],
                                     decode_path=True)
                ev.pop("body", None)
                ev.pop("isBase64Encoded", None)
                ev.pop("version", None)
                return ev

            grant, auth_latency = await self.authorizers.http(
                authz, doc=doc, api_id=api_id, stage=stage_name,
                arn=method_arn(doc["region"], doc["account"], api_id, stage_name, req.method, path),
                ident=_identity_request(req, headers, stage_vars, {"stage": stage_name, "routeKey": route["RouteKey"],
                                                                    "apiId": api_id}),
                event_v1=event_v1, event_v2=event_v2,
            )
            lambda_ctx = dict(grant.context)
            if grant.principal_id is not None:
                lambda_ctx["principalId"] = grant.principal_id
            authorizer = {"lambda": lambda_ctx}
        target = route.get("Target") or ""
        integ = integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        if integ is None:
            raise not_found
        fn_arn = lambda_uri_function(_substitute(integ.get("IntegrationUri", ""), stage_vars))
        internal = GatewayError(500, "Internal Server Error", error_type="InternalServerErrorException")
        if integ["IntegrationType"] != "AWS_PROXY" or fn_arn is None:
            raise internal
        # the permission names the route, not the request path: {METHOD}{route path template}, or $default
        route_arn = "$default" if route["RouteKey"] == "$default" else f"{req.method}{route_path}"
        source_arn = f"arn:aws:execute-api:{doc['region']}:{doc['account']}:{api_id}/{stage_name}/{route_arn}"
        if not self._check_permission(fn_arn, source_arn, "apigateway.amazonaws.com"):
            raise internal
        v1 = integ.get("PayloadFormatVersion") == "1.0"
        if v1:
            req.path = path
            event = events.v1_event(req, resource_path=route_path if route["RouteKey"] != "$default" else "$default",
                                    resource_id=route["RouteId"], path_params=found.path_params, stage=stage_name,
                                    stage_variables=stage_vars, api_id=api_id, account_id=doc["account"], binary_types=[],
                                    decode_path=True,
                                    authorizer=None if lambda_ctx is None else {**lambda_ctx, "integrationLatency": auth_latency})
            event["version"] = "1.0"
        else:
            event = events.v2_event(req, route_key=route["RouteKey"], raw_path=req.path, path_params=found.path_params,
                                    stage=stage_name, stage_variables=stage_vars, api_id=api_id, account_id=doc["account"],
                                    authorizer=authorizer, decode_path=True)
        result = await self._invoke(
            fn_arn, event, req.request_id, int(integ.get("TimeoutInMillis") or HTTP_API_TIMEOUT_MS),
            on_timeout=GatewayError(503, "Service Unavailable", error_type="ServiceUnavailableException"),
            on_reject=internal,
        )
        if result.function_error:
            raise internal
        try:
            resp = events.map_v1(result.payload, binary_types=["*/*"], accept=None) if v1 else events.map_v2(result.payload)
        except events.MalformedResponse as e:
            raise internal from e
        return _with_cors(resp, auth.cors_headers(cors, headers))

    # --- function URLs -------------------------------------------------------------------------

    async def _function_url(self, url_id: str, req: events.Request, raw_path: str, headers: dict[str, str]) -> events.Response:
        cfg = self.engine.urls.by_id(url_id)
        if cfg is None:
            raise GatewayError(404, None, key="Message")
        if len(req.body) > MAX_URL_PAYLOAD:
            raise GatewayError(413, "Request must be smaller than 6291456 bytes for the InvokeFunction operation", key="Message")
        cors = cfg.get("Cors")
        pre = auth.preflight(cors, req.method, headers)
        if pre is not None:
            return events.Response(200, pre[1], b"")
        authorizer = None
        if cfg["AuthType"] == "AWS_IAM":
            try:
                creds = auth.verify_iam(self.core.credentials, service="lambda", method=req.method, raw_path=raw_path,
                                        raw_query=req.raw_query, headers=headers, body=req.body)
            except GatewayError as e:
                raise GatewayError(403, "Forbidden", key="Message", error_type=e.error_type) from e
            if self.core.settings.iam == "enforce":
                try:
                    self.core.app._authorize().check(creds, "lambda", "InvokeFunctionUrl", {"FunctionName": cfg["FunctionArn"]},
                                                     region=self.core.settings.default_region)
                except ServiceError as e:
                    raise GatewayError(403, "Forbidden", key="Message", error_type="AccessDeniedException") from e
            authorizer = auth.v2_iam_authorizer(creds)
        elif not self._url_permitted(cfg):
            raise GatewayError(403, "Forbidden", key="Message", error_type="AccessDeniedException")
        fn = cfg["FunctionArn"]  # qualified by the alias when the URL has one
        event = events.v2_event(req, route_key="$default", raw_path=req.path, path_params=None, stage="$default",
                                stage_variables=None, api_id=url_id, account_id=cfg["account"], authorizer=authorizer)
        event["requestContext"]["authentication"] = None
        if cfg.get("InvokeMode") == "RESPONSE_STREAM":
            return _with_cors(await self._function_url_streamed(fn, event, req.request_id), auth.cors_headers(cors, headers))
        result = await self._invoke(fn, event, req.request_id, None,
                                    on_timeout=GatewayError(502, "Internal Server Error", key="Message"),
                                    on_reject=GatewayError(429, "Rate Exceeded.", key="Message", error_type="TooManyRequestsException"))
        internal = GatewayError(502, "Internal Server Error", key="Message")
        if result.function_error:
            raise internal
        try:
            resp = events.map_v2(result.payload)
        except events.MalformedResponse as e:
            raise internal from e
        return _with_cors(resp, auth.cors_headers(cors, headers))

    async def _function_url_streamed(self, fn: str, event: dict[str, Any], request_id: str) -> events.Response:
        """InvokeMode RESPONSE_STREAM: the function's streamed response goes to the client as it is written.
        A stream of type ``application/vnd.awslambda.http-integration-response`` (Node's
        ``awslambda.HttpResponseStream.from``) starts with a JSON prelude (statusCode, headers, cookies) and
        eight NUL bytes; any other stream is a 200 of its content type. A function that does not stream is
        answered as in BUFFERED mode. An error once the stream began ends the body there, as on AWS."""
        from nimbus.runtime import ResponseStream

        stream = ResponseStream()
        task = asyncio.ensure_future(self.lambda_engine.invoke(fn, orjson.dumps(event), request_id=request_id, stream=stream))
        started = asyncio.ensure_future(stream.started.wait())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
        internal = GatewayError(502, "Internal Server Error", key="Message")
        if task.done() and not stream.started.is_set():
            try:
                result = task.result()
            except ServiceError as e:
                if e.code == "TooManyRequestsException":
                    raise GatewayError(429, "Rate Exceeded.", key="Message", error_type="TooManyRequestsException") from e
                raise internal from e
            if result.function_error:
                raise internal
            try:
                return events.map_v2(result.payload)
            except events.MalformedResponse as e:
                raise internal from e

        async def chunks() -> AsyncIterator[bytes]:
            while not task.done() or not stream.chunks.empty():
                if not stream.chunks.empty():
                    yield stream.chunks.get_nowait()
                    continue
                get = asyncio.ensure_future(stream.chunks.get())
                await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
                if get.done():
                    yield get.result()
                else:
                    get.cancel()
            if not task.cancelled() and task.exception() is not None:
                log.info("streamed function URL ended by an error function=%s err=%s", fn, task.exception())

        body = chunks()
        if stream.content_type != HTTP_INTEGRATION_TYPE:
            return events.Response(200, [("Content-Type", stream.content_type or "application/octet-stream")], b"", body)
        # the prelude: JSON, then 8 NUL bytes, possibly over several chunks
        head = b""
        async for chunk in body:
            head += chunk
            if b"\0" * 8 in head:
                break
        prelude_raw, _, rest = head.partition(b"\0" * 8)
        try:
            prelude = orjson.loads(prelude_raw) if prelude_raw.strip() else {}
        except orjson.JSONDecodeError:
            prelude = {}
        status = int(prelude.get("statusCode") or 200)
        out_headers = [(str(k), str(v)) for k, v in (prelude.get("headers") or {}).items()]
        out_headers += [("Set-Cookie", str(c)) for c in prelude.get("cookies") or []]
        if not any(k.lower() == "content-type" for k, _ in out_headers):
            out_headers.append(("Content-Type", "application/octet-stream"))
        return events.Response(status, out_headers, rest, body)

    def _enforce_invoke(self, creds: Any, method_path: str) -> None:
        """Under --iam enforce, an AWS_IAM method needs execute-api:Invoke on its ARN
        (``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>``), as on AWS."""
        settings = self.core.settings
        if settings.iam != "enforce":
            return
        arn = f"arn:aws:execute-api:{settings.default_region}:{creds.account_id}:{method_path}"
        try:
            self.core.app._authorize().check(creds, "execute-api", "Invoke", {}, region=settings.default_region, resources=[arn])
        except ServiceError as e:
            raise GatewayError(403, e.message, key="Message", error_type="AccessDeniedException") from e

    def _url_permitted(self, cfg: dict[str, Any]) -> bool:
        """AuthType NONE needs a resource-policy statement allowing lambda:InvokeFunctionUrl (C.4)."""
        k = (cfg["FunctionArn"], "url:" + cfg["urlId"])
        now = time.monotonic()
        if self._allowed.get(k, 0.0) > now:
            return True

        def check(s: dict[str, Any]) -> bool:
            actions = s.get("Action")
            actions = actions if isinstance(actions, list) else [actions]
            if s.get("Effect", "Allow") != "Allow" or not any(a in ("lambda:InvokeFunctionUrl", "lambda:*", "*") for a in actions):
                return False
            principal = s.get("Principal")
            auth_type = ((s.get("Condition") or {}).get("StringEquals") or {}).get("lambda:FunctionUrlAuthType")
            return principal in ("*", {"AWS": "*"}) and auth_type in (None, "NONE")

        ok = self._permitted(cfg["FunctionArn"], check)
        if ok:
            self._allowed[k] = now + PERMISSION_CACHE_S
        return ok


def _identity_request(req: events.Request, headers: dict[str, str], stage_vars: dict[str, str],
                      context: dict[str, str]) -> IdentityRequest:
    query: dict[str, str] = {}
    for k, v in events.parse_query(req.raw_query):
        query[k] = v
    context = {**context, "requestId": req.request_id, "identity.sourceIp": req.source_ip}
    return IdentityRequest(headers, query, stage_vars, context)


def _config_error() -> GatewayError:
    """A REST method the gateway cannot run as configured (AWS's API_CONFIGURATION_ERROR)."""
    return GatewayError(500, "Internal server error", error_type="InternalServerErrorException", response_type="API_CONFIGURATION_ERROR")


def gateway_response(view: Any, e: GatewayError, req: events.Request, stage: str, api_id: str) -> events.Response | None:
    """The API's customized gateway response for an error the gateway raised (None: none applies)."""
    kind = e.response_type or gatewayresponses.BY_ERROR_TYPE.get(e.error_type, "")
    if not kind:
        kind = "DEFAULT_4XX" if e.status < 500 else "DEFAULT_5XX"
    context = {"requestId": req.request_id, "extendedRequestId": req.request_id, "apiId": api_id, "stage": stage,
               "httpMethod": req.method, "path": req.path, "domainName": req.domain_name, "error.validationErrorString":
               e.validation_errors}
    query = dict(events.parse_query(req.raw_query)) if req.raw_query else {}

    def lookup(source: str) -> str | None:
        for prefix, values in (("method.request.header.", None), ("method.request.querystring.", query)):
            if source.startswith(prefix):
                name = source[len(prefix):]
                return req.header(name.lower()) if values is None else values.get(name)
        return None

    out = gatewayresponses.render(view.gateway_responses, kind, e.status, e.message, context, lookup)
    if out is None:
        return None
    status, headers, body = out
    headers = headers + e.headers
    if e.error_type:
        headers.append(("x-amzn-ErrorType", e.error_type))
    return events.Response(status, headers, body)


def _substitute(uri: str, variables: dict[str, str]) -> str:
    if "${stageVariables." not in uri:
        return uri
    for k, v in variables.items():
        uri = uri.replace("${stageVariables." + k + "}", v)
    return uri


def _mock(integ: dict[str, Any]) -> events.Response:
    """MOCK: the status from the request template's ``statusCode``; the body from the matching
    integration response's ``application/json`` template, returned as is (no VTL)."""
    status = 200
    template = (integ.get("requestTemplates") or {}).get("application/json")
    if template:
        try:
            status = int(orjson.loads(template).get("statusCode", 200))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            status = 200
    responses = integ.get("integrationResponses") or {}
    chosen = responses.get(str(status)) or next(iter(responses.values()), None)
    body = ((chosen or {}).get("responseTemplates") or {}).get("application/json") or ""
    return events.Response(status, [("Content-Type", "application/json")], body.encode())


def _with_cors(resp: events.Response, cors: list[tuple[str, str]]) -> events.Response:
    if cors:
        names = {k.lower() for k, _ in cors}
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() not in names] + cors
    return resp


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(400, "Bad Request")
        data = message.get("body", b"")
        if data:
            size += len(data)
            if size > limit:
                raise GatewayError(413, "Request Too Long", error_type="RequestTooLarge")
            chunks.append(data)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, resp: events.Response, extra: list[tuple[str, str]], *, head: bool) -> None:
    out = [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in resp.headers if k.lower() != "content-length"]
    out += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra]
    if resp.stream is not None:  # no Content-Length: sent chunked, each piece as the function writes it
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        if resp.body and not head:
            await send({"type": "http.response.body", "body": resp.body, "more_body": True})
        async for chunk in resp.stream:
            if chunk and not head:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    out.append((b"content-length", str(len(resp.body)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": out})
    await send({"type": "http.response.body", "body": b"" if head else resp.body})


def build(core: Any) -> GatewayApp:
    """The gateway the edge serves trigger hosts and paths with (``nimbus.edge.app.LazyGateway`` loads it:
    claims HTTP requests with ``GatewayApp.claims``, WebSocket scopes with ``claims``, and lends the control
    plane ``test_invoke_method`` as the METHOD_TESTER component)."""
    assert METHOD_TESTER == "gateway.method-tester"  # the name the edge provides it under, without importing this
    return GatewayApp(core)


def _with_proxy_headers(
    headers_list: list[tuple[str, str]], headers: dict[str, str], client_ip: str, scope: Scope
) -> list[tuple[str, str]]:
    """The headers AWS's front end adds to what a function sees (REST and HTTP APIs, function URLs):
    X-Forwarded-For (the caller's address appended to any the request carried; from a loopback peer,
    uvicorn already reads the caller from that header, as from a proxy in front of Nimbus), X-Forwarded-Proto and
    X-Forwarded-Port (this server's scheme and port, where AWS says https and 443), and an X-Amzn-Trace-Id
    when the request has none."""
    out = [(k, v) for k, v in headers_list if k not in _PROXY_HEADERS]
    forwarded = headers.get("x-forwarded-for")
    if not forwarded:
        out.append(("x-forwarded-for", client_ip))
    elif forwarded.rsplit(",", 1)[-1].strip() == client_ip:
        out.append(("x-forwarded-for", forwarded))  # a trusted local proxy's header: uvicorn took the client from it
    else:
        out.append(("x-forwarded-for", f"{forwarded}, {client_ip}"))
    out.append(("x-forwarded-proto", str(scope.get("scheme") or "http")))
    server = scope.get("server")
    out.append(("x-forwarded-port", str(server[1] if server else 80)))
    if "x-amzn-trace-id" not in headers:  # unique, not secret: the fast PRNG (no syscall)
        out.append(("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{_getrandbits(96):024x}"))
    return out


_PROXY_HEADERS = frozenset(("x-forwarded-for", "x-forwarded-proto", "x-forwarded-port"))
_getrandbits = random.Random().getrandbits
