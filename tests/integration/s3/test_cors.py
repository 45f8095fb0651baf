"""Bucket CORS end to end: Put/Get/DeleteBucketCors with S3's validation, unsigned browser preflights
(path-style and virtual-hosted) answered from the rules, and the Access-Control-* headers of real requests
(presigned PUT/GET from a browser origin)."""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from botocore.exceptions import ClientError

BUCKET = "cors-bucket"
RULES = [
    {"ID": "app", "AllowedOrigins": ["http://app.example.com", "https://*.example.org"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"], "MaxAgeSeconds": 3000},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def request(server: Any, method: str, path: str, headers: dict[str, str], *, host: str | None = None, body: bytes | None = None
            ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        hdrs = dict(headers)
        if host:
            hdrs["Host"] = host
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def error_code(body: bytes) -> tuple[str, str]:
    root = ET.fromstring(body)
    return root.findtext("Code") or "", root.findtext("Message") or ""


@pytest.fixture(scope="module")
def s3(nimbus_server: Any) -> Any:
    client = nimbus_server.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": RULES})
    client.put_object(Bucket=BUCKET, Key="hello.txt", Body=b"hi")
    return client


def test_get_returns_the_rules(s3: Any) -> None:
    got = s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert got[0]["ID"] == "app" and got[0]["AllowedOrigins"] == RULES[0]["AllowedOrigins"]
    assert got[0]["MaxAgeSeconds"] == 3000 and got[1] == {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}


@pytest.mark.parametrize(
    "rules, code, message",
    [
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest",
         "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        ([{"AllowedOrigins": ["http://*.*.com"], "AllowedMethods": ["GET"]}], "InvalidRequest",
         'AllowedOrigin "http://*.*.com" can not have more than one wildcard.'),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML", None),
    ],
)
def test_put_validation_stores_nothing(s3: Any, rules: list[dict[str, Any]], code: str, message: str | None) -> None:
    if "cors-invalid" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="cors-invalid")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket="cors-invalid", CORSConfiguration={"CORSRules": rules})
    assert e.value.response["Error"]["Code"] == code
    if message:
        assert e.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="cors-invalid")
    assert e.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_preflight_path_style(nimbus_server: Any, s3: Any) -> None:
    status, headers, _ = request(nimbus_server, "OPTIONS", f"/{BUCKET}/hello.txt", {
        "Origin": "https://shop.example.org", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Owner"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://shop.example.org"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-meta-owner"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert headers["access-control-max-age"] == "3000"
    assert headers["access-control-allow-credentials"] == "true"
    assert "Origin" in headers["vary"]


def test_preflight_virtual_hosted_and_wildcard_origin(nimbus_server: Any, s3: Any) -> None:
    status, headers, _ = request(nimbus_server, "OPTIONS", "/hello.txt", {
        "Origin": "http://elsewhere.test", "Access-Control-Request-Method": "GET"}, host=f"{BUCKET}.s3.localhost:{nimbus_server.port}")
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in headers


def test_preflight_refused(nimbus_server: Any, s3: Any) -> None:
    # a method no rule allows for that origin, a header no rule allows
    for extra in ({"Access-Control-Request-Method": "DELETE"},
                  {"Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-custom"}):
        status, headers, body = request(nimbus_server, "OPTIONS", f"/{BUCKET}/hello.txt", {"Origin": "http://app.example.com", **extra})
        assert status == 403
        assert error_code(body) == ("CORSResponse", "This CORS request is not allowed. This is usually because the evalution of "
                                    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
                                    "are not whitelisted by the resource's CORS spec.")
        assert "access-control-allow-origin" not in headers
    # no CORS on the bucket
    s3.create_bucket(Bucket="cors-none")
    status, _, body = request(nimbus_server, "OPTIONS", "/cors-none/k", {"Origin": "http://a.test", "Access-Control-Request-Method": "GET"})
    assert status == 403 and error_code(body) == ("CORSResponse", "CORS is not enabled for this bucket.")
    # no Origin
    status, _, body = request(nimbus_server, "OPTIONS", f"/{BUCKET}/k", {"Access-Control-Request-Method": "GET"})
    assert status == 400 and error_code(body)[0] == "BadRequest"
    status, _, body = request(nimbus_server, "OPTIONS", "/cors-missing-bucket/k", {"Origin": "http://a.test", "Access-Control-Request-Method": "GET"})
    assert status == 404 and error_code(body)[0] == "NoSuchBucket"


def test_unsigned_requests_other_than_options_are_still_refused(nimbus_server: Any, s3: Any) -> None:
    for method in ("GET", "PUT", "DELETE"):
        status, headers, _ = request(nimbus_server, method, f"/{BUCKET}/hello.txt", {"Origin": "http://app.example.com"},
                                     body=b"x" if method == "PUT" else None)
        assert status == 403, method
    assert s3.get_object(Bucket=BUCKET, Key="hello.txt")["Body"].read() == b"hi"


def test_presigned_put_and_get_from_a_browser_origin(nimbus_server: Any, s3: Any) -> None:
    from botocore.config import Config

    signer = nimbus_server.client("s3", config=Config(signature_version="s3v4"))

    def call(method: str, key: str, origin: str, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        op = "put_object" if method == "PUT" else "get_object"
        url = signer.generate_presigned_url(op, Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
        path = url.split(str(nimbus_server.port), 1)[1]
        headers = {"Origin": origin, **({"Content-Type": "application/octet-stream"} if body is not None else {})}
        return request(nimbus_server, method, path, headers, body=body)

    status, headers, body = call("PUT", "upload.bin", "http://app.example.com", b"from the browser")
    assert status == 200, body
    assert headers["access-control-allow-origin"] == "http://app.example.com"
    assert headers["access-control-allow-methods"] == "GET, PUT"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    assert headers["access-control-max-age"] == "3000"
    assert headers["access-control-allow-credentials"] == "true"
    assert "Origin" in headers["vary"]
    status, headers, body = call("GET", "upload.bin", "http://other.test")
    assert (status, body) == (200, b"from the browser")
    assert headers["access-control-allow-origin"] == "*"
    # an origin no rule allows for the method: served, without CORS headers (the browser refuses it)
    status, headers, _ = call("PUT", "other.bin", "http://other.test", b"x")
    assert status == 200 and "access-control-allow-origin" not in headers


def test_delete_cors_then_preflight_refused(nimbus_server: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="cors-delete")
    s3.put_bucket_cors(Bucket="cors-delete", CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})
    preflight = {"Origin": "http://a.test", "Access-Control-Request-Method": "GET"}
    assert request(nimbus_server, "OPTIONS", "/cors-delete/k", preflight)[0] == 200
    s3.delete_bucket_cors(Bucket="cors-delete")
    assert request(nimbus_server, "OPTIONS", "/cors-delete/k", preflight)[0] == 403
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="cors-delete")
    assert e.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_cli_put_and_get(nimbus_server: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="cors-cli")
    nimbus_server.aws("s3api", "put-bucket-cors", "--bucket", "cors-cli", "--cors-configuration",
                      '{"CORSRules":[{"AllowedOrigins":["http://localhost:3000"],"AllowedMethods":["GET","HEAD"]}]}')
    out = nimbus_server.aws("s3api", "get-bucket-cors", "--bucket", "cors-cli").stdout
    assert "http://localhost:3000" in out



def test_post_object_form_from_a_browser_origin(nimbus_server: Any, s3: Any) -> None:
    from botocore.config import Config

    signer = nimbus_server.client("s3", config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="cors-post")
    s3.put_bucket_cors(Bucket="cors-post", CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["http://app.example.com"], "AllowedMethods": ["POST"], "ExposeHeaders": ["ETag"]}]})
    post = signer.generate_presigned_post("cors-post", "form.txt", ExpiresIn=300)
    boundary = "nimbusboundary"
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in post["fields"].items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
             "Content-Type: text/plain\r\n\r\n").encode() + b"form body\r\n" + f"--{boundary}--\r\n".encode()
    status, headers, _ = request(nimbus_server, "POST", "/cors-post", {
        "Origin": "http://app.example.com", "Content-Type": f"multipart/form-data; boundary={boundary}"}, body=body)
    assert status == 204
    assert headers["access-control-allow-origin"] == "http://app.example.com"
    assert headers["access-control-expose-headers"] == "ETag"
    assert s3.get_object(Bucket="cors-post", Key="form.txt")["Body"].read() == b"form body"
