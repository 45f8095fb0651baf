"""S3 static website hosting: a bucket with a website configuration (PutBucketWebsite) served over plain
HTTP, as S3's website endpoints serve it.

Addresses: ``http://<bucket>.s3-website.localhost:<port>/`` (also ``<bucket>.s3-website.<region>.localhost``
and ``<bucket>.s3-website-<region>.localhost``, AWS's two spellings), or path-style
``http://127.0.0.1:<port>/_aws/s3-website/<bucket>/``. GET and HEAD only (others: 405), unsigned, as a
browser asks. What S3 does:

- ``RedirectAllRequestsTo`` answers 301 to that host (and protocol) for every path;
- a path that ends in ``/`` (or is empty) serves ``<path><IndexDocument.Suffix>``; a path with no object
  whose ``<path>/<suffix>`` exists answers 302 to ``<path>/``;
- ``RoutingRules``: the first rule whose ``KeyPrefixEquals`` matches redirects before any read, and one
  whose ``HttpErrorCodeReturnedEquals`` matches the error redirects after; ``ReplaceKeyWith`` /
  ``ReplaceKeyPrefixWith``, ``HostName``, ``Protocol``, ``HttpRedirectCode`` (default 301);
- an object with ``x-amz-website-redirect-location`` answers 301 to it;
- a missing key answers 404 with the ``ErrorDocument`` object as body when there is one, else S3's HTML
  error page (``404 Not Found``, ``Code: NoSuchKey``); a bucket without a website configuration answers
  ``NoSuchWebsiteConfiguration``, a missing bucket ``NoSuchBucket``.

Who may read: under ``--iam enforce`` the website answers as S3 does, only what the bucket policy allows
anonymous callers (``s3:GetObject`` for ``"Principal": "*"``, past the public access block), else 403
``AccessDenied``; by default (IAM recorded, not evaluated) any bucket with a website configuration is
served, like every other Nimbus read.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from nimbus.errors import ServiceError
from nimbus.services.base import RequestContext

if TYPE_CHECKING:
    from nimbus.server import Nimbus

PREFIX = "/_aws/s3-website/"
_HOST = re.compile(r"^(?P<bucket>.+?)\.s3-website(?:[.-][a-z0-9-]+)?\.localhost$")


def website_bucket(scope: dict[str, Any], headers: dict[str, str]) -> tuple[str, str] | None:
    """(bucket, key path) of a website request, or None."""
    path: str = scope.get("path", "/")
    if path.startswith(PREFIX):
        bucket, _, rest = path[len(PREFIX):].partition("/")
        return (bucket, rest) if bucket else None
    host = headers.get("host", "").lower()
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    m = _HOST.match(host)
    return (m.group("bucket"), path.lstrip("/")) if m else None


class Website:
    def __init__(self, core: Nimbus, authorize: Any) -> None:
        self.core = core
        self.authorize = authorize  # () -> the edge's IAM Authorizer (under --iam enforce)

    @staticmethod
    def matches(scope: dict[str, Any], headers: dict[str, str]) -> bool:
        # asked of every request: the cheap tests first
        if scope.get("path", "").startswith(PREFIX):
            return True
        return "s3-website" in headers.get("host", "") and website_bucket(scope, headers) is not None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        found = website_bucket(scope, headers)
        assert found is not None
        bucket, raw_key = found
        key = unquote(raw_key)
        method = scope.get("method", "GET")
        request_id = uuid.uuid4().hex[:16].upper()
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await _page(send, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.", request_id, head,
                        [("Allow", "GET, HEAD")])
            return
        s3 = self.core.api("s3")
        account = self.core.settings.account_id
        stored = s3.engine.buckets.lookup(account, bucket)
        if stored is None:
            await _page(send, 404, "NoSuchBucket", "The specified bucket does not exist", request_id, head, bucket=bucket)
            return
        from nimbus.services.s3 import settings as bs

        config = stored.settings.get(bs.WEBSITE)
        if not config or config == bs.DELETED:
            await _page(send, 404, "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration",
                        request_id, head, bucket=bucket)
            return
        host = headers.get("host", "")
        redirect_all = config.get("RedirectAllRequestsTo")
        if redirect_all:
            protocol = redirect_all.get("Protocol") or "http"
            await _redirect(send, 301, f"{protocol}://{redirect_all['HostName']}/{raw_key}", request_id)
            return
        rules = config.get("RoutingRules") or []
        for rule in rules:
            cond = rule.get("Condition") or {}
            if cond.get("KeyPrefixEquals") is not None and not cond.get("HttpErrorCodeReturnedEquals") and key.startswith(cond["KeyPrefixEquals"]):
                await _redirect(send, *_rule_target(rule, key, host, scope), request_id)
                return
        suffix = (config.get("IndexDocument") or {}).get("Suffix", "index.html")
        target = key + suffix if key == "" or key.endswith("/") else key
        status, out, code = await self._read(bucket, target, request_id)
        if code == "NoSuchKey" and not key.endswith("/") and key:
            folder, _, _ = await self._read(bucket, f"{key}/{suffix}", request_id, probe=True)
            if folder == 200:
                await _redirect(send, 302, f"{_base(scope)}{key}/", request_id)
                return
        if status != 200:
            for rule in rules:
                cond = rule.get("Condition") or {}
                if cond.get("HttpErrorCodeReturnedEquals") == str(status) and key.startswith(cond.get("KeyPrefixEquals") or ""):
                    await _redirect(send, *_rule_target(rule, key, host, scope), request_id)
                    return
            error_key = (config.get("ErrorDocument") or {}).get("Key")
            if error_key and status in (403, 404):
                estatus, eout, _ = await self._read(bucket, error_key, request_id)
                if estatus == 200:
                    await _object(send, status, eout, head)
                    return
            await _page(send, status, code or "NoSuchKey", "The specified key does not exist." if code == "NoSuchKey" else "Access Denied",
                        request_id, head, key=target if code == "NoSuchKey" else None)
            return
        redirect = out.get("WebsiteRedirectLocation")
        if redirect:
            await _redirect(send, 301, redirect, request_id)
            return
        await _object(send, 200, out, head)

    async def _read(self, bucket: str, key: str, request_id: str, *, probe: bool = False) -> tuple[int, dict[str, Any], str | None]:
        """(status, GetObject's answer, error code) for an anonymous website read."""
        settings = self.core.settings
        params = {"Bucket": bucket, "Key": key}
        if settings.iam == "enforce":
            try:
                self.authorize().check(None, "s3", "GetObject", params, region=settings.default_region, account_id=settings.account_id)
            except ServiceError:
                return 403, {}, "AccessDenied"
        ctx = RequestContext(request_id, "s3", "HeadObject" if probe else "GetObject", settings.default_region, settings.account_id)
        s3 = self.core.api("s3")
        try:
            out = await (s3.head_object(ctx, params) if probe else s3.get_object(ctx, params))
        except ServiceError as e:
            return (404 if e.status == 404 else e.status), {}, e.code
        return 200, out, None


def _base(scope: dict[str, Any]) -> str:
    path: str = scope.get("path", "/")
    if path.startswith(PREFIX):
        bucket = path[len(PREFIX):].split("/", 1)[0]
        return f"{PREFIX}{bucket}/"
    return "/"


def _rule_target(rule: dict[str, Any], key: str, host: str, scope: dict[str, Any]) -> tuple[int, str]:
    redirect = rule.get("Redirect") or {}
    cond = rule.get("Condition") or {}
    if redirect.get("ReplaceKeyWith") is not None:
        new_key = redirect["ReplaceKeyWith"]
    elif redirect.get("ReplaceKeyPrefixWith") is not None:
        prefix = cond.get("KeyPrefixEquals") or ""
        new_key = redirect["ReplaceKeyPrefixWith"] + key[len(prefix):]
    else:
        new_key = key
    code = int(redirect.get("HttpRedirectCode") or 301)
    if redirect.get("HostName"):
        return code, f"{redirect.get('Protocol') or 'http'}://{redirect['HostName']}/{new_key}"
    return code, f"{_base(scope)}{new_key}"


async def _redirect(send: Any, status: int, location: str, request_id: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"Location", location.encode("latin-1", "replace")), (b"x-amz-request-id", request_id.encode()), (b"Content-Length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


async def _object(send: Any, status: int, out: dict[str, Any], head: bool) -> None:
    body = out.get("Body", b"")
    headers = [(b"Content-Type", str(out.get("ContentType") or "binary/octet-stream").encode("latin-1"))]
    if out.get("ETag"):
        headers.append((b"ETag", str(out["ETag"]).encode("latin-1")))
    for member, name in (("CacheControl", b"Cache-Control"), ("ContentEncoding", b"Content-Encoding"),
                         ("ContentLanguage", b"Content-Language"), ("ContentDisposition", b"Content-Disposition")):
        if out.get(member):
            headers.append((name, str(out[member]).encode("latin-1", "replace")))
    if out.get("LastModified") is not None:
        modified = out["LastModified"]
        headers.append((b"Last-Modified", (modified.strftime("%a, %d %b %Y %H:%M:%S GMT") if hasattr(modified, "strftime") else str(modified)).encode()))
    headers.append((b"Content-Length", str(out.get("ContentLength", len(body) if isinstance(body, (bytes, bytearray)) else 0)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if head:
        await send({"type": "http.response.body", "body": b""})
        return
    if isinstance(body, (bytes, bytearray)):
        await send({"type": "http.response.body", "body": bytes(body)})
        return
    async for chunk in body:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _page(send: Any, status: int, code: str, message: str, request_id: str, head: bool,
                extra: list[tuple[str, str]] | None = None, *, bucket: str | None = None, key: str | None = None) -> None:
    """S3's website error page (HTML, not XML)."""
    titles = {403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed"}
    title = titles.get(status, f"{status} Error")
    items = [f"<li>Code: {escape(code)}</li>", f"<li>Message: {escape(message)}</li>"]
    if bucket:
        items.append(f"<li>BucketName: {escape(bucket)}</li>")
    if key:
        items.append(f"<li>Key: {escape(key)}</li>")
    items.append(f"<li>RequestId: {request_id}</li>")
    body = (f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n" + "\n".join(items)
            + "\n</ul>\n<hr/>\n</body>\n</html>\n").encode()
    headers = [(b"Content-Type", b"text/html; charset=utf-8"), (b"x-amz-request-id", request_id.encode()),
               (b"Content-Length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra or []]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
