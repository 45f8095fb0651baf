"""SigV4 verification: Authorization headers, presigned query strings, and aws-chunked bodies.

The canonical request is rebuilt from what came over the wire (raw path, raw query), the way
botocore builds it: non-S3 services sign the path URI-encoded once more, S3 signs it as sent.
Failures raise ``AuthError`` carrying a *kind*; ``auth_error_for`` turns the kind into the code
and status the calling protocol's clients expect (aws-contracts.md 0.4, E.1, E.2).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import NamedTuple
from datetime import datetime, timezone
from urllib.parse import quote, unquote

from nimbus.credentials import CredentialStore, Credentials
from nimbus.errors import ServiceError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_S = 15 * 60
MAX_PRESIGNED_EXPIRES_S = 7 * 24 * 3600
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_S3_PAYLOAD_MARKERS = frozenset((UNSIGNED, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER))

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*SignedHeaders=(?P<sh>[^,\s]+)\s*,\s*Signature=(?P<sig>[0-9a-fA-F]+)"
)
_SPACES = re.compile(r"\s+")


class AuthError(Exception):
    """kind: missing | malformed | query_malformed | unsupported | unsupported_type | scope_date | unknown_key
    | bad_signature | skewed | expired | bad_token | content_sha | bad_payload_hash. ``value`` is the offending
    header value, where S3 reports it (ArgumentValue)."""

    def __init__(self, kind: str, message: str, value: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.value = value


class Scope(NamedTuple):
    access_key: str
    date: str
    region: str
    service: str


@dataclass(slots=True)
class Identity:
    credentials: Credentials
    region: str
    service: str
    payload_hash: str  # as signed: hex, UNSIGNED-PAYLOAD or a STREAMING-* marker
    signature: str
    signing_key: bytes
    amz_date: str
    scope: str


_scope_cache: dict[str, Scope | None] = {}


def parse_scope(credential: str) -> Scope | None:
    # A client sends the same credential scope on every request of a day: parse each one once.
    found = _scope_cache.get(credential, _MISSING)
    if found is not _MISSING:
        return found  # type: ignore[return-value]
    parts = credential.split("/")
    scope = Scope(parts[0], parts[1], parts[2], parts[3]) if len(parts) == 5 and parts[4] == "aws4_request" else None
    if len(_scope_cache) > 4096:
        _scope_cache.clear()
    _scope_cache[credential] = scope
    return scope


_MISSING = object()


class Authorization(NamedTuple):
    """A parsed ``AWS4-HMAC-SHA256`` Authorization header (parsed once per request, by the edge)."""

    credential: str
    signed_headers: str  # as sent, e.g. "host;x-amz-date"
    signature: str
    scope: Scope | None  # None when the credential is not a valid scope


_FAST_PREFIX = "AWS4-HMAC-SHA256 Credential="
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_authorization(auth: str) -> Authorization | None:
    # The form every SDK sends ("AWS4-HMAC-SHA256 Credential=c, SignedHeaders=h, Signature=s") is split
    # without the regex; anything else (other spacing, odd forms) goes through the regex.
    if auth.startswith(_FAST_PREFIX):
        parts = auth[len(_FAST_PREFIX) :].split(", ")
        if len(parts) == 3:
            cred, sh, sig = parts
            if (
                sh.startswith("SignedHeaders=") and sig.startswith("Signature=") and cred and sh[14:] and sig[10:]
                and " " not in cred and " " not in sh and "," not in cred and "," not in sh
                and _HEX.issuperset(sig[10:])
            ):
                return Authorization(cred, sh[14:], sig[10:], parse_scope(cred))
    m = _AUTH_RE.match(auth.strip())
    if not m:
        return None
    cred, sh, sig = m.group("cred", "sh", "sig")
    return Authorization(cred, sh, sig, parse_scope(cred))


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    ck = (secret, date, region, service)
    key = _key_cache.get(ck)
    if key is None:
        k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
        k = hmac.new(k, region.encode(), hashlib.sha256).digest()
        k = hmac.new(k, service.encode(), hashlib.sha256).digest()
        key = hmac.new(k, b"aws4_request", hashlib.sha256).digest()
        if len(_key_cache) > 1024:
            _key_cache.clear()
        _key_cache[ck] = key
    return key


def _uri_encode(s: str) -> str:
    return quote(s, safe="-_.~")


def _remove_dot_segments(path: str) -> str:
    if "/." not in path and "//" not in path:
        return path or "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    res = "/" + "/".join(out)
    if path.endswith("/") and res != "/":
        res += "/"
    return res


_uri_cache: dict[str, str] = {}


def canonical_uri(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    uri = _uri_cache.get(raw_path)
    if uri is None:
        uri = quote(_remove_dot_segments(raw_path), safe="/~")
        if len(_uri_cache) > 4096:
            _uri_cache.clear()
        _uri_cache[raw_path] = uri
    return uri


def canonical_query(raw_query: str, *, exclude_signature: bool = False) -> str:
    if not raw_query:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k = _uri_encode(unquote(k))
        if exclude_signature and k == "X-Amz-Signature":
            continue
        pairs.append((k, _uri_encode(unquote(v))))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_headers(headers: dict[str, str], signed: list[str]) -> str:
    try:
        text = "".join([f"{name}:{headers[name].strip()}\n" for name in signed])
    except KeyError as e:
        raise AuthError("bad_signature", f"signed header {e.args[0]} is missing") from None
    if "  " in text or "\t" in text:
        text = "".join([f"{name}:{_SPACES.sub(' ', headers[name].strip())}\n" for name in signed])
    if not text.isascii():
        # The edge decodes header bytes as latin-1; SDKs send (and sign) non-ASCII values as UTF-8.
        # Sign what the client signed: the bytes read as UTF-8 when they are UTF-8, else as latin-1.
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
    return text


_date_cache: dict[str, float] = {}


def _parse_amz_date(value: str) -> float:
    ts = _date_cache.get(value)
    if ts is not None:
        return ts
    if len(value) == 16 and value[8] == "T" and value[15] == "Z" and value[:8].isdigit() and value[9:15].isdigit():
        try:
            ts = float(
                calendar.timegm(
                    (int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]), int(value[11:13]), int(value[13:15]), 0, 0, 0)
                )
            )
        except (ValueError, OverflowError) as e:
            raise AuthError("malformed", f"invalid date {value!r}") from e
        if len(_date_cache) > 4096:
            _date_cache.clear()
        _date_cache[value] = ts
        return ts
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError) as e:
        raise AuthError("malformed", f"invalid date {value!r}") from e


def verify(
    store: CredentialStore,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body_sha256: str | None,
    now: float | None = None,
    resource_path: str | None = None,
    default_region: str = "us-east-1",
    authorization: Authorization | None = None,
) -> Identity:
    """Verify a request. ``body_sha256`` is the hex digest of the body when it was read, or None
    when the body is streamed (then the signed x-amz-content-sha256 is trusted here and checked
    by the body reader at the end). ``authorization`` is the already parsed Authorization header,
    when the caller has it."""
    now = time.time() if now is None else now
    auth = headers.get("authorization")
    if auth:
        return _verify_header(store, method, raw_path, raw_query, headers, body_sha256, now, auth, authorization)
    if "X-Amz-Signature=" in raw_query or "X-Amz-Credential=" in raw_query:
        return _verify_presigned(store, method, raw_path, raw_query, headers, now)
    if "Signature=" in raw_query and "AWSAccessKeyId=" in raw_query:
        return _verify_v2_query(store, method, resource_path or raw_path, raw_query, headers, now, default_region)
    raise AuthError("missing", "Request is missing Authentication Token")


def _lookup(store: CredentialStore, scope: Scope, headers: dict[str, str], token: str | None, now: float) -> Credentials:
    creds = store.lookup(scope.access_key, now)
    if creds is None:
        raise AuthError("unknown_key", "The security token included in the request is invalid.")
    if creds.session_token is not None and token != creds.session_token:
        # without its token a temporary key id is not a key at all (S3: InvalidAccessKeyId); a wrong one is a bad token
        raise AuthError("bad_token" if token else "unknown_key", "The security token included in the request is invalid.")
    return creds


def _verify_header(
    store: CredentialStore,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body_sha256: str | None,
    now: float,
    auth: str,
    parsed: Authorization | None = None,
) -> Identity:
    if parsed is None:
        parsed = parse_authorization(auth)
    if parsed is None:
        if auth.startswith("AWS "):
            raise AuthError("unsupported", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
        if (auth.split(None, 1) or [""])[0] != ALGORITHM:
            # another scheme ("Bearer x", "Basic ...", a misspelt algorithm): S3's InvalidArgument "Unsupported
            # Authorization Type"; the JSON services list what an AWS4 header lacks (as for any unparsable one)
            missing = "".join(
                f"Authorization header requires '{name}' parameter. " for name in ("Credential", "Signature", "SignedHeaders")
                if f"{name}=" not in auth
            )
            if not (headers.get("x-amz-date") or headers.get("date")):
                missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            raise AuthError("unsupported_type", f"{missing}Authorization={auth}", value=auth)
        raise AuthError("malformed", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.")
    scope = parsed.scope
    if scope is None:
        raise AuthError("malformed", f"Credential should be scoped to a valid region: {parsed.credential}")
    amz_date = headers.get("x-amz-date") or headers.get("date")
    if not amz_date:
        raise AuthError("malformed", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    ts = _parse_amz_date(amz_date)
    creds = _lookup(store, scope, headers, headers.get("x-amz-security-token"), now)
    iso = amz_date if len(amz_date) == 16 and amz_date[8] == "T" else time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ts))
    day = iso[:8]
    if scope.date != day:
        # the key is derived from the scope's date and the string to sign carries X-Amz-Date: AWS wants both the same day
        raise AuthError(
            "scope_date",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope.date}' != '{day}', "
            f"from '{iso}'.",
        )
    if abs(now - ts) > MAX_SKEW_S:
        stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        if ts < now:
            bound = datetime.fromtimestamp(now - MAX_SKEW_S, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            raise AuthError("skewed", f"Signature expired: {amz_date} is now earlier than {bound} ({stamp} - 15 min.)")
        bound = datetime.fromtimestamp(now + MAX_SKEW_S, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        raise AuthError("skewed", f"Signature not yet current: {amz_date} is still later than {bound} ({stamp} + 15 min.)")
    signed_text = parsed.signed_headers.lower()
    payload_hash = headers.get("x-amz-content-sha256")
    if payload_hash is None:
        payload_hash = body_sha256 if body_sha256 is not None else EMPTY_SHA256
    elif body_sha256 is not None and len(payload_hash) == 64 and payload_hash.lower() != body_sha256:
        raise AuthError("content_sha", "The provided 'x-amz-content-sha256' header does not match what was computed.")
    if scope.service == "s3" and payload_hash not in _S3_PAYLOAD_MARKERS and (len(payload_hash) != 64 or not _HEX.issuperset(payload_hash)):
        # anything else would leave the body unchecked (S3: InvalidArgument)
        raise AuthError(
            "bad_payload_hash",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
            value=payload_hash,
        )
    canonical_q = canonical_query(raw_query) if raw_query else ""
    return _check_v4(
        creds, scope, method, raw_path, canonical_q, headers, signed_text.split(";"), payload_hash, amz_date, parsed.signature,
        signed_text,
    )


def _verify_presigned(
    store: CredentialStore, method: str, raw_path: str, raw_query: str, headers: dict[str, str], now: float
) -> Identity:
    q: dict[str, str] = {}
    for part in raw_query.split("&"):
        k, _, v = part.partition("=")
        q[unquote(k)] = unquote(v)
    if q.get("X-Amz-Algorithm") != ALGORITHM:
        raise AuthError("query_malformed", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    for req in ("X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"):
        if req not in q:
            raise AuthError("query_malformed", f"Query-string authentication requires the {req} parameter")
    scope = parse_scope(q["X-Amz-Credential"])
    if scope is None:
        raise AuthError("query_malformed", "Error parsing the X-Amz-Credential parameter")
    try:
        expires = int(q.get("X-Amz-Expires", str(MAX_PRESIGNED_EXPIRES_S)))
    except ValueError as e:
        raise AuthError("query_malformed", "X-Amz-Expires should be a number") from e
    if expires < 0:
        raise AuthError("query_malformed", "X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGNED_EXPIRES_S:
        raise AuthError(
            "query_malformed",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than "
            f"{MAX_PRESIGNED_EXPIRES_S} seconds",
        )
    creds = _lookup(store, scope, headers, q.get("X-Amz-Security-Token"), now)
    amz_date = q["X-Amz-Date"]
    ts = _parse_amz_date(amz_date)
    if now > ts + expires:
        raise AuthError("expired", "Request has expired")
    if ts - now > MAX_SKEW_S:
        raise AuthError("expired", "Request is not valid yet")  # S3: AccessDenied, not RequestTimeTooSkewed
    signed = q["X-Amz-SignedHeaders"].lower().split(";")
    payload_hash = headers.get("x-amz-content-sha256", UNSIGNED) if scope.service == "s3" else UNSIGNED
    if scope.service != "s3":
        payload_hash = EMPTY_SHA256 if method in ("GET", "HEAD", "DELETE") else UNSIGNED
    canonical_q = canonical_query(raw_query, exclude_signature=True)
    return _check_v4(creds, scope, method, raw_path, canonical_q, headers, signed, payload_hash, amz_date, q["X-Amz-Signature"])


def _check_v4(
    creds: Credentials, scope: Scope, method: str, raw_path: str, canonical_q: str, headers: dict[str, str],
    signed: list[str], payload_hash: str, amz_date: str, given: str, signed_text: str | None = None,
) -> Identity:
    """Rebuild the canonical request and string to sign; compare with the signature the client sent."""
    creq = (
        f"{method}\n{canonical_uri(raw_path, scope.service)}\n{canonical_q}\n{canonical_headers(headers, signed)}\n"
        f"{signed_text if signed_text is not None else ';'.join(signed)}\n{payload_hash}"
    )
    cscope = f"{scope.date}/{scope.region}/{scope.service}/aws4_request"
    sts = f"{ALGORITHM}\n{amz_date}\n{cscope}\n{_sha256(creq.encode()).hexdigest()}"
    key = signing_key(creds.secret_access_key, scope.date, scope.region, scope.service)
    sig = given.lower()
    if not _compare(hmac_sha256_hex(key, sts.encode()), sig):
        raise AuthError(
            "bad_signature",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    return Identity(creds, scope.region, scope.service, payload_hash, sig, key, amz_date, cscope)


_sha256 = hashlib.sha256
_compare = hmac.compare_digest
_pads: dict[bytes, tuple["hashlib._Hash", "hashlib._Hash"]] = {}


def hmac_sha256_hex(key: bytes, msg: bytes) -> str:
    """HMAC-SHA256 (RFC 2104) from the key's inner and outer hash states, computed once per signing key:
    about a third of the cost of ``hmac.digest`` per signature (and per aws-chunked chunk)."""
    pads = _pads.get(key)
    if pads is None:
        block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
        pads = (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))
        if len(_pads) > 1024:
            _pads.clear()
        _pads[key] = pads
    inner = pads[0].copy()
    inner.update(msg)
    outer = pads[1].copy()
    outer.update(inner.digest())
    return outer.hexdigest()


# S3 sub-resources that take part in a SigV2 canonical resource (as botocore's HmacV1Auth lists them)
_V2_SUBRESOURCES = frozenset(
    "accelerate acl cors defaultObjectAcl location logging partNumber policy requestPayment torrent versioning "
    "versionId versions website uploads uploadId response-content-type response-content-language response-expires "
    "response-cache-control response-content-disposition response-content-encoding delete lifecycle tagging restore "
    "storageClass notification replication analytics metrics inventory select select-type object-lock".split()
)


def _verify_v2_query(
    store: CredentialStore, method: str, resource_path: str, raw_query: str, headers: dict[str, str], now: float,
    default_region: str,
) -> Identity:
    """S3 query-string authentication, signature version 2: what boto3's ``generate_presigned_url`` produces
    for S3 unless ``signature_version="s3v4"`` is configured. Accepted for S3 only."""
    q: dict[str, str] = {}
    sub: list[tuple[str, str | None]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        k, eq, v = part.partition("=")
        q[unquote(k)] = unquote(v)
        if k in _V2_SUBRESOURCES:
            sub.append((k, unquote(v) if eq else None))
    creds = store.lookup(q.get("AWSAccessKeyId", ""), now)
    if creds is None:
        raise AuthError("unknown_key", "The AWS Access Key Id you provided does not exist in our records.")
    token = q.get("x-amz-security-token")
    if creds.session_token is not None and token != creds.session_token:
        raise AuthError("bad_token" if token else "unknown_key", "The provided token is malformed or otherwise invalid.")
    expires = q.get("Expires", "")
    if not expires.isdigit():
        raise AuthError("malformed", "Query-string authentication requires the Expires parameter")
    if now > int(expires):
        raise AuthError("expired", "Request has expired")
    resource = resource_path
    if sub:
        sub.sort(key=lambda kv: kv[0])
        resource += "?" + "&".join(k if v is None else f"{k}={v}" for k, v in sub)
    amz = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-amz-"))
    sts = "\n".join(
        [method, headers.get("content-md5", "").strip(), headers.get("content-type", "").strip(), expires]
        + [f"{k}:{v}" for k, v in amz]
        + [resource]
    )
    expected = base64.b64encode(hmac.new(creds.secret_access_key.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, q.get("Signature", "")):
        raise AuthError(
            "bad_signature",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        )
    return Identity(creds, default_region, "s3", UNSIGNED, q["Signature"], b"", "", "")


# --- protocol-specific codes for each failure kind --------------------------------------------
#
# JSON services (Kinesis, Firehose, Logs) answer every auth failure with 400, as observed: kinesalite's connection
# tests (run against real Kinesis too) expect 400 for MissingAuthenticationTokenException, IncompleteSignatureException
# and InvalidSignatureException, SDK traces show UnrecognizedClientException 400 (Kinesis, CloudWatch Logs) and
# InvalidSignatureException 400 (Kinesis, Firehose). The "Common Errors" pages' MissingAuthenticationToken 403 is the
# query protocol's code (no "Exception" suffix). REST-JSON Lambda answers 403 (InvalidSignatureException and
# UnrecognizedClientException observed as 403).

_JSON_CODES = {
    "missing": ("MissingAuthenticationTokenException", 400),
    "malformed": ("IncompleteSignatureException", 400),
    "query_malformed": ("IncompleteSignatureException", 400),
    "unsupported": ("IncompleteSignatureException", 400),
    "unsupported_type": ("IncompleteSignatureException", 400),
    "scope_date": ("InvalidSignatureException", 400),
    "unknown_key": ("UnrecognizedClientException", 400),
    "bad_token": ("UnrecognizedClientException", 400),
    "bad_signature": ("InvalidSignatureException", 400),
    "skewed": ("InvalidSignatureException", 400),
    "expired": ("InvalidSignatureException", 400),
    "content_sha": ("InvalidSignatureException", 400),
    "bad_payload_hash": ("InvalidSignatureException", 400),
}
_REST_JSON_CODES = {k: (c, 403) for k, (c, _) in _JSON_CODES.items()}
_S3_CODES = {
    "missing": ("AccessDenied", 403),
    "malformed": ("AuthorizationHeaderMalformed", 400),
    "query_malformed": ("AuthorizationQueryParametersError", 400),
    "unsupported": ("InvalidRequest", 400),  # a SigV2 header, as S3's SigV4-only regions answer it
    "unsupported_type": ("InvalidArgument", 400),  # "Bearer x": Unsupported Authorization Type
    "scope_date": ("AuthorizationHeaderMalformed", 400),
    "unknown_key": ("InvalidAccessKeyId", 403),
    "bad_token": ("InvalidToken", 400),
    "bad_signature": ("SignatureDoesNotMatch", 403),
    "skewed": ("RequestTimeTooSkewed", 403),
    "expired": ("AccessDenied", 403),
    "content_sha": ("XAmzContentSHA256Mismatch", 400),
    "bad_payload_hash": ("InvalidArgument", 400),
}


# The query protocol (IAM, STS): what those services answer
_QUERY_CODES = {
    "missing": ("MissingAuthenticationToken", 403),
    "malformed": ("IncompleteSignature", 400),
    "query_malformed": ("IncompleteSignature", 400),
    "unsupported": ("IncompleteSignature", 400),
    "unsupported_type": ("IncompleteSignature", 400),
    "scope_date": ("SignatureDoesNotMatch", 403),
    "unknown_key": ("InvalidClientTokenId", 403),
    "bad_token": ("InvalidClientTokenId", 403),
    "bad_signature": ("SignatureDoesNotMatch", 403),
    "skewed": ("SignatureDoesNotMatch", 403),
    "expired": ("AccessDenied", 403),
    "content_sha": ("SignatureDoesNotMatch", 403),
    "bad_payload_hash": ("SignatureDoesNotMatch", 403),
}
_TABLES = {"rest-xml": _S3_CODES, "rest-json": _REST_JSON_CODES, "query": _QUERY_CODES}


def auth_error_for(err: AuthError, protocol: str) -> ServiceError:
    table = _TABLES.get(protocol, _JSON_CODES)
    code, status = table.get(err.kind, ("AccessDenied", 403))
    message = err.message
    if protocol == "rest-xml" and err.kind == "unknown_key":
        message = "The AWS Access Key Id you provided does not exist in our records."
    elif protocol == "rest-xml" and err.kind == "bad_token":
        message = "The provided token is malformed or otherwise invalid."
    elif protocol == "rest-xml" and err.kind == "scope_date":
        message = "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date."
    elif protocol == "rest-xml" and err.kind == "bad_payload_hash":
        return ServiceError(message, code=code, status=status, ArgumentName="x-amz-content-sha256", ArgumentValue=err.value)
    elif protocol == "query" and err.kind in ("unknown_key", "bad_token"):
        message = "The security token included in the request is invalid."
    elif protocol == "rest-xml" and err.kind == "unsupported_type":
        return ServiceError("Unsupported Authorization Type", code=code, status=status, ArgumentName="Authorization",
                            ArgumentValue=err.value)
    return ServiceError(message, code=code, status=status)


# --- aws-chunked bodies (E.3) -------------------------------------------------------------------


class ChunkedDecoder:
    """Decode an aws-chunked body incrementally, verifying chunk signatures when they are signed.

    feed(raw bytes) -> decoded bytes; finish() checks the body ended properly and returns trailers.
    """

    def __init__(self, identity: Identity | None, signed: bool) -> None:
        self._buf = bytearray()
        self._identity = identity
        self._signed = signed
        self._prev_sig = identity.signature if identity else ""
        # STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: the trailer carries x-amz-trailer-signature, chained to the last chunk's
        self._signed_trailer = signed and identity is not None and identity.payload_hash == STREAMING_SIGNED_TRAILER
        self._need = -1  # bytes of chunk data still expected (+2 for CRLF); -1 = reading a header line
        self._chunk_sig = ""
        self._chunk = bytearray()
        self._final = False
        self._done = False
        self.trailers: dict[str, str] = {}

    def _check_sig(self, data: bytes, sig: str) -> None:
        if not self._signed or self._identity is None:
            return
        ident = self._identity
        sts = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                ident.amz_date,
                ident.scope,
                self._prev_sig,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            )
        )
        expected = hmac_sha256_hex(ident.signing_key, sts.encode())
        if not hmac.compare_digest(expected, sig):
            raise AuthError("bad_signature", "The chunk signature we calculated does not match the signature you provided.")
        self._prev_sig = sig

    def _check_trailer_sig(self) -> None:
        ident = self._identity
        if not self._signed_trailer or ident is None:
            return
        given = self.trailers.get("x-amz-trailer-signature", "")
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(self.trailers.items()) if k != "x-amz-trailer-signature")
        sts = "\n".join(
            ("AWS4-HMAC-SHA256-TRAILER", ident.amz_date, ident.scope, self._prev_sig, hashlib.sha256(canonical.encode()).hexdigest())
        )
        if not hmac.compare_digest(hmac_sha256_hex(ident.signing_key, sts.encode()), given.lower()):
            raise AuthError("bad_signature", "The trailer signature we calculated does not match the signature you provided.")

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        out = bytearray()
        while True:
            if self._done:
                self._buf.clear()
                return bytes(out)
            if self._final:
                # trailer lines until an empty line
                idx = self._buf.find(b"\r\n")
                if idx < 0:
                    return bytes(out)
                line = bytes(self._buf[:idx]).decode("latin-1")
                del self._buf[: idx + 2]
                if not line:
                    self._check_trailer_sig()
                    self._done = True
                    continue
                name, _, value = line.partition(":")
                self.trailers[name.strip().lower()] = value.strip()
                continue
            if self._need < 0:
                idx = self._buf.find(b"\r\n")
                if idx < 0:
                    if len(self._buf) > 4096:
                        raise AuthError("malformed", "invalid aws-chunked header")
                    return bytes(out)
                header = bytes(self._buf[:idx]).decode("latin-1")
                del self._buf[: idx + 2]
                size_s, _, ext = header.partition(";")
                try:
                    size = int(size_s.strip(), 16)
                except ValueError as e:
                    raise AuthError("malformed", "invalid aws-chunked chunk size") from e
                self._chunk_sig = ext.partition("=")[2].strip() if ext.startswith("chunk-signature") else ""
                if size == 0:
                    self._check_sig(b"", self._chunk_sig)
                    self._final = True
                    continue
                self._need = size
                self._chunk.clear()
                continue
            take = min(self._need, len(self._buf))
            if take:
                piece = bytes(self._buf[:take])
                del self._buf[:take]
                self._need -= take
                if self._signed:
                    self._chunk += piece
                out += piece
            if self._need == 0:
                if len(self._buf) < 2:
                    return bytes(out)
                del self._buf[:2]
                if self._signed:
                    self._check_sig(bytes(self._chunk), self._chunk_sig)
                self._need = -1
                continue
            return bytes(out)

    def finish(self) -> dict[str, str]:
        if not self._final:
            raise AuthError("malformed", "aws-chunked body ended before its final chunk")
        if self._signed_trailer and not self._done:
            raise AuthError("malformed", "aws-chunked body ended before its signed trailer")
        return self.trailers
