"""StartLiveTail: a response stream of events ingested while it is open, an update every second, filtered
by log group, stream and pattern; function output included."""

from __future__ import annotations

import json
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import NimbusProcess
from tests.integration.lambda_.functions import create

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def logs(nimbus_server: NimbusProcess):
    # botocore would send StartLiveTail to "stream-<host>" (the operation's host prefix): not on a local endpoint
    return nimbus_server.client("logs", config=Config(inject_host_prefix=False, read_timeout=60))


def _arn(group: str) -> str:
    return f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"


def test_live_tail_streams_what_arrives(nimbus_server: NimbusProcess, logs) -> None:
    logs.create_log_group(logGroupName="/tail/app")
    logs.create_log_stream(logGroupName="/tail/app", logStreamName="web-1")
    logs.create_log_stream(logGroupName="/tail/app", logStreamName="worker-1")
    logs.put_log_events(logGroupName="/tail/app", logStreamName="web-1", logEvents=[{"timestamp": int(time.time() * 1000), "message": "before"}])
    out = logs.start_live_tail(logGroupIdentifiers=[_arn("/tail/app")], logStreamNamePrefixes=["web-"], logEventFilterPattern="ERROR")
    events = iter(out["responseStream"])
    start = next(events)["sessionStart"]
    assert start["logGroupIdentifiers"] == [_arn("/tail/app")] and start["logEventFilterPattern"] == "ERROR" and start["sessionId"]
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/tail/app", logStreamName="web-1", logEvents=[
        {"timestamp": now, "message": "ERROR one"}, {"timestamp": now, "message": "fine"}])
    logs.put_log_events(logGroupName="/tail/app", logStreamName="worker-1", logEvents=[{"timestamp": now, "message": "ERROR elsewhere"}])
    seen: list[dict] = []
    updates = 0
    for event in events:
        update = event["sessionUpdate"]
        updates += 1
        assert update["sessionMetadata"] == {"sampled": False}
        seen += update["sessionResults"]
        if seen or updates > 20:
            break
    assert [(e["logStreamName"], e["message"], e["logGroupIdentifier"]) for e in seen] == [("web-1", "ERROR one", _arn("/tail/app"))]
    assert seen[0]["timestamp"] == now and seen[0]["ingestionTime"] >= now
    out["responseStream"].close()


def test_function_output_reaches_a_tail_and_errors(nimbus_server: NimbusProcess, logs) -> None:
    lam = nimbus_server.client("lambda")
    create(lam, "tailed", "def handler(e, c):\n    print('tail me', e['n'])\n    return 1\n")
    lam.invoke(FunctionName="tailed", Payload=b'{"n": 0}')  # the group exists once the function logged
    out = logs.start_live_tail(logGroupIdentifiers=["/aws/lambda/tailed"], logEventFilterPattern='"tail me 7"')
    events = iter(out["responseStream"])
    next(events)
    threading.Thread(target=lambda: lam.invoke(FunctionName="tailed", Payload=json.dumps({"n": 7}).encode()), daemon=True).start()
    messages: list[str] = []
    for _, event in zip(range(30), events):
        messages += [e["message"] for e in event["sessionUpdate"]["sessionResults"]]
        if messages:
            break
    assert messages == ["tail me 7\n"]
    out["responseStream"].close()
    for kwargs, code in (
        ({"logGroupIdentifiers": [_arn("/no/such/group")]}, "ResourceNotFoundException"),
        ({"logGroupIdentifiers": ["/aws/lambda/tailed", "/tail/app"], "logStreamNames": ["x"]}, "InvalidParameterException"),
        ({"logGroupIdentifiers": ["/tail/app"], "logStreamNames": ["a"], "logStreamNamePrefixes": ["b"]}, "InvalidParameterException"),
    ):
        with pytest.raises(ClientError) as e:
            logs.start_live_tail(**kwargs)
        assert e.value.response["Error"]["Code"] == code


def test_session_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = NimbusProcess(tmp_path / "data", env={"NIMBUS_LOGS_LIVE_TAIL_SECONDS": "1.5"}).start()
    try:
        logs = server.client("logs", config=Config(inject_host_prefix=False, read_timeout=60))
        logs.create_log_group(logGroupName="short")
        out = logs.start_live_tail(logGroupIdentifiers=["short"])
        names = []
        with pytest.raises(ClientError) as e:  # botocore raises the stream's exception event
            for event in out["responseStream"]:
                names.append(next(iter(event)))
        assert e.value.response["Error"]["Code"] == "SessionTimeoutException"
        assert names[0] == "sessionStart" and "sessionUpdate" in names
    finally:
        server.stop()
