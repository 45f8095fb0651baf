"""An S3 notification is durable once the PUT is acknowledged: a kill -9 right after the 200s loses none.

The destination function has reserved concurrency 0 while the objects are written, so no event can be
delivered before the kill: every notification must come from disk after the restart.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create

RECORDER = """
import boto3
s3 = boto3.client("s3")
def handler(event, context):
    for record in event["Records"]:
        s3.put_object(Bucket="durable-sink", Key=record["s3"]["object"]["key"], Body=b"seen")
    return "ok"
"""

COUNT = 24


def wait_for(fn: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in time (last: {value!r})")
        time.sleep(0.1)


def test_acknowledged_put_reaches_the_function_after_kill9(tmp_path: Path) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        s3 = server.client("s3")
        lam = server.client("lambda")
        arn = create(lam, "durable-recorder", RECORDER, Timeout=30)["FunctionArn"]
        lam.put_function_concurrency(FunctionName="durable-recorder", ReservedConcurrentExecutions=0)
        s3.create_bucket(Bucket="durable-src")
        s3.create_bucket(Bucket="durable-sink")
        s3.put_bucket_notification_configuration(Bucket="durable-src", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})

        keys = [f"obj-{i:02d}" for i in range(COUNT)]
        with ThreadPoolExecutor(8) as pool:  # concurrent PUTs: their appends share group commits
            acked = list(pool.map(lambda k: s3.put_object(Bucket="durable-src", Key=k, Body=b"x")["ETag"], keys))
        assert len(acked) == COUNT
        server.kill9()  # immediately after the last 200

        server.start()
        s3 = server.client("s3")
        assert s3.list_objects_v2(Bucket="durable-sink").get("KeyCount", 0) == 0  # nothing ran before the kill
        server.client("lambda").delete_function_concurrency(FunctionName="durable-recorder")

        def seen() -> list[str]:
            got = [o["Key"] for o in s3.list_objects_v2(Bucket="durable-sink").get("Contents", [])]
            return got if len(got) == COUNT else []

        assert sorted(wait_for(seen)) == keys
    finally:
        server.stop()
