"""Browser uploads: S3's POST Object with a signed POST policy (``generate_presigned_post``, HTML forms).

A ``multipart/form-data`` POST to a bucket's URL carries form fields and, last, the file. The request
has no Authorization header: the fields hold the credential, and the signature is over the base64
``policy`` document (SigV4: ``x-amz-algorithm``, ``x-amz-credential``, ``x-amz-date``,
``x-amz-signature``, ``x-amz-security-token`` for temporary keys). S3's rules, which Nimbus applies:

- the policy must not have expired, and every one of its conditions must hold: exact matches
  (``{"acl": "public-read"}``, ``["eq", "$key", "a"]``), prefixes (``["starts-with", "$key", "user/"]``,
  ``""`` for any value), ``["content-length-range", min, max]``; ``{"bucket": "b"}`` checks the bucket;
- every form field except ``x-amz-signature``, ``file``, ``policy`` and ``x-ignore-*`` must be named by a
  condition ("Extra input fields");
- ``key`` may contain ``${filename}`` (the file's own name); fields after the file are ignored.

The object is then stored as PutObject stores it (metadata from ``x-amz-meta-*``, ``Content-Type``,
``Cache-Control``, ``Content-Disposition``, ``Content-Encoding``, ``Expires``; notifications fire).
The answer is 204 (``success_action_status`` 200 or 201, the latter with S3's ``PostResponse``
document), or a 303 to ``success_action_redirect``. The file is spooled (memory up to 8 MiB, then a
temporary file) so that ``content-length-range`` is checked before anything is stored; form fields other
than the file are limited to 20 KB in all, as S3 limits a POST's form.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import tempfile
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

import orjson

from nimbus import sigv4
from nimbus.bytestream import ByteStream
from nimbus.errors import ServiceError
from nimbus.protocol import errors as wire_errors
from nimbus.services.base import RequestContext

if TYPE_CHECKING:
    from nimbus.server import Nimbus

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 20 * 1024  # the form fields before the file
SPOOL_IN_MEMORY = 8 * 1024 * 1024
IGNORED_FIELDS = ("x-amz-signature", "file", "policy", "awsaccesskeyid", "signature")
STORED_HEADERS = {"content-type": "ContentType", "cache-control": "CacheControl", "content-disposition": "ContentDisposition",
                  "content-encoding": "ContentEncoding"}


def _denied(reason: str) -> ServiceError:
    return ServiceError(f"Invalid according to Policy: {reason}", code="AccessDenied", status=403)


def _signature_mismatch() -> ServiceError:
    return ServiceError("The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                        code="SignatureDoesNotMatch", status=403)


def _credentials(store: Any, access_key: str, fields: dict[str, str], now: float) -> Any:
    creds = store.lookup(access_key, now)
    if creds is None:
        raise ServiceError("The AWS Access Key Id you provided does not exist in our records.", code="InvalidAccessKeyId", status=403,
                           AWSAccessKeyId=access_key)
    if creds.session_token is not None and fields.get("x-amz-security-token") != creds.session_token:
        raise ServiceError("The provided token is malformed or otherwise invalid.", code="InvalidToken", status=400)
    return creds


def _invalid(message: str, **fields: Any) -> ServiceError:
    return ServiceError(message, code="InvalidArgument", status=400, **fields)


def _bad_policy(message: str) -> ServiceError:
    return ServiceError(f"Invalid Policy: {message}", code="InvalidPolicyDocument", status=400)


class FormUpload:
    """The fields (lower-cased names, in order) and the spooled file of one POST."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.filename = ""
        self.file_type: str | None = None
        self.file: Any = None  # SpooledTemporaryFile, once the file part began
        self.size = 0

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


async def read_form(receive: Any, boundary: bytes) -> FormUpload:
    """Parse a multipart/form-data body as it arrives; the file part goes to a spool, the rest is ignored."""
    form = FormUpload()
    delimiter = b"\r\n--" + boundary
    buf = b"\r\n"  # the body starts with the first boundary line, without its leading CRLF
    state = "preamble"
    name = ""
    value = b""
    form_bytes = 0
    more = True
    while True:
        if state == "preamble":
            i = buf.find(delimiter)
            if i >= 0:
                buf = buf[i + len(delimiter):]
                state = "after-delimiter"
                continue
        elif state == "after-delimiter":
            if len(buf) >= 2:
                if buf[:2] == b"--":
                    while more:
                        message = await receive()
                        more = bool(message.get("more_body", False))
                    return form  # the closing delimiter
                if buf[:2] != b"\r\n":
                    raise _malformed()
                buf = buf[2:]
                state = "headers"
                continue
        elif state == "headers":
            i = buf.find(b"\r\n\r\n")
            if i >= 0:
                name, filename, ctype = _part_headers(buf[:i])
                buf = buf[i + 4:]
                if name == "file":
                    if form.file is not None:
                        raise _invalid("POST requires exactly one file upload per request.", ArgumentName="file", ArgumentValue="2")
                    form.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
                    form.filename, form.file_type = filename or "", ctype
                    state = "file"
                else:
                    value = b""
                    state = "field"
                continue
            if len(buf) > MAX_FORM_BYTES:
                raise _malformed()
        elif state == "field":
            i = buf.find(delimiter)
            if i >= 0:
                value += buf[:i]
                form_bytes += len(value)
                if form_bytes > MAX_FORM_BYTES:
                    raise ServiceError("Your POST request fields preceding the upload file were too large.", code="MaxPostPreDataLengthExceeded", status=400)
                if name not in form.fields:
                    form.fields[name] = value.decode("utf-8", "replace")
                buf = buf[i + len(delimiter):]
                state = "after-delimiter"
                continue
            keep = len(delimiter) - 1
            if len(buf) > keep:
                value += buf[:-keep]
                buf = buf[-keep:]
                if len(value) > MAX_FORM_BYTES:
                    raise ServiceError("Your POST request fields preceding the upload file were too large.", code="MaxPostPreDataLengthExceeded", status=400)
        elif state == "file":
            i = buf.find(delimiter)
            if i >= 0:
                form.file.write(buf[:i])
                form.size += i
                while more:  # fields after the file are ignored, as S3 does (read, so the connection stays usable)
                    message = await receive()
                    more = bool(message.get("more_body", False))
                return form
            keep = len(delimiter) - 1
            if len(buf) > keep:
                form.file.write(buf[:-keep])
                form.size += len(buf) - keep
                buf = buf[-keep:]
        if not more:
            raise _malformed()
        message = await receive()
        chunk = message.get("body", b"")
        more = bool(message.get("more_body", False))
        buf += chunk


def _malformed() -> ServiceError:
    return ServiceError("The body of your POST request is not well-formed multipart/form-data.", code="MalformedPOSTRequest", status=400)


def _part_headers(raw: bytes) -> tuple[str, str | None, str | None]:
    name, filename, ctype = "", None, None
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, _, val = line.partition(":")
        key = key.strip().lower()
        if key == "content-disposition":
            for piece in val.split(";")[1:]:
                k, _, v = piece.strip().partition("=")
                v = v.strip().strip('"')
                if k.lower() == "name":
                    name = v.lower()
                elif k.lower() == "filename":
                    filename = v
        elif key == "content-type":
            ctype = val.strip()
    if not name:
        raise _malformed()
    return name, filename, ctype


def boundary_of(content_type: str) -> bytes | None:
    for piece in content_type.split(";")[1:]:
        k, _, v = piece.strip().partition("=")
        if k.lower() == "boundary" and v:
            return v.strip('"').encode("latin-1")
    return None


def check_policy(form: FormUpload, bucket: str, key: str, credentials: Any, now: float) -> None:
    """The signature over the policy, its expiration and conditions, the fields it must cover."""
    fields = form.fields
    policy_b64 = fields.get("policy")
    if policy_b64 is None:
        raise ServiceError("Access Denied", code="AccessDenied", status=403)  # an anonymous upload: no bucket allows it here
    if "awsaccesskeyid" in fields:  # Signature Version 2 (boto3's generate_presigned_post unless told s3v4)
        creds = _credentials(credentials, fields["awsaccesskeyid"], fields, now)
        expected = base64.b64encode(hmac.new(creds.secret_access_key.encode(), policy_b64.encode("latin-1"), "sha1").digest()).decode()
        if not hmac.compare_digest(expected, fields.get("signature", "").strip()):
            raise _signature_mismatch()
    else:
        if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise _invalid("Only AWS4-HMAC-SHA256 POST policies (and Signature Version 2's AWSAccessKeyId) are supported by Nimbus.",
                           ArgumentName="x-amz-algorithm", ArgumentValue=fields.get("x-amz-algorithm", ""))
        for required in ("x-amz-credential", "x-amz-date", "x-amz-signature"):
            if required not in fields:
                raise _invalid(f"Bucket POST must contain a field named '{required}'.  If it is specified, please check the order of the fields.",
                               ArgumentName=required, ArgumentValue="")
        scope = sigv4.parse_scope(fields["x-amz-credential"])
        if scope is None or scope.service != "s3":
            raise _invalid("Invalid credential in the POST policy.", ArgumentName="x-amz-credential", ArgumentValue=fields["x-amz-credential"])
        creds = _credentials(credentials, scope.access_key, fields, now)
        key_bytes = sigv4.signing_key(creds.secret_access_key, scope.date, scope.region, "s3")
        expected = sigv4.hmac_sha256_hex(key_bytes, policy_b64.encode("latin-1"))
        if not hmac.compare_digest(expected, fields["x-amz-signature"].strip().lower()):
            raise _signature_mismatch()
    try:
        policy = orjson.loads(base64.b64decode(policy_b64, validate=False))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as e:
        raise _bad_policy(f"Invalid JSON: {e}") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("expiration"), str):
        raise _bad_policy("Policy missing expiration.")
    try:
        expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    except ValueError:
        raise _bad_policy(f"Invalid 'expiration' value: '{policy['expiration']}'") from None
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    if expires.timestamp() < now:
        raise _denied("Policy expired.")
    conditions = policy.get("conditions")
    if not isinstance(conditions, list):
        raise _bad_policy("Policy missing conditions.")
    values = {**fields, "bucket": bucket, "key": key}
    covered = set()
    size_range: tuple[int, int] | None = None
    for cond in conditions:
        if isinstance(cond, dict):
            if len(cond) != 1:
                raise _bad_policy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
            (field, want), = cond.items()
            field = field.lower().lstrip("$")
            covered.add(field)
            if str(values.get(field, "")) != str(want) if field != "bucket" else bucket != str(want):
                raise _denied(f'Policy Condition failed: ["eq", "${field}", "{want}"]')
        elif isinstance(cond, list) and cond:
            op = str(cond[0]).lower()
            if op == "content-length-range" and len(cond) == 3:
                try:
                    size_range = (int(cond[1]), int(cond[2]))
                except (TypeError, ValueError):
                    raise _bad_policy("Invalid content-length-range condition.") from None
                continue
            if op not in ("eq", "starts-with") or len(cond) != 3 or not str(cond[1]).startswith("$"):
                raise _bad_policy(f"Invalid Condition: {orjson.dumps(cond).decode()}")
            field = str(cond[1])[1:].lower()
            covered.add(field)
            have, want = str(values.get(field, "")), str(cond[2])
            ok = have == want if op == "eq" else have.startswith(want) if field != "content-type" else all(
                part.strip().startswith(want) for part in have.split(","))
            if not ok:
                raise _denied(f'Policy Condition failed: ["{op}", "${field}", "{want}"]')
        else:
            raise _bad_policy(f"Invalid Condition: {orjson.dumps(cond).decode()}")
    extra = [f for f in fields if f not in covered and f not in IGNORED_FIELDS and not f.startswith("x-ignore-")
             and f not in ("x-amz-signature",)]
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    if size_range is not None:
        low, high = size_range
        if form.size < low:
            raise ServiceError("Your proposed upload is smaller than the minimum allowed size", code="EntityTooSmall", status=400,
                               ProposedSize=str(form.size), MinSizeAllowed=str(low))
        if form.size > high:
            raise ServiceError("Your proposed upload exceeds the maximum allowed size", code="EntityTooLarge", status=400,
                               ProposedSize=str(form.size), MaxSizeAllowed=str(high))
    return None


class PostUploads:
    """The ASGI app answering POST Object (mounted before the AWS APIs; see ``matches``)."""

    def __init__(self, core: Nimbus, bucket_of: Any) -> None:
        self.core = core
        self.bucket_of = bucket_of  # (scope, headers) -> the bucket a request addresses, or None

    def matches(self, scope: dict[str, Any], headers: dict[str, str]) -> bool:
        return (
            scope.get("method") == "POST"
            and headers.get("content-type", "").lower().startswith("multipart/form-data")
            and "authorization" not in headers
            and "x-amz-target" not in headers
            and self.bucket_of(scope, headers) is not None
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = uuid.uuid4().hex[:16].upper()
        form: FormUpload | None = None
        if headers.get("origin"):
            send = self._with_cors(send, scope, headers)
        try:
            bucket = self.bucket_of(scope, headers)
            boundary = boundary_of(headers.get("content-type", ""))
            if not boundary or bucket is None:
                raise _malformed()
            form = await read_form(receive, boundary)
            if form.file is None:
                raise _invalid("POST requires exactly one file upload per request.", ArgumentName="file", ArgumentValue="0")
            if "key" not in form.fields:
                raise _invalid("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
                               ArgumentName="key", ArgumentValue="")
            key = form.fields["key"].replace("${filename}", form.filename)
            check_policy(form, bucket, form.fields["key"], self.core.credentials, time.time())
            etag, version = await self._store(bucket, key, form, headers, request_id, scope)
            await self._answer(send, form, bucket, key, etag, headers, request_id, version)
        except ServiceError as e:
            resp = wire_errors.serialize_error("rest-xml", e, request_id)
            await send({"type": "http.response.start", "status": resp.status,
                        "headers": [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in resp.headers]
                        + [(b"content-length", str(len(resp.body)).encode())]})
            await send({"type": "http.response.body", "body": bytes(resp.body)})
        finally:
            if form is not None:
                form.close()

    def _with_cors(self, send: Any, scope: dict[str, Any], headers: dict[str, str]) -> Any:
        """A form posted from a page of another origin gets the bucket's matching CORS headers (cors.py), as
        any request carrying Origin does."""
        bucket = self.bucket_of(scope, headers)
        extra = self.core.api("s3").cors_headers(self.core.settings.account_id, bucket or "", "POST", headers["origin"])
        if not extra:
            return send
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra]

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + encoded}
            await send(message)

        return send_with_cors

    async def _store(self, bucket: str, key: str, form: FormUpload, headers: dict[str, str], request_id: str, scope: dict[str, Any]) -> tuple[str, str | None]:
        fields = form.fields
        spool = form.file
        spool.seek(0)

        async def receive_file() -> bytes | None:
            data = spool.read(1 << 20)
            return data or None

        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": ByteStream(receive_file, form.size)}
        for field, member in STORED_HEADERS.items():
            if fields.get(field):
                params[member] = fields[field]
        if "ContentType" not in params and form.file_type:
            params["ContentType"] = form.file_type
        if fields.get("expires"):
            try:
                params["Expires"] = datetime.strptime(fields["expires"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
            except ValueError:
                pass
        meta = {f[len("x-amz-meta-"):]: v for f, v in fields.items() if f.startswith("x-amz-meta-")}
        if meta:
            params["Metadata"] = meta
        if fields.get("x-amz-storage-class"):
            params["StorageClass"] = fields["x-amz-storage-class"]
        scope_ = sigv4.parse_scope(fields.get("x-amz-credential", ""))
        access_key = scope_.access_key if scope_ else fields.get("awsaccesskeyid", "")
        creds = self.core.credentials.lookup(access_key)
        host = headers.get("host", "")
        ctx = RequestContext(
            request_id, "s3", "PutObject", scope_.region if scope_ else self.core.settings.default_region,
            creds.account_id if creds else self.core.settings.account_id, creds.access_key_id if creds else None,
            f"{scope.get('scheme', 'http')}://{host}" if host else self.core.settings.endpoint_url,
            {"content-length": str(form.size)}, {},
        )
        out = await self.core.api("s3").put_object(ctx, params)
        return str(out.get("ETag", "")), out.get("VersionId")  # the version id: versioned buckets only

    async def _answer(self, send: Any, form: FormUpload, bucket: str, key: str, etag: str, headers: dict[str, str], request_id: str,
                      version: str | None = None) -> None:
        fields = form.fields
        host = headers.get("host", "")
        location = f"http://{host}/{quote(bucket)}/{quote(key, safe='/')}"
        base = [(b"x-amz-request-id", request_id.encode()), (b"ETag", etag.encode("latin-1")), (b"Location", location.encode("latin-1"))]
        if version is not None:
            base.append((b"x-amz-version-id", version.encode("ascii")))
        redirect = fields.get("success_action_redirect") or fields.get("redirect")
        if redirect:
            sep = "&" if "?" in redirect else "?"
            target = redirect + sep + urlencode({"bucket": bucket, "key": key, "etag": etag})
            await send({"type": "http.response.start", "status": 303, "headers": base[:2] + [(b"Location", target.encode("latin-1")), (b"Content-Length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        status = fields.get("success_action_status", "204")
        if status == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Location>{escape(location)}</Location><Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key>"
                f"<ETag>{escape(etag)}</ETag></PostResponse>"
            ).encode()
            await send({"type": "http.response.start", "status": 201,
                        "headers": base + [(b"content-type", b"application/xml"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 200 if status == "200" else 204, "headers": base + [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
