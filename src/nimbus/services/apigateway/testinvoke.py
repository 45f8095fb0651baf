"""The console's "Test" buttons: TestInvokeAuthorizer (runs a REST authorizer's function with a
made-up request and answers what it returned). Invocations go through the Lambda engine, the one
invoke path; no deployment is needed and the function's resource policy is not consulted (AWS tests
with the caller's own rights).
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from typing import Any
from urllib.parse import unquote

import orjson

from nimbus.errors import ServiceError
from nimbus.services.apigateway.authorizers import (
    AuthorizerFailure,
    IdentityRequest,
    identity_values,
    parse_policy_result,
    rest_sources,
)
from nimbus.services.apigateway.errors import BadRequestException
from nimbus.services.apigateway.httpapis import lambda_uri_function

TEST_STAGE = "test-invoke-stage"  # the stage name AWS's test invocations report


def _split(path_with_query: str | None) -> tuple[str, dict[str, str], dict[str, list[str]]]:
    path, _, raw = (path_with_query or "/").partition("?")
    query: dict[str, str] = {}
    mv: dict[str, list[str]] = {}
    for part in raw.split("&"):
        if part:
            k, _, v = part.partition("=")
            query[unquote(k)] = unquote(v)
            mv.setdefault(unquote(k), []).append(unquote(v))
    return path or "/", query, mv


async def invoke_function(core: Any, uri: str, event: dict[str, Any]) -> tuple[Any, bool, str, int]:
    """(decoded response, failed, log tail, latency ms) of one RequestResponse invoke with LogType Tail."""
    from nimbus.services.lambda_.invoke import lambda_engine

    fn_arn = lambda_uri_function(uri)
    if fn_arn is None:
        raise BadRequestException(f"Invalid function URI {uri}")
    started = time.perf_counter()
    try:
        inv = await lambda_engine(core).invoke(fn_arn, orjson.dumps(event), log_type="Tail", request_id=str(uuid.uuid4()))
    except ServiceError as e:
        return None, True, f"Execution failed: {e.code}: {e}", int((time.perf_counter() - started) * 1000)
    latency = int((time.perf_counter() - started) * 1000)
    tail = base64.b64decode(inv.log_result).decode("utf-8", "replace") if inv.log_result else ""
    try:
        doc = orjson.loads(inv.payload or b"null")
    except orjson.JSONDecodeError:
        doc = None
    return doc, bool(inv.function_error), tail, latency


async def test_invoke_authorizer(core: Any, api: dict[str, Any], auth: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    kind = auth["type"]
    if kind == "COGNITO_USER_POOLS":
        raise BadRequestException("Nimbus cannot test COGNITO_USER_POOLS authorizers (there is no Cognito)")
    headers = {k.lower(): v for k, v in (params.get("headers") or {}).items()}
    for k, vs in (params.get("multiValueHeaders") or {}).items():
        if vs:
            headers.setdefault(k.lower(), vs[-1])
    path, query, mv_query = _split(params.get("pathWithQueryString"))
    stage_vars = params.get("stageVariables") or {}
    arn = f"arn:aws:execute-api:{api['region']}:{api['account']}:{api['id']}/{TEST_STAGE}/GET{path}"
    sources = rest_sources(auth)
    values = identity_values(sources, IdentityRequest(headers, query, stage_vars)) if sources else []
    lines = [f"Execution log for request test-request\n{time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())} : "
             f"Starting authorizer: {auth['id']} for request: test-request"]
    if values is None or (kind == "TOKEN" and auth.get("identityValidationExpression")
                          and not re.fullmatch(auth["identityValidationExpression"], values[0])):
        lines.append("Unauthorized: the identity source is missing or does not match the validation expression")
        return {"clientStatus": 401, "log": "\n".join(lines), "latency": 0}
    if kind == "TOKEN":
        event: dict[str, Any] = {"type": "TOKEN", "methodArn": arn, "authorizationToken": values[0]}
    else:
        event = {"type": "REQUEST", "methodArn": arn, "resource": path, "path": path, "httpMethod": "GET",
                 "headers": params.get("headers") or {}, "multiValueHeaders": params.get("multiValueHeaders") or {},
                 "queryStringParameters": query, "multiValueQueryStringParameters": mv_query, "pathParameters": {},
                 "stageVariables": stage_vars,
                 "requestContext": {"path": path, "accountId": api["account"], "stage": TEST_STAGE, "requestId": "test-request",
                                    "httpMethod": "GET", "apiId": api["id"]}}
    lines.append(f"Incoming identity: {values}")
    doc, failed, tail, latency = await invoke_function(core, auth.get("authorizerUri", ""), event)
    if tail:
        lines.append(tail.rstrip())
    if failed:
        status = 401 if isinstance(doc, dict) and doc.get("errorMessage") == "Unauthorized" else 500
        lines.append(f"Execution failed: authorizer function error {orjson.dumps(doc).decode()}")
        return {"clientStatus": status, "log": "\n".join(lines), "latency": latency}
    try:
        grant = parse_policy_result(doc, stringify=True)
    except AuthorizerFailure as e:
        lines.append(f"Execution failed due to configuration error: {e}")
        return {"clientStatus": 500, "log": "\n".join(lines), "latency": latency}
    lines.append(f"Authorizer result: principalId {grant.principal_id}")
    out: dict[str, Any] = {"clientStatus": 200, "log": "\n".join(lines), "latency": latency,
                           "policy": orjson.dumps(grant.policy).decode()}
    if grant.principal_id is not None:
        out["principalId"] = grant.principal_id
    if grant.context:
        out["authorization"] = {k: [v] for k, v in grant.context.items()}
    return out
