"""S3Api: botocore's S3 operations (rest-xml) over ``S3Engine``. The only S3 module that sees wire shapes.

Handlers translate parsed input into engine calls and engine values into output dicts; the rest-xml codec
does the XML and headers. Streaming bodies arrive as ``nimbus.bytestream.ByteStream`` and leave as async
iterators.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote

from nimbus.bytestream import ByteStream
from nimbus.protocol.models import ACCEPTED_KEY, SEQUENCE_KEY
from nimbus.services.base import RequestContext
from nimbus.services.s3 import archive, checksums, cors, lifecycle, objectlock, ssec
from nimbus.services.s3 import settings as bs
from nimbus.services.s3.engine import S3Engine, s3_engine
from nimbus.services.s3.errors import (
    BadDigest,
    HeaderNotImplemented,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    InvalidTag,
    MalformedXML,
    MissingContentLength,
    S3Error,
)
from nimbus.services.s3.notifications import Origin, validate_configuration
from nimbus.services.s3.objects import (
    ENABLED,
    MAX_LIST_KEYS,
    SUSPENDED,
    VERSIONING,
    Conditions,
    Content,
    Integrity,
    ObjectRead,
    S3Object,
    check_key,
    check_version_id,
)

if TYPE_CHECKING:
    from nimbus.server import Nimbus

UTC = dt.timezone.utc
MAX_DELETE_KEYS = 1000


def host_id(request_id: str) -> str:
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode("ascii")


def owner(account: str) -> dict[str, str]:
    """The bucket owner as S3 shows it: a 64-hex canonical user id derived from the account."""
    return {"ID": hashlib.sha256(f"nimbus:{account}".encode()).hexdigest(), "DisplayName": "nimbus"}


def stamp(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, UTC)


def origin_of(ctx: RequestContext) -> Origin:
    principal = f"AWS:{ctx.access_key}" if ctx.access_key else f"AWS:{ctx.account_id}"
    return Origin(region=ctx.region, principal=principal, request_id=ctx.request_id, host_id=None)


def require_length(headers: dict[str, str]) -> None:
    """S3 takes an object's body only with its length declared: a ``Transfer-Encoding`` (chunked, no
    Content-Length) is 501 NotImplemented and a body with neither is 411 MissingContentLength, as AWS
    answers. (aws-chunked bodies declare Content-Length, and the decoded length in its own header.)"""
    if "content-length" in headers:
        return
    if headers.get("transfer-encoding", "identity").lower() != "identity":
        raise HeaderNotImplemented("Transfer-Encoding")
    raise MissingContentLength()


def content_of(params: dict[str, Any]) -> Content:
    encoding = params.get("ContentEncoding")
    if encoding:
        # aws-chunked is a transfer detail, never part of the stored object (aws-contracts.md E.3)
        encoding = ",".join(e.strip() for e in encoding.split(",") if e.strip() and e.strip() != "aws-chunked") or None
    expires = params.get("Expires")
    return Content(
        content_type=params.get("ContentType") or "binary/octet-stream",
        content_encoding=encoding,
        content_disposition=params.get("ContentDisposition"),
        content_language=params.get("ContentLanguage"),
        cache_control=params.get("CacheControl"),
        expires=expires.timestamp() if isinstance(expires, dt.datetime) else None,
        website_redirect=params.get("WebsiteRedirectLocation"),
    )


def tags_of(text: str | None) -> dict[str, str]:
    """x-amz-tagging (a URL query string); S3 refuses a key given twice instead of keeping one."""
    if not text:
        return {}
    pairs = parse_qsl(text, keep_blank_values=True)
    tags = dict(pairs)
    if len(tags) != len(pairs):
        raise InvalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
                              "parameters without tag name duplicates.", ArgumentName="x-amz-tagging", ArgumentValue=text)
    return tags


def tagset(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def from_tagset(tagging: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (tagging or {}).get("TagSet") or []:
        key = item.get("Key", "")
        if key in out:
            raise InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        out[key] = item.get("Value", "")
    return out


# Encryption attributes of CopyObject: Nimbus stores no encryption, but naming one makes a copy onto
# itself legal, as on S3 (`aws s3 cp s3://b/k s3://b/k --sse AES256`).
_ENCRYPTION_MEMBERS = ("ServerSideEncryption", "SSEKMSKeyId", "SSECustomerAlgorithm")
_PLAIN_GET = frozenset(("Bucket", "Key", "ChecksumMode"))
_LOCK_MEMBERS = frozenset(("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus"))
_UNSUPPORTED_CHECKSUMS = ("ChecksumSHA512", "ChecksumMD5", "ChecksumXXHASH64", "ChecksumXXHASH3", "ChecksumXXHASH128")


def refuse_unsupported_checksums(params: dict[str, Any]) -> None:
    """Checksum members of the model that Nimbus does not compute (SHA-512, MD5, xxHash)."""
    for member in _UNSUPPORTED_CHECKSUMS:
        if params.get(member):
            raise InvalidRequest(f"The {member[8:]} checksum algorithm is not supported by Nimbus.")


def integrity_of(params: dict[str, Any], headers: dict[str, str], body: Any) -> Integrity:
    """Content-MD5 and the one x-amz-checksum-* (header or aws-chunked trailer) a client sent."""
    refuse_unsupported_checksums(params)
    declared = [(algo, params[member]) for algo, member in checksums.MEMBERS.items() if params.get(member)]
    if len(declared) > 1:
        raise InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
    algorithm, expected = declared[0] if declared else (None, None)
    trailer = None
    named = headers.get("x-amz-trailer", "").strip().lower()
    if named.startswith("x-amz-checksum-"):
        algo = named[len("x-amz-checksum-"):].upper()
        if algo not in checksums.ALGORITHMS:
            raise InvalidRequest(f"The {algo} checksum algorithm is not supported by Nimbus.")
        if algorithm is not None and algo != algorithm:
            raise InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
        algorithm = algo
        if isinstance(body, ByteStream):
            stream = body
            trailer = lambda: stream.trailers.get(named)  # noqa: E731 - read once the body is consumed
    if algorithm is None and params.get("ChecksumAlgorithm"):
        algorithm = str(params["ChecksumAlgorithm"]).upper()  # compute and store, nothing to verify
    size = body.length if isinstance(body, ByteStream) else None
    return Integrity(params.get("ContentMD5"), algorithm, expected, trailer, size)


def verify_small_body(ctx: RequestContext) -> None:
    """Content-MD5 / x-amz-checksum-* of a buffered XML body (DeleteObjects always sends one)."""
    request = ctx.extra.get("request")
    raw = getattr(request, "body", None)
    if not isinstance(raw, (bytes, bytearray)):
        return
    md5 = ctx.headers.get("content-md5")
    if md5 is not None:
        try:
            want = base64.b64decode(md5, validate=True)
        except ValueError:
            want = b""
        if len(want) != 16:
            raise InvalidDigest("The Content-MD5 you specified was not valid.", ContentMD5=md5)
        if want != hashlib.md5(raw).digest():
            raise BadDigest("The Content-MD5 you specified did not match what we received.")
    for algo, header in checksums.HEADERS.items():
        value = ctx.headers.get(header)
        if value is not None:
            h = checksums.new_hasher(algo)
            h.update(bytes(raw))
            if checksums.encode(h.digest()) != value:
                raise BadDigest(f"The {algo} you specified did not match the calculated checksum.")


def copy_source(text: str) -> tuple[str, str, str | None]:
    """``bucket/key[?versionId=...]`` (the key URL-encoded) -> bucket, key, version id or None."""
    source = unquote(text.split("?versionId=", 1)[0] if "?versionId=" in text else text)
    version = unquote(text.split("?versionId=", 1)[1]) if "?versionId=" in text else None
    if version is not None:
        try:
            check_version_id(version)
        except InvalidArgument:
            raise InvalidArgument("Invalid version id specified", ArgumentName="x-amz-copy-source", ArgumentValue=text) from None
    bucket, _, key = source.lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                              ArgumentName="x-amz-copy-source", ArgumentValue=text)
    return bucket, key, version


def source_conditions(params: dict[str, Any]) -> Conditions:
    return Conditions(params.get("CopySourceIfMatch"), params.get("CopySourceIfNoneMatch"),
                      params.get("CopySourceIfModifiedSince"), params.get("CopySourceIfUnmodifiedSince"))


def checksum_out(obj: S3Object, enabled: bool = True) -> dict[str, Any]:
    if not enabled or not obj.checksum or not obj.checksum_algorithm:
        return {}
    return {checksums.MEMBERS[obj.checksum_algorithm]: obj.checksum, "ChecksumType": obj.checksum_type}


def object_headers(obj: S3Object, now: float | None = None) -> dict[str, Any]:
    c = obj.content
    out: dict[str, Any] = {
        "ETag": obj.etag,
        "LastModified": stamp(obj.last_modified),
        "ContentType": c.content_type,
        "ContentEncoding": c.content_encoding,
        "ContentDisposition": c.content_disposition,
        "ContentLanguage": c.content_language,
        "CacheControl": c.cache_control,
        "Expires": stamp(c.expires) if c.expires is not None else None,
        "WebsiteRedirectLocation": c.website_redirect,
        "AcceptRanges": "bytes",
        "Metadata": obj.metadata or None,
        "TagCount": len(obj.tags) or None,
        "StorageClass": obj.storage_class if obj.storage_class != "STANDARD" else None,
    }
    if obj.lock_mode is not None or obj.legal_hold is not None:  # Object Lock (objectlock.py)
        out["ObjectLockMode"] = obj.lock_mode
        out["ObjectLockRetainUntilDate"] = obj.lock_until
        out["ObjectLockLegalHoldStatus"] = obj.legal_hold
    if obj.sse_c is not None:
        out.update(ssec.headers(obj.sse_c))
    if obj.replication is not None:  # x-amz-replication-status (replication.py)
        out["ReplicationStatus"] = obj.replication
    if obj.restore is not None:  # x-amz-restore (archive.py)
        out["Restore"] = archive.header(obj.restore, time.time() if now is None else now)
    return {k: v for k, v in out.items() if v is not None}


def encode_key(value: str | None, encoding: str | None) -> str | None:
    if value is None or encoding != "url":
        return value
    return quote(value, safe="/")


_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def continuation(token: str | None) -> str | None:
    """The key a token made by ``make_token`` names; anything else is S3's InvalidArgument (base64 decoding
    alone would skip stray characters and read ``!!!`` as the start of the listing)."""
    if not token:
        return None
    try:
        if not _TOKEN.fullmatch(token):
            raise ValueError(token)
        return base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("The continuation token provided is incorrect", ArgumentName="continuation-token") from None


def make_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii").rstrip("=")



# response-content-type=... and friends become response headers: a value HTTP cannot carry (control
# characters, characters outside ISO-8859-1) is refused instead of breaking the response
_OVERRIDE_QUERY = {
    "ResponseContentType": "response-content-type", "ResponseContentLanguage": "response-content-language",
    "ResponseContentDisposition": "response-content-disposition", "ResponseCacheControl": "response-cache-control",
    "ResponseContentEncoding": "response-content-encoding", "ResponseExpires": "response-expires",
}


def _header_override(member: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            bad = True
        else:
            bad = any(c < " " and c != "\t" or c == "\x7f" for c in value)
        if bad:
            raise InvalidArgument(
                "Header value cannot be represented using ISO-8859-1 or contains control characters.",
                ArgumentName=_OVERRIDE_QUERY[member], ArgumentValue=value.encode("unicode_escape").decode("ascii")[:256],
            )
    return value

class S3Api:
    def __init__(self, core: Nimbus | None = None, engine: S3Engine | None = None) -> None:
        if engine is None:
            if core is None:
                raise ValueError("S3Api needs a core or an engine")
            engine = s3_engine(core)
        self.engine = engine
        self._restores: set[asyncio.Task[None]] = set()  # ObjectRestore:Completed notifications under way

    async def start(self) -> None:
        await self.engine.start()

    # -- buckets ---------------------------------------------------------------------------------

    async def list_buckets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("MaxBuckets")
        after = continuation(params.get("ContinuationToken"))
        buckets = self.engine.buckets.list(ctx.account_id, prefix=params.get("Prefix") or "", after=after,
                                           limit=(limit + 1) if limit else None)
        region = params.get("BucketRegion")
        if region:
            buckets = [b for b in buckets if b.region == region]
        out: dict[str, Any] = {"Owner": owner(ctx.account_id), "Prefix": params.get("Prefix")}
        if limit and len(buckets) > limit:
            buckets = buckets[:limit]
            out["ContinuationToken"] = make_token(buckets[-1].name)
        out["Buckets"] = [{"Name": b.name, "CreationDate": stamp(b.created), "BucketRegion": b.region} for b in buckets]
        return out

    async def create_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        config = params.get("CreateBucketConfiguration") or {}
        # x-amz-bucket-object-lock-enabled: Object Lock, and the versioning it needs, from the start
        locked = {VERSIONING: ENABLED, objectlock.OBJECT_LOCK: {"ObjectLockEnabled": "Enabled"}} if params.get("ObjectLockEnabledForBucket") else None
        bucket = self.engine.buckets.create(ctx.account_id, params["Bucket"], region=ctx.region,
                                            location_constraint=config.get("LocationConstraint"), settings=locked)
        return {"Location": f"/{bucket.name}", "BucketArn": bucket.arn}

    async def head_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        return {"BucketRegion": bucket.region, "BucketArn": bucket.arn}

    async def delete_bucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.buckets.delete(ctx.account_id, params["Bucket"])
        return {}

    async def get_bucket_location(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        # us-east-1 answers an empty LocationConstraint (botocore reads it as None)
        return {"LocationConstraint": None if bucket.region == "us-east-1" else bucket.region}

    async def get_bucket_versioning(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        settings = self.engine.buckets.get(ctx.account_id, params["Bucket"]).settings
        status = settings.get(VERSIONING)
        if status is None:
            return {}  # never versioned: no Status, as S3 answers
        out = {"Status": status}
        if settings.get(bs.MFA_DELETE):
            out["MFADelete"] = settings[bs.MFA_DELETE]
        return out

    async def put_bucket_versioning(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        config = params.get("VersioningConfiguration") or {}
        status, mfa_delete = config.get("Status"), config.get("MFADelete")
        if mfa_delete == "Enabled":
            # MFA Delete needs the root user's MFA device in x-amz-mfa; Nimbus has no MFA devices to check
            # it against, so it refuses as S3 refuses a request without a valid one
            raise S3Error("Mfa Authentication must be used for this request", code="AccessDenied", status=403)
        if status not in (ENABLED, SUSPENDED):
            if status is None and mfa_delete is None:
                raise MalformedXML()
            if status is not None:
                raise MalformedXML()
        if status == SUSPENDED and objectlock.enabled(bucket.settings):
            raise objectlock.InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
        if status == SUSPENDED and bucket.settings.get(bs.REPLICATION):
            raise objectlock.InvalidBucketState(
                "A replication configuration is present on this bucket, so the versioning state cannot be changed.")
        if status is not None and status != bucket.settings.get(VERSIONING):
            self.engine.buckets.put_setting(ctx.account_id, params["Bucket"], VERSIONING, status)
        if mfa_delete is not None:
            self.engine.buckets.put_setting(ctx.account_id, params["Bucket"], bs.MFA_DELETE, mfa_delete)
        return {}

    # -- bucket settings (settings.py, cors.py, lifecycle.py) -----------------------------------------
    # Recorded in the bucket's document and returned; CORS and lifecycle also act. A setting never made
    # answers S3's 404 (or S3's default, where a new bucket has one).

    def _setting(self, ctx: RequestContext, params: dict[str, Any], name: str) -> Any:
        return self.engine.buckets.get(ctx.account_id, params["Bucket"]).settings.get(name)

    def _put_setting(self, ctx: RequestContext, params: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
        self.engine.buckets.put_setting(ctx.account_id, params["Bucket"], name, value)
        return {}

    def _unset(self, ctx: RequestContext, params: dict[str, Any], code: str, message: str) -> S3Error:
        bucket = params["Bucket"]
        self.engine.buckets.get(ctx.account_id, bucket)
        return S3Error(message, code=code, status=404, BucketName=bucket)

    async def put_bucket_cors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        return self._put_setting(ctx, params, bs.CORS, cors.validate(params.get("CORSConfiguration") or {}))

    async def get_bucket_cors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = self._setting(ctx, params, bs.CORS)
        if not rules:
            raise self._unset(ctx, params, "NoSuchCORSConfiguration", "The CORS configuration does not exist")
        return {"CORSRules": rules}

    async def delete_bucket_cors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.CORS, None)

    async def put_bucket_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        policy = params.get("Policy")
        text = policy.decode("utf-8", "replace") if isinstance(policy, (bytes, bytearray)) else str(policy or "")
        return self._put_setting(ctx, params, bs.POLICY, bs.check_policy(text))

    async def get_bucket_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self._setting(ctx, params, bs.POLICY)
        if policy is None:
            raise self._unset(ctx, params, "NoSuchBucketPolicy", "The bucket policy does not exist")
        return {"Policy": policy}

    async def get_bucket_policy_status(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self._setting(ctx, params, bs.POLICY)
        if policy is None:
            raise self._unset(ctx, params, "NoSuchBucketPolicy", "The bucket policy does not exist")
        return {"PolicyStatus": {"IsPublic": bs.policy_is_public(policy)}}

    async def delete_bucket_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.POLICY, None)

    async def put_bucket_website(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        return self._put_setting(ctx, params, bs.WEBSITE, bs.check_website(params.get("WebsiteConfiguration") or {}))

    async def get_bucket_website(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        website = self._setting(ctx, params, bs.WEBSITE)
        if website is None:
            raise self._unset(ctx, params, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration")
        return dict(website)

    async def delete_bucket_website(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.WEBSITE, None)

    async def put_bucket_lifecycle_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        rules = lifecycle.validate(params.get("LifecycleConfiguration"))
        self._put_setting(ctx, params, bs.LIFECYCLE, rules)
        return {"TransitionDefaultMinimumObjectSize": params.get("TransitionDefaultMinimumObjectSize") or "all_storage_classes_128K"}

    async def get_bucket_lifecycle_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = self._setting(ctx, params, bs.LIFECYCLE)
        if not rules:
            raise self._unset(ctx, params, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")
        return {"Rules": lifecycle.to_wire(rules), "TransitionDefaultMinimumObjectSize": "all_storage_classes_128K"}

    async def get_bucket_lifecycle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        raise self._unset(ctx, params, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")

    async def delete_bucket_lifecycle(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.LIFECYCLE, None)

    async def get_bucket_replication(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        config = self._setting(ctx, params, bs.REPLICATION)
        if config is None:
            raise self._unset(ctx, params, "ReplicationConfigurationNotFoundError", "The replication configuration was not found")
        return {"ReplicationConfiguration": config}

    async def put_bucket_replication(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        config = bs.check_replication(params.get("ReplicationConfiguration") or {}, bucket.settings.get(VERSIONING),
                                      lambda name: self._versioning_of(ctx.account_id, name))
        return self._put_setting(ctx, params, bs.REPLICATION, config)

    def _versioning_of(self, account: str, name: str) -> str | None | bool:
        found = self.engine.buckets.lookup(account, name)
        return False if found is None else found.settings.get(VERSIONING)

    async def delete_bucket_replication(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.REPLICATION, None)

    async def put_bucket_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        config = bs.check_encryption(params.get("ServerSideEncryptionConfiguration") or {})
        return self._put_setting(ctx, params, bs.ENCRYPTION, config)

    async def get_bucket_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # Without a PutBucketEncryption, not AWS's default AES256 rule: Nimbus does not encrypt at rest, so it
        # does not claim to (and DeleteBucketEncryption brings this answer back)
        config = self._setting(ctx, params, bs.ENCRYPTION)
        if config is None:
            raise self._unset(ctx, params, "ServerSideEncryptionConfigurationNotFoundError",
                              "The server side encryption configuration was not found")
        return {"ServerSideEncryptionConfiguration": config}

    async def delete_bucket_encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.ENCRYPTION, None)

    async def get_object_lock_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        config = self._setting(ctx, params, objectlock.OBJECT_LOCK)
        if config is None:
            raise self._unset(ctx, params, "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket")
        return {"ObjectLockConfiguration": config}

    async def put_object_lock_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        settings = self.engine.buckets.get(ctx.account_id, params["Bucket"]).settings
        config = objectlock.check_configuration(params.get("ObjectLockConfiguration"), versioning=settings.get(VERSIONING),
                                                already=objectlock.enabled(settings))
        return self._put_setting(ctx, params, objectlock.OBJECT_LOCK, config)

    # Inventory, metrics, analytics and Intelligent-Tiering configurations: recorded by id (at most 1,000 of
    # each per bucket), listed 100 a page, never acted on (settings.py's ID_CONFIGURATIONS).

    def _put_config(self, ctx: RequestContext, params: dict[str, Any], kind: str, member: str) -> dict[str, Any]:
        verify_small_body(ctx)
        config = bs.check_id_configuration(kind, params["Id"], params.get(member) or {})
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        current = dict(bucket.settings.get(kind) or {})
        if params["Id"] not in current and len(current) >= bs.MAX_ID_CONFIGURATIONS:
            raise bs.TooManyConfigurations(kind)
        current[params["Id"]] = config
        return self._put_setting(ctx, params, kind, current)

    def _get_config(self, ctx: RequestContext, params: dict[str, Any], kind: str, member: str) -> dict[str, Any]:
        found = (self._setting(ctx, params, kind) or {}).get(params["Id"])
        if found is None:
            raise bs.NoSuchConfiguration()
        return {member: found}

    def _delete_config(self, ctx: RequestContext, params: dict[str, Any], kind: str) -> dict[str, Any]:
        current = dict(self._setting(ctx, params, kind) or {})
        if current.pop(params["Id"], None) is None:
            raise bs.NoSuchConfiguration()
        return self._put_setting(ctx, params, kind, current or None)

    def _list_configs(self, ctx: RequestContext, params: dict[str, Any], kind: str, member: str) -> dict[str, Any]:
        current = self._setting(ctx, params, kind) or {}
        after = continuation(params.get("ContinuationToken"))
        ids = sorted(i for i in current if after is None or i > after)
        page = ids[:bs.CONFIGURATIONS_PAGE]
        out: dict[str, Any] = {member: [current[i] for i in page] or None, "IsTruncated": len(ids) > len(page),
                               "ContinuationToken": params.get("ContinuationToken")}
        if len(ids) > len(page):
            out["NextContinuationToken"] = make_token(page[-1])
        return out

    async def put_bucket_inventory_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_config(ctx, params, bs.INVENTORY, "InventoryConfiguration")

    async def get_bucket_inventory_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_config(ctx, params, bs.INVENTORY, "InventoryConfiguration")

    async def delete_bucket_inventory_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_config(ctx, params, bs.INVENTORY)

    async def list_bucket_inventory_configurations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list_configs(ctx, params, bs.INVENTORY, "InventoryConfigurationList")

    async def put_bucket_metrics_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_config(ctx, params, bs.METRICS, "MetricsConfiguration")

    async def get_bucket_metrics_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_config(ctx, params, bs.METRICS, "MetricsConfiguration")

    async def delete_bucket_metrics_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_config(ctx, params, bs.METRICS)

    async def list_bucket_metrics_configurations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list_configs(ctx, params, bs.METRICS, "MetricsConfigurationList")

    async def put_bucket_analytics_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_config(ctx, params, bs.ANALYTICS, "AnalyticsConfiguration")

    async def get_bucket_analytics_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_config(ctx, params, bs.ANALYTICS, "AnalyticsConfiguration")

    async def delete_bucket_analytics_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_config(ctx, params, bs.ANALYTICS)

    async def list_bucket_analytics_configurations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list_configs(ctx, params, bs.ANALYTICS, "AnalyticsConfigurationList")

    async def put_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_config(ctx, params, bs.INTELLIGENT_TIERING, "IntelligentTieringConfiguration")

    async def get_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_config(ctx, params, bs.INTELLIGENT_TIERING, "IntelligentTieringConfiguration")

    async def delete_bucket_intelligent_tiering_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_config(ctx, params, bs.INTELLIGENT_TIERING)

    async def list_bucket_intelligent_tiering_configurations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._list_configs(ctx, params, bs.INTELLIGENT_TIERING, "IntelligentTieringConfigurationList")

    def _lock_settings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The bucket's settings, for a request only an Object Lock bucket may make."""
        settings = self.engine.buckets.get(ctx.account_id, params["Bucket"]).settings
        if not objectlock.enabled(settings):
            raise objectlock.missing_configuration()
        return settings

    def _lock_for_write(self, ctx: RequestContext, params: dict[str, Any], *, checksummed: bool | None = None) -> objectlock.Lock | None:
        """The lock a write's x-amz-object-lock-* headers give its new version (objectlock.lock_for_write);
        None when it names none: the engine then applies the bucket's default retention, for every writer."""
        if not params.keys() & _LOCK_MEMBERS:
            return None
        found = self.engine.buckets.lookup(ctx.account_id, params["Bucket"])
        if found is None:
            return None  # the write answers NoSuchBucket
        return objectlock.lock_for_write(found.settings, params, self.engine.objects.clock.time(), checksummed=checksummed)

    def _bypass(self, ctx: RequestContext, params: dict[str, Any]) -> bool:
        bypass = bool(params.get("BypassGovernanceRetention"))
        if bypass:
            objectlock.check_bypass(self.engine.buckets.get(ctx.account_id, params["Bucket"]).settings, bypass)
        return bypass

    async def restore_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        objects = self.engine.objects
        obj, started = objects.restore_version(ctx.account_id, params["Bucket"], params["Key"], params.get("RestoreRequest"),
                                               version_id=params.get("VersionId"), delay_s=self.engine.restore_delay_s)
        if not started:
            return {}
        origin = origin_of(ctx)
        await objects.notifier.object_event(ctx.account_id, self.engine.buckets, params["Bucket"], "ObjectRestore:Post", obj, origin)
        loop = asyncio.get_running_loop()

        def completed() -> None:  # in memory: a restart before it drops the Completed event (docs/services/s3.md)
            task = loop.create_task(objects.notifier.object_event(
                ctx.account_id, self.engine.buckets, params["Bucket"], "ObjectRestore:Completed", obj, origin))
            self._restores.add(task)
            task.add_done_callback(self._restores.discard)

        loop.call_later(self.engine.restore_delay_s, completed)
        return {ACCEPTED_KEY: True}

    async def put_object_retention(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        self._lock_settings(ctx, params)
        self.engine.objects.put_retention(ctx.account_id, params["Bucket"], params["Key"], params.get("Retention"),
                                          version_id=params.get("VersionId"), bypass=bool(params.get("BypassGovernanceRetention")))
        return {}

    async def get_object_retention(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._lock_settings(ctx, params)
        obj = self.engine.objects.get_version(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"))
        return {"Retention": objectlock.retention_of(obj.lock_mode, obj.lock_until)}

    async def put_object_legal_hold(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        self._lock_settings(ctx, params)
        status = objectlock.check_hold(params.get("LegalHold"))
        self.engine.objects.put_legal_hold(ctx.account_id, params["Bucket"], params["Key"], status,
                                           version_id=params.get("VersionId"))
        return {}

    async def get_object_legal_hold(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._lock_settings(ctx, params)
        obj = self.engine.objects.get_version(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"))
        if obj.legal_hold is None:
            raise objectlock.NoSuchObjectLockConfiguration()
        return {"LegalHold": {"Status": obj.legal_hold}}

    async def put_bucket_logging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        enabled = (params.get("BucketLoggingStatus") or {}).get("LoggingEnabled")
        if enabled and not self.engine.buckets.exists(ctx.account_id, enabled.get("TargetBucket", "")):
            raise bs.InvalidTargetBucketForLogging("The target bucket for logging does not exist",
                                                   TargetBucket=enabled.get("TargetBucket"))
        return self._put_setting(ctx, params, bs.LOGGING, enabled or None)

    async def get_bucket_logging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        enabled = self._setting(ctx, params, bs.LOGGING)
        return {"LoggingEnabled": enabled} if enabled else {}  # empty: logging off

    async def put_bucket_accelerate_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = bs.check_accelerate(params["Bucket"], (params.get("AccelerateConfiguration") or {}).get("Status"))
        return self._put_setting(ctx, params, bs.ACCELERATE, status)

    async def get_bucket_accelerate_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = self._setting(ctx, params, bs.ACCELERATE)
        return {"Status": status} if status else {}  # never configured: no Status

    async def put_bucket_request_payment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        payer = (params.get("RequestPaymentConfiguration") or {}).get("Payer")
        if payer not in ("Requester", "BucketOwner"):
            raise MalformedXML()
        return self._put_setting(ctx, params, bs.REQUEST_PAYMENT, payer)

    async def get_bucket_request_payment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Payer": self._setting(ctx, params, bs.REQUEST_PAYMENT) or "BucketOwner"}

    async def put_bucket_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        acl = bs.check_acl(params, owner(ctx.account_id), ownership=bs.ownership_of(bucket.settings.get(bs.OWNERSHIP)))
        return self._put_setting(ctx, params, bs.ACL, acl)

    async def get_bucket_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        acl = self._setting(ctx, params, bs.ACL)
        who = owner(ctx.account_id)
        return dict(acl) if acl else {"Owner": who, "Grants": [bs.owner_grant(who)]}

    async def put_object_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        check_key(params["Key"])
        bucket = self.engine.buckets.get(ctx.account_id, params["Bucket"])
        acl = bs.check_acl(params, owner(ctx.account_id), ownership=bs.ownership_of(bucket.settings.get(bs.OWNERSHIP)))
        self.engine.objects.put_acl(ctx.account_id, params["Bucket"], params["Key"], acl, version_id=params.get("VersionId"))
        return {}

    async def get_object_acl(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.engine.objects.get_version(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"))
        who = owner(ctx.account_id)
        return dict(obj.acl) if obj.acl else {"Owner": who, "Grants": [bs.owner_grant(who)]}

    async def put_bucket_ownership_controls(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        return self._put_setting(ctx, params, bs.OWNERSHIP, bs.check_ownership(params.get("OwnershipControls") or {}))

    async def get_bucket_ownership_controls(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # S3's default for new buckets (ACLs disabled) until set or deleted
        ownership = bs.ownership_of(self._setting(ctx, params, bs.OWNERSHIP))
        if ownership is None:
            raise self._unset(ctx, params, "OwnershipControlsNotFoundError", "The bucket ownership controls were not found")
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": ownership}]}}

    async def delete_bucket_ownership_controls(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.OWNERSHIP, bs.DELETED)

    async def put_public_access_block(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        config = bs.check_public_access_block(params.get("PublicAccessBlockConfiguration") or {})
        return self._put_setting(ctx, params, bs.PUBLIC_ACCESS_BLOCK, config)

    async def get_public_access_block(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        # S3's default for new buckets (all four on) until set or deleted
        config = self._setting(ctx, params, bs.PUBLIC_ACCESS_BLOCK)
        if config == bs.DELETED:
            raise self._unset(ctx, params, "NoSuchPublicAccessBlockConfiguration", "The public access block configuration was not found")
        return {"PublicAccessBlockConfiguration": config or dict(bs.DEFAULT_PUBLIC_ACCESS_BLOCK)}

    async def delete_public_access_block(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_setting(ctx, params, bs.PUBLIC_ACCESS_BLOCK, bs.DELETED)

    def _encryption(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The bucket's default encryption headers (copies and multipart uploads), else what the request named."""
        found = self.engine.buckets.lookup(ctx.account_id, params["Bucket"])
        out = bs.object_encryption(found.settings.get(bs.ENCRYPTION)) if found is not None else {}
        return out or self._requested_encryption(params)

    @staticmethod
    def _requested_encryption(params: dict[str, Any]) -> dict[str, Any]:
        """``x-amz-server-side-encryption`` a write asked for is echoed on its answer, as S3 does (it is not
        stored: later reads answer the bucket's default only)."""
        algorithm = params.get("ServerSideEncryption")
        if not algorithm:
            return {}
        out: dict[str, Any] = {"ServerSideEncryption": algorithm}
        if params.get("SSEKMSKeyId") and algorithm != "AES256":
            out["SSEKMSKeyId"] = params["SSEKMSKeyId"]
        return out

    def _object_extras(self, ctx: RequestContext, bucket: str, obj: S3Object) -> dict[str, Any]:
        """x-amz-server-side-encryption* (the bucket's default encryption, when one was put) and
        x-amz-expiration (a lifecycle rule expiring the object) of an object's responses."""
        found = self.engine.buckets.lookup(ctx.account_id, bucket)
        if found is None or not found.settings:
            return {}
        out = bs.object_encryption(found.settings.get(bs.ENCRYPTION)) if obj.sse_c is None else {}
        if found.settings.get(VERSIONING) or obj.version_id is not None:
            out["VersionId"] = obj.version
        rules = found.settings.get(bs.LIFECYCLE)
        if rules:
            header = lifecycle.expiration_header(lifecycle.expiry(rules, obj, day_s=self.engine.lifecycle.day_s))
            if header:
                out["Expiration"] = header
        return out

    # -- CORS for the edge: unsigned preflights, and the headers of requests carrying Origin ------------

    def cors_preflight(self, account: str, bucket: str, key: str, headers: dict[str, str]) -> list[tuple[str, str]]:
        """OPTIONS on a bucket or object URL (cors.py): the 200's headers, or S3's error."""
        found = self.engine.buckets.get(account, bucket)
        return cors.preflight(found.settings.get(bs.CORS), headers, resource_type="OBJECT" if key else "BUCKET")

    def cors_headers(self, account: str, bucket: str, method: str, origin: str) -> list[tuple[str, str]]:
        found = self.engine.buckets.lookup(account, bucket) if bucket else None
        if found is None:
            return []
        return cors.actual(found.settings.get(bs.CORS), origin, method)

    async def get_bucket_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"TagSet": tagset(self.engine.buckets.get_tags(ctx.account_id, params["Bucket"]))}

    async def put_bucket_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        self.engine.buckets.put_tags(ctx.account_id, params["Bucket"], from_tagset(params.get("Tagging")))
        return {}

    async def delete_bucket_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.engine.buckets.delete_tags(ctx.account_id, params["Bucket"])
        return {}

    async def put_bucket_notification_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        self.engine.buckets.get(ctx.account_id, params["Bucket"])
        config = validate_configuration(params.get("NotificationConfiguration") or {})
        check = self.engine.function_exists
        if check is not None and not params.get("SkipDestinationValidation"):
            for item in config.get("LambdaFunctionConfigurations") or []:
                if not await check(item["LambdaFunctionArn"]):
                    raise InvalidArgument("Unable to validate the following destination configurations",
                                          ArgumentName=item["LambdaFunctionArn"], ArgumentValue="Not found")
        self.engine.buckets.put_notification(ctx.account_id, params["Bucket"], config)
        return {}

    async def get_bucket_notification_configuration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.engine.buckets.get(ctx.account_id, params["Bucket"]).notification)

    # -- objects ---------------------------------------------------------------------------------

    async def put_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        require_length(ctx.headers)
        body = params.get("Body")
        data: Any = body.chunks() if isinstance(body, ByteStream) else (body or b"")
        integrity = integrity_of(params, ctx.headers, body)
        lock = self._lock_for_write(ctx, params, checksummed=integrity.content_md5 is not None or integrity.algorithm is not None)
        sse_c = ssec.for_write(params)
        obj = await self.engine.objects.put(
            ctx.account_id, params["Bucket"], params["Key"], data,
            content=content_of(params), metadata=params.get("Metadata"), tags=tags_of(params.get("Tagging")),
            integrity=integrity, if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"), storage_class=params.get("StorageClass"), origin=origin_of(ctx),
            lock=lock, sse_c=sse_c,
        )
        # no Size (x-amz-object-size): AWS sends it only for appends to directory buckets
        return {"ETag": obj.etag, **checksum_out(obj), **self._object_extras(ctx, params["Bucket"], obj),
                **self._requested_encryption(params), **ssec.headers(obj.sse_c)}

    def _read(self, ctx: RequestContext, params: dict[str, Any], *, head: bool) -> dict[str, Any]:
        read: ObjectRead = self.engine.objects.open(
            ctx.account_id, params["Bucket"], params["Key"], range_header=params.get("Range"),
            part_number=params.get("PartNumber"), head=head, version_id=params.get("VersionId"),
            conditions=Conditions(params.get("IfMatch"), params.get("IfNoneMatch"),
                                  params.get("IfModifiedSince"), params.get("IfUnmodifiedSince")),
            sse_c=ssec.key_md5(params),
        )
        obj = read.obj
        out = object_headers(obj)
        out["ContentLength"] = read.end - read.start
        enabled = params.get("ChecksumMode") == "ENABLED"
        if params.get("PartNumber") is not None and obj.parts_count is not None:
            # x-amz-mp-parts-count "is only returned if you specify partNumber" (and the object is multipart)
            out["PartsCount"] = obj.parts_count
        if read.partial:
            if params.get("PartNumber") is not None and obj.part_checksums and enabled and obj.checksum_algorithm:
                out[checksums.MEMBERS[obj.checksum_algorithm]] = obj.part_checksums[params["PartNumber"] - 1]
            out["ContentRange"] = f"bytes {read.start}-{read.end - 1}/{obj.size}"
        else:
            out.update(checksum_out(obj, enabled))
        for member, header in (("ResponseContentType", "ContentType"), ("ResponseContentLanguage", "ContentLanguage"),
                               ("ResponseContentDisposition", "ContentDisposition"), ("ResponseCacheControl", "CacheControl"),
                               ("ResponseContentEncoding", "ContentEncoding"), ("ResponseExpires", "Expires")):
            if params.get(member) is not None:
                out[header] = _header_override(member, params[member])
        out.update(self._object_extras(ctx, params["Bucket"], obj))
        if not head:
            out["Body"] = read.data if read.data is not None else read.body
        return out

    async def get_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if len(params) <= 3 and params.keys() <= _PLAIN_GET:
            # The whole object, no conditions, ranges or overrides: for a body kept in the description,
            # what _read answers, without its generic steps.
            obj = self.engine.objects.get_object(ctx.account_id, params["Bucket"], params["Key"])
            if obj.inline is not None and obj.storage_class not in archive.ARCHIVED and obj.sse_c is None:
                out = object_headers(obj)
                out["ContentLength"] = obj.size
                out.update(checksum_out(obj, params.get("ChecksumMode") == "ENABLED"))
                out.update(self._object_extras(ctx, params["Bucket"], obj))
                out["Body"] = obj.inline_body()
                return out
        return self._read(ctx, params, head=False)

    async def head_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._read(ctx, params, head=True)

    async def delete_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        check_key(params["Key"])
        removed = await self.engine.objects.remove(ctx.account_id, params["Bucket"], params["Key"],
                                                   version_id=params.get("VersionId"), origin=origin_of(ctx),
                                                   bypass=self._bypass(ctx, params))
        if removed is None or removed.version_id is None:
            # nothing there, or a bucket never versioned: an explicit versionId=null is echoed, as S3
            return {"VersionId": params.get("VersionId")} if params.get("VersionId") else {}
        return {"VersionId": removed.version_id, "DeleteMarker": removed.delete_marker or None}

    async def delete_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        spec = params.get("Delete") or {}
        items = spec.get("Objects") or []
        if not items or len(items) > MAX_DELETE_KEYS:
            raise MalformedXML()
        self.engine.buckets.get(ctx.account_id, params["Bucket"])
        quiet = bool(spec.get("Quiet"))
        bypass = self._bypass(ctx, params)
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        origin = origin_of(ctx)
        for item in items:
            key = item.get("Key", "")
            version = item.get("VersionId")
            if version is not None:
                try:
                    check_version_id(version)
                except InvalidArgument:
                    errors.append({"Key": key, "VersionId": version, "Code": "NoSuchVersion",
                                   "Message": "The specified version does not exist."})
                    continue
            try:
                check_key(key)
                removed = await self.engine.objects.remove(ctx.account_id, params["Bucket"], key, version_id=version,
                                                           origin=origin, bypass=bypass)
            except Exception as e:  # noqa: BLE001 - reported per key, as S3 does
                errors.append({"Key": key, "Code": getattr(e, "code", "InternalError"), "Message": getattr(e, "message", str(e))})
                continue
            if not quiet:
                entry: dict[str, Any] = {"Key": key, **({"VersionId": version} if version else {})}
                if removed is not None and removed.version_id is not None:
                    if version is None:  # a delete marker was created
                        entry.update(DeleteMarker=True, DeleteMarkerVersionId=removed.version_id)
                    elif removed.delete_marker:  # a delete marker was removed
                        entry.update(DeleteMarker=True, DeleteMarkerVersionId=removed.version_id)
                deleted.append(entry)
        return {"Deleted": deleted or None, "Errors": errors or None}

    async def copy_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        src_bucket, src_key, src_version = copy_source(params["CopySource"])
        directive = params.get("MetadataDirective", "COPY")
        tag_directive = params.get("TaggingDirective", "COPY")
        if directive not in ("COPY", "REPLACE") or tag_directive not in ("COPY", "REPLACE"):
            raise InvalidArgument("Unknown metadata directive.", ArgumentName="x-amz-metadata-directive")
        obj, src = await self.engine.objects.copy(
            ctx.account_id, src_bucket, src_key, params["Bucket"], params["Key"],
            source_conditions=source_conditions(params), source_version_id=src_version, replace_metadata=directive == "REPLACE",
            content=content_of(params), metadata=params.get("Metadata"), replace_tags=tag_directive == "REPLACE",
            tags=tags_of(params.get("Tagging")), checksum_algorithm=params.get("ChecksumAlgorithm"),
            storage_class=params.get("StorageClass"), if_match=params.get("IfMatch"),
            if_none_match=params.get("IfNoneMatch"), website_redirect=params.get("WebsiteRedirectLocation"),
            encryption=any(params.get(m) for m in _ENCRYPTION_MEMBERS), origin=origin_of(ctx),
            lock=self._lock_for_write(ctx, params), sse_c=ssec.for_write(params), source_sse_c=ssec.key_md5(params, "CopySource"),
        )
        result = {"ETag": obj.etag, "LastModified": stamp(obj.last_modified), **checksum_out(obj)}
        encryption = self._encryption(ctx, params) if obj.sse_c is None else ssec.headers(obj.sse_c)
        return {"CopyObjectResult": result, **encryption, **self._versions(ctx, src_bucket, src_version, src, params["Bucket"], obj)}

    def _versions(self, ctx: RequestContext, src_bucket: str, src_version: str | None, src: S3Object, bucket: str,
                  obj: S3Object) -> dict[str, Any]:
        """x-amz-copy-source-version-id and x-amz-version-id of a copy (versioned buckets only)."""
        out: dict[str, Any] = {}
        objects = self.engine.objects
        if src_version is not None or src.version_id is not None or objects.versioning(ctx.account_id, src_bucket) is not None:
            out["CopySourceVersionId"] = src.version
        if obj.version_id is not None or objects.versioning(ctx.account_id, bucket) is not None:
            out["VersionId"] = obj.version
        return out

    def _list(self, ctx: RequestContext, params: dict[str, Any], after: str | None) -> tuple[Any, dict[str, Any]]:
        max_keys = params.get("MaxKeys", MAX_LIST_KEYS)
        listing = self.engine.objects.list(
            ctx.account_id, params["Bucket"], prefix=params.get("Prefix") or "", delimiter=params.get("Delimiter"),
            after=after, max_keys=max_keys,
        )
        enc = params.get("EncodingType")
        fetch_owner = params.get("FetchOwner", True)
        who = owner(ctx.account_id)
        contents = []
        restores = "RestoreStatus" in (params.get("OptionalObjectAttributes") or ())
        now = time.time()
        for obj in listing.objects:
            entry: dict[str, Any] = {"Key": encode_key(obj.key, enc), "LastModified": stamp(obj.last_modified),
                                     "ETag": obj.etag, "Size": obj.size, "StorageClass": obj.storage_class}
            if obj.checksum_algorithm:
                entry["ChecksumAlgorithm"] = [obj.checksum_algorithm]
                entry["ChecksumType"] = obj.checksum_type
            if fetch_owner:
                entry["Owner"] = who
            if restores and obj.restore is not None:
                entry["RestoreStatus"] = archive.status(obj.restore, now)
            contents.append(entry)
        out: dict[str, Any] = {
            "Name": params["Bucket"],
            "Prefix": encode_key(params.get("Prefix") or "", enc),
            "Delimiter": encode_key(params.get("Delimiter"), enc),
            "MaxKeys": max_keys,
            "IsTruncated": listing.truncated,
            "Contents": contents or None,
            "CommonPrefixes": [{"Prefix": encode_key(p, enc)} for p in listing.prefixes] or None,
            "EncodingType": enc,
        }
        return listing, out

    async def list_objects_v2(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("ContinuationToken")
        after = continuation(token) if token else params.get("StartAfter")
        if params.get("FetchOwner") is None:
            params = {**params, "FetchOwner": False}
        listing, out = self._list(ctx, params, after)
        out["KeyCount"] = len(listing.objects) + len(listing.prefixes)
        out["ContinuationToken"] = token
        out["StartAfter"] = encode_key(params.get("StartAfter"), params.get("EncodingType"))
        if listing.truncated and listing.last is not None:
            out["NextContinuationToken"] = make_token(listing.last)
        return out

    async def list_objects(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        listing, out = self._list(ctx, params, params.get("Marker") or None)
        out["Marker"] = encode_key(params.get("Marker") or "", params.get("EncodingType"))
        if listing.truncated and listing.last is not None and params.get("Delimiter"):
            # S3 sends NextMarker only with a delimiter; without one, clients go on from the last key
            out["NextMarker"] = encode_key(listing.last, params.get("EncodingType"))
        return out

    async def get_object_attributes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.engine.objects.get_version(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"))
        ssec.check_read(obj.sse_c, ssec.key_md5(params))
        wanted = {a.strip() for a in params.get("ObjectAttributes") or [] for a in a.split(",")}
        unknown = wanted - {"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}
        if unknown:
            raise InvalidArgument("Invalid attribute name specified.", ArgumentName="x-amz-object-attributes",
                                  ArgumentValue=sorted(unknown)[0])
        out: dict[str, Any] = {"LastModified": stamp(obj.last_modified), **self._version_of(ctx, params, obj)}
        if "ETag" in wanted:
            out["ETag"] = obj.etag_hex  # unquoted here, unlike everywhere else
        if "Checksum" in wanted and obj.checksum and obj.checksum_algorithm:
            out["Checksum"] = {checksums.MEMBERS[obj.checksum_algorithm]: obj.checksum, "ChecksumType": obj.checksum_type}
        if "StorageClass" in wanted:
            out["StorageClass"] = obj.storage_class
        if "ObjectSize" in wanted:
            out["ObjectSize"] = obj.size
        if "ObjectParts" in wanted and obj.parts_count is not None:
            marker = int(params.get("PartNumberMarker") or 0)
            max_parts = params.get("MaxParts", 1000)
            parts_out: dict[str, Any] = {"TotalPartsCount": obj.parts_count, "PartNumberMarker": marker, "MaxParts": max_parts}
            # the parts themselves, as S3, only for an upload made with checksums
            if obj.part_checksums and obj.checksum_algorithm and len(obj.segments) == obj.parts_count:
                member = checksums.MEMBERS[obj.checksum_algorithm]
                numbered = [(n + 1, size, obj.part_checksums[n]) for n, (_, size) in enumerate(obj.segments)]
                page = [p for p in numbered if p[0] > marker][:max_parts]
                parts_out["Parts"] = [{"PartNumber": n, "Size": size, member: c} for n, size, c in page]
                parts_out["IsTruncated"] = bool(page) and page[-1][0] < obj.parts_count
                if page:
                    parts_out["NextPartNumberMarker"] = page[-1][0]
            else:
                parts_out["IsTruncated"] = False
            out["ObjectParts"] = parts_out
        return out

    # -- object tagging --------------------------------------------------------------------------

    def _version_of(self, ctx: RequestContext, params: dict[str, Any], obj: S3Object) -> dict[str, Any]:
        """x-amz-version-id of an answer about one version (versioned buckets, or a version asked for)."""
        if obj.version_id is not None or params.get("VersionId") or self.engine.objects.versioning(ctx.account_id, params["Bucket"]):
            return {"VersionId": obj.version}
        return {}

    async def get_object_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.engine.objects.get_version(ctx.account_id, params["Bucket"], params["Key"], params.get("VersionId"))
        return {"TagSet": tagset(obj.tags), **self._version_of(ctx, params, obj)}

    async def put_object_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        verify_small_body(ctx)
        obj = self.engine.objects.put_tags(ctx.account_id, params["Bucket"], params["Key"], from_tagset(params.get("Tagging")),
                                           version_id=params.get("VersionId"))
        return self._version_of(ctx, params, obj)

    async def delete_object_tagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.engine.objects.put_tags(ctx.account_id, params["Bucket"], params["Key"], {}, version_id=params.get("VersionId"))
        return self._version_of(ctx, params, obj)

    async def list_object_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        enc = params.get("EncodingType")
        max_keys = params.get("MaxKeys", MAX_LIST_KEYS)
        listing = self.engine.objects.list_versions(
            ctx.account_id, params["Bucket"], prefix=params.get("Prefix") or "", delimiter=params.get("Delimiter"),
            key_marker=params.get("KeyMarker") or None, version_id_marker=params.get("VersionIdMarker") or None,
            max_keys=max_keys,
        )
        who = owner(ctx.account_id)
        versions: list[dict[str, Any]] = []
        markers: list[dict[str, Any]] = []
        for seq, (obj, latest) in enumerate(listing.versions):
            # SEQUENCE_KEY: the XML lists versions and delete markers interleaved, in this order (S3's)
            if obj.delete_marker:
                markers.append({"Owner": who, "Key": encode_key(obj.key, enc), "VersionId": obj.version, "IsLatest": latest,
                                "LastModified": stamp(obj.last_modified), SEQUENCE_KEY: seq})
                continue
            entry: dict[str, Any] = {"ETag": obj.etag, "Size": obj.size, "StorageClass": obj.storage_class,
                                     "Key": encode_key(obj.key, enc), "VersionId": obj.version, "IsLatest": latest,
                                     "LastModified": stamp(obj.last_modified), "Owner": who, SEQUENCE_KEY: seq}
            if obj.checksum_algorithm:
                entry["ChecksumAlgorithm"] = [obj.checksum_algorithm]
                entry["ChecksumType"] = obj.checksum_type
            versions.append(entry)
        out: dict[str, Any] = {
            "Name": params["Bucket"], "Prefix": encode_key(params.get("Prefix") or "", enc),
            "KeyMarker": encode_key(params.get("KeyMarker") or "", enc), "VersionIdMarker": params.get("VersionIdMarker") or "",
            "Delimiter": encode_key(params.get("Delimiter"), enc), "MaxKeys": max_keys, "IsTruncated": listing.truncated,
            "Versions": versions or None, "DeleteMarkers": markers or None,
            "CommonPrefixes": [{"Prefix": encode_key(p, enc)} for p in listing.prefixes] or None, "EncodingType": enc,
        }
        if listing.truncated:
            out["NextKeyMarker"] = encode_key(listing.next_key_marker, enc)
            if listing.next_version_id_marker is not None:
                out["NextVersionIdMarker"] = listing.next_version_id_marker
        return out

    # -- multipart -------------------------------------------------------------------------------

    async def create_multipart_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        upload = self.engine.multipart.create(
            ctx.account_id, params["Bucket"], params["Key"], content=content_of(params), metadata=params.get("Metadata"),
            tags=tags_of(params.get("Tagging")), checksum_algorithm=params.get("ChecksumAlgorithm"),
            checksum_type=params.get("ChecksumType"), storage_class=params.get("StorageClass"),
            lock=self._lock_for_write(ctx, params),  # else the bucket's default, at completion
            sse_c=ssec.for_write(params),
        )
        encryption = self._encryption(ctx, params) if upload.sse_c is None else ssec.headers(upload.sse_c)
        return {**encryption, "Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id,
                "ChecksumAlgorithm": upload.checksum_algorithm, "ChecksumType": upload.checksum_type}

    async def upload_part(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        require_length(ctx.headers)
        body = params.get("Body")
        data: Any = body.chunks() if isinstance(body, ByteStream) else (body or b"")
        part = await self.engine.multipart.upload_part(
            ctx.account_id, params["Bucket"], params["Key"], params["UploadId"], params["PartNumber"], data,
            integrity=integrity_of(params, ctx.headers, body), sse_c=ssec.key_md5(params),
        )
        upload = self.engine.multipart.get_upload(ctx.account_id, params["Bucket"], params["Key"], params["UploadId"])
        out: dict[str, Any] = {"ETag": part.etag, **(self._encryption(ctx, params) if upload.sse_c is None else ssec.headers(upload.sse_c))}
        algorithm = upload.checksum_algorithm or integrity_of(params, ctx.headers, body).algorithm
        if part.checksum and algorithm:
            out[checksums.MEMBERS[algorithm]] = part.checksum
        return out

    async def upload_part_copy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        src_bucket, src_key, src_version = copy_source(params["CopySource"])
        part = await self.engine.multipart.upload_part_copy(
            ctx.account_id, params["Bucket"], params["Key"], params["UploadId"], params["PartNumber"],
            source_bucket=src_bucket, source_key=src_key, source_range=params.get("CopySourceRange"),
            source_conditions=source_conditions(params), source_version_id=src_version,
            sse_c=ssec.key_md5(params), source_sse_c=ssec.key_md5(params, "CopySource"),
        )
        out: dict[str, Any] = {"CopyPartResult": {"ETag": part.etag, "LastModified": stamp(part.last_modified)},
                               **ssec.headers(ssec.key_md5(params))}
        if src_version is not None:
            out["CopySourceVersionId"] = src_version
        return out

    async def complete_multipart_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parts = (params.get("MultipartUpload") or {}).get("Parts") or []
        refuse_unsupported_checksums(params)
        obj = await self.engine.multipart.complete(
            ctx.account_id, params["Bucket"], params["Key"], params["UploadId"], parts,
            if_match=params.get("IfMatch"), if_none_match=params.get("IfNoneMatch"), origin=origin_of(ctx),
            checksum_type=params.get("ChecksumType"), object_size=params.get("MpuObjectSize"),
            object_checksums={algo: params[member] for algo, member in checksums.MEMBERS.items() if params.get(member)},
        )
        location = f"{ctx.endpoint_url}/{params['Bucket']}/{quote(obj.key, safe='/')}"
        return {"Location": location, "Bucket": obj.bucket, "Key": obj.key, "ETag": obj.etag, **checksum_out(obj),
                **self._encryption(ctx, params), **self._version_of(ctx, params, obj)}

    async def abort_multipart_upload(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.engine.multipart.abort(ctx.account_id, params["Bucket"], params["Key"], params["UploadId"])
        return {}

    async def list_parts(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        listing = self.engine.multipart.list_parts(
            ctx.account_id, params["Bucket"], params["Key"], params["UploadId"],
            marker=int(params.get("PartNumberMarker") or 0), max_parts=params.get("MaxParts", 1000),
        )
        up = listing.upload
        who = owner(ctx.account_id)
        parts = []
        for p in listing.parts:
            entry: dict[str, Any] = {"PartNumber": p.number, "LastModified": stamp(p.last_modified), "ETag": p.etag, "Size": p.size}
            if p.checksum and up.checksum_algorithm:
                entry[checksums.MEMBERS[up.checksum_algorithm]] = p.checksum
            parts.append(entry)
        return {
            "Bucket": up.bucket, "Key": up.key, "UploadId": up.upload_id,
            "PartNumberMarker": params.get("PartNumberMarker") or 0,
            "NextPartNumberMarker": listing.next_marker, "MaxParts": params.get("MaxParts", 1000),
            "IsTruncated": listing.truncated, "Parts": parts or None, "Initiator": who, "Owner": who,
            "StorageClass": up.storage_class, "ChecksumAlgorithm": up.checksum_algorithm, "ChecksumType": up.checksum_type,
        }

    async def list_multipart_uploads(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        enc = params.get("EncodingType")
        listing = self.engine.multipart.list_uploads(
            ctx.account_id, params["Bucket"], prefix=params.get("Prefix") or "", delimiter=params.get("Delimiter"),
            key_marker=params.get("KeyMarker") or None, upload_id_marker=params.get("UploadIdMarker") or None,
            max_uploads=params.get("MaxUploads", 1000),
        )
        who = owner(ctx.account_id)
        return {
            "Bucket": params["Bucket"], "KeyMarker": encode_key(params.get("KeyMarker") or "", enc),
            "UploadIdMarker": params.get("UploadIdMarker") or "",
            "NextKeyMarker": encode_key(listing.next_key_marker, enc), "NextUploadIdMarker": listing.next_upload_id_marker,
            "Prefix": encode_key(params.get("Prefix") or "", enc), "Delimiter": encode_key(params.get("Delimiter"), enc),
            "MaxUploads": params.get("MaxUploads", 1000), "IsTruncated": listing.truncated, "EncodingType": enc,
            "Uploads": [
                {"UploadId": u.upload_id, "Key": encode_key(u.key, enc), "Initiated": stamp(u.initiated),
                 "StorageClass": u.storage_class, "Owner": who, "Initiator": who,
                 "ChecksumAlgorithm": u.checksum_algorithm, "ChecksumType": u.checksum_type}
                for u in listing.uploads
            ] or None,
            "CommonPrefixes": [{"Prefix": encode_key(p, enc)} for p in listing.prefixes] or None,
        }


def create_api(core: Nimbus) -> S3Api:
    return S3Api(core)
