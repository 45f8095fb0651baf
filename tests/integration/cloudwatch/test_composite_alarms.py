"""Composite alarms against a real server: PutCompositeAlarm, evaluation when a child changes state (driven
with SetAlarmState, so no waiting on metric evaluation), DescribeAlarms by type, history, tags, actions on/off,
malformed rules, the AWS CLI, and kill -9 durability."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.conftest import NimbusProcess

# metric alarms are never evaluated by the clock during these tests: their states come from SetAlarmState
ENV = {"NIMBUS_CLOUDWATCH_ALARM_S": "3600"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusProcess]:
    proc = NimbusProcess(tmp_path_factory.mktemp("cwc") / "data", env=ENV).start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def cw(server: NimbusProcess) -> Any:
    return server.client("cloudwatch")


def metric_alarm(cw: Any, name: str) -> str:
    cw.put_metric_alarm(AlarmName=name, Namespace="App", MetricName=name, Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]


def composite(cw: Any, name: str) -> dict[str, Any]:
    alarms = cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert len(alarms) == 1
    return alarms[0]  # type: ignore[no-any-return]


def test_composite_follows_its_children(cw: Any) -> None:
    cpu_arn = metric_alarm(cw, "cpu")
    metric_alarm(cw, "disk")
    cw.set_alarm_state(AlarmName="cpu", StateValue="OK", StateReason="test")
    cw.set_alarm_state(AlarmName="disk", StateValue="OK", StateReason="test")
    cw.put_composite_alarm(
        AlarmName="host", AlarmRule=f'ALARM("{cpu_arn}") AND NOT OK(disk)', AlarmActions=["arn:aws:sns:us-east-1:000000000000:t"],
        ActionsSuppressor="disk", ActionsSuppressorWaitPeriod=30, Tags=[{"Key": "team", "Value": "ops"}],
    )
    host = composite(cw, "host")
    assert host["StateValue"] == "OK"
    assert host["ActionsSuppressor"] == "disk" and host["ActionsSuppressorWaitPeriod"] == 30
    assert host["ActionsSuppressorExtensionPeriod"] == 60
    assert cw.describe_alarms(AlarmNames=["host"])["CompositeAlarms"] == []  # default: metric alarms only
    both = cw.describe_alarms(AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    assert {a["AlarmName"] for a in both["MetricAlarms"]} >= {"cpu", "disk"}
    assert [a["AlarmName"] for a in both["CompositeAlarms"]] == ["host"]

    cw.set_alarm_state(AlarmName="cpu", StateValue="ALARM", StateReason="test")
    assert composite(cw, "host")["StateValue"] == "OK"  # disk is still OK
    cw.set_alarm_state(AlarmName="disk", StateValue="ALARM", StateReason="test")
    host = composite(cw, "host")
    assert host["StateValue"] == "ALARM"
    assert host["StateReason"].startswith(host["AlarmArn"].replace(":host", ":disk") + " transitioned to ALARM at ")
    trigger = json.loads(host["StateReasonData"])["triggeringAlarms"][0]
    assert trigger["state"]["value"] == "ALARM"

    items = cw.describe_alarm_history(AlarmName="host")["AlarmHistoryItems"]
    assert {i["AlarmType"] for i in items} == {"CompositeAlarm"}
    kinds = [i["HistoryItemType"] for i in items]
    assert "StateUpdate" in kinds and "ConfigurationUpdate" in kinds and "Action" in kinds

    cw.set_alarm_state(AlarmName="disk", StateValue="OK", StateReason="test")
    assert composite(cw, "host")["StateValue"] == "OK"

    assert cw.list_tags_for_resource(ResourceARN=host["AlarmArn"])["Tags"] == [{"Key": "team", "Value": "ops"}]
    cw.disable_alarm_actions(AlarmNames=["host"])
    assert composite(cw, "host")["ActionsEnabled"] is False
    cw.set_alarm_state(AlarmName="host", StateValue="ALARM", StateReason="manual")
    assert composite(cw, "host")["StateReason"] == "manual"


def test_composites_of_composites_and_delete(cw: Any) -> None:
    metric_alarm(cw, "a1")
    cw.set_alarm_state(AlarmName="a1", StateValue="OK", StateReason="test")
    cw.put_composite_alarm(AlarmName="inner", AlarmRule="ALARM(a1) OR FALSE")
    cw.put_composite_alarm(AlarmName="outer", AlarmRule="ALARM(inner)")
    assert composite(cw, "outer")["StateValue"] == "OK"
    cw.set_alarm_state(AlarmName="a1", StateValue="ALARM", StateReason="test")
    assert composite(cw, "inner")["StateValue"] == "ALARM"
    assert composite(cw, "outer")["StateValue"] == "ALARM"
    cw.delete_alarms(AlarmNames=["outer"])
    assert cw.describe_alarms(AlarmNames=["outer"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"] == []


@pytest.mark.parametrize(
    "rule",
    ["ALARM(cpu) AND", "ALARM(cpu", "alarm(cpu)", "ALARM(cpu) XOR OK(cpu)", "ALARM(no-such-alarm)", "ALARM(bad)"],
)
def test_malformed_rules_are_refused(cw: Any, rule: str) -> None:
    metric_alarm(cw, "cpu")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.put_composite_alarm(AlarmName="bad", AlarmRule=rule)
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert cw.describe_alarms(AlarmNames=["bad"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"] == []


def test_aws_cli_and_kill9(server: NimbusProcess, cw: Any) -> None:
    metric_alarm(cw, "net")
    cw.set_alarm_state(AlarmName="net", StateValue="ALARM", StateReason="test")
    server.aws("cloudwatch", "put-composite-alarm", "--alarm-name", "cli", "--alarm-rule", "ALARM(net) OR TRUE")
    out = json.loads(server.aws("cloudwatch", "describe-alarms", "--alarm-names", "cli",
                                "--alarm-types", "CompositeAlarm").stdout)
    assert out["CompositeAlarms"][0]["StateValue"] == "ALARM"
    server.kill9()
    server.restart()
    again = server.client("cloudwatch")
    cli = again.describe_alarms(AlarmNames=["cli"], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]
    assert cli["AlarmRule"] == "ALARM(net) OR TRUE" and cli["StateValue"] == "ALARM"
    assert composite(again, "host")["ActionsSuppressor"] == "disk"
