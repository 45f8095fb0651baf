"""Alarm evaluation on a manual clock: thresholds, DatapointsToAlarm, TreatMissingData, history."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nimbus.clock import ManualClock
from nimbus.services.cloudwatch.alarms import Alarms
from nimbus.services.cloudwatch.statistics import Stats
from nimbus.services.cloudwatch.store import Metric, MetricStore
from nimbus.storage.memory import MemoryMetadataStore

T0 = 1_800_000_000 // 60 * 60
METRIC = Metric("App", "Errors", ())


def setup() -> tuple[Alarms, MetricStore, ManualClock]:
    metadata = MemoryMetadataStore()
    clock = ManualClock(T0 + 30)
    core = SimpleNamespace(settings=SimpleNamespace(extra={}), clock=clock, storage=SimpleNamespace(metadata=metadata))
    store = MetricStore(metadata)
    return Alarms(core, lambda: store), store, clock  # type: ignore[arg-type]


def put_value(store: MetricStore, minute: int, value: float) -> None:
    stats = Stats()
    stats.add_value(value)
    store.add("1", "r", {(METRIC, 60, minute, "None"): stats}, now=minute)


def alarm(alarms: Alarms, **kw: Any) -> dict[str, Any]:
    params = {"AlarmName": "a", "Namespace": "App", "MetricName": "Errors", "Statistic": "Sum", "Period": 60,
              "EvaluationPeriods": 3, "Threshold": 5.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold", **kw}
    alarms.put("1", "r", params)
    alarms.evaluate_all()
    return alarms.describe("1", "r", {})["MetricAlarms"][0]


def test_missing_data_is_insufficient_then_breaches_need_datapoints_to_alarm() -> None:
    alarms, store, _ = setup()
    assert alarm(alarms, DatapointsToAlarm=2)["StateValue"] == "INSUFFICIENT_DATA"
    put_value(store, T0, 9)
    assert alarm(alarms, DatapointsToAlarm=2)["StateValue"] == "OK"  # one breach of the two needed
    put_value(store, T0 - 60, 7)
    found = alarm(alarms, DatapointsToAlarm=2)
    assert found["StateValue"] == "ALARM" and "2 out of the last 3 datapoints" in found["StateReason"]
    kinds = [h["HistoryItemType"] for h in alarms.history("1", "r", {"AlarmName": "a"})["AlarmHistoryItems"]]
    assert kinds.count("StateUpdate") == 2


def test_treat_missing_data() -> None:
    alarms, _, _ = setup()
    assert alarm(alarms, TreatMissingData="breaching")["StateValue"] == "ALARM"
    assert alarm(alarms, TreatMissingData="notBreaching")["StateValue"] == "OK"
    assert alarm(alarms, TreatMissingData="ignore")["StateValue"] == "OK"  # kept as it was


def test_the_window_moves_with_the_clock() -> None:
    alarms, store, clock = setup()
    put_value(store, T0, 9)
    assert alarm(alarms, EvaluationPeriods=1)["StateValue"] == "ALARM"
    clock.advance(120)
    assert alarm(alarms, EvaluationPeriods=1)["StateValue"] == "INSUFFICIENT_DATA"


def test_alarm_on_metric_math() -> None:
    alarms, store, _ = setup()
    put_value(store, T0, 4)
    metric = {"Namespace": "App", "MetricName": "Errors"}
    params = {"AlarmName": "m", "EvaluationPeriods": 1, "Threshold": 7.0, "ComparisonOperator": "GreaterThanThreshold",
              "Metrics": [{"Id": "e", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}, "ReturnData": False},
                          {"Id": "double", "Expression": "e * 2"}]}
    alarms.put("1", "r", params)
    alarms.evaluate_all()
    found = alarms.describe("1", "r", {"AlarmNames": ["m"]})["MetricAlarms"][0]
    assert found["StateValue"] == "ALARM" and "[8.0 (" in found["StateReason"]
