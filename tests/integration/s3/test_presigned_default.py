"""boto3's default presigned URLs (SigV2 query auth for S3 unless s3v4 is configured) work with plain HTTP."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import NimbusProcess


def test_default_presigned_get_and_put(nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="presign-default")
    s3.put_object(Bucket="presign-default", Key="dir/hello world.txt", Body=b"hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presign-default", "Key": "dir/hello world.txt"}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"hello"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "presign-default", "Key": "up.bin"}, ExpiresIn=300)
    # http.client, because urllib adds a Content-Type the URL was not signed with (S3 would refuse it too)
    parts = urllib.parse.urlsplit(put_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("PUT", f"{parts.path}?{parts.query}", body=b"uploaded")
    resp = conn.getresponse()
    assert resp.status == 200, resp.read()
    conn.close()
    assert s3.get_object(Bucket="presign-default", Key="up.bin")["Body"].read() == b"uploaded"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace("Signature=", "Signature=AA"), timeout=10)
    assert e.value.code == 403
