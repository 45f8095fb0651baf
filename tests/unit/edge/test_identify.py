"""Which service a request is for (nimbus.edge.identify): X-Amz-Target, the SigV4 credential scope (header or
presigned query), the path of an unsigned request, and the Host (virtual-hosted S3, trigger hosts).

Requests are signed and presigned by botocore itself, so the headers and query strings are the ones clients send.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nimbus.edge.identify import PROTOCOLS, identify, split_host, unsigned_service, virtual_bucket
from nimbus.sigv4 import Scope

AK, SK = "NKIAIDENTIFYTEST0001", "identify-secret"


def signed(method: str, url: str, service: str, region: str = "us-east-2", body: bytes = b"",
           headers: dict[str, str] | None = None) -> tuple[dict[str, str], list[tuple[str, str]], str, str]:
    """(lower-cased headers, query, path, hostname) of a request botocore signed with SigV4 for ``service``."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(AK, SK), service, region).add_auth(req)
    parts = urlsplit(url)
    hdrs = {k.lower(): v for k, v in req.headers.items()}
    hdrs.setdefault("host", parts.netloc)
    return hdrs, parse_qsl(parts.query, keep_blank_values=True), parts.path or "/", split_host(parts.netloc)


def presigned(url: str, service: str = "s3", region: str = "eu-west-1") -> tuple[dict[str, str], list[tuple[str, str]], str, str]:
    req = AWSRequest(method="GET", url=url)
    S3SigV4QueryAuth(Credentials(AK, SK), service, region, expires=300).add_auth(req)
    parts = urlsplit(req.url)
    return {"host": parts.netloc}, parse_qsl(parts.query, keep_blank_values=True), parts.path, split_host(parts.netloc)


# --- split_host -------------------------------------------------------------------------------------

@pytest.mark.parametrize("host,expected", [
    ("127.0.0.1:4566", "127.0.0.1"),
    ("127.0.0.1", "127.0.0.1"),
    ("10.1.2.3:80", "10.1.2.3"),
    ("localhost:4566", "localhost"),
    ("bucket.s3.localhost:4566", "bucket.s3.localhost"),
    ("bucket.s3.us-east-2.localhost:4566", "bucket.s3.us-east-2.localhost"),
    ("s3.amazonaws.com", "s3.amazonaws.com"),
    ("[::1]:4566", "::1"),
    ("[::1]", "::1"),
    ("::1", "::1"),  # a bare IPv6 address is not split at its last colon
    ("[fe80::1%eth0]:4566", "fe80::1%eth0"),
    ("", ""),
])
def test_split_host(host: str, expected: str) -> None:
    assert split_host(host) == expected


# --- virtual-hosted S3 --------------------------------------------------------------------------------

@pytest.mark.parametrize("hostname,bucket", [
    ("bucket.s3.localhost", "bucket"),
    ("bucket.s3.us-east-2.localhost", "bucket"),
    ("bucket.localhost", "bucket"),  # what botocore builds for endpoint_url=http://localhost:PORT
    ("my.dotted.bucket.s3.localhost", "my.dotted.bucket"),
    ("bucket.s3.amazonaws.com", "bucket"),
    ("bucket.s3.us-east-2.amazonaws.com", "bucket"),
    ("s3.amazonaws.com", None),
    ("s3.us-east-2.amazonaws.com", None),
    ("s3.localhost", None),  # the S3 endpoint itself (path-style), not a bucket named "s3"
    ("s3.us-east-2.localhost", None),
    ("localhost", None),
    ("127.0.0.1", None),
    ("10.0.0.7", None),
    ("::1", None),
    ("", None),
    ("nimbus.example.com", None),
    ("abc123.execute-api.localhost", None),  # API Gateway trigger hosts
    ("abc123.execute-api.us-east-1.localhost", None),
    ("abcdef.lambda-url.us-east-1.localhost", None),  # function URL hosts
])
def test_virtual_bucket(hostname: str, bucket: str | None) -> None:
    assert virtual_bucket(hostname) == bucket


@pytest.mark.parametrize("hostname,bucket", [
    # host names are case-insensitive: S3 resolves MyBucket.s3.amazonaws.com to the bucket "mybucket"
    ("Bucket.S3.localhost", "bucket"),
    ("MY.Dotted.BUCKET.s3.US-EAST-2.LOCALHOST", "my.dotted.bucket"),
    ("Bucket.LOCALHOST", "bucket"),
    ("Bucket.S3.Amazonaws.com", "bucket"),
    ("S3.LOCALHOST", None),
    ("S3.Us-East-2.Localhost", None),
    ("S3.AMAZONAWS.COM", None),
    ("ABC123.Execute-Api.Localhost", None),
    ("LOCALHOST", None),
    ("::FFFF:127.0.0.1", None),
])
def test_virtual_bucket_ignores_the_case_of_the_host(hostname: str, bucket: str | None) -> None:
    assert virtual_bucket(hostname) == bucket
    ident = identify({"host": hostname}, [], "/key", hostname)
    assert ident.bucket == bucket


def test_virtual_hosted_request_is_s3_with_its_bucket() -> None:
    for netloc in ("bucket.s3.localhost:4566", "bucket.s3.us-east-2.localhost:4566", "bucket.localhost:4566"):
        ident = identify(*signed("GET", f"http://{netloc}/some/key?x-id=GetObject", "s3"))
        assert (ident.service, ident.bucket, ident.signing_service) == ("s3", "bucket", "s3"), netloc
    ident = identify({"host": "bucket.s3.localhost:4566"}, [], "/key", "bucket.s3.localhost")  # anonymous
    assert (ident.service, ident.bucket, ident.scope) == ("s3", "bucket", None)


def test_path_style_s3_endpoint_hosts_have_no_bucket() -> None:
    for netloc in ("127.0.0.1:4566", "localhost:4566", "s3.localhost:4566", "s3.us-east-2.localhost:4566", "[::1]:4566"):
        ident = identify(*signed("GET", f"http://{netloc}/", "s3"))
        assert (ident.service, ident.bucket) == ("s3", None), netloc
        ident = identify(*signed("GET", f"http://{netloc}/bucket/key", "s3"))
        assert (ident.service, ident.bucket) == ("s3", None), netloc


def test_a_request_signed_for_another_service_is_not_virtual_hosted_s3() -> None:
    # an endpoint like http://dynamodb.localhost:4566 is a host name, not a bucket: the scope names the service
    ident = identify(*signed("POST", "http://dynamodb.localhost:4566/", "dynamodb", body=b"{}",
                             headers={"X-Amz-Target": "DynamoDB_20120810.ListTables"}))
    assert (ident.service, ident.bucket, ident.signing_service) == (None, None, "dynamodb")
    ident = identify(*signed("POST", "http://kinesis.localhost:4566/", "kinesis", body=b"{}",
                             headers={"X-Amz-Target": "Kinesis_20131202.ListStreams"}))
    assert (ident.service, ident.bucket) == ("kinesis", None)


# --- X-Amz-Target --------------------------------------------------------------------------------------

@pytest.mark.parametrize("target,service,signing", [
    ("Firehose_20150804.PutRecordBatch", "firehose", "firehose"),
    ("Kinesis_20131202.PutRecords", "kinesis", "kinesis"),
    ("Logs_20140328.PutLogEvents", "logs", "logs"),
])
def test_target_names_the_json_service(target: str, service: str, signing: str) -> None:
    ident = identify(*signed("POST", "http://127.0.0.1:4566/", signing, body=b"{}", headers={"X-Amz-Target": target}))
    assert (ident.service, ident.target, ident.signing_service, ident.bucket) == (service, target, signing, None)
    assert ident.scope == Scope(AK, ident.scope.date, "us-east-2", signing)
    assert ident.authorization is not None and ident.authorization.scope == ident.scope
    assert PROTOCOLS[service] == "json"
    # the target decides even without a signature (the edge then rejects the request as unsigned)
    unsigned = identify({"x-amz-target": target, "host": "127.0.0.1:4566"}, [], "/", "127.0.0.1")
    assert (unsigned.service, unsigned.scope, unsigned.signing_service) == (service, None, None)


def test_target_wins_over_the_scope_and_an_unknown_target_falls_back_to_it() -> None:
    ident = identify(*signed("POST", "http://127.0.0.1:4566/", "firehose", body=b"{}",
                             headers={"X-Amz-Target": "Kinesis_20131202.ListStreams"}))
    assert (ident.service, ident.signing_service) == ("kinesis", "firehose")
    ident = identify(*signed("POST", "http://127.0.0.1:4566/", "kinesis", body=b"{}",
                             headers={"X-Amz-Target": "Kinesis_20990101.ListStreams"}))
    assert ident.service == "kinesis"  # from the scope; the codec then answers UnknownOperationException


@pytest.mark.parametrize("target,signing", [
    ("DynamoDB_20120810.ListTables", "dynamodb"),
    ("AmazonSQS.ListQueues", "sqs"),
])
def test_unserved_json_services_are_identified_by_nothing(target: str, signing: str) -> None:
    ident = identify(*signed("POST", "http://127.0.0.1:4566/", signing, body=b"{}", headers={"X-Amz-Target": target}))
    assert (ident.service, ident.signing_service, ident.bucket) == (None, signing, None)


# --- the credential scope ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method,url,signing,service", [
    ("GET", "http://127.0.0.1:4566/2015-03-31/functions/", "lambda", "lambda"),
    ("GET", "http://127.0.0.1:4566/bucket?list-type=2", "s3", "s3"),
    ("GET", "http://127.0.0.1:4566/restapis", "apigateway", "apigateway"),
    ("GET", "http://127.0.0.1:4566/v2/apis", "apigateway", "apigatewayv2"),  # apigatewayv2 signs as apigateway
    ("POST", "http://127.0.0.1:4566/", "sqs", None),
    ("POST", "http://127.0.0.1:4566/", "sns", None),
])
def test_scope_in_the_authorization_header(method: str, url: str, signing: str, service: str | None) -> None:
    ident = identify(*signed(method, url, signing))
    assert (ident.service, ident.signing_service) == (service, signing)
    assert ident.scope is not None and (ident.scope.access_key, ident.scope.region) == (AK, "us-east-2")
    assert ident.authorization is not None and ident.authorization.signature


def test_scope_in_presigned_query_parameters() -> None:
    ident = identify(*presigned("http://127.0.0.1:4566/bucket/key.txt"))
    assert (ident.service, ident.signing_service, ident.bucket, ident.authorization) == ("s3", "s3", None, None)
    assert ident.scope is not None and (ident.scope.access_key, ident.scope.region) == (AK, "eu-west-1")
    ident = identify(*presigned("http://bucket.s3.localhost:4566/key.txt"))
    assert (ident.service, ident.bucket, ident.scope.region) == ("s3", "bucket", "eu-west-1")
    ident = identify(*presigned("http://127.0.0.1:4566/2015-03-31/functions/", service="lambda"))
    assert (ident.service, ident.signing_service) == ("lambda", "lambda")
    ident = identify(*presigned("http://127.0.0.1:4566/", service="dynamodb"))
    assert (ident.service, ident.signing_service) == (None, "dynamodb")


def test_an_authorization_header_wins_over_query_parameters() -> None:
    headers, _, path, hostname = signed("GET", "http://127.0.0.1:4566/2015-03-31/functions/", "lambda")
    query = [("X-Amz-Credential", f"{AK}/20240101/eu-west-1/s3/aws4_request")]
    ident = identify(headers, query, path, hostname)
    assert (ident.service, ident.scope.region) == ("lambda", "us-east-2")


def test_an_unparsable_authorization_header_has_no_scope() -> None:
    # a SigV2 header: no scope (and the query's is not looked at); the path decides, as for an unsigned request,
    # so an S3 client gets S3's own auth error
    headers = {"authorization": "AWS AKIDEXAMPLE:c2lnbmF0dXJl", "host": "127.0.0.1:4566"}
    ident = identify(headers, [("X-Amz-Credential", f"{AK}/20240101/eu-west-1/lambda/aws4_request")], "/bucket/key", "127.0.0.1")
    assert (ident.service, ident.scope, ident.signing_service, ident.authorization) == ("s3", None, None, None)
    ident = identify(headers, [], "/2015-03-31/functions/", "127.0.0.1")
    assert (ident.service, ident.scope) == ("lambda", None)
    ident = identify(headers, [], "/key", "bucket.s3.localhost")
    assert (ident.service, ident.bucket) == ("s3", "bucket")  # virtual-hosted: still S3 by its host


# --- unsigned requests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path,service", [
    ("/2015-03-31/functions/", "lambda"),
    ("/2015-03-31/functions/fn/invocations", "lambda"),
    ("/2021-10-31/functions/fn/url", "lambda"),
    ("/2018-10-31/layers", "lambda"),
    ("/restapis", "apigateway"),
    ("/restapis/abc/resources", "apigateway"),
    ("/apikeys", "apigateway"),
    ("/v2/apis", "apigatewayv2"),
    ("/", "s3"),
    ("/bucket", "s3"),
    ("/bucket/2015-03-31/key", "s3"),
    ("/v2", "s3"),  # a bucket named v2, not the apigatewayv2 prefix
])
def test_unsigned_service_by_path(path: str, service: str) -> None:
    assert unsigned_service(path) == service
    ident = identify({"host": "127.0.0.1:4566"}, [], path, "127.0.0.1")
    assert (ident.service, ident.scope, ident.signing_service, ident.bucket) == (service, None, None, None)


def test_every_identified_service_has_a_protocol() -> None:
    for path in ("/2015-03-31/functions/", "/restapis", "/v2/apis", "/"):
        assert unsigned_service(path) in PROTOCOLS
    assert {PROTOCOLS[s] for s in ("lambda", "s3", "firehose")} == {"rest-json", "rest-xml", "json"}
