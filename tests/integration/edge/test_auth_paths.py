"""Every SigV4 rejection path and payload mode of issue 2, end to end against a real server.

Requests are signed here by hand (the AWS SigV4 recipe, aws-contracts.md E.1-E.3), so that each one can be
broken in exactly one place: no signature, a malformed or SigV2 header, an unknown key, a wrong signature, a
date off by more than 15 minutes either way, a forged or missing session token, a wrong
x-amz-content-sha256, aws-chunked bodies with (tampered) chunk and trailer signatures, presigned URLs not
valid yet or valid for more than 7 days. Error responses are read with botocore's own parser for the
protocol, so the asserted code is what a boto3 ``ClientError`` carries; S3 bodies are also checked raw.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import pytest
from botocore.parsers import create_parser

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess
from tests.integration.lambda_.functions import create as create_function

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
BUCKET = "auth-paths"


# --- signing by hand ----------------------------------------------------------------------------


def _enc(s: str) -> str:
    return quote(s, safe="-_.~")


def _canonical_query(query: str) -> str:
    pairs = sorted(tuple(p.partition("=")[::2]) for p in query.split("&") if p)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        k = _hmac(k, part)
    return k


def _amz_date(when: datetime | None) -> str:
    return (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Signed:
    headers: dict[str, str]
    signature: str  # the seed signature of an aws-chunked body
    key: bytes
    amz_date: str
    scope: str


def sign(
    server: NimbusProcess, method: str, path: str, *, service: str, query: str = "", headers: dict[str, str] | None = None,
    body: bytes = b"", payload_hash: str | None = None, region: str = "us-east-1", access_key: str = ACCESS_KEY,
    secret: str = SECRET_KEY, token: str | None = None, when: datetime | None = None, scope_date: str | None = None,
) -> Signed:
    """SigV4 Authorization header over every header sent. ``path`` and ``query`` are sent as given
    (already encoded); S3 signs the path as sent, other services encode it once more. ``scope_date`` signs with
    the key and credential scope of another day than X-Amz-Date's."""
    amz_date = _amz_date(when)
    hdrs = {"host": f"127.0.0.1:{server.port}", "x-amz-date": amz_date}
    hdrs.update({k.lower(): v for k, v in (headers or {}).items()})
    if token is not None:
        hdrs["x-amz-security-token"] = token
    payload = payload_hash or hashlib.sha256(body).hexdigest()
    if service == "s3":
        hdrs["x-amz-content-sha256"] = payload
    signed = sorted(hdrs)
    uri = path if service == "s3" else quote(path, safe="/~")
    creq = "\n".join(
        [method, uri, _canonical_query(query), "".join(f"{h}:{hdrs[h].strip()}\n" for h in signed), ";".join(signed), payload]
    )
    day = scope_date or amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    key = _signing_key(secret, day, region, service)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    hdrs["authorization"] = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return Signed(hdrs, sig, key, amz_date, scope)


def presign(
    server: NimbusProcess, method: str, path: str, *, expires: int, when: datetime | None = None, region: str = "us-east-1",
) -> str:
    """An S3 SigV4 presigned path+query (signed headers: host; payload UNSIGNED-PAYLOAD)."""
    amz_date = _amz_date(when)
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    params = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{ACCESS_KEY}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(params.items()))
    creq = f"{method}\n{path}\n{query}\nhost:127.0.0.1:{server.port}\n\nhost\nUNSIGNED-PAYLOAD"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    sig = hmac.new(_signing_key(SECRET_KEY, amz_date[:8], region, "s3"), sts.encode(), hashlib.sha256).hexdigest()
    return f"{path}?{query}&X-Amz-Signature={sig}"


def chunk_signature(signed: Signed, prev: str, data: bytes) -> str:
    sts = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", signed.amz_date, signed.scope, prev, EMPTY_SHA256, hashlib.sha256(data).hexdigest()))
    return hmac.new(signed.key, sts.encode(), hashlib.sha256).hexdigest()


def aws_chunked(
    payload: bytes, size: int, signed: Signed | None = None, *, trailers: dict[str, str] | None = None,
    sign_trailer: bool = False, tamper_chunk: int | None = None, tamper_trailer: bool = False,
) -> bytes:
    """An aws-chunked body (S3 "Transferring payload in multiple chunks", "trailing headers"): with chunk
    signatures chained from the seed signature when ``signed``, else plain ``<hex size>\\r\\n`` frames."""
    out = bytearray()
    prev = signed.signature if signed else ""
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)] + [b""]
    for n, piece in enumerate(pieces):
        if signed is not None:
            sig = chunk_signature(signed, prev, piece)
            prev = sig
            if n == tamper_chunk:
                sig = ("0" if sig[0] != "0" else "1") + sig[1:]
            out += f"{len(piece):x};chunk-signature={sig}\r\n".encode()
        else:
            out += f"{len(piece):x}\r\n".encode()
        if piece:
            out += piece + b"\r\n"
    for name, value in (trailers or {}).items():
        out += f"{name}:{value}\r\n".encode()
    if sign_trailer:
        assert signed is not None
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted((trailers or {}).items()))
        sts = "\n".join(("AWS4-HMAC-SHA256-TRAILER", signed.amz_date, signed.scope, prev, hashlib.sha256(canonical.encode()).hexdigest()))
        sig = hmac.new(signed.key, sts.encode(), hashlib.sha256).hexdigest()
        if tamper_trailer:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        out += f"x-amz-trailer-signature:{sig}\r\n".encode()
    return bytes(out + b"\r\n")


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# --- sending and reading answers ---------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self, protocol: str) -> tuple[str, int]:
        """(code, status) as botocore parses this error response for the protocol."""
        parsed = create_parser(protocol).parse({"status_code": self.status, "headers": self.headers, "body": self.body}, None)
        return parsed["Error"]["Code"], self.status


def send(server: NimbusProcess, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        hdrs = {k: v for k, v in (headers or {}).items()}
        if not any(k.lower() == "host" for k in hdrs):
            hdrs["Host"] = f"127.0.0.1:{server.port}"
        conn.request(method, target, body=body if body or method in ("PUT", "POST") else None, headers=hdrs)
        resp = conn.getresponse()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


# --- the three protocols' cheapest calls ---------------------------------------------------------------

# name -> (botocore protocol, signing service, method, path, extra headers, body)
CALLS: dict[str, tuple[str, str, str, str, dict[str, str], bytes]] = {
    "json": ("json", "kinesis", "POST", "/", {"x-amz-target": "Kinesis_20131202.ListStreams",
                                              "content-type": "application/x-amz-json-1.1"}, b"{}"),
    "rest-json": ("rest-json", "lambda", "GET", "/2015-03-31/functions/", {}, b""),
    "rest-xml": ("rest-xml", "s3", "GET", "/", {}, b""),
}
PROTOCOLS = list(CALLS)


def call(server: NimbusProcess, name: str, **sign_kw: Any) -> Answer:
    """The protocol's list call, signed with ``sign_kw`` (or unsigned with ``unsigned=True``, or with an
    ``authorization`` header of the caller's own)."""
    _, service, method, path, extra, body = CALLS[name]
    unsigned = sign_kw.pop("unsigned", False)
    authorization = sign_kw.pop("authorization", None)
    if unsigned or authorization is not None:
        headers = dict(extra, **{"x-amz-date": _amz_date(None)})
        if authorization is not None:
            headers["authorization"] = authorization
        return send(server, method, path, headers, body)
    signed = sign(server, method, path, service=service, headers=extra, body=body, **sign_kw)
    return send(server, method, path, signed.headers, body)


def expect(answer: Answer, name: str, expected: dict[str, tuple[str, int]]) -> None:
    protocol = CALLS[name][0]
    assert answer.error(protocol) == expected[name], (answer.status, answer.headers, answer.body[:400])
    if protocol == "rest-xml":
        assert f"<Code>{expected[name][0]}</Code>".encode() in answer.body
        assert answer.headers.get("x-amz-request-id")
    else:
        assert answer.headers.get("x-amzn-requestid")


def s3_code(answer: Answer) -> str:
    return answer.error("rest-xml")[0]


@pytest.fixture(scope="module")
def s3(nimbus_server: NimbusProcess) -> Any:
    client = nimbus_server.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


# --- 1-3: no signature, malformed headers, unknown key, wrong signature, skew -----------------------


def test_signed_calls_pass(nimbus_server: NimbusProcess) -> None:
    """The hand signer is right: each protocol's call succeeds with it (so every rejection below is
    caused by the one thing each test breaks)."""
    for name in PROTOCOLS:
        answer = call(nimbus_server, name)
        assert answer.status == 200, (name, answer.body[:400])


@pytest.mark.parametrize("name", PROTOCOLS)
def test_no_signature(nimbus_server: NimbusProcess, name: str) -> None:
    expect(call(nimbus_server, name, unsigned=True), name, {
        "json": ("MissingAuthenticationTokenException", 400),
        "rest-json": ("MissingAuthenticationTokenException", 403),
        "rest-xml": ("AccessDenied", 403),
    })


MALFORMED = {
    "json": ("IncompleteSignatureException", 400),
    "rest-json": ("IncompleteSignatureException", 403),
    "rest-xml": ("AuthorizationHeaderMalformed", 400),
}


@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("header", [
    f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/us-east-1/kinesis/aws4_request",  # no SignedHeaders, Signature
    "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=00",
    f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/us-east-1, SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
    f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=not-hex",
], ids=["no-signature-part", "empty-credential", "short-scope", "non-hex-signature"])
def test_malformed_authorization_header(nimbus_server: NimbusProcess, name: str, header: str) -> None:
    expect(call(nimbus_server, name, authorization=header), name, MALFORMED)


@pytest.mark.parametrize("name", PROTOCOLS)
def test_sigv2_authorization_header(nimbus_server: NimbusProcess, name: str) -> None:
    """``AWS key:signature`` (SigV2): S3 answers as its SigV4-only regions do (InvalidRequest, "The
    authorization mechanism you have provided is not supported"); the JSON services see an incomplete
    SigV4 signature."""
    answer = call(nimbus_server, name, authorization=f"AWS {ACCESS_KEY}:{base64.b64encode(b'x' * 20).decode()}")
    expect(answer, name, dict(MALFORMED, **{"rest-xml": ("InvalidRequest", 400)}))
    if name == "rest-xml":
        assert b"Please use AWS4-HMAC-SHA256" in answer.body


@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("scheme", ["Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "Basic dXNlcjpwYXNz",
                                    "AWS4-HMAC-SHA25 Credential=x/20240101/us-east-1/s3/aws4_request"])
def test_authorization_scheme_that_is_not_aws(nimbus_server: NimbusProcess, name: str, scheme: str) -> None:
    """S3 answers another scheme with InvalidArgument "Unsupported Authorization Type", naming the header and its
    value; the JSON services with IncompleteSignatureException listing what an AWS4 header lacks."""
    answer = call(nimbus_server, name, authorization=scheme)
    expect(answer, name, dict(MALFORMED, **{"rest-xml": ("InvalidArgument", 400)}))
    if name == "rest-xml":
        parsed = create_parser("rest-xml").parse({"status_code": answer.status, "headers": answer.headers, "body": answer.body}, None)
        assert parsed["Error"]["Message"] == "Unsupported Authorization Type"
        assert (parsed["Error"]["ArgumentName"], parsed["Error"]["ArgumentValue"]) == ("Authorization", scheme)
    else:
        message = json.loads(answer.body).get("message") or json.loads(answer.body).get("Message")
        assert message.startswith("Authorization header requires '") and message.endswith(f"Authorization={scheme}"), message


@pytest.mark.parametrize("name", PROTOCOLS)
def test_credential_scope_date_other_than_the_request_date(nimbus_server: NimbusProcess, name: str) -> None:
    """A signature right in itself, made with the key of another day than X-Amz-Date's, is refused: S3's
    AuthorizationHeaderMalformed "Invalid credential date", InvalidSignatureException elsewhere."""
    now = datetime.now(timezone.utc)
    other_day = (now - timedelta(days=1)).strftime("%Y%m%d")
    answer = call(nimbus_server, name, when=now, scope_date=other_day)
    expect(answer, name, {
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
        "rest-xml": ("AuthorizationHeaderMalformed", 400),
    })
    if name == "rest-xml":
        assert (b"<Message>The authorization header is malformed; Invalid credential date. Date is not the same as "
                b"X-Amz-Date.</Message>") in answer.body
    else:
        message = json.loads(answer.body).get("message") or json.loads(answer.body).get("Message")
        amz_date = _amz_date(now)
        assert message == ("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                           f"'{other_day}' != '{amz_date[:8]}', from '{amz_date}'."), message
    # the scope's day given explicitly, the same as X-Amz-Date's: accepted
    assert call(nimbus_server, name, when=now, scope_date=_amz_date(now)[:8]).status == 200


JSON_SERVICES = [
    ("kinesis", "Kinesis_20131202.ListStreams"),
    ("firehose", "Firehose_20150804.ListDeliveryStreams"),
    ("logs", "Logs_20140328.DescribeLogGroups"),
]


@pytest.mark.parametrize("service,target", JSON_SERVICES, ids=[s for s, _ in JSON_SERVICES])
def test_json_services_answer_auth_failures_with_400(nimbus_server: NimbusProcess, service: str, target: str) -> None:
    """Kinesis, Firehose and Logs answer every auth failure with HTTP 400 (observed on AWS; the Common Errors pages'
    403 for MissingAuthenticationToken is the query protocol's)."""
    headers = {"x-amz-target": target, "content-type": "application/x-amz-json-1.1"}

    def attempt(**kw: Any) -> tuple[str, int]:
        signed = sign(nimbus_server, "POST", "/", service=service, headers=headers, body=b"{}", **kw)
        return send(nimbus_server, "POST", "/", signed.headers, b"{}").error("json")

    ok = sign(nimbus_server, "POST", "/", service=service, headers=headers, body=b"{}")
    assert send(nimbus_server, "POST", "/", ok.headers, b"{}").status == 200
    unsigned = send(nimbus_server, "POST", "/", dict(headers, **{"x-amz-date": _amz_date(None)}), b"{}")
    assert unsigned.error("json") == ("MissingAuthenticationTokenException", 400)
    bearer = send(nimbus_server, "POST", "/", dict(headers, authorization="Bearer x"), b"{}")
    assert bearer.error("json") == ("IncompleteSignatureException", 400)
    assert attempt(access_key="NKIADOESNOTEXIST0000") == ("UnrecognizedClientException", 400)
    assert attempt(secret="not-the-secret") == ("InvalidSignatureException", 400)
    assert attempt(when=datetime.now(timezone.utc) - timedelta(minutes=20)) == ("InvalidSignatureException", 400)
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y%m%d")
    assert attempt(scope_date=yesterday) == ("InvalidSignatureException", 400)


@pytest.mark.parametrize("name", PROTOCOLS)
def test_unknown_access_key(nimbus_server: NimbusProcess, name: str) -> None:
    answer = call(nimbus_server, name, access_key="NKIADOESNOTEXIST0000")
    expect(answer, name, {
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "rest-xml": ("InvalidAccessKeyId", 403),
    })


BAD_SIGNATURE = {
    "json": ("InvalidSignatureException", 400),
    "rest-json": ("InvalidSignatureException", 403),
    "rest-xml": ("SignatureDoesNotMatch", 403),
}


@pytest.mark.parametrize("name", PROTOCOLS)
def test_wrong_signature(nimbus_server: NimbusProcess, name: str) -> None:
    expect(call(nimbus_server, name, secret="not-the-secret"), name, BAD_SIGNATURE)
    # the right key, signed for another region than the one the server recomputes with: still verified
    assert call(nimbus_server, name, region="eu-west-1").status == 200
    # a signature over other headers than those sent
    _, service, method, path, extra, body = CALLS[name]
    signed = sign(nimbus_server, method, path, service=service, headers=dict(extra, **{"x-amz-meta-a": "1"}), body=body)
    signed.headers["x-amz-meta-a"] = "2"
    expect(send(nimbus_server, method, path, signed.headers, body), name, BAD_SIGNATURE)


SKEWED = {
    "json": ("InvalidSignatureException", 400),
    "rest-json": ("InvalidSignatureException", 403),
    "rest-xml": ("RequestTimeTooSkewed", 403),
}


@pytest.mark.parametrize("name", PROTOCOLS)
@pytest.mark.parametrize("minutes", [-16, 16, -60 * 24, 60 * 24], ids=["past-16m", "future-16m", "past-1d", "future-1d"])
def test_date_skew(nimbus_server: NimbusProcess, name: str, minutes: int) -> None:
    answer = call(nimbus_server, name, when=datetime.now(timezone.utc) + timedelta(minutes=minutes))
    expect(answer, name, SKEWED)
    if name != "rest-xml":
        message = json.loads(answer.body).get("message") or json.loads(answer.body).get("Message")
        assert message.startswith("Signature expired" if minutes < 0 else "Signature not yet current"), message


@pytest.mark.parametrize("name", PROTOCOLS)
def test_small_skew_is_accepted(nimbus_server: NimbusProcess, name: str) -> None:
    for minutes in (-10, 10):
        assert call(nimbus_server, name, when=datetime.now(timezone.utc) + timedelta(minutes=minutes)).status == 200


# --- 4: temporary credentials (the scoped keys a function environment gets) --------------------------


KEYS_HANDLER = """
import os
def handler(event, context):
    return {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
"""


@pytest.fixture(scope="module")
def function_keys(nimbus_server: NimbusProcess) -> dict[str, str]:
    """The ASIA key, secret and session token of a real function environment, as its code sees them."""
    lam = nimbus_server.client("lambda")
    create_function(lam, "auth-paths-keys", KEYS_HANDLER)
    out = lam.invoke(FunctionName="auth-paths-keys", Payload=b"{}")
    keys = json.loads(out["Payload"].read())
    assert keys["AWS_ACCESS_KEY_ID"].startswith("ASIA") and keys["AWS_SESSION_TOKEN"], keys
    assert keys["AWS_SECRET_ACCESS_KEY"] != SECRET_KEY
    return keys


@pytest.mark.parametrize("name", PROTOCOLS)
def test_temporary_credentials_need_their_session_token(nimbus_server: NimbusProcess, function_keys: dict[str, str], name: str) -> None:
    ak, sk, token = function_keys["AWS_ACCESS_KEY_ID"], function_keys["AWS_SECRET_ACCESS_KEY"], function_keys["AWS_SESSION_TOKEN"]
    assert call(nimbus_server, name, access_key=ak, secret=sk, token=token).status == 200
    # a forged token: the key exists, its token does not match
    expect(call(nimbus_server, name, access_key=ak, secret=sk, token=token[:-4] + "AAAA"), name, {
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "rest-xml": ("InvalidToken", 400),
    })
    # no token at all: a temporary key id alone is not a key AWS knows
    expect(call(nimbus_server, name, access_key=ak, secret=sk), name, {
        "json": ("UnrecognizedClientException", 400),
        "rest-json": ("UnrecognizedClientException", 403),
        "rest-xml": ("InvalidAccessKeyId", 403),
    })
    # the root key with a session token it was never issued: root keys have none to match
    assert call(nimbus_server, name, token=token).status == 200


def test_temporary_credentials_through_boto3(nimbus_server: NimbusProcess, function_keys: dict[str, str]) -> None:
    ak, sk, token = function_keys["AWS_ACCESS_KEY_ID"], function_keys["AWS_SECRET_ACCESS_KEY"], function_keys["AWS_SESSION_TOKEN"]
    for service, op, forged_code, status in (("kinesis", "list_streams", "UnrecognizedClientException", 400),
                                               ("lambda", "list_functions", "UnrecognizedClientException", 403),
                                               ("s3", "list_buckets", "InvalidToken", 400)):
        getattr(nimbus_server.client(service, access_key=ak, secret_key=sk, aws_session_token=token), op)()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            getattr(nimbus_server.client(service, access_key=ak, secret_key=sk, aws_session_token="forged"), op)()
        assert (e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (forged_code, status)


# --- 5: x-amz-content-sha256 that does not match the body ----------------------------------------------


def test_content_sha256_mismatch_buffered_body(nimbus_server: NimbusProcess, s3: Any) -> None:
    """A non-streaming operation (PutBucketTagging): the body is read, then the declared hash checked."""
    path, query = f"/{BUCKET}", "tagging="
    body = b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>'
    other = hashlib.sha256(body + b" ").hexdigest()
    signed = sign(nimbus_server, "PUT", path, service="s3", query=query, body=body, payload_hash=other)
    answer = send(nimbus_server, "PUT", f"{path}?{query}", signed.headers, body)
    assert (s3_code(answer), answer.status) == ("XAmzContentSHA256Mismatch", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket=BUCKET)
    assert e.value.response["Error"]["Code"] == "NoSuchTagSet"


def test_content_sha256_mismatch_streamed_put_object(nimbus_server: NimbusProcess, s3: Any) -> None:
    """PutObject streams its body: the hash is checked when the body ends, and nothing is stored."""
    path = f"/{BUCKET}/sha-mismatch"
    body = bytes(range(256)) * 1024
    signed = sign(nimbus_server, "PUT", path, service="s3", body=body, payload_hash=hashlib.sha256(body[:-1]).hexdigest())
    answer = send(nimbus_server, "PUT", path, signed.headers, body)
    assert (s3_code(answer), answer.status) == ("XAmzContentSHA256Mismatch", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=BUCKET, Key="sha-mismatch")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # an object that exists keeps its bytes when a replacement fails the check
    s3.put_object(Bucket=BUCKET, Key="sha-mismatch", Body=b"original")
    answer = send(nimbus_server, "PUT", path, signed.headers, body)
    assert s3_code(answer) == "XAmzContentSHA256Mismatch"
    assert s3.get_object(Bucket=BUCKET, Key="sha-mismatch")["Body"].read() == b"original"


def test_content_sha256_mismatch_json(nimbus_server: NimbusProcess) -> None:
    """A JSON service that is sent (and signed) an x-amz-content-sha256 of another body."""
    _, service, method, path, extra, body = CALLS["json"]
    signed = sign(nimbus_server, method, path, service=service, body=body,
                  headers=dict(extra, **{"x-amz-content-sha256": hashlib.sha256(b"{ }").hexdigest()}))
    assert send(nimbus_server, method, path, signed.headers, body).error("json") == ("InvalidSignatureException", 400)


@pytest.mark.parametrize("value", ["abc", "unsigned-payload", "STREAMING-BOGUS", "z" * 64])
def test_content_sha256_that_is_no_hash_nor_marker(nimbus_server: NimbusProcess, s3: Any, value: str) -> None:
    """Anything but a SHA-256 or one of the four markers would leave the body unchecked: S3's InvalidArgument."""
    path = f"/{BUCKET}/bad-marker"
    signed = sign(nimbus_server, "PUT", path, service="s3", body=b"x", payload_hash=value)
    answer = send(nimbus_server, "PUT", path, signed.headers, b"x")
    assert (s3_code(answer), answer.status) == ("InvalidArgument", 400), answer.body
    assert f"<ArgumentName>x-amz-content-sha256</ArgumentName><ArgumentValue>{value}</ArgumentValue>".encode() in answer.body
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key="bad-marker")


# --- 6: payload modes ---------------------------------------------------------------------------------


def test_unsigned_payload_put_object(nimbus_server: NimbusProcess, s3: Any) -> None:
    path = f"/{BUCKET}/unsigned-payload"
    body = b"unsigned payload \x00\xff" * 1000
    signed = sign(nimbus_server, "PUT", path, service="s3", payload_hash="UNSIGNED-PAYLOAD")
    answer = send(nimbus_server, "PUT", path, signed.headers, body)
    assert answer.status == 200, answer.body
    assert s3.get_object(Bucket=BUCKET, Key="unsigned-payload")["Body"].read() == body
    # the body is not part of the signature, but the headers still are
    bad = sign(nimbus_server, "PUT", path, service="s3", payload_hash="UNSIGNED-PAYLOAD", secret="wrong")
    assert s3_code(send(nimbus_server, "PUT", path, bad.headers, body)) == "SignatureDoesNotMatch"


def _streaming_headers(payload: bytes, **extra: str) -> dict[str, str]:
    return {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload)), **extra}


def _put_chunked(server: NimbusProcess, key: str, payload: bytes, *, content_sha: str = STREAMING, **chunk_kw: Any) -> Answer:
    path = f"/{BUCKET}/{key}"
    extra = {"x-amz-trailer": "x-amz-checksum-crc32"} if chunk_kw.get("trailers") else {}
    headers = _streaming_headers(payload, **extra)
    signed = sign(server, "PUT", path, service="s3", headers=headers, payload_hash=content_sha)
    wire = aws_chunked(payload, 8192, signed if content_sha != UNSIGNED_TRAILER else None, **chunk_kw)
    return send(server, "PUT", path, signed.headers, wire)


def test_streaming_signed_put_object(nimbus_server: NimbusProcess, s3: Any) -> None:
    payload = bytes(range(256)) * 100 + b"tail"  # 25,604 bytes: three full 8 KiB chunks and a short one
    answer = _put_chunked(nimbus_server, "chunked", payload)
    assert answer.status == 200, answer.body
    got = s3.get_object(Bucket=BUCKET, Key="chunked")
    assert got["Body"].read() == payload
    assert got["ContentLength"] == len(payload)
    assert "aws-chunked" not in (got.get("ContentEncoding") or "")


@pytest.mark.parametrize("chunk", [0, 2, 4], ids=["first", "middle", "final-empty"])
def test_streaming_tampered_chunk_signature_stores_nothing(nimbus_server: NimbusProcess, s3: Any, chunk: int) -> None:
    payload = bytes(range(256)) * 100 + b"tail"
    key = f"chunked-tampered-{chunk}"
    answer = _put_chunked(nimbus_server, key, payload, tamper_chunk=chunk)
    assert (s3_code(answer), answer.status) == ("SignatureDoesNotMatch", 403), answer.body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=BUCKET, Key=key)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_streaming_tampered_chunk_data_stores_nothing(nimbus_server: NimbusProcess, s3: Any) -> None:
    payload = b"a" * 20000
    path = f"/{BUCKET}/chunked-data-tampered"
    signed = sign(nimbus_server, "PUT", path, service="s3", headers=_streaming_headers(payload), payload_hash=STREAMING)
    wire = bytearray(aws_chunked(payload, 8192, signed))
    wire[wire.index(b"a") + 10] = ord("b")  # the bytes change, the signatures do not
    answer = send(nimbus_server, "PUT", path, signed.headers, bytes(wire))
    assert (s3_code(answer), answer.status) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key="chunked-data-tampered")


def test_streaming_signed_trailer_put_object(nimbus_server: NimbusProcess, s3: Any) -> None:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks, then a CRC32 trailer signed with
    x-amz-trailer-signature. The checksum is stored; a tampered trailer signature, or a trailer checksum
    changed without re-signing, is refused and stores nothing."""
    payload = b"trailer " * 3000
    crc = crc32_b64(payload)
    answer = _put_chunked(nimbus_server, "trailer", payload, content_sha=STREAMING_TRAILER,
                          trailers={"x-amz-checksum-crc32": crc}, sign_trailer=True)
    assert answer.status == 200, answer.body
    assert answer.headers.get("x-amz-checksum-crc32") == crc
    got = s3.get_object(Bucket=BUCKET, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload and got["ChecksumCRC32"] == crc

    answer = _put_chunked(nimbus_server, "trailer-bad-sig", payload, content_sha=STREAMING_TRAILER,
                          trailers={"x-amz-checksum-crc32": crc}, sign_trailer=True, tamper_trailer=True)
    assert (s3_code(answer), answer.status) == ("SignatureDoesNotMatch", 403), answer.body
    # a trailer without its signature
    answer = _put_chunked(nimbus_server, "trailer-unsigned", payload, content_sha=STREAMING_TRAILER,
                          trailers={"x-amz-checksum-crc32": crc})
    assert (s3_code(answer), answer.status) == ("SignatureDoesNotMatch", 403), answer.body
    for key in ("trailer-bad-sig", "trailer-unsigned"):
        with pytest.raises(botocore.exceptions.ClientError):
            s3.head_object(Bucket=BUCKET, Key=key)


def test_streaming_unsigned_trailer_put_object(nimbus_server: NimbusProcess, s3: Any) -> None:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER (what boto3 sends over https): plain chunks, a CRC32 trailer
    checked against the bytes."""
    payload = b"plain chunks " * 2000
    answer = _put_chunked(nimbus_server, "unsigned-trailer", payload, content_sha=UNSIGNED_TRAILER,
                          trailers={"x-amz-checksum-crc32": crc32_b64(payload)})
    assert answer.status == 200, answer.body
    assert s3.get_object(Bucket=BUCKET, Key="unsigned-trailer")["Body"].read() == payload
    answer = _put_chunked(nimbus_server, "unsigned-trailer-bad", payload, content_sha=UNSIGNED_TRAILER,
                          trailers={"x-amz-checksum-crc32": crc32_b64(payload + b"x")})
    assert (s3_code(answer), answer.status) == ("BadDigest", 400), answer.body
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket=BUCKET, Key="unsigned-trailer-bad")


@pytest.mark.parametrize("content_sha", [STREAMING, STREAMING_TRAILER, UNSIGNED_TRAILER])
@pytest.mark.parametrize("declared_delta", [-1, 1, -20000], ids=["one-less", "one-more", "far-less"])
def test_decoded_content_length_that_disagrees_with_the_body(nimbus_server: NimbusProcess, s3: Any, content_sha: str,
                                                             declared_delta: int) -> None:
    """x-amz-decoded-content-length must be what the aws-chunked body decodes to: S3's IncompleteBody (400) with both
    counts, and nothing stored (nor an existing object replaced)."""
    payload = b"decoded length " * 1500  # 22,500 bytes: three chunks of 8 KiB
    key = f"decoded-length-{content_sha.lower()}-{declared_delta}"
    path = f"/{BUCKET}/{key}"
    declared = len(payload) + declared_delta
    trailers = {"x-amz-checksum-crc32": crc32_b64(payload)} if content_sha != STREAMING else None
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(declared)}
    if trailers:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    for attempt in ("new", "replacement"):
        signed = sign(nimbus_server, "PUT", path, service="s3", headers=headers, payload_hash=content_sha)
        wire = aws_chunked(payload, 8192, None if content_sha == UNSIGNED_TRAILER else signed, trailers=trailers,
                           sign_trailer=content_sha == STREAMING_TRAILER)
        answer = send(nimbus_server, "PUT", path, signed.headers, wire)
        assert (s3_code(answer), answer.status) == ("IncompleteBody", 400), answer.body
        assert ("<Message>You did not provide the number of bytes specified by the Content-Length HTTP header</Message>"
                f"<NumberBytesExpected>{declared}</NumberBytesExpected>"
                f"<NumberBytesProvided>{len(payload)}</NumberBytesProvided>").encode() in answer.body, answer.body
        if attempt == "new":
            with pytest.raises(botocore.exceptions.ClientError) as e:
                s3.head_object(Bucket=BUCKET, Key=key)
            assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"original")
        else:
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"original"


TAGGING = (b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>'
           b"<Tag><Key>mode</Key><Value>aws-chunked</Value></Tag></TagSet></Tagging>")


@pytest.mark.parametrize("mode", ["signed", "unsigned-trailer", "tampered"])
def test_aws_chunked_body_on_a_buffered_operation(nimbus_server: NimbusProcess, s3: Any, mode: str) -> None:
    """PutBucketTagging is not a streaming operation: its aws-chunked body is read whole, then decoded
    (chunk signatures verified) before the XML is parsed."""
    bucket = f"auth-paths-tagging-{mode}"
    s3.create_bucket(Bucket=bucket)
    path, query = f"/{bucket}", "tagging="
    content_sha = UNSIGNED_TRAILER if mode == "unsigned-trailer" else STREAMING
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(TAGGING))}
    trailers = None
    if mode == "unsigned-trailer":
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
        trailers = {"x-amz-checksum-crc32": crc32_b64(TAGGING)}
    signed = sign(nimbus_server, "PUT", path, service="s3", query=query, headers=headers, payload_hash=content_sha)
    wire = aws_chunked(TAGGING, 40, None if mode == "unsigned-trailer" else signed, trailers=trailers,
                       tamper_chunk=1 if mode == "tampered" else None)
    answer = send(nimbus_server, "PUT", f"{path}?{query}", signed.headers, wire)
    if mode == "tampered":
        assert (s3_code(answer), answer.status) == ("SignatureDoesNotMatch", 403), answer.body
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.get_bucket_tagging(Bucket=bucket)
        assert e.value.response["Error"]["Code"] == "NoSuchTagSet"
        return
    assert answer.status in (200, 204), answer.body
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "mode", "Value": "aws-chunked"}]


def test_decoded_content_length_mismatch_on_a_buffered_operation(nimbus_server: NimbusProcess, s3: Any) -> None:
    bucket = "auth-paths-tagging-decoded-length"
    s3.create_bucket(Bucket=bucket)
    path, query = f"/{bucket}", "tagging="
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(TAGGING) + 5)}
    signed = sign(nimbus_server, "PUT", path, service="s3", query=query, headers=headers, payload_hash=STREAMING)
    answer = send(nimbus_server, "PUT", f"{path}?{query}", signed.headers, aws_chunked(TAGGING, 40, signed))
    assert (s3_code(answer), answer.status) == ("IncompleteBody", 400), answer.body
    assert (f"<NumberBytesExpected>{len(TAGGING) + 5}</NumberBytesExpected>"
            f"<NumberBytesProvided>{len(TAGGING)}</NumberBytesProvided>").encode() in answer.body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchTagSet"


def test_aws_chunked_body_truncated_on_a_buffered_operation(nimbus_server: NimbusProcess, s3: Any) -> None:
    path, query = f"/{BUCKET}", "tagging="
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(TAGGING))}
    signed = sign(nimbus_server, "PUT", path, service="s3", query=query, headers=headers, payload_hash=STREAMING)
    wire = aws_chunked(TAGGING, 40, signed)
    cut = wire[: wire.rindex(b"0;chunk-signature=")]  # no final chunk
    answer = send(nimbus_server, "PUT", f"{path}?{query}", signed.headers, cut)
    assert answer.status == 400 and s3_code(answer) in ("AuthorizationHeaderMalformed", "IncompleteBody"), answer.body


# --- 7: presigned URLs ----------------------------------------------------------------------------------


def test_presigned_url_validity_window(nimbus_server: NimbusProcess, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="presigned", Body=b"presigned body")
    path = f"/{BUCKET}/presigned"
    now = datetime.now(timezone.utc)
    # valid: now, and the longest validity AWS allows (7 days)
    for expires in (60, 604800):
        answer = send(nimbus_server, "GET", presign(nimbus_server, "GET", path, expires=expires))
        assert answer.status == 200 and answer.body == b"presigned body", answer.body
    # signed 20 minutes from now: not valid yet
    answer = send(nimbus_server, "GET", presign(nimbus_server, "GET", path, expires=3600, when=now + timedelta(minutes=20)))
    assert (s3_code(answer), answer.status) == ("AccessDenied", 403), answer.body
    assert b"Request is not valid yet" in answer.body
    # signed an hour ago for 60 s: expired
    answer = send(nimbus_server, "GET", presign(nimbus_server, "GET", path, expires=60, when=now - timedelta(hours=1)))
    assert (s3_code(answer), answer.status) == ("AccessDenied", 403) and b"Request has expired" in answer.body
    # longer than 7 days, or negative: the query parameters are in error, whatever the signature
    for expires in (604801, 10**9, -1):
        answer = send(nimbus_server, "GET", presign(nimbus_server, "GET", path, expires=expires))
        assert (s3_code(answer), answer.status) == ("AuthorizationQueryParametersError", 400), (expires, answer.body)
    # a presigned URL without its X-Amz-Date
    url = presign(nimbus_server, "GET", path, expires=60)
    no_date = "&".join(p for p in url.split("&") if not p.startswith("X-Amz-Date="))
    answer = send(nimbus_server, "GET", no_date)
    assert (s3_code(answer), answer.status) == ("AuthorizationQueryParametersError", 400), answer.body
