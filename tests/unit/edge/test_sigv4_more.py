"""SigV4 failure kinds and their codes per protocol, temporary credentials, presigned URL windows and
aws-chunked trailers, against nimbus.sigv4 directly (the integration twin is
tests/integration/edge/test_auth_paths.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from nimbus import sigv4
from nimbus.credentials import CredentialStore, Credentials

AK, SK = "NKIAUNITTEST00000002", "unit-test-secret-2"
URL = "http://127.0.0.1:4566/"


@pytest.fixture()
def store() -> CredentialStore:
    return CredentialStore(Credentials(AK, SK), "000000000000")


def _headers(req: AWSRequest) -> dict[str, str]:
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers["host"] = "127.0.0.1:4566"
    return headers


def _verify_signed(store: CredentialStore, creds: BotoCredentials, *, service: str = "kinesis", now: float | None = None,
                   body: bytes = b"{}") -> sigv4.Identity:
    req = AWSRequest(method="POST", url=URL, data=body, headers={"X-Amz-Target": "Kinesis_20131202.ListStreams"})
    (S3SigV4Auth if service == "s3" else SigV4Auth)(creds, service, "us-east-1").add_auth(req)
    return sigv4.verify(store, method="POST", raw_path="/", raw_query="", headers=_headers(req),
                        body_sha256=hashlib.sha256(body).hexdigest(), now=now)


def _kind(fn) -> str:
    with pytest.raises(sigv4.AuthError) as e:
        fn()
    return e.value.kind


# --- the kind -> code tables ---------------------------------------------------------------------


@pytest.mark.parametrize("kind,json_code,s3_code,s3_status", [
    ("missing", "MissingAuthenticationTokenException", "AccessDenied", 403),
    ("malformed", "IncompleteSignatureException", "AuthorizationHeaderMalformed", 400),
    ("query_malformed", "IncompleteSignatureException", "AuthorizationQueryParametersError", 400),
    ("unsupported", "IncompleteSignatureException", "InvalidRequest", 400),
    ("unknown_key", "UnrecognizedClientException", "InvalidAccessKeyId", 403),
    ("bad_token", "UnrecognizedClientException", "InvalidToken", 400),
    ("bad_signature", "InvalidSignatureException", "SignatureDoesNotMatch", 403),
    ("skewed", "InvalidSignatureException", "RequestTimeTooSkewed", 403),
    ("expired", "InvalidSignatureException", "AccessDenied", 403),
    ("content_sha", "InvalidSignatureException", "XAmzContentSHA256Mismatch", 400),
    ("bad_payload_hash", "InvalidSignatureException", "InvalidArgument", 400),
    ("unsupported_type", "IncompleteSignatureException", "InvalidArgument", 400),
    ("scope_date", "InvalidSignatureException", "AuthorizationHeaderMalformed", 400),
])
def test_every_kind_has_a_code_in_every_protocol(kind: str, json_code: str, s3_code: str, s3_status: int) -> None:
    err = sigv4.AuthError(kind, "m")
    assert (sigv4.auth_error_for(err, "json").code, sigv4.auth_error_for(err, "json").status) == (json_code, 400)
    assert (sigv4.auth_error_for(err, "rest-json").code, sigv4.auth_error_for(err, "rest-json").status) == (json_code, 403)
    assert (sigv4.auth_error_for(err, "rest-xml").code, sigv4.auth_error_for(err, "rest-xml").status) == (s3_code, s3_status)


def test_s3_messages_are_s3s() -> None:
    assert "does not exist in our records" in sigv4.auth_error_for(sigv4.AuthError("unknown_key", "x"), "rest-xml").message
    assert sigv4.auth_error_for(sigv4.AuthError("bad_token", "x"), "rest-xml").message == (
        "The provided token is malformed or otherwise invalid.")


# --- temporary credentials --------------------------------------------------------------------------


def test_temporary_key_token_checks(store: CredentialStore) -> None:
    tmp = store.issue("function:f")
    ok = _verify_signed(store, BotoCredentials(tmp.access_key_id, tmp.secret_access_key, tmp.session_token))
    assert ok.credentials.principal == "function:f"
    forged = BotoCredentials(tmp.access_key_id, tmp.secret_access_key, tmp.session_token + "x")
    assert _kind(lambda: _verify_signed(store, forged)) == "bad_token"
    missing = BotoCredentials(tmp.access_key_id, tmp.secret_access_key)
    assert _kind(lambda: _verify_signed(store, missing)) == "unknown_key"
    # another environment's token with this key
    other = store.issue("function:g")
    swapped = BotoCredentials(tmp.access_key_id, tmp.secret_access_key, other.session_token)
    assert _kind(lambda: _verify_signed(store, swapped)) == "bad_token"


def test_temporary_key_expires_and_revokes(store: CredentialStore) -> None:
    tmp = store.issue("function:f", ttl_seconds=60)
    creds = BotoCredentials(tmp.access_key_id, tmp.secret_access_key, tmp.session_token)
    assert _verify_signed(store, creds).credentials.access_key_id == tmp.access_key_id
    # past its lifetime the key is unknown (the signature's own date is 2 minutes old: within the skew window)
    assert _kind(lambda: _verify_signed(store, creds, now=time.time() + 120)) == "unknown_key"
    tmp2 = store.issue("function:f")
    store.revoke(tmp2.access_key_id)
    revoked = BotoCredentials(tmp2.access_key_id, tmp2.secret_access_key, tmp2.session_token)
    assert _kind(lambda: _verify_signed(store, revoked)) == "unknown_key"
    store.revoke(AK)  # the root key cannot be revoked
    assert _verify_signed(store, BotoCredentials(AK, SK)).credentials.principal == "root"


def test_temporary_key_on_presigned_urls(store: CredentialStore) -> None:
    tmp = store.issue("function:f")

    def presigned(token: str | None) -> sigv4.Identity:
        req = AWSRequest(method="GET", url="http://127.0.0.1:4566/b/k", headers={})
        S3SigV4QueryAuth(BotoCredentials(tmp.access_key_id, tmp.secret_access_key, token), "s3", "us-east-1", expires=60).add_auth(req)
        parts = urlsplit(req.url)
        return sigv4.verify(store, method="GET", raw_path=parts.path, raw_query=parts.query, headers=_headers(req), body_sha256=None)

    assert presigned(tmp.session_token).credentials.principal == "function:f"
    assert _kind(lambda: presigned("forged")) == "bad_token"
    assert _kind(lambda: presigned(None)) == "unknown_key"


# --- header forms and dates -------------------------------------------------------------------------


def _with_auth(store: CredentialStore, auth: str) -> str:
    headers = {"host": "h", "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "authorization": auth}
    return _kind(lambda: sigv4.verify(store, method="GET", raw_path="/", raw_query="", headers=headers, body_sha256=sigv4.EMPTY_SHA256))


def test_header_forms(store: CredentialStore) -> None:
    assert _with_auth(store, f"AWS {AK}:c2lnbmF0dXJl") == "unsupported"
    assert _with_auth(store, "Bearer abc") == "unsupported_type"
    assert _with_auth(store, "Basic dXNlcjpwYXNz") == "unsupported_type"
    assert _with_auth(store, f"AWS4-HMAC-SHA25 Credential={AK}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, "
                             f"Signature={'0' * 64}") == "unsupported_type"  # a misspelt algorithm is another scheme
    assert _with_auth(store, "   ") == "unsupported_type"
    assert _with_auth(store, f"AWS4-HMAC-SHA256 Credential={AK}/20240101/us-east-1/s3/aws4_request") == "malformed"
    assert _with_auth(store, f"AWS4-HMAC-SHA256 Credential={AK}/20240101/s3/aws4_request, SignedHeaders=host, Signature=00") == "malformed"
    # no date header at all
    auth = f"AWS4-HMAC-SHA256 Credential={AK}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
    headers = {"host": "h", "authorization": auth}
    assert _kind(lambda: sigv4.verify(store, method="GET", raw_path="/", raw_query="", headers=headers, body_sha256=None)) == "malformed"


def test_skew_both_ways_with_messages(store: CredentialStore) -> None:
    creds = BotoCredentials(AK, SK)
    _verify_signed(store, creds, now=time.time() + 14 * 60)
    _verify_signed(store, creds, now=time.time() - 14 * 60)
    with pytest.raises(sigv4.AuthError) as e:
        _verify_signed(store, creds, now=time.time() + 16 * 60)
    assert e.value.kind == "skewed" and e.value.message.startswith("Signature expired:")
    with pytest.raises(sigv4.AuthError) as e:
        _verify_signed(store, creds, now=time.time() - 16 * 60)
    assert e.value.kind == "skewed" and e.value.message.startswith("Signature not yet current:")


def test_unknown_key_is_told_before_skew(store: CredentialStore) -> None:
    assert _kind(lambda: _verify_signed(store, BotoCredentials("NKIANOPE", SK), now=time.time() + 3600)) == "unknown_key"


# --- a scheme that is not AWS's; the credential scope's date ----------------------------------------------


def _auth_error(store: CredentialStore, headers: dict[str, str]) -> sigv4.AuthError:
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="GET", raw_path="/", raw_query="", headers=headers, body_sha256=sigv4.EMPTY_SHA256)
    return e.value


def test_unsupported_authorization_type_per_protocol(store: CredentialStore) -> None:
    """S3: InvalidArgument "Unsupported Authorization Type" naming the header and its value; the JSON services:
    IncompleteSignatureException listing what an AWS4 header lacks, then the header."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    err = _auth_error(store, {"host": "h", "x-amz-date": amz_date, "authorization": "Bearer abc.def"})
    assert (err.kind, err.value) == ("unsupported_type", "Bearer abc.def")
    s3 = sigv4.auth_error_for(err, "rest-xml")
    assert (s3.code, s3.status, s3.message) == ("InvalidArgument", 400, "Unsupported Authorization Type")
    assert s3.fields == {"ArgumentName": "Authorization", "ArgumentValue": "Bearer abc.def"}
    for protocol, status in (("json", 400), ("rest-json", 403)):
        other = sigv4.auth_error_for(err, protocol)
        assert (other.code, other.status, other.fields) == ("IncompleteSignatureException", status, {})
        assert other.message == ("Authorization header requires 'Credential' parameter. Authorization header requires "
                                 "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
                                 "Authorization=Bearer abc.def")
    # without a date header that is missing too
    err = _auth_error(store, {"host": "h", "authorization": "Bearer x"})
    assert "requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer x" in err.message


def _signed_with_scope_date(store: CredentialStore, scope_date: str, date_header: dict[str, str]) -> dict[str, str]:
    """A request signed with a key and scope of ``scope_date`` while its date header says another time: a signature
    that is right in itself, the one thing wrong being the day."""
    headers = {"host": "h", **date_header}
    amz_date = date_header.get("x-amz-date") or date_header["date"]
    signed = sorted(headers)
    creq = "\n".join(["GET", "/", "", "".join(f"{h}:{headers[h]}\n" for h in signed), ";".join(signed), sigv4.EMPTY_SHA256])
    scope = f"{scope_date}/us-east-1/kinesis/aws4_request"
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    sig = hmac.new(sigv4.signing_key(SK, scope_date, "us-east-1", "kinesis"), sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return headers


def test_scope_date_must_be_the_day_of_the_request(store: CredentialStore) -> None:
    now = time.time()
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    today = amz_date[:8]
    yesterday = time.strftime("%Y%m%d", time.gmtime(now - 86400))
    # the same day verifies (the hand signer is right)
    assert sigv4.verify(store, method="GET", raw_path="/", raw_query="", body_sha256=sigv4.EMPTY_SHA256,
                        headers=_signed_with_scope_date(store, today, {"x-amz-date": amz_date})).service == "kinesis"
    err = _auth_error(store, _signed_with_scope_date(store, yesterday, {"x-amz-date": amz_date}))
    assert err.kind == "scope_date"
    assert err.message == (f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                           f"'{yesterday}' != '{today}', from '{amz_date}'.")
    s3 = sigv4.auth_error_for(err, "rest-xml")
    assert (s3.code, s3.status, s3.message) == (
        "AuthorizationHeaderMalformed", 400,
        "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
    assert (sigv4.auth_error_for(err, "json").code, sigv4.auth_error_for(err, "json").status) == ("InvalidSignatureException", 400)
    # an HTTP Date header instead of X-Amz-Date: compared by its UTC day, told in its ISO-8601 form
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
    err = _auth_error(store, _signed_with_scope_date(store, yesterday, {"date": http_date}))
    assert err.kind == "scope_date" and err.message.endswith(f"'{yesterday}' != '{today}', from '{amz_date}'.")
    # an unknown key is still told first
    headers = _signed_with_scope_date(store, yesterday, {"x-amz-date": amz_date})
    headers["authorization"] = headers["authorization"].replace(AK, "NKIANOPE")
    assert _auth_error(store, headers).kind == "unknown_key"


def test_bad_payload_hash_names_its_value(store: CredentialStore) -> None:
    req = AWSRequest(method="PUT", url="http://127.0.0.1:4566/b/k", data=b"x", headers={"X-Amz-Content-SHA256": "abc"})
    SigV4Auth(BotoCredentials(AK, SK), "s3", "us-east-1").add_auth(req)
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="PUT", raw_path="/b/k", raw_query="", headers=_headers(req), body_sha256=None)
    err = sigv4.auth_error_for(e.value, "rest-xml")
    assert (err.code, err.fields) == ("InvalidArgument", {"ArgumentName": "x-amz-content-sha256", "ArgumentValue": "abc"})


# --- presigned URL windows --------------------------------------------------------------------------


def _presigned_query(expires: int) -> tuple[str, str, dict[str, str]]:
    req = AWSRequest(method="GET", url="http://127.0.0.1:4566/b/k", headers={})
    S3SigV4QueryAuth(BotoCredentials(AK, SK), "s3", "us-east-1", expires=expires).add_auth(req)
    parts = urlsplit(req.url)
    return parts.path, parts.query, _headers(req)


def _verify_query(store: CredentialStore, path: str, query: str, headers: dict[str, str]) -> sigv4.Identity:
    return sigv4.verify(store, method="GET", raw_path=path, raw_query=query, headers=headers, body_sha256=None)


@pytest.mark.parametrize("expires,kind", [(604800, None), (604801, "query_malformed"), (-1, "query_malformed")])
def test_presigned_expires_bounds(store: CredentialStore, expires: int, kind: str | None) -> None:
    path, query, headers = _presigned_query(expires)

    def run() -> sigv4.Identity:
        return sigv4.verify(store, method="GET", raw_path=path, raw_query=query, headers=headers, body_sha256=None)

    if kind is None:
        assert run().service == "s3"
    else:
        assert _kind(run) == kind


def test_presigned_not_valid_yet(store: CredentialStore) -> None:
    path, query, headers = _presigned_query(3600)
    # the server's clock 20 minutes behind the signer's
    with pytest.raises(sigv4.AuthError) as e:
        sigv4.verify(store, method="GET", raw_path=path, raw_query=query, headers=headers, body_sha256=None, now=time.time() - 20 * 60)
    assert e.value.kind == "expired" and e.value.message == "Request is not valid yet"
    assert sigv4.auth_error_for(e.value, "rest-xml").code == "AccessDenied"
    # within 15 minutes: accepted
    sigv4.verify(store, method="GET", raw_path=path, raw_query=query, headers=headers, body_sha256=None, now=time.time() - 10 * 60)


@pytest.mark.parametrize("drop", ["X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"])
def test_presigned_missing_parameter(store: CredentialStore, drop: str) -> None:
    path, query, headers = _presigned_query(60)
    query = "&".join(p for p in query.split("&") if not p.startswith(drop + "="))
    if drop == "X-Amz-Credential":
        query += "&X-Amz-Signature=00"  # still recognisably presigned
    assert _kind(lambda: _verify_query(store, path, query, headers)) == "query_malformed"


def test_presigned_wrong_algorithm(store: CredentialStore) -> None:
    path, query, headers = _presigned_query(60)
    query = query.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256")
    assert _kind(lambda: _verify_query(store, path, query, headers)) == "query_malformed"


# --- aws-chunked: signed trailers --------------------------------------------------------------------


def _streaming_identity(store: CredentialStore, content_sha: str) -> sigv4.Identity:
    """The identity of a streaming PutObject; plain SigV4Auth signs the x-amz-content-sha256 header's marker
    as the payload hash (S3SigV4Auth would replace it)."""
    req = AWSRequest(method="PUT", url="http://127.0.0.1:4566/b/k", data=b"", headers={"X-Amz-Content-SHA256": content_sha})
    SigV4Auth(BotoCredentials(AK, SK), "s3", "us-east-1").add_auth(req)
    return sigv4.verify(store, method="PUT", raw_path="/b/k", raw_query="", headers=_headers(req), body_sha256=None)


def _sig(ident: sigv4.Identity, sts: str) -> str:
    return hmac.new(ident.signing_key, sts.encode(), hashlib.sha256).hexdigest()


def _signed_trailer_body(ident: sigv4.Identity, payload: bytes, trailers: dict[str, str], *, size: int = 1000) -> bytes:
    out = bytearray()
    prev = ident.signature
    for piece in [payload[i : i + size] for i in range(0, len(payload), size)] + [b""]:
        prev = _sig(ident, "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", ident.amz_date, ident.scope, prev, sigv4.EMPTY_SHA256,
                                      hashlib.sha256(piece).hexdigest())))
        out += f"{len(piece):x};chunk-signature={prev}\r\n".encode() + (piece + b"\r\n" if piece else b"")
    canonical = "".join(f"{k}:{v}\n" for k, v in sorted(trailers.items()))
    tsig = _sig(ident, "\n".join(("AWS4-HMAC-SHA256-TRAILER", ident.amz_date, ident.scope, prev,
                                  hashlib.sha256(canonical.encode()).hexdigest())))
    for k, v in trailers.items():
        out += f"{k}:{v}\r\n".encode()
    return bytes(out) + f"x-amz-trailer-signature:{tsig}\r\n\r\n".encode()


def _decode(ident: sigv4.Identity, wire: bytes, step: int) -> tuple[bytes, dict[str, str]]:
    dec = sigv4.ChunkedDecoder(ident, signed=True)
    out = b"".join(dec.feed(wire[i : i + step]) for i in range(0, len(wire), step))
    return out, dec.finish()


@pytest.mark.parametrize("step", [1, 7, 4096, 10**6])
def test_signed_trailer_verifies_in_any_feed_size(store: CredentialStore, step: int) -> None:
    ident = _streaming_identity(store, sigv4.STREAMING_SIGNED_TRAILER)
    payload = bytes(range(256)) * 10
    wire = _signed_trailer_body(ident, payload, {"x-amz-checksum-crc32": "AAAAAA=="})
    out, trailers = _decode(ident, wire, step)
    assert out == payload and trailers["x-amz-checksum-crc32"] == "AAAAAA=="


def test_signed_trailer_rejections(store: CredentialStore) -> None:
    ident = _streaming_identity(store, sigv4.STREAMING_SIGNED_TRAILER)
    payload = b"p" * 2500
    wire = _signed_trailer_body(ident, payload, {"x-amz-checksum-crc32": "AAAAAA=="})
    # the checksum changed after signing
    changed = wire.replace(b"x-amz-checksum-crc32:AAAAAA==", b"x-amz-checksum-crc32:BBBBBB==")
    assert _kind(lambda: _decode(ident, changed, 100)) == "bad_signature"
    # the trailer signature left out
    head, _, _ = wire.rpartition(b"x-amz-trailer-signature:")
    assert _kind(lambda: _decode(ident, head + b"\r\n", 100)) == "bad_signature"
    # the body ends before the trailer's closing empty line: the signature was never checked
    assert _kind(lambda: _decode(ident, wire[:-2], 100)) == "malformed"


def test_unsigned_and_plain_streaming_need_no_trailer_signature(store: CredentialStore) -> None:
    ident = _streaming_identity(store, sigv4.STREAMING_SIGNED)
    assert ident.payload_hash == sigv4.STREAMING_SIGNED
    wire = _signed_trailer_body(ident, b"q" * 1500, {})
    head, _, _ = wire.rpartition(b"x-amz-trailer-signature:")
    out, _ = _decode(ident, head + b"\r\n", 50)  # STREAMING-AWS4-HMAC-SHA256-PAYLOAD: no trailer to sign
    assert out == b"q" * 1500
    out, trailers = _decode(ident, head + b"\r\n", 10**6)
    assert trailers == {}
