"""S3 static website hosting: PutBucketWebsite, then plain HTTP GETs as a browser makes them (path-style
/_aws/s3-website/<bucket>/ and the <bucket>.s3-website.localhost host), with S3's index, error, redirect
and routing-rule behaviour."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from tests.conftest import NimbusProcess

BUCKET = "my-site"


def _get(server: NimbusProcess, path: str, host: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path, headers={"Host": host} if host else {})
    resp = conn.getresponse()
    out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    conn.close()
    return out


@pytest.fixture(scope="module")
def site(nimbus_server: NimbusProcess):
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key, body, ctype in (("index.html", b"<h1>home</h1>", "text/html"), ("docs/index.html", b"<h1>docs</h1>", "text/html"),
                             ("404.html", b"<h1>lost</h1>", "text/html"), ("app.js", b"console.log(1)", "application/javascript")):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=ctype)
    s3.put_object(Bucket=BUCKET, Key="old.html", Body=b"", WebsiteRedirectLocation="/index.html")
    s3.put_bucket_website(Bucket=BUCKET, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "blog/"}, "Redirect": {"ReplaceKeyPrefixWith": "docs/", "HttpRedirectCode": "302"}}],
    })
    return s3


def test_serves_index_objects_and_errors(nimbus_server: NimbusProcess, site) -> None:
    base = f"/_aws/s3-website/{BUCKET}/"
    status, headers, body = _get(nimbus_server, base)
    assert (status, body, headers["content-type"]) == (200, b"<h1>home</h1>", "text/html")
    assert _get(nimbus_server, base + "app.js")[2] == b"console.log(1)"
    assert _get(nimbus_server, base + "docs/")[2] == b"<h1>docs</h1>"
    status, headers, _ = _get(nimbus_server, base + "docs")  # a folder without its slash
    assert (status, headers["location"]) == (302, base + "docs/")
    status, headers, body = _get(nimbus_server, base + "nothing/here.html")
    assert (status, body) == (404, b"<h1>lost</h1>")  # the error document, with the error's status
    status, headers, _ = _get(nimbus_server, base + "old.html")
    assert (status, headers["location"]) == (301, "/index.html")
    status, headers, _ = _get(nimbus_server, base + "blog/post.html")
    assert (status, headers["location"]) == (302, base + "docs/post.html")
    status, headers, body = _get(nimbus_server, base + "app.js", method="HEAD")
    assert (status, body, headers["content-length"]) == (200, b"", "14")
    assert _get(nimbus_server, base, method="POST")[0] == 405
    # the virtual-hosted form, as a browser sends it
    status, _, body = _get(nimbus_server, "/", host=f"{BUCKET}.s3-website.localhost:{nimbus_server.port}")
    assert (status, body) == (200, b"<h1>home</h1>")
    status, _, body = _get(nimbus_server, "/app.js", host=f"{BUCKET}.s3-website-us-east-1.localhost")
    assert (status, body) == (200, b"console.log(1)")


def test_no_website_redirect_all_and_missing_buckets(nimbus_server: NimbusProcess, site) -> None:
    site.create_bucket(Bucket="plain-bucket")
    status, headers, body = _get(nimbus_server, "/_aws/s3-website/plain-bucket/")
    assert status == 404 and b"NoSuchWebsiteConfiguration" in body and headers["content-type"].startswith("text/html")
    assert b"NoSuchBucket" in _get(nimbus_server, "/_aws/s3-website/no-such-bucket/")[2]
    site.create_bucket(Bucket="moved-site")
    site.put_bucket_website(Bucket="moved-site", WebsiteConfiguration={"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}})
    status, headers, _ = _get(nimbus_server, "/_aws/s3-website/moved-site/a/b.html")
    assert (status, headers["location"]) == (301, "https://example.com/a/b.html")
    site.delete_bucket_website(Bucket=BUCKET)
    assert b"NoSuchWebsiteConfiguration" in _get(nimbus_server, f"/_aws/s3-website/{BUCKET}/")[2]


def test_under_iam_enforce_only_public_content_is_served(tmp_path: Path) -> None:
    import json

    server = NimbusProcess(tmp_path / "data", env={"NIMBUS_IAM": "enforce"}).start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="enforced-site")
        s3.put_object(Bucket="enforced-site", Key="index.html", Body=b"public", ContentType="text/html")
        s3.put_bucket_website(Bucket="enforced-site", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
        status, _, body = _get(server, "/_aws/s3-website/enforced-site/")
        assert status == 403 and b"AccessDenied" in body
        s3.delete_public_access_block(Bucket="enforced-site")
        s3.put_bucket_policy(Bucket="enforced-site", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::enforced-site/*"}]}))
        assert _get(server, "/_aws/s3-website/enforced-site/")[:3:2] == (200, b"public")
    finally:
        server.stop()
