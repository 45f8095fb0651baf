"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from nimbus.credentials import CredentialStore, Credentials
from nimbus import sigv4

AK, SK = "NKIAUNITTEST00000001", "unit-test-secret"


@pytest.fixture()
def store() -> CredentialStore:
    return CredentialStore(Credentials(AK, SK), "000000000000")


def _sign(method: str, url: str, body: bytes, service: str, headers: dict[str, str] | None = None, *, s3: bool = False, creds=None):
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    c = creds or BotoCredentials(AK, SK)
    (S3SigV4Auth if s3 else SigV4Auth)(c, service, "us-east-2").add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    return prepared, parts


def _verify(store, prepared, parts, body_sha=None, **kw):
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = parts.netloc
    return sigv4.verify(
        store,
        method=prepared.method,
        raw_path=parts.path or "/",
        raw_query=parts.query,
        headers=headers,
        body_sha256=None if body_sha == "stream" else body_sha if body_sha is not None else hashlib.sha256(prepared.body or b"").hexdigest(),
        **kw,
    )


def test_json_request_verifies(store):
    body = b'{"DeliveryStreamName":"s"}'
    p, parts = _sign("POST", "http://127.0.0.1:4566/", body, "firehose", {"X-Amz-Target": "Firehose_20150804.PutRecord"})
    ident = _verify(store, p, parts)
    assert ident.region == "us-east-2" and ident.service == "firehose"


def test_rest_path_with_special_characters_verifies(store):
    p, parts = _sign("GET", "http://127.0.0.1:4566/2015-03-31/functions/my%3Afn/configuration?Qualifier=%24LATEST", b"", "lambda")
    assert _verify(store, p, parts).service == "lambda"


def test_s3_key_with_unicode_and_spaces(store):
    url = "http://127.0.0.1:4566/bucket/a%20b/%C3%A9t%C3%A9/..%2Fx?tagging="
    p, parts = _sign("GET", url, b"", "s3", s3=True)
    assert _verify(store, p, parts).service == "s3"


def test_wrong_secret_rejected(store):
    p, parts = _sign("POST", "http://127.0.0.1:4566/", b"{}", "kinesis", creds=BotoCredentials(AK, "wrong"))
    with pytest.raises(sigv4.AuthError) as e:
        _verify(store, p, parts)
    assert e.value.kind == "bad_signature"


def test_unknown_key_rejected(store):
    p, parts = _sign("POST", "http://127.0.0.1:4566/", b"{}", "kinesis", creds=BotoCredentials("NKIAUNKNOWN", SK))
    with pytest.raises(sigv4.AuthError) as e:
        _verify(store, p, parts)
    assert e.value.kind == "unknown_key"


def test_tampered_body_rejected(store):
    p, parts = _sign("POST", "http://127.0.0.1:4566/", b'{"a":1}', "kinesis")
    with pytest.raises(sigv4.AuthError):
        _verify(store, p, parts, body_sha=hashlib.sha256(b'{"a":2}').hexdigest())


def test_stale_date_rejected(store):
    p, parts = _sign("POST", "http://127.0.0.1:4566/", b"{}", "kinesis")
    with pytest.raises(sigv4.AuthError) as e:
        _verify(store, p, parts, now=time.time() + 16 * 60)
    assert e.value.kind == "skewed"


def test_missing_auth(store):
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="GET", raw_path="/", raw_query="", headers={}, body_sha256=None)
    assert e.value.kind == "missing"


def test_session_token_required_for_temporary_keys(store):
    tmp = store.issue("function:x")
    good = BotoCredentials(tmp.access_key_id, tmp.secret_access_key, tmp.session_token)
    p, parts = _sign("POST", "http://127.0.0.1:4566/", b"{}", "kinesis", creds=good)
    assert _verify(store, p, parts).credentials.principal == "function:x"
    bad = BotoCredentials(tmp.access_key_id, tmp.secret_access_key, "forged")
    p, parts = _sign("POST", "http://127.0.0.1:4566/", b"{}", "kinesis", creds=bad)
    with pytest.raises(sigv4.AuthError):
        _verify(store, p, parts)


def test_presigned_url(store):
    req = AWSRequest(method="GET", url="http://127.0.0.1:4566/bucket/some%20key.txt", headers={})
    S3SigV4QueryAuth(BotoCredentials(AK, SK), "s3", "us-east-2", expires=60).add_auth(req)
    parts = urlsplit(req.url)
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers["host"] = "127.0.0.1:4566"
    ident = sigv4.verify(store, method="GET", raw_path=parts.path, raw_query=parts.query, headers=headers, body_sha256=None)
    assert ident.service == "s3"
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="GET", raw_path=parts.path, raw_query=parts.query, headers=headers, body_sha256=None, now=time.time() + 120)
    assert e.value.kind == "expired"
    tampered = parts.query.replace("X-Amz-Expires=60", "X-Amz-Expires=6000")
    with pytest.raises(sigv4.AuthError):
        sigv4.verify(store, method="GET", raw_path=parts.path, raw_query=tampered, headers=headers, body_sha256=None)


def _chunked(ident: sigv4.Identity, payload: bytes, chunk: int) -> bytes:
    """Encode like the AWS SDKs' STREAMING-AWS4-HMAC-SHA256-PAYLOAD."""
    import hmac

    out = bytearray()
    prev = ident.signature
    pieces = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for piece in pieces:
        sts = "\n".join(
            ("AWS4-HMAC-SHA256-PAYLOAD", ident.amz_date, ident.scope, prev, sigv4.EMPTY_SHA256, hashlib.sha256(piece).hexdigest())
        )
        sig = hmac.new(ident.signing_key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{len(piece):x};chunk-signature={sig}\r\n".encode() + piece + b"\r\n"
        prev = sig
    return bytes(out) + b""


def test_signed_aws_chunked_body(store):
    p, parts = _sign(
        "PUT", "http://127.0.0.1:4566/b/k", b"", "s3", {"x-amz-content-sha256": sigv4.STREAMING_SIGNED}, s3=True
    )
    ident = _verify(store, p, parts, body_sha="stream")
    payload = bytes(range(256)) * 300
    wire = _chunked(ident, payload, 8192)
    dec = sigv4.ChunkedDecoder(ident, signed=True)
    out = b"".join(dec.feed(wire[i : i + 1000]) for i in range(0, len(wire), 1000))
    dec.finish()
    assert out == payload
    bad = bytearray(wire)
    bad[200] ^= 1
    dec = sigv4.ChunkedDecoder(ident, signed=True)
    with pytest.raises(sigv4.AuthError):
        dec.feed(bytes(bad))
        dec.finish()


def test_unsigned_trailer_chunked_body():
    wire = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    dec = sigv4.ChunkedDecoder(None, signed=False)
    out = b"".join(dec.feed(wire[i : i + 3]) for i in range(0, len(wire), 3))
    assert out == b"hello world"
    assert dec.finish() == {"x-amz-checksum-crc32": "AAAAAA=="}


def test_sigv2_presigned_url(store):
    from botocore.auth import HmacV1QueryAuth

    req = AWSRequest(method="GET", url="http://127.0.0.1:4566/bucket/some%20key.txt?response-content-type=text%2Fplain", headers={})
    HmacV1QueryAuth(BotoCredentials(AK, SK), expires=60).add_auth(req)
    parts = urlsplit(req.url)
    headers = {"host": "127.0.0.1:4566"}
    ident = sigv4.verify(store, method="GET", raw_path=parts.path, raw_query=parts.query, headers=headers, body_sha256=None)
    assert ident.service == "s3"
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="GET", raw_path=parts.path, raw_query=parts.query, headers=headers, body_sha256=None, now=time.time() + 120)
    assert e.value.kind == "expired"
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="GET", raw_path="/bucket/other", raw_query=parts.query, headers=headers, body_sha256=None)
    assert e.value.kind == "bad_signature"
