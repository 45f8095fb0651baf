"""Bucket CORS: checking a ``CORSConfiguration`` as S3 does, and answering browsers from it.

Two uses of the rules (S3 user guide "Using cross-origin resource sharing", API "OPTIONS object"):

* a **preflight** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``, unsigned) is
  answered 200 with the first matching rule's headers, or 403 ``CORSResponse``;
* an **actual request** carrying ``Origin`` gets the matching rule's headers added to its response
  (nothing when no rule matches; the request itself is served either way, as on S3).

A rule matches when one ``AllowedOrigin`` matches the origin (one ``*`` wildcard allowed anywhere in it),
the method is one of ``AllowedMethods`` and, for a preflight, every requested header matches an
``AllowedHeader`` (case-insensitive, one wildcard). Pure functions: no storage, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nimbus.services.s3.errors import BadRequest, InvalidRequest, MalformedXML, S3Error

MAX_RULES = 100  # S3 user guide, "CORS configuration": up to 100 rules
METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = (
    "This CORS request is not allowed. This is usually because the evalution of Origin, request method / "
    "Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)


class CORSResponse(S3Error):
    code = "CORSResponse"
    status = 403


def validate(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules of a PutBucketCors body, checked (S3's codes: MalformedXML for what its schema refuses,
    InvalidRequest for methods and wildcards); returned as stored."""
    rules = config.get("CORSRules") or []
    if not rules or len(rules) > MAX_RULES:
        raise MalformedXML()
    out = []
    for rule in rules:
        methods = rule.get("AllowedMethods") or []
        origins = rule.get("AllowedOrigins") or []
        if not methods or not origins:
            raise MalformedXML()
        for m in methods:
            if m not in METHODS:
                raise InvalidRequest(f"Found unsupported HTTP method in CORS config. Unsupported method is {m}")
        for o in origins:
            if o.count("*") > 1:
                raise InvalidRequest(f'AllowedOrigin "{o}" can not have more than one wildcard.')
        for h in rule.get("AllowedHeaders") or []:
            if h.count("*") > 1:
                raise InvalidRequest(f'AllowedHeader "{h}" can not have more than one wildcard.')
        age = rule.get("MaxAgeSeconds")
        if age is not None and age < 0:
            raise MalformedXML()
        kept = {k: rule[k] for k in ("ID", "AllowedHeaders", "AllowedMethods", "AllowedOrigins", "ExposeHeaders",
                                     "MaxAgeSeconds") if rule.get(k) not in (None, [])}
        out.append(kept)
    return out


def wildcard_match(pattern: str, value: str) -> bool:
    """``*`` (at most one) stands for any run of characters."""
    if "*" not in pattern:
        return pattern == value
    head, _, tail = pattern.partition("*")
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


@dataclass(slots=True, frozen=True)
class Match:
    rule: dict[str, Any]
    any_origin: bool  # matched through AllowedOrigin "*": Allow-Origin "*" and no credentials


def find_rule(rules: list[dict[str, Any]], origin: str, method: str, request_headers: Sequence[str] = ()) -> Match | None:
    for rule in rules:
        if method not in rule.get("AllowedMethods", ()):
            continue
        matched = next((o for o in rule.get("AllowedOrigins", ()) if wildcard_match(o, origin)), None)
        if matched is None:
            continue
        allowed = [h.lower() for h in rule.get("AllowedHeaders") or ()]
        if any(not any(wildcard_match(a, h.lower()) for a in allowed) for h in request_headers):
            continue
        return Match(rule, matched == "*")
    return None


def response_headers(match: Match, origin: str, *, request_headers: list[str] | None = None) -> list[tuple[str, str]]:
    """The Access-Control-* headers S3 sends for a matched rule (``request_headers`` for a preflight)."""
    rule = match.rule
    out = [("Access-Control-Allow-Origin", "*" if match.any_origin else origin)]
    out.append(("Access-Control-Allow-Methods", ", ".join(rule["AllowedMethods"])))
    if request_headers:
        out.append(("Access-Control-Allow-Headers", ", ".join(request_headers)))
    if rule.get("ExposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("Access-Control-Max-Age", str(rule["MaxAgeSeconds"])))
    if not match.any_origin:
        out.append(("Access-Control-Allow-Credentials", "true"))
    out.append(("Vary", VARY))
    return out


def split_header_list(value: str) -> list[str]:
    return [h.strip().lower() for h in value.split(",") if h.strip()]


def preflight(rules: list[dict[str, Any]] | None, headers: dict[str, str], *, resource_type: str) -> list[tuple[str, str]]:
    """Answer an OPTIONS request from a bucket's rules (``None``: the bucket has no CORS configuration):
    the headers of a 200, or S3's error."""
    origin = headers.get("origin")
    if not origin:
        raise BadRequest("Insufficient information. Origin request header needed.")
    method = headers.get("access-control-request-method", "")
    if method not in METHODS:
        raise BadRequest(f"Invalid Access-Control-Request-Method: {method}")
    if not rules:
        raise CORSResponse("CORS is not enabled for this bucket.", Method=method, ResourceType=resource_type)
    requested = split_header_list(headers.get("access-control-request-headers", ""))
    match = find_rule(rules, origin, method, requested)
    if match is None:
        raise CORSResponse(NOT_ALLOWED, Method=method, ResourceType=resource_type)
    return response_headers(match, origin, request_headers=requested)


def actual(rules: list[dict[str, Any]] | None, origin: str, method: str) -> list[tuple[str, str]]:
    """Headers for a (non-preflight) request with ``Origin``: the first matching rule's, else none."""
    if not rules:
        return []
    match = find_rule(rules, origin, method)
    if match is None:
        return []
    return response_headers(match, origin)
