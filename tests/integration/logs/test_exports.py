"""CloudWatch Logs export tasks to Nimbus's S3, saved Insights queries, resource policies and
GetLogGroupFields, against a real server with boto3 and the AWS CLI."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess


def _wait_task(logs: Any, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
        if task["status"]["code"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return task
        time.sleep(0.1)
    raise AssertionError(f"export task {task_id} did not finish: {task}")


def _export(logs: Any, **kw: Any) -> dict[str, Any]:
    """CreateExportTask: its `from` member is a Python keyword, so the tests name it fromTime."""
    if "fromTime" in kw:
        kw["from"] = kw.pop("fromTime")
    return logs.create_export_task(**kw)  # type: ignore[no-any-return]


def _put(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": t, "message": m} for t, m in events])


def test_export_writes_gzip_objects_per_stream(logs: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="log-exports")
    now = int(time.time() * 1000)
    _put(logs, "/export/app", "web-0", [(now - 7_200_000, "too old")])
    _put(logs, "/export/app", "web-1", [(now - 3000, "first"), (now - 2000, "second line")])
    _put(logs, "/export/app", "worker/2", [(now - 1500, '{"level": "info"}')])
    _put(logs, "/export/app", "other", [(now - 1000, "not in the prefix")])
    task_id = _export(logs, taskName="t1", logGroupName="/export/app", logStreamNamePrefix="w", fromTime=now - 60_000,
                                      to=now, destination="log-exports", destinationPrefix="exports")["taskId"]
    task = _wait_task(logs, task_id)
    assert task["status"]["code"] == "COMPLETED", task
    assert task["taskName"] == "t1" and task["destination"] == "log-exports" and task["destinationPrefix"] == "exports"
    assert task["executionInfo"]["completionTime"] >= task["executionInfo"]["creationTime"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="log-exports", Prefix="exports/")["Contents"]}
    assert keys == {"exports/aws-logs-write-test", f"exports/{task_id}/web-1/000000.gz", f"exports/{task_id}/worker/2/000000.gz"}  # web-0: nothing in the range
    body = gzip.decompress(s3.get_object(Bucket="log-exports", Key=f"exports/{task_id}/web-1/000000.gz")["Body"].read()).decode()
    lines = body.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["first", "second line"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((now - 3000) / 1000))
    assert lines[0] == f"{stamp}.{(now - 3000) % 1000:03d}Z first"


def test_export_refusals(logs: Any, nimbus_server: NimbusProcess) -> None:
    now = int(time.time() * 1000)
    _put(logs, "/export/bad", "s", [(now, "x")])
    cases = [
        (dict(logGroupName="/export/missing", fromTime=0, to=now, destination="log-exports"), "ResourceNotFoundException"),
        (dict(logGroupName="/export/bad", fromTime=now, to=now - 1, destination="log-exports"), "InvalidParameterException"),
        (dict(logGroupName="/export/bad", fromTime=0, to=now, destination="no-such-bucket-export"), "InvalidParameterException"),
    ]
    for kw, code in cases:
        with pytest.raises(ClientError) as e:
            _export(logs, **kw)
        assert e.value.response["Error"]["Code"] == code, kw
    with pytest.raises(ClientError) as e:
        logs.cancel_export_task(taskId="00000000-0000-0000-0000-000000000000")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_finished_task_cannot_be_cancelled_and_default_prefix(logs: Any, nimbus_server: NimbusProcess) -> None:
    s3 = nimbus_server.client("s3")
    s3.create_bucket(Bucket="log-exports-2")
    now = int(time.time() * 1000)
    _put(logs, "/export/default", "s", [(now, "hello")])
    task_id = _export(logs, logGroupName="/export/default", fromTime=0, to=now + 1000, destination="log-exports-2")["taskId"]
    assert _wait_task(logs, task_id)["status"]["code"] == "COMPLETED"
    assert s3.head_object(Bucket="log-exports-2", Key=f"exportedlogs/{task_id}/s/000000.gz")
    with pytest.raises(ClientError) as e:
        logs.cancel_export_task(taskId=task_id)
    assert e.value.response["Error"]["Code"] == "InvalidOperationException"
    listed = logs.describe_export_tasks(statusCode="COMPLETED")["exportTasks"]
    assert task_id in [t["taskId"] for t in listed]


def test_export_task_survives_a_restart(tmp_path: Any) -> None:
    server = NimbusProcess(tmp_path / "data").start()
    try:
        logs, s3 = server.client("logs"), server.client("s3")
        s3.create_bucket(Bucket="exports-restart")
        now = int(time.time() * 1000)
        _put(logs, "/export/restart", "s", [(now, "kept")])
        task_id = _export(logs, logGroupName="/export/restart", fromTime=0, to=now + 1, destination="exports-restart")["taskId"]
        _wait_task(logs, task_id)
        server.kill9()
        server.start()
        logs = server.client("logs")
        task = logs.describe_export_tasks(taskId=task_id)["exportTasks"][0]
        assert task["status"]["code"] == "COMPLETED"
        body = server.client("s3").get_object(Bucket="exports-restart", Key=f"exportedlogs/{task_id}/s/000000.gz")["Body"].read()
        assert gzip.decompress(body).decode().endswith(" kept\n")
    finally:
        server.stop()


def test_query_definitions(logs: Any) -> None:
    qid = logs.put_query_definition(name="errors/by-stream", queryString="fields @message | filter @message like /ERROR/",
                                    logGroupNames=["/aws/lambda/x"])["queryDefinitionId"]
    logs.put_query_definition(name="all", queryString="fields @timestamp")
    defs = logs.describe_query_definitions(queryDefinitionNamePrefix="errors/")["queryDefinitions"]
    assert [d["queryDefinitionId"] for d in defs] == [qid]
    assert defs[0]["logGroupNames"] == ["/aws/lambda/x"] and defs[0]["lastModified"] > 0
    logs.put_query_definition(queryDefinitionId=qid, name="errors/by-stream", queryString="fields @message | limit 5")
    assert logs.describe_query_definitions(queryDefinitionNamePrefix="errors/")["queryDefinitions"][0]["queryString"].endswith("limit 5")
    assert logs.delete_query_definition(queryDefinitionId=qid)["success"] is True
    with pytest.raises(ClientError) as e:
        logs.delete_query_definition(queryDefinitionId=qid)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.put_query_definition(queryDefinitionId="nope", name="n", queryString="fields @message")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_resource_policies(logs: Any) -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                                                              "Action": ["logs:PutLogEvents"], "Resource": "*"}]})
    out = logs.put_resource_policy(policyName="events-to-logs", policyDocument=doc)
    assert out["resourcePolicy"]["policyName"] == "events-to-logs" and out["resourcePolicy"]["policyScope"] == "ACCOUNT"
    names = [p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]]
    assert "events-to-logs" in names
    with pytest.raises(ClientError) as e:
        logs.put_resource_policy(policyName="bad", policyDocument="{not json")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.delete_resource_policy(policyName="events-to-logs")
    assert "events-to-logs" not in [p.get("policyName") for p in logs.describe_resource_policies()["resourcePolicies"]]
    with pytest.raises(ClientError) as e:
        logs.delete_resource_policy(policyName="events-to-logs")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_log_group_fields(logs: Any) -> None:
    now = int(time.time() * 1000)
    _put(logs, "/fields/app", "s", [(now - 1000, '{"level": "info", "req": {"id": 7}}'), (now - 500, "plain text")])
    fields = {f["name"]: f["percent"] for f in logs.get_log_group_fields(logGroupName="/fields/app")["logGroupFields"]}
    assert fields["@message"] == 100 and fields["@timestamp"] == 100 and fields["@logStream"] == 100
    assert fields["level"] == 50 and fields["req.id"] == 50
    assert "@ptr" not in fields
    assert logs.get_log_group_fields(logGroupName="/fields/app", time=(now // 1000) - 86_400)["logGroupFields"] == []
