"""Authorizer rules without a server: identity sources, result checks, IAM policy decisions, cache."""

from __future__ import annotations

import pytest

from nimbus.services.apigateway.authorizers import (
    AuthorizerFailure,
    IdentityRequest,
    ResultCache,
    decide,
    identity_values,
    parse_policy_result,
    parse_simple_result,
)

ARN = "arn:aws:execute-api:us-east-1:000000000000:abc123/prod/GET/items/42"


def _policy(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_identity_sources_rest_and_http_forms() -> None:
    req = IdentityRequest({"authorization": "t", "x-user": "u"}, {"tenant": "a"}, {"env": "prod"}, {"stage": "prod"})
    assert identity_values(["method.request.header.Authorization"], req) == ["t"]
    assert identity_values(["method.request.header.X-User", "method.request.querystring.tenant", "stageVariables.env",
                            "context.stage"], req) == ["u", "a", "prod", "prod"]
    assert identity_values(["$request.header.Authorization", "$request.querystring.tenant"], req) == ["t", "a"]
    assert identity_values(["method.request.multivalueheader.X-User", "method.request.multivaluequerystring.tenant"], req) == ["u", "a"]
    assert identity_values(["method.request.querystring.missing"], req) is None
    assert identity_values(["$request.header.Absent"], req) is None


def test_policy_decisions_with_wildcards() -> None:
    allow_all = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc123/*"}
    assert decide(_policy(allow_all), ARN) == "Allow"
    assert decide(_policy({**allow_all, "Resource": "arn:aws:execute-api:*:*:abc123/prod/GET/items/*"}), ARN) == "Allow"
    assert decide(_policy({**allow_all, "Resource": "arn:aws:execute-api:*:*:abc123/prod/POST/*"}), ARN) == "NoMatch"
    assert decide(_policy({**allow_all, "Resource": ["x", ARN]}), ARN) == "Allow"
    assert decide(_policy({**allow_all, "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc123/prod/GET/items/4?"}), ARN) == "Allow"
    deny = {"Effect": "Deny", "Action": "execute-api:*", "Resource": "*"}
    assert decide(_policy(allow_all, deny), ARN) == "Deny"
    assert decide(_policy({**allow_all, "Action": "s3:GetObject"}), ARN) == "NoMatch"
    assert decide({"Statement": {**allow_all, "Action": ["execute-api:Invoke"]}}, ARN) == "Allow"  # one statement, not a list
    assert decide(_policy({**allow_all, "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc123/[p]rod/*"}), ARN) == "NoMatch"


def test_results_are_checked() -> None:
    grant = parse_policy_result({"principalId": "u", "policyDocument": _policy(), "context": {"n": 1, "b": False, "s": "x"}},
                                stringify=True)
    assert grant.context == {"n": "1", "b": "false", "s": "x"} and grant.principal_id == "u"
    with pytest.raises(AuthorizerFailure):
        parse_policy_result({"principalId": "u", "policyDocument": _policy(), "context": {"n": {"nested": 1}}}, stringify=True)
    with pytest.raises(AuthorizerFailure):
        parse_policy_result({"principalId": "u"}, stringify=True)
    with pytest.raises(AuthorizerFailure):
        parse_policy_result({"policyDocument": _policy()}, stringify=True)  # REST needs principalId
    assert parse_policy_result({"policyDocument": _policy(), "context": {"o": {"k": 1}}}, stringify=False).context == {"o": {"k": 1}}
    assert parse_simple_result({"isAuthorized": False}).authorized is False
    with pytest.raises(AuthorizerFailure):
        parse_simple_result({"isAuthorized": "yes"})


def test_cache_expires_with_its_clock() -> None:
    now = [100.0]
    cache = ResultCache(clock=lambda: now[0])
    grant = parse_simple_result({"isAuthorized": True})
    cache.put(("k",), grant, 300)
    cache.put(("off",), grant, 0)
    assert cache.get(("k",)) is grant and cache.get(("off",)) is None
    now[0] += 300
    assert cache.get(("k",)) is None
