"""Which AWS service a request is for: X-Amz-Target, SigV4 scope, Host (virtual-hosted S3).

The operation itself is found by the service's codec (``ServiceProtocol``): by target for JSON
protocols, by the model's REST path templates otherwise.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from nimbus.sigv4 import Authorization, Scope, parse_authorization, parse_scope

# X-Amz-Target prefixes of the JSON-protocol services Nimbus serves (from their models' targetPrefix).
TARGET_PREFIXES: dict[str, str] = {
    "Firehose_20150804": "firehose",
    "GraniteServiceVersion20100801": "cloudwatch",
    "Kinesis_20131202": "kinesis",
    "Logs_20140328": "logs",
}

# SigV4 signing names -> served service (apigatewayv2 signs as "apigateway"; told apart by path).
SIGNING_NAMES: dict[str, str] = {
    "lambda": "lambda",
    "s3": "s3",
    "firehose": "firehose",
    "kinesis": "kinesis",
    "logs": "logs",
    "apigateway": "apigateway",
    "iam": "iam",
    "sts": "sts",
    "monitoring": "cloudwatch",
}

# The wire protocol of each served service (the codec's family decides error formats early).
PROTOCOLS: dict[str, str] = {
    "lambda": "rest-json",
    "s3": "rest-xml",
    "firehose": "json",
    "kinesis": "json",
    "logs": "json",
    "apigateway": "rest-json",
    "apigatewayv2": "rest-json",
    "iam": "query",
    "sts": "query",
    "cloudwatch": "smithy-rpc-v2-cbor",
}


def wire_protocol(service: str | None, headers: dict[str, str], query: list[tuple[str, str]], path: str) -> str:
    """The protocol a request speaks. One per service, except CloudWatch's model, which lists three:
    smithy-rpc-v2-cbor (botocore 1.44: ``/service/.../operation/...``), json (X-Amz-Target) and query
    (a form body or ``?Action=``, older SDKs and the AWS CLI v1)."""
    default = PROTOCOLS.get(service or "", "json")
    if default != "smithy-rpc-v2-cbor" or path.startswith("/service/"):
        return default
    if "x-amz-target" in headers:
        return "json"
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded") or any(k == "Action" for k, _ in query):
        return "query"
    return default


@dataclass(slots=True)
class Identified:
    service: str | None  # served service name, or None
    signing_service: str | None  # from the credential scope, when signed
    scope: Scope | None
    target: str | None
    bucket: str | None = None  # virtual-hosted S3 bucket (path must be prefixed with /bucket)
    authorization: Authorization | None = None  # the parsed Authorization header, for SigV4 to reuse


def split_host(host: str) -> str:
    """Host header without port."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


@lru_cache(maxsize=1024)
def virtual_bucket(hostname: str) -> str | None:
    """``bucket.s3.localhost``, ``bucket.s3.us-east-1.localhost``, ``bucket.s3.amazonaws.com``,
    or ``bucket.localhost`` (what botocore builds for a custom ``localhost`` endpoint). Cached: a server
    sees few host names, and telling an IP address apart costs microseconds per request.

    Host names are case-insensitive: ``MyBucket.S3.localhost`` is bucket ``mybucket``, as S3 resolves a
    virtual-hosted request for a name with capitals to the lower-cased bucket."""
    hostname = hostname.lower()
    if not hostname or _is_ip(hostname):
        return None
    labels = hostname.split(".")
    if len(labels) < 2:
        return None
    if ".s3." in f".{hostname}." and labels[0] != "s3":
        idx = labels.index("s3")
        if idx > 0:
            return ".".join(labels[:idx])
    if hostname.endswith(".localhost") and len(labels) >= 2:
        if labels[0] == "s3" or "execute-api" in labels or "lambda-url" in labels:
            return None  # s3.localhost, s3.<region>.localhost: the S3 endpoint itself (path-style)
        return ".".join(labels[:-1])
    return None


_LAMBDA_PREFIXES = ("/2015-03-31/", "/2016-08-19/", "/2017-03-31/", "/2017-10-31/", "/2018-10-31/", "/2019-09-25/",
                    "/2019-09-30/", "/2020-04-22/", "/2020-06-30/", "/2021-10-31/", "/2021-11-15/")
_APIGW_PREFIXES = ("/restapis", "/apikeys", "/usageplans", "/domainnames", "/account", "/apis")


def unsigned_service(path: str) -> str:
    """An unsigned request (no target, no signature): answer in the protocol of the API its path belongs
    to, so the client gets the auth error it understands; anything else is anonymous S3."""
    if path.startswith(_LAMBDA_PREFIXES):
        return "lambda"
    if path.startswith("/v2/"):
        return "apigatewayv2"
    if path.startswith("/service/GraniteServiceVersion20100801/"):
        return "cloudwatch"  # RPC v2 CBOR
    if path.startswith(_APIGW_PREFIXES):
        return "apigateway"
    return "s3"


def _is_query_request(headers: dict[str, str], query: list[tuple[str, str]], path: str) -> bool:
    """An unsigned query-protocol request (a form body, or ``/?Action=``): answered as STS, whose clients
    read the query protocol's XML errors (IAM's are the same document)."""
    if path != "/":
        return False
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return True
    return any(k == "Action" for k, _ in query)


def identify(headers: dict[str, str], query: list[tuple[str, str]], path: str, hostname: str) -> Identified:
    target = headers.get("x-amz-target")
    header = headers.get("authorization")
    authorization = parse_authorization(header) if header else None
    scope: Scope | None
    if authorization is not None:
        scope = authorization.scope
    elif header:
        scope = None
    else:
        scope = next((parse_scope(v) for k, v in query if k == "X-Amz-Credential"), None)
    signing = scope.service if scope else None
    service: str | None = None
    if target:
        service = TARGET_PREFIXES.get(target.split(".", 1)[0])
    if service is None and signing is not None:
        service = SIGNING_NAMES.get(signing)
        if service == "apigateway" and path.startswith("/v2/"):
            service = "apigatewayv2"
    if service is None and scope is None and not target:
        service = "sts" if _is_query_request(headers, query, path) else unsigned_service(path)
    bucket = None
    if service == "s3" or (service is None and signing is None):  # a request signed for another service is not S3
        bucket = virtual_bucket(hostname)
        if bucket is not None:
            service = "s3"
    return Identified(service, signing, scope, target, bucket, authorization)
