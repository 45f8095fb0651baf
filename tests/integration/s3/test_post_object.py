"""S3 POST Object: browser uploads with a presigned POST policy (boto3's generate_presigned_post), posted
as plain multipart/form-data HTTP the way a browser form does; every policy rule S3 applies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import NimbusProcess

BUCKET = "post-uploads"


def _multipart(fields: dict[str, str], file: bytes, filename: str = "photo.png", file_type: str = "image/png",
               after: dict[str, str] | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {file_type}\r\n\r\n").encode() + file + b"\r\n"
    for k, v in (after or {}).items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def _post(url: str, fields: dict[str, str], file: bytes, **kw) -> tuple[int, dict[str, str], bytes]:
    body, ctype = _multipart(fields, file, **kw)
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _code(body: bytes) -> str:
    return body.split(b"<Code>")[1].split(b"</Code>")[0].decode()


@pytest.fixture(scope="module")
def s3(nimbus_server: NimbusProcess):
    """A client whose presigned POSTs are Signature Version 4 (``x-amz-*`` fields)."""
    from botocore.config import Config

    client = nimbus_server.client("s3", config=Config(signature_version="s3v4"))
    client.create_bucket(Bucket=BUCKET)
    return client


def test_signature_version_2_posts_as_boto3_makes_them_by_default(nimbus_server: NimbusProcess, s3) -> None:
    plain = nimbus_server.client("s3")
    post = plain.generate_presigned_post(BUCKET, "v2.txt", ExpiresIn=300)
    assert "AWSAccessKeyId" in post["fields"] and "signature" in post["fields"]
    assert _post(post["url"], post["fields"], b"v2 body")[0] == 204
    assert s3.get_object(Bucket=BUCKET, Key="v2.txt")["Body"].read() == b"v2 body"
    assert _code(_post(post["url"], {**post["fields"], "signature": "AAAA"}, b"x")[2]) == "SignatureDoesNotMatch"


def test_presigned_post_uploads_like_a_browser(s3) -> None:
    post = s3.generate_presigned_post(
        BUCKET, "uploads/${filename}",
        Fields={"Content-Type": "image/png", "x-amz-meta-owner": "ann", "success_action_status": "201"},
        Conditions=[["starts-with", "$key", "uploads/"], {"Content-Type": "image/png"}, {"x-amz-meta-owner": "ann"},
                    {"success_action_status": "201"}, ["content-length-range", 1, 1024]],
        ExpiresIn=300,
    )
    status, headers, body = _post(post["url"], post["fields"], b"\x89PNG fake image")
    assert status == 201, body
    assert b"<Key>uploads/photo.png</Key>" in body and f"<Bucket>{BUCKET}</Bucket>".encode() in body
    etag = hashlib.md5(b"\x89PNG fake image").hexdigest()
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["etag"] == f'"{etag}"', headers
    got = s3.get_object(Bucket=BUCKET, Key="uploads/photo.png")
    assert got["Body"].read() == b"\x89PNG fake image"
    assert got["ContentType"] == "image/png" and got["Metadata"] == {"owner": "ann"}


def test_default_answer_redirect_and_fields_after_the_file(s3) -> None:
    post = s3.generate_presigned_post(BUCKET, "plain.txt", ExpiresIn=300)
    status, headers, body = _post(post["url"], post["fields"], b"hello", after={"ignored": "x"})
    assert (status, body) == (204, b"")
    assert s3.get_object(Bucket=BUCKET, Key="plain.txt")["Body"].read() == b"hello"
    post = s3.generate_presigned_post(BUCKET, "redirected.txt", Fields={"success_action_redirect": "http://127.0.0.1:9/done"},
                                      Conditions=[{"success_action_redirect": "http://127.0.0.1:9/done"}], ExpiresIn=300)
    body, ctype = _multipart(post["fields"], b"r")
    req = urllib.request.Request(post["url"], data=body, method="POST", headers={"Content-Type": ctype})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):  # type: ignore[no-untyped-def]
            return None

    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.build_opener(NoRedirect).open(req)
    assert e.value.code == 303
    assert e.value.headers["Location"].startswith("http://127.0.0.1:9/done?bucket=post-uploads&key=redirected.txt&etag=")


def test_policy_rules(s3) -> None:
    post = s3.generate_presigned_post(BUCKET, "user/${filename}", Conditions=[["starts-with", "$key", "user/"],
                                      ["content-length-range", 2, 4]], ExpiresIn=300)
    url, fields = post["url"], post["fields"]
    # a key outside the prefix
    status, _, body = _post(url, {**fields, "key": "other/x"}, b"abc")
    assert (status, _code(body)) == (403, "AccessDenied") and b"Policy Condition failed" in body
    # size limits
    assert _code(_post(url, fields, b"a")[2]) == "EntityTooSmall"
    assert _code(_post(url, fields, b"abcdef")[2]) == "EntityTooLarge"
    # a field the policy does not cover
    status, _, body = _post(url, {**fields, "x-amz-meta-sneaky": "1"}, b"abc")
    assert status == 403 and b"Extra input fields: x-amz-meta-sneaky" in body
    # a tampered policy or signature
    forged = dict(fields, policy=base64.b64encode(json.dumps({"expiration": "2099-01-01T00:00:00Z", "conditions": []}).encode()).decode())
    assert _code(_post(url, forged, b"abc")[2]) == "SignatureDoesNotMatch"
    assert _code(_post(url, {**fields, "x-amz-signature": "0" * 64}, b"abc")[2]) == "SignatureDoesNotMatch"
    # no key, no file, an unknown access key, no policy at all
    assert _code(_post(url, {k: v for k, v in fields.items() if k != "key"}, b"abc")[2]) == "InvalidArgument"
    assert _code(_post(url, {**fields, "x-amz-credential": "AKIANOTAKEY000000000/20260101/us-east-1/s3/aws4_request"}, b"abc")[2]) == "InvalidAccessKeyId"
    assert _code(_post(url, {"key": "user/anon"}, b"abc")[2]) == "AccessDenied"
    boundary = uuid.uuid4().hex
    no_file = f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\nuser/k\r\n--{boundary}--\r\n'.encode()
    req = urllib.request.Request(url, data=no_file, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert _code(e.value.read()) == "InvalidArgument"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="user/").get("Contents", [])] == []  # nothing stored
    # the happy path of the same policy still works
    assert _post(url, fields, b"abc")[0] == 204
    assert s3.get_object(Bucket=BUCKET, Key="user/photo.png")["Body"].read() == b"abc"


def test_expired_policy(nimbus_server: NimbusProcess, s3) -> None:
    """A policy signed correctly but past its expiration (signed by hand, as a form's backend would)."""
    creds = s3._request_signer._credentials  # the test client's own keys
    now = datetime.now(timezone.utc)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{creds.access_key}/{date}/us-east-1/s3/aws4_request"
    policy = {"expiration": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "conditions": [{"bucket": BUCKET}, {"key": "late.txt"}, {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                             {"x-amz-credential": credential}, {"x-amz-date": stamp}]}
    policy_b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    key = ("AWS4" + creds.secret_key).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()
    fields = {"key": "late.txt", "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": credential, "x-amz-date": stamp,
              "policy": policy_b64, "x-amz-signature": signature}
    status, _, body = _post(f"{nimbus_server.endpoint}/{BUCKET}", fields, b"late")
    assert (status, _code(body)) == (403, "AccessDenied") and b"Policy expired" in body
