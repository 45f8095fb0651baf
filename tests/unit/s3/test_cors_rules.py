"""cors.py: rule checks and matching, as S3 evaluates a bucket's CORS configuration."""

from __future__ import annotations

import pytest

from nimbus.errors import ServiceError
from nimbus.services.s3 import cors

RULES = cors.validate({"CORSRules": [
    {"ID": "a", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["PUT"], "AllowedHeaders": ["x-amz-*"],
     "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]})


def test_wildcards() -> None:
    assert cors.wildcard_match("https://*.example.com", "https://a.b.example.com")
    assert not cors.wildcard_match("https://*.example.com", "http://a.example.com")
    assert cors.wildcard_match("*", "anything") and cors.wildcard_match("exact", "exact")


def test_first_matching_rule_wins() -> None:
    got = dict(cors.actual(RULES, "https://app.example.com", "PUT"))
    assert got["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert got["Access-Control-Allow-Credentials"] == "true" and got["Access-Control-Max-Age"] == "60"
    got = dict(cors.actual(RULES, "https://app.example.com", "GET"))
    assert got["Access-Control-Allow-Origin"] == "*" and "Access-Control-Allow-Credentials" not in got
    assert cors.actual(RULES, "https://app.example.com", "DELETE") == []
    assert cors.actual(None, "https://app.example.com", "GET") == []


def test_preflight_checks_requested_headers() -> None:
    ok = dict(cors.preflight(RULES, {"origin": "https://x.example.com", "access-control-request-method": "PUT",
                                     "access-control-request-headers": "X-Amz-Date, x-amz-acl"}, resource_type="OBJECT"))
    assert ok["Access-Control-Allow-Headers"] == "x-amz-date, x-amz-acl"
    with pytest.raises(ServiceError) as e:
        cors.preflight(RULES, {"origin": "https://x.example.com", "access-control-request-method": "PUT",
                               "access-control-request-headers": "content-type"}, resource_type="OBJECT")
    assert (e.value.code, e.value.status) == ("CORSResponse", 403)
    with pytest.raises(ServiceError) as e:
        cors.preflight(None, {"origin": "o", "access-control-request-method": "GET"}, resource_type="BUCKET")
    assert e.value.message == "CORS is not enabled for this bucket."


@pytest.mark.parametrize("rule, code", [
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["OPTIONS"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["*.*"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["a*b*"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["*"], "AllowedMethods": []}, "MalformedXML"),
])
def test_validation(rule: dict, code: str) -> None:
    with pytest.raises(ServiceError) as e:
        cors.validate({"CORSRules": [rule]})
    assert e.value.code == code
