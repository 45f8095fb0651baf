"""``nimbus demo --fast``: on a fresh data dir, again on the same one (idempotent), and against a running server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ACCESS_KEY, SECRET_KEY, NimbusProcess


def _demo(*args: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_"))}
    base.update(env or {})
    cp = subprocess.run([sys.executable, "-m", "nimbus", "demo", "--fast", "--requests", "3", *args],
                        capture_output=True, text=True, timeout=180, env=base)
    assert cp.returncode == 0, f"nimbus demo failed ({cp.returncode}):\n{cp.stdout}\n{cp.stderr}"
    return cp.stdout


def _check(out: str) -> None:
    assert re.search(r'GET → 200 "Hello from Lambda!"', out), out
    assert "delivered 3/3 records" in out, out
    records = re.findall(r'^\s+(\{"ticker_symbol": "HJK".*\})$', out, re.M)
    assert len(records) == 3 and all('"processed": true' in r for r in records), out
    assert re.search(r"^\s+\d{4}/\d{2}/\d{2}/\d{2}/tm-delivery-stream-\d+-", out, re.M), out
    assert "aws firehose create-delivery-stream --delivery-stream-name tm-delivery-stream" in out  # the by-hand steps


def test_demo_embedded_fresh_then_again(tmp_path):
    data = tmp_path / "data"
    first = _demo("--embedded", "--data-dir", str(data))
    _check(first)
    assert "Embedded server:" in first
    assert "function nimbus-demo-hello: created" in first and "delivery stream tm-delivery-stream (Lambda transform enabled): created" in first

    second = _demo("--embedded", "--data-dir", str(data))
    _check(second)
    for name in ("nimbus-demo-hello", "nimbus-demo-transform", "nimbus-demo-producer"):
        assert re.search(rf"function {name}( \(timeout 60 s\))?: unchanged", second), second
    assert second.count("trigger (reused)") == 2
    assert "bucket nimbus-demo-ticker-bucket: exists" in second
    assert "(Lambda transform enabled): unchanged" in second


def test_demo_against_running_server(nimbus_server: NimbusProcess):
    env = {"AWS_ENDPOINT_URL": nimbus_server.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    out = _demo(env=env)
    _check(out)
    assert "Embedded server:" not in out and nimbus_server.endpoint in out
    # A later run with another interval reuses everything and updates the stream in place (UpdateDestination).
    again = _demo("--interval", "1", env=env)
    _check(again)
    assert "(Lambda transform enabled): updated" in again and "1 MB / 1 s" in again
    assert "execution role nimbus-demo-role: created" in out and "execution role nimbus-demo-role: reused" in again
    iam = nimbus_server.client("iam")
    attached = iam.list_attached_role_policies(RoleName="nimbus-demo-role")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    names = [api["name"] for api in nimbus_server.client("apigateway", "us-east-2").get_rest_apis()["items"]]
    assert sorted(names) == ["nimbus-demo-hello-API", "nimbus-demo-producer-API"]  # one REST API per function
    fh = nimbus_server.client("firehose", "us-east-2")
    desc = fh.describe_delivery_stream(DeliveryStreamName="tm-delivery-stream")["DeliveryStreamDescription"]
    assert desc["Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 1}


def test_demo_explicit_endpoint_that_does_not_answer():
    from tests.conftest import free_port

    cp = subprocess.run([sys.executable, "-m", "nimbus", "demo", "--fast", "--endpoint-url", f"http://127.0.0.1:{free_port()}"],
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 1 and "no Nimbus answers at" in cp.stderr, cp.stderr
